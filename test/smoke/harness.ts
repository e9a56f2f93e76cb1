import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildAll } from '../../src/build/run.js';
import { imagePlans } from '../../src/build/plan.js';
import { imageExists } from '../../src/docker/engine.js';
import { loadManifest } from '../../src/manifest/load.js';
import { IN_CI, ROOT } from '../helpers.js';

export const manifest = loadManifest(join(ROOT, 'versions.json'), ROOT);
export const plans = Object.fromEntries(imagePlans(manifest).map((p) => [p.name, p]));
export const POSTGRES_IMAGE = plans['postgres/bookworm']!.tag;
export const PGPOOL_IMAGE = plans['pgpool/bookworm']!.tag;

/**
 * The engine for the smoke tests, or null (then the suite is skipped) when none answers
 * outside CI. Under CI=true a missing engine fails the suite.
 */
export async function engineOrSkip(): Promise<Docker | null> {
  const docker = new Docker();
  try {
    await docker.ping();
    return docker;
  } catch (err) {
    if (IN_CI) throw new Error(`CI=true and no Docker engine answers: ${(err as Error).message}`);
    return null;
  }
}

/** Builds the images the smoke tests need when they are missing (cached layers make this quick). */
export async function ensureImages(docker: Docker, names: string[]): Promise<void> {
  const missing: string[] = [];
  for (const n of names) if (!(await imageExists(docker, plans[n]!.tag))) missing.push(n);
  if (missing.length) await buildAll(docker, manifest, { projectRoot: ROOT, only: missing, log: (l) => console.log(`pgha: ${l}`) });
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in a running container and collects its output and exit code. */
export async function exec(container: Docker.Container, cmd: string[], opts: { user?: string; env?: string[] } = {}): Promise<ExecResult> {
  const e = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: opts.user, Env: opts.env });
  const stream = await e.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (d: Buffer) => out.push(d));
    stderr.on('data', (d: Buffer) => err.push(d));
    container.modem.demuxStream(stream, stdout, stderr);
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await e.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Shell in the container; fails the test with the output when the command fails and `check` is set. */
export async function sh(container: Docker.Container, script: string, opts: { user?: string; env?: string[]; check?: boolean } = {}): Promise<ExecResult> {
  const r = await exec(container, ['bash', '-c', script], opts);
  if (opts.check && r.exitCode !== 0) throw new Error(`'${script}' exited ${r.exitCode}:\n${r.stdout}${r.stderr}`);
  return r;
}

export async function logsOf(container: Docker.Container): Promise<string> {
  const buf = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  // Non-TTY logs are multiplexed: 8-byte frame headers before each chunk.
  const chunks: string[] = [];
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    chunks.push(buf.subarray(i + 8, i + 8 + size).toString());
    i += 8 + size;
  }
  return chunks.join('');
}

/** Polls until `check` returns a truthy value or the deadline passes; the failure names what was awaited. */
export async function waitFor<T>(what: string, check: () => Promise<T | false | null | undefined>, timeoutMs = 90_000, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export async function waitForLog(container: Docker.Container, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  return waitFor(`log line ${pattern}`, async () => {
    const logs = await logsOf(container);
    return pattern.test(logs) ? logs : false;
  }, timeoutMs);
}

/** Containers and networks a suite made, removed at the end whatever happened. */
export class Sandbox {
  readonly containers: Docker.Container[] = [];
  readonly networks: Docker.Network[] = [];
  readonly prefix = `pgha-smoke-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  constructor(readonly docker: Docker) {}

  /** A bridge network with an explicit subnet (only addresses this run made are ever contacted). */
  async network(name: string, subnet: string): Promise<Docker.Network> {
    const net = await this.docker.createNetwork({
      Name: `${this.prefix}-${name}`,
      Driver: 'bridge',
      IPAM: { Config: [{ Subnet: subnet, Gateway: subnet.replace(/\d+\/\d+$/, '1') }] },
    });
    this.networks.push(net);
    return net;
  }

  async run(name: string, image: string, opts: Partial<Docker.ContainerCreateOptions> & { ip?: string; network?: Docker.Network } = {}): Promise<Docker.Container> {
    const { ip, network, ...create } = opts;
    const netName = network ? (await network.inspect()).Name : undefined;
    const container = await this.docker.createContainer({
      name: `${this.prefix}-${name}`,
      Hostname: name,
      Image: image,
      ...create,
      HostConfig: { ...(create.HostConfig ?? {}), ...(netName ? { NetworkMode: netName } : {}) },
      NetworkingConfig: netName ? { EndpointsConfig: { [netName]: { IPAMConfig: ip ? { IPv4Address: ip } : undefined, Aliases: [name] } } } : undefined,
    });
    this.containers.push(container);
    await container.start();
    return container;
  }

  async cleanup(): Promise<void> {
    for (const c of this.containers) await c.remove({ force: true, v: true }).catch(() => {});
    for (const n of this.networks) await n.remove().catch(() => {});
  }
}

/** A directory of secret files, one per name, readable by the container's root. */
export function secretsDir(values: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-secrets-'));
  chmodSync(dir, 0o755);
  for (const [name, value] of Object.entries(values)) {
    writeFileSync(join(dir, name), `${value}\n`);
    chmodSync(join(dir, name), 0o644);
  }
  return dir;
}
