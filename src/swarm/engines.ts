import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { z } from 'zod';

/**
 * The engine of each host of a swarm cluster. Swarm's API runs services but cannot exec into a
 * container on another node, and status, doctor and chaos run commands inside the nodes: so the
 * CLI reaches each host's own engine, through a Docker context named after the host (`docker
 * context create db-a --docker host=unix:///run/pgha-db-a.sock` over a forwarded socket). Contexts are Docker's own way of naming
 * engines, and the docker CLI that deploys the stack reads the same ones.
 */

/** The DOCKER_CONFIG directory the docker CLI reads (contexts live under it). */
export const dockerConfigDir = (env: NodeJS.ProcessEnv = process.env): string => env.DOCKER_CONFIG || join(homedir(), '.docker');

/** Where the docker CLI keeps a context's metadata: contexts/meta/<sha256 of the name>/. */
export const dockerContextDir = (config: string, name: string): string => join(config, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));

const contextMeta = z.object({ Endpoints: z.object({ docker: z.object({ Host: z.string().min(1) }) }) });

/** The engine address of context `name`, or the reason there is none. */
export function contextHost(config: string, name: string): { host: string } | { problem: string } {
  const file = join(dockerContextDir(config, name), 'meta.json');
  if (!existsSync(file)) return { problem: `no Docker context named ${name} in ${config}: create it with docker context create ${name} --docker host=unix:///run/pgha-${name}.sock (docs/swarm.md)` };
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { problem: `Docker context ${name} (${file}): not JSON` };
  }
  const parsed = contextMeta.safeParse(meta);
  if (!parsed.success) return { problem: `Docker context ${name} (${file}): no Endpoints.docker.Host` };
  return { host: parsed.data.Endpoints.docker.Host };
}

/** Bound on one request to a host's engine (an exec's output included: the commands run there are bounded shorter). */
export const ENGINE_REQUEST_MS = 60_000;

/** dockerode's options for an engine address as DOCKER_HOST spells it: unix:// or tcp:// (plain HTTP). */
export function engineOptions(address: string): Docker.DockerOptions | { problem: string } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { problem: `${address}: not an engine address (unix:///path or tcp://host:port)` };
  }
  // Every request is bounded: a host cut off must not hang status, doctor or the wait in up.
  const timeout = ENGINE_REQUEST_MS;
  if (url.protocol === 'unix:') return { socketPath: url.pathname, timeout };
  if (url.protocol === 'tcp:') return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http', timeout };
  if (url.protocol === 'ssh:') {
    // dockerode's SSH transport neither uses the agent unless DOCKER_HOST says ssh:// nor checks
    // host keys: refused rather than half-working. A forwarded socket is plain ssh, and tried.
    return { problem: `${address}: ssh:// contexts are not supported yet; forward the engine's socket (ssh -nNT -L /run/pgha-${url.hostname}.sock:/var/run/docker.sock ${url.username ? `${url.username}@` : ''}${url.hostname}) and use a unix:// context` };
  }
  return { problem: `${address}: unsupported scheme ${url.protocol} (unix or tcp)` };
}

/** Each host's engine from its context; every host that has none, or whose engine does not answer, is one problem line. */
export async function hostEngines(hosts: string[], config = dockerConfigDir()): Promise<{ engines: Map<string, Docker>; problems: string[] }> {
  const engines = new Map<string, Docker>();
  const problems: string[] = [];
  for (const host of hosts) {
    const ctx = contextHost(config, host);
    if ('problem' in ctx) {
      problems.push(ctx.problem);
      continue;
    }
    const options = engineOptions(ctx.host);
    if ('problem' in options) {
      problems.push(`Docker context ${host}: ${options.problem}`);
      continue;
    }
    engines.set(host, new Docker(options));
  }
  return { engines, problems };
}

/** The hosts whose engine answers a ping within `timeoutMs`. */
export async function answering(engines: Map<string, Docker>, timeoutMs = 5000): Promise<string[]> {
  const results = await Promise.all(
    [...engines].map(async ([host, engine]) => {
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
      return (await Promise.race([engine.ping().then(() => true).catch(() => false), timeout])) ? host : null;
    }),
  );
  return results.filter((h): h is string => h !== null);
}
