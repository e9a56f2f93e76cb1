import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildAll } from '../../src/builder/run.js';
import { imagePlans } from '../../src/builder/plan.js';
import { imageExists } from '../../src/docker/engine.js';
import { imageCatalog } from '../../src/images/catalog.js';
import { derive } from '../../src/manifest/schema.js';
import { loadProjectManifest } from '../../src/project.js';
import { IN_CI, ROOT } from '../helpers.js';
import { logsOf, waitFor } from '../../src/docker/exec.js';

export { exec, sh, logsOf, waitFor, type ExecResult } from '../../src/docker/exec.js';

export const manifest = loadProjectManifest(ROOT);
const derived = derive(manifest);
const catalog = imageCatalog(manifest, derived);
export const plans = Object.fromEntries(imagePlans(catalog).map((p) => [p.name, p]));
export const POSTGRES_IMAGE = plans['postgres/bookworm']!.ref;
export const PGPOOL_IMAGE = plans['pgpool/bookworm']!.ref;

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
  for (const n of names) if (!(await imageExists(docker, plans[n]!.ref))) missing.push(n);
  if (missing.length) await buildAll(docker, { manifest, derived, catalog }, { projectRoot: ROOT, only: missing, log: (l) => console.log(`pgha: ${l}`) });
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
