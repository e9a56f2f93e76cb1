import type Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { sh } from '../docker/exec.js';
import { table } from '../format.js';

// Every command run in a node is bounded: a pgpool that accepts and never answers must not hang status.
import { PATHS, REMOTE_STEP_SECONDS } from '../images/facts.js';
export { REMOTE_STEP_SECONDS };

/** A container of the cluster, by its compose container_name. */
export interface ClusterContainers {
  name: (host: string) => string;
  get: (host: string) => Docker.Container;
  running: (host: string) => Promise<boolean>;
  state: (host: string) => Promise<string>;
}

export function clusterContainers(docker: Docker, cluster: Cluster): ClusterContainers {
  const name = (host: string) => `${cluster.name}-${host}`;
  const state = async (host: string) => {
    try {
      return (await docker.getContainer(name(host)).inspect()).State.Status;
    } catch {
      return 'missing';
    }
  };
  return {
    name,
    get: (host) => docker.getContainer(name(host)),
    running: async (host) => (await state(host)) === 'running',
    state,
  };
}

export interface Backend {
  id: number;
  host: string;
  /** pgpool's view: up, down, waiting, ... */
  status: string;
  /** primary or standby, as pgpool found it with pg_is_in_recovery(). */
  role: string;
  /** Replication delay pgpool measured (bytes), null on the primary. */
  lag: number | null;
  replicationState: string;
  syncState: string;
  container: string;
  /** The node's data volume, as the node measures it; null when the node does not answer. */
  disk: DataVolume | null;
}

/** `pgha-node disk`: free space of a postgres node's data volume and what the node makes of it. */
export interface DataVolume {
  freeMb: number;
  usedPct: number;
  reserveMb: number;
  /** ok; low: below the reserve; held: stopped because it ran full. */
  state: 'ok' | 'low' | 'held';
  /** postgres wrote "No space left on device" in the node's recent log. */
  noSpaceInLog: boolean;
}

/** Parses `free_mb=.. used_pct=.. reserve_mb=.. state=..`; null for anything else. */
export function parseDiskLine(line: string): Omit<DataVolume, 'noSpaceInLog'> | null {
  const m = /^free_mb=(\d+) used_pct=(\d+) reserve_mb=(\d+) state=(ok|low|held)$/.exec(line.trim());
  return m ? { freeMb: Number(m[1]), usedPct: Number(m[2]), reserveMb: Number(m[3]), state: m[4] as DataVolume['state'] } : null;
}

/** A postgres node's data volume (bounded); null when the node does not answer. */
export async function dataVolume(container: Docker.Container): Promise<DataVolume | null> {
  const r = await sh(container, `timeout ${REMOTE_STEP_SECONDS} ${PATHS.nodeCommand} disk`, { user: 'postgres' }).catch(() => null);
  const parsed = r && r.exitCode === 0 ? parseDiskLine(r.stdout) : null;
  if (!parsed) return null;
  const tail = await container.logs({ stdout: true, stderr: true, follow: false, tail: 300 }).then(String).catch(() => '');
  return { ...parsed, noSpaceInLog: tail.includes('No space left on device') };
}

/** One line about a data volume that needs a person, or null when it has room. */
export function diskProblem(host: string, d: DataVolume | null): string | null {
  if (!d || (d.state === 'ok' && !d.noSpaceInLog)) return null;
  const what = `${host}: data volume ${d.usedPct}% used, ${d.freeMb} MB free (reserve ${d.reserveMb} MB)${d.noSpaceInLog ? '; postgres logged "No space left on device"' : ''}`;
  if (d.state === 'held') return `${what}; postgres stopped and held, it rejoins as a standby once ${2 * d.reserveMb} MB are free`;
  if (d.state === 'low') return `${what}; a primary hands over to a standby that has all its WAL, else keeps running with writes failing`;
  return what;
}

export interface WatchdogNode {
  host: string;
  state: string;
  container: string;
  holdsVip: boolean;
}

export interface ClusterStatus {
  /** The pgpool node that answered, or null when none did. */
  askedPgpool: string | null;
  backends: Backend[];
  watchdog: { leader: string | null; quorum: string | null; nodes: WatchdogNode[]; vipHolders: string[]; delegateIp: string };
  problems: string[];
}

/** SHOW pool_nodes through a pgpool node, as the pgpool role (password from the mounted secret). */
export async function poolNodes(container: Docker.Container, cluster: Cluster): Promise<string[][]> {
  const r = await sh(
    container,
    `PGPASSWORD="$(cat ${PATHS.secretsMount}/pgpool_password)" PGCONNECT_TIMEOUT=5 timeout ${REMOTE_STEP_SECONDS} psql -X -h localhost -p ${cluster.pgpool.port} -U pgpool -d postgres -At -F'|' -c 'SHOW pool_nodes'`,
  );
  if (r.exitCode !== 0) throw new Error(`SHOW pool_nodes failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('|'));
}

/** pcp_watchdog_info -v of a pgpool node, parsed into the cluster part and one record per node. */
export async function watchdogInfo(container: Docker.Container, cluster: Cluster): Promise<{ cluster: Record<string, string>; nodes: Record<string, string>[] }> {
  const r = await sh(container, `PCPPASSFILE=${PATHS.pcpPassFile} timeout ${REMOTE_STEP_SECONDS} pcp_watchdog_info -h localhost -p ${cluster.pgpool.pcpPort} -U pgpool -w -v`);
  if (r.exitCode !== 0) throw new Error(`pcp_watchdog_info failed: ${r.stderr.trim() || r.stdout.trim()}`);
  const [head, ...nodeBlocks] = r.stdout.split(/\n\s*\n/);
  const fields = (block: string) =>
    Object.fromEntries(
      block
        .split('\n')
        .map((l) => l.match(/^([^:]+?)\s*:\s*(.*)$/))
        .filter((m): m is RegExpMatchArray => m !== null)
        .map((m) => [m[1]!.trim(), m[2]!.trim()]),
    );
  return { cluster: fields(head ?? ''), nodes: nodeBlocks.map(fields).filter((n) => n['Host Name']) };
}

/**
 * pcp_node_info's lines (hostname port status weight status_name backend_status role ...) as
 * host, status, role; "waiting" (up, no child connected to it yet) is read as up. The same
 * reading as the scripts' pgha_pcp_nodes (shell/lib/pgha-pcp.sh).
 */
export function parseNodeInfo(stdout: string): { host: string; status: string; role: string }[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => l.trim().split(/\s+/)).map((f) => ({ host: f[0]!, status: f[4] === 'waiting' ? 'up' : (f[4] ?? ''), role: f[6] ?? '' }));
}

/**
 * A pgpool node's own view of the backends (pcp_node_info on that node): host, status, role
 * (parseNodeInfo). Bounded; null when pcp does not answer.
 */
export async function backendStates(container: Docker.Container, cluster: Cluster): Promise<{ host: string; status: string; role: string }[] | null> {
  const r = await sh(container, `PCPPASSFILE=${PATHS.pcpPassFile} timeout ${REMOTE_STEP_SECONDS} pcp_node_info -h localhost -p ${cluster.pgpool.pcpPort} -U pgpool -w`);
  if (r.exitCode !== 0) return null;
  return parseNodeInfo(r.stdout);
}

/** Which running pgpool containers have the delegate IP on an interface right now. */
export async function vipHolders(containers: ClusterContainers, topo: Topology): Promise<string[]> {
  const holders: string[] = [];
  for (const node of topo.pgpool) {
    if (!(await containers.running(node.host))) continue;
    // A node killed between the two questions holds nothing (the engine refuses the exec).
    const r = await sh(containers.get(node.host), 'ip -4 -o addr show').catch(async (err: unknown) => {
      if (await containers.running(node.host)) throw err;
      return null;
    });
    if (r?.stdout.split('\n').some((l) => l.includes(` ${topo.delegateIp}/`))) holders.push(node.host);
  }
  return holders;
}

/** The cluster as pgpool and the watchdog see it, asked from inside the first pgpool node that answers. */
export async function clusterStatus(containers: ClusterContainers, cluster: Cluster, topo: Topology): Promise<ClusterStatus> {
  const problems: string[] = [];
  let askedPgpool: string | null = null;
  let rows: string[][] = [];
  let wd: Awaited<ReturnType<typeof watchdogInfo>> | null = null;
  for (const node of topo.pgpool) {
    if (!(await containers.running(node.host))) continue;
    try {
      rows = await poolNodes(containers.get(node.host), cluster);
      wd = await watchdogInfo(containers.get(node.host), cluster);
      askedPgpool = node.host;
      break;
    } catch (err) {
      problems.push(`${node.host}: ${(err as Error).message}`);
    }
  }
  // SHOW pool_nodes needs a backend session: no node answers it while no backend is up (after a
  // compound fault). pcp still answers, without the replication columns; only then is it asked,
  // since a node cut off from the backends would answer it with its own stale view.
  for (const node of askedPgpool ? [] : topo.pgpool) {
    if (!(await containers.running(node.host))) continue;
    const states = await backendStates(containers.get(node.host), cluster).catch(() => null);
    if (!states) continue;
    rows = states.map((b, id) => [String(id), b.host, '', b.status, '', '', b.role]);
    wd = await watchdogInfo(containers.get(node.host), cluster).catch(() => null);
    askedPgpool = node.host;
    problems.push(`${node.host}: SHOW pool_nodes failed on every pgpool node (no backend up?); backend states from pcp_node_info`);
    break;
  }
  if (!askedPgpool) problems.push('no pgpool node answered');
  const backends: Backend[] = await Promise.all(
    topo.postgres.map(async (n) => {
      const row = rows.find((r) => r[1] === n.host);
      const lag = row?.[6] === 'primary' || !row ? null : Number(row[10]);
      return {
        id: n.id,
        host: n.host,
        status: row?.[3] ?? 'unknown',
        role: row?.[6] ?? 'unknown',
        lag: lag === null || Number.isNaN(lag) ? null : lag,
        replicationState: row?.[11] ?? '',
        syncState: row?.[12] ?? '',
        container: await containers.state(n.host),
        disk: (await containers.running(n.host)) ? await dataVolume(containers.get(n.host)) : null,
      };
    }),
  );
  for (const b of backends) {
    const p = diskProblem(b.host, b.disk);
    if (p) problems.push(p);
  }
  const holders = await vipHolders(containers, topo);
  const leaderName = wd?.cluster['Leader Host Name'] ?? null;
  const nodes: WatchdogNode[] = await Promise.all(
    topo.pgpool.map(async (n) => ({
      host: n.host,
      state: wd?.nodes.find((w) => w['Host Name'] === n.host)?.['Status Name'] ?? 'unknown',
      container: await containers.state(n.host),
      holdsVip: holders.includes(n.host),
    })),
  );
  return {
    askedPgpool,
    backends,
    watchdog: { leader: leaderName, quorum: wd?.cluster['Quorum state'] ?? null, nodes, vipHolders: holders, delegateIp: topo.delegateIp },
    problems,
  };
}

export function formatStatus(s: ClusterStatus): string {
  const backends = table(
    ['ID', 'HOST', 'CONTAINER', 'STATUS', 'ROLE', 'LAG (bytes)', 'REPLICATION', 'DISK'],
    s.backends.map((b) => [
      String(b.id),
      b.host,
      b.container,
      b.status,
      b.role,
      b.lag === null ? '-' : String(b.lag),
      [b.replicationState, b.syncState].filter(Boolean).join(' ') || '-',
      b.disk ? `${b.disk.usedPct}% (${b.disk.freeMb} MB free)${b.disk.state === 'ok' ? '' : ` ${b.disk.state}`}` : '-',
    ]),
  );
  const watchdog = table(
    ['PGPOOL', 'CONTAINER', 'WATCHDOG', 'VIP'],
    s.watchdog.nodes.map((n) => [n.host, n.container, n.state, n.holdsVip ? s.watchdog.delegateIp : '-']),
  );
  const vip = s.watchdog.delegateIp ? `; delegate IP ${s.watchdog.delegateIp} held by ${s.watchdog.vipHolders.join(', ') || 'nobody'}` : '; no delegate IP';
  const summary = `leader: ${s.watchdog.leader ?? 'none'}; quorum: ${s.watchdog.quorum ?? 'unknown'}${vip}${s.askedPgpool ? ` (asked ${s.askedPgpool})` : ''}`;
  return [backends, '', watchdog, summary, ...s.problems.map((p) => `problem: ${p}`)].join('\n');
}
