import type Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { parseEvents, type ClusterEvent } from '../chaos/events.js';
import { clusterContainers, clusterStatus } from '../deploy/inspect.js';
import { sh, timestampedLogsSince } from '../docker/exec.js';
import type { Log } from '../log.js';
import { clusterSide, startSide } from './containers.js';
import { BENCH_DB, type Endpoint } from './plan.js';

export interface BenchIo {
  docker: Docker;
  cluster: Cluster;
  topo: Topology;
  benchImage: string;
  /** The cluster's pgpool image: both pgpool targets run its binary. */
  pgpoolImage: string;
  password: string;
  say: Log;
}

const psqlAt = (at: Endpoint) => `-h ${at.host} -p ${at.port} -U postgres`;

/**
 * The pgbench database at `scale` on the primary, its tables made anew by `pgbench -i`. The
 * database itself is created only when missing: a run just before may have left it behind
 * (dropBenchDb), and dropping it then would need pg_terminate_backend on pgpool's cached
 * connections, which pgpool (failover_on_backend_shutdown) would take for a backend going down.
 */
export async function initBenchDb(bench: Docker.Container, primary: Endpoint, scale: number): Promise<void> {
  const direct = psqlAt(primary);
  const create = `psql -X -q -At ${direct} -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '${BENCH_DB}'" | grep -q 1 || psql -X -q ${direct} -d postgres -c 'CREATE DATABASE ${BENCH_DB}'`;
  await sh(bench, `set -e; ${create}; pgbench -q -i -s ${scale} ${direct} ${BENCH_DB}`, { check: true });
}

/**
 * Drops the pgbench database, or says why it stays: the cluster's pgpool may keep connections
 * to it cached until its children recycle (child_life_time), and the next run reuses it.
 */
export async function dropBenchDb(io: BenchIo, bench: Docker.Container, primary: Endpoint): Promise<void> {
  const r = await sh(bench, `psql -X -q ${psqlAt(primary)} -d postgres -c 'DROP DATABASE IF EXISTS ${BENCH_DB}' 2>&1`);
  if (r.exitCode !== 0) io.say(`${BENCH_DB} kept on the primary: ${r.stdout.trim().split('\n')[0]} (cached connections; they close after child_life_time, and the next run reuses it)`);
}

export function parseTransactions(out: string): number | undefined {
  const m = /number of transactions actually processed: (\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

export function parseTps(out: string): number {
  const m = /tps = ([0-9.]+) \(without initial connection time\)/.exec(out);
  if (!m) throw new Error(`pgbench printed no tps: ${out.slice(-400)}`);
  return Number(m[1]);
}

export async function primaryOf(io: BenchIo): Promise<{ host: string; at: Endpoint }> {
  const s = await clusterStatus(clusterContainers(io.docker, io.cluster), io.cluster, io.topo);
  const host = s.backends.find((b) => b.role === 'primary' && b.status === 'up')?.host;
  if (!host) throw new Error(`cluster ${io.cluster.name} has no primary up: ${s.problems.join('; ') || 'see pgha cluster status'}`);
  return { host, at: { host: io.topo.postgres.find((n) => n.host === host)!.address, port: io.cluster.postgres.port } };
}

/** What the nodes logged since a moment that a healthy cluster never logs under load. */
export interface FalseAlarms {
  failovers: number;
  vipMoves: number;
  healthCheckFailures: number;
  events: ClusterEvent[];
}

export interface SoakRun extends FalseAlarms {
  seconds: number;
  clients: number;
  tps: number | null;
}

/** Failovers, delegate IP moves and failed or retried health checks in every node's log since `since` (ms). */
export async function falseAlarms(io: BenchIo, since: number): Promise<FalseAlarms> {
  const events: ClusterEvent[] = [];
  let healthCheckFailures = 0;
  for (const n of [...io.topo.pgpool, ...io.topo.postgres]) {
    const text = await timestampedLogsSince(io.docker.getContainer(`${io.cluster.name}-${n.host}`), since);
    healthCheckFailures += (text.match(/health check failed|health check retrying/g) ?? []).length;
    events.push(...parseEvents(n.host, text).filter((e) => e.at >= since));
  }
  return {
    failovers: events.filter((e) => e.kind === 'failoverStart').length,
    vipMoves: events.filter((e) => e.kind === 'vipUp').length,
    healthCheckFailures,
    events,
  };
}

/**
 * The soak: pgbench through the delegate IP at full CPU for `seconds`, no fault injected;
 * counts what a false alarm would leave in the logs (failovers, delegate IP moves, failed
 * health checks). All must be zero for the tuned timings to be safe on this host.
 */
export async function runSoak(io: BenchIo, seconds: number, clients: number, scale: number): Promise<SoakRun> {
  const primary = await primaryOf(io);
  const bench = await startSide(io, await clusterSide(io), { side: 'pgbench', image: io.benchImage });
  const since = Date.now();
  try {
    await initBenchDb(bench, primary.at, scale);
    io.say(`soak: pgbench tpcb-like, ${clients} clients through ${io.topo.delegateIp}:${io.cluster.pgpool.port} for ${seconds} s`);
    const r = await sh(bench, `timeout ${seconds + 120} pgbench -n -c ${clients} -j 2 -T ${seconds} -P 60 -h ${io.topo.delegateIp} -p ${io.cluster.pgpool.port} -U postgres ${BENCH_DB} 2>&1`);
    let tps: number | null = null;
    try {
      tps = parseTps(r.stdout);
    } catch {
      io.say(`soak: pgbench did not finish cleanly: ${r.stdout.slice(-300)}`);
    }
    await dropBenchDb(io, bench, primary.at);
    return { seconds, clients, tps, ...(await falseAlarms(io, since)) };
  } finally {
    await bench.remove({ force: true, v: true }).catch(() => {});
  }
}
