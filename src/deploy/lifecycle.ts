import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { imageExists } from '../docker/engine.js';
import { waitFor } from '../docker/exec.js';
import type { Log } from '../log.js';
import { PORTS } from '../images/facts.js';
import type { Rendered } from '../render/render.js';
import { compose } from './compose.js';
import { clusterStatus, type ClusterStatus } from './inspect.js';
import { ensureSecrets } from './secrets.js';
import { ensureSshKeys } from './ssh.js';

/** The rendered files of one cluster's deploy directory, keyed by their path inside it. */
export function deployFiles(rendered: Rendered, cluster: Cluster): Map<string, string> {
  const prefix = `deploy/${cluster.name}/`;
  return new Map([...rendered].filter(([p]) => p.startsWith(prefix)).map(([p, c]) => [p.slice(prefix.length), c]));
}

/** Writes the deploy files into `dir` (for a cluster kept outside the project tree, e.g. a test's). */
export function writeDeployFiles(files: Map<string, string>, dir: string): void {
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** Deploy files missing from `dir` or different from a fresh render: `cluster up` stops on these. */
export function staleDeployFiles(files: Map<string, string>, dir: string): string[] {
  const problems: string[] = [];
  for (const [path, content] of files) {
    const full = join(dir, path);
    if (!existsSync(full)) problems.push(`${full}: missing; run pgha generate`);
    else if (readFileSync(full, 'utf8') !== content) problems.push(`${full}: differs from a fresh render of the cluster definition; run pgha generate`);
  }
  return problems;
}

export async function missingImages(docker: Docker, images: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const image of images) if (!(await imageExists(docker, image))) problems.push(`image ${image}: not built; run npm run build-images`);
  return problems;
}

/** A cluster is ready when pgpool sees one primary, every backend up, a leader, and one VIP holder. */
export function readiness(s: ClusterStatus): string | null {
  const primaries = s.backends.filter((b) => b.role === 'primary' && b.status === 'up');
  if (!s.askedPgpool) return s.problems.join('; ') || 'no pgpool answered';
  if (primaries.length !== 1) return `${primaries.length} primaries up`;
  const down = s.backends.filter((b) => b.status !== 'up');
  if (down.length) return `backends not up: ${down.map((b) => `${b.host} (${b.status})`).join(', ')}`;
  if (!s.watchdog.leader) return 'no watchdog leader';
  const outside = s.watchdog.nodes.filter((n) => n.container === 'running' && !['LEADER', 'STANDBY'].includes(n.state));
  if (outside.length) return `watchdog nodes not joined: ${outside.map((n) => `${n.host} (${n.state})`).join(', ')}`;
  if (s.watchdog.vipHolders.length !== 1) return `delegate IP held by ${s.watchdog.vipHolders.length} nodes`;
  return null;
}

export async function clusterUp(
  docker: Docker,
  cluster: Cluster,
  topo: Topology,
  dir: string,
  opts: { say: Log; waitSeconds: number },
): Promise<ClusterStatus> {
  const made = ensureSecrets(dir);
  if (made.length) opts.say(`secrets created in ${join(dir, 'secrets')}: ${made.join(', ')} (kept for later runs; never in an image)`);
  const hosts = [...topo.postgres, ...topo.pgpool].map((n) => n.host);
  const keys = await ensureSshKeys(dir, { postgres: topo.postgres.map((n) => n.host), pgpool: topo.pgpool.map((n) => n.host), subnet: topo.subnet }, PORTS.ssh);
  if (keys.length) opts.say(`SSH host and client keys created in ${join(dir, 'ssh')} for ${keys.join(', ')}; host keys pinned in known_hosts`);
  opts.say(`starting ${hosts.length} containers (project ${cluster.name})`);
  await compose(dir, cluster.name, ['up', '-d'], { all: true });
  opts.say(`waiting up to ${opts.waitSeconds} s for one primary, every backend up, a watchdog leader and the delegate IP`);
  let last: ClusterStatus | null = null;
  try {
    await waitFor(
      'the cluster to become ready',
      async () => {
        last = await clusterStatus(docker, cluster, topo);
        const why = readiness(last);
        if (why) throw new Error(why);
        return true;
      },
      opts.waitSeconds * 1000,
      2000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; see docker logs ${cluster.name}-<node>`);
  }
  return last!;
}

export async function clusterDown(cluster: Cluster, dir: string, opts: { volumes: boolean }): Promise<void> {
  await compose(dir, cluster.name, ['down', ...(opts.volumes ? ['-v'] : [])], { all: true });
}
