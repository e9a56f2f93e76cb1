import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { imageExists } from '../docker/engine.js';
import { demuxLogs, waitFor } from '../docker/exec.js';
import type { Log } from '../log.js';
import { INIT_SERVICE } from '../render/compose.js';
import type { Rendered } from '../render/render.js';
import { compose } from './compose.js';
import { clusterContainers, clusterStatus, type ClusterStatus } from './inspect.js';

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

/** A cluster is ready when pgpool sees one primary, every backend up, a leader, and one VIP holder (when it has a delegate IP). */
export function readiness(s: ClusterStatus): string | null {
  const primaries = s.backends.filter((b) => b.role === 'primary' && b.status === 'up');
  if (!s.askedPgpool) return s.problems.join('; ') || 'no pgpool answered';
  if (primaries.length !== 1) return `${primaries.length} primaries up`;
  const down = s.backends.filter((b) => b.status !== 'up');
  if (down.length) return `backends not up: ${down.map((b) => `${b.host} (${b.status})`).join(', ')}`;
  if (!s.watchdog.leader) return 'no watchdog leader';
  const outside = s.watchdog.nodes.filter((n) => n.container === 'running' && !['LEADER', 'STANDBY'].includes(n.state));
  if (outside.length) return `watchdog nodes not joined: ${outside.map((n) => `${n.host} (${n.state})`).join(', ')}`;
  // No delegate IP (engine: swarm by default): clients use the published ports or the alias.
  if (s.watchdog.delegateIp && s.watchdog.vipHolders.length !== 1) return `delegate IP held by ${s.watchdog.vipHolders.length} nodes`;
  return null;
}

/**
 * Whole: readiness, and every standby streaming as pgpool reports it. What `cluster up` waits
 * for (a doctor run right after it checks the same), and what chaos waits for between rounds.
 */
export function healedProblem(s: ClusterStatus): string | null {
  const why = readiness(s);
  if (why) return why;
  const notStreaming = s.backends.filter((b) => b.role === 'standby' && b.replicationState !== 'streaming');
  return notStreaming.length ? `standbys not streaming: ${notStreaming.map((b) => `${b.host} (${b.replicationState || 'unknown'})`).join(', ')}` : null;
}

/**
 * A pgpool error reduced to its cause, in a few words: psql's multi-line "connection refused ...
 * Cannot assign requested address ... Is the server running" is one normal moment of a start.
 */
export function shortCause(error: string): string {
  if (/connection refused|cannot assign requested address/i.test(error)) return 'connection refused';
  if (/timeout|timed out/i.test(error)) return 'no answer';
  const first = error.split('\n').map((l) => l.trim()).find(Boolean) ?? 'no answer';
  const bare = first.replace(/^psql: error: /, '').replace(/^connection to server .*? failed: /, '').replace(/^(?:FATAL|ERROR):\s+/, '');
  return bare.length > 60 ? `${bare.slice(0, 57)}...` : bare;
}

/** What a starting cluster waits for, in one short line; null when it is whole. The full reason is healedProblem's. */
export function waitingFor(s: ClusterStatus): string | null {
  const why = healedProblem(s);
  if (!why || s.askedPgpool) return why;
  // No pgpool answered: its nodes grouped by the cause of their error.
  const byCause = new Map<string, string[]>();
  for (const problem of s.problems) {
    const m = /^(\S+): (?:SHOW pool_nodes|pcp_watchdog_info) failed: ([\s\S]*)$/.exec(problem);
    if (!m) continue;
    const cause = shortCause(m[2]!);
    byCause.set(cause, [...(byCause.get(cause) ?? []), m[1]!]);
  }
  if (!byCause.size) return why;
  return `pgpool on ${[...byCause].map(([cause, hosts]) => `${hosts.join(', ')}: ${cause}`).join('; ')}`;
}

/** The waiting line as shown: what it waits for and for how long. */
export function waitingLine(what: string, seconds: number): string {
  return `waiting: ${what} (${seconds} s)`;
}

/** Where `cluster up` shows what it waits for: one line rewritten in place on a terminal, else a line per change. */
export interface WaitProgress {
  update(what: string, seconds: number): void;
  /** The wait is over (ready or timed out): the live line goes. */
  done(): void;
}

/** A line through `say` each time what it waits for changes (logs, pipes, tests). */
export function changesOnly(say: Log): WaitProgress {
  let shown = '';
  return {
    update(what, seconds) {
      if (what !== shown) say(waitingLine(what, seconds));
      shown = what;
    },
    done() {},
  };
}

export async function clusterUp(
  docker: Docker,
  cluster: Cluster,
  topo: Topology,
  dir: string,
  opts: { say: Log; waitSeconds: number; progress?: WaitProgress },
): Promise<ClusterStatus> {
  const hosts = [...topo.postgres, ...topo.pgpool].map((n) => n.host);
  opts.say(`docker compose up: the init service (secrets and SSH keys in ${dir}), then ${hosts.length} containers (project ${cluster.name})`);
  const since = Date.now();
  const up = await compose(dir, cluster.name, ['up', '-d'], { all: true, reject: false });
  // What the init service did this time (or why it failed): its own log lines.
  const init = await initLog(docker, `${cluster.name}-${INIT_SERVICE}`, since);
  for (const line of init) opts.say(`init: ${line}`);
  if (up.exitCode !== 0) {
    const why = String(up.all ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${up.exitCode}`;
    throw new Error(`docker compose up failed: ${why}`);
  }
  opts.say(`waiting up to ${opts.waitSeconds} s for one primary, every backend up and every standby streaming, a watchdog leader and the delegate IP`);
  return waitReady(() => clusterStatus(clusterContainers(docker, cluster), cluster, topo), { ...opts, hint: `see docker logs ${cluster.name}-<node>` });
}

/** Waits until `statusOf` reads a whole cluster (healedProblem), showing what it waits for; the last status. */
export async function waitReady(statusOf: () => Promise<ClusterStatus>, opts: { say: Log; waitSeconds: number; progress?: WaitProgress; hint: string }): Promise<ClusterStatus> {
  const progress = opts.progress ?? changesOnly(opts.say);
  const started = Date.now();
  let last: ClusterStatus | null = null;
  try {
    await waitFor(
      'the cluster to become ready',
      async () => {
        last = await statusOf();
        // The full reason goes into the error a timeout ends with; the line shows its short form.
        const why = healedProblem(last);
        if (why) progress.update(waitingFor(last) ?? why, Math.round((Date.now() - started) / 1000));
        if (why) throw new Error(why);
        return true;
      },
      opts.waitSeconds * 1000,
      2000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; ${opts.hint}`);
  } finally {
    progress.done();
  }
  return last!;
}

/** The init container's log lines since `since` (epoch ms), the pgha prefix left out; none if it is missing. */
async function initLog(docker: Docker, name: string, since: number): Promise<string[]> {
  const raw = await docker
    .getContainer(name)
    .logs({ stdout: true, stderr: true, follow: false, since: Math.floor(since / 1000) - 1 })
    .catch(() => Buffer.alloc(0));
  return demuxLogs(raw as unknown as Buffer)
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ pgha\[[^\]]*\] node=\S+ action=\S+: /, ''));
}

export async function clusterDown(cluster: Cluster, dir: string, opts: { volumes: boolean }): Promise<void> {
  await compose(dir, cluster.name, ['down', ...(opts.volumes ? ['-v'] : [])], { all: true });
}
