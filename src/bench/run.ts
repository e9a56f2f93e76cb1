import type Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { parseEvents, type ClusterEvent } from '../chaos/events.js';
import { spread, type Spread } from '../chaos/metrics.js';
import { clusterContainers, clusterStatus } from '../deploy/inspect.js';
import { sh, timestampedLogsSince } from '../docker/exec.js';
import type { Log } from '../log.js';
import { BENCH_OFFSETS, BENCH_PORTS, SAMPLE_PGPOOL_DIR, haproxyCfg, pgbouncerIni, samplePgpoolOverrides } from './proxies.js';
import { intToIpv4, ipv4ToInt } from '../cluster/net.js';

/** pgpool: the cluster's, through the delegate IP; pgpool-sample: the same binary with pgpool's upstream sample config. */
export const TARGETS = ['direct', 'pgpool', 'pgpool-sample', 'pgbouncer', 'haproxy'] as const;
export type Target = (typeof TARGETS)[number];
export const MODES = ['select-only', 'tpcb-like'] as const;
export type Mode = (typeof MODES)[number];

export interface BenchOptions {
  rounds: number;
  seconds: number;
  clients: number[];
  scale: number;
}

export interface BenchIo {
  docker: Docker;
  cluster: Cluster;
  topo: Topology;
  benchImage: string;
  /** The cluster's pgpool image: the sample-config pgpool runs its binary. */
  pgpoolImage: string;
  password: string;
  say: Log;
}

/** Where the CPU goes: the bench container (pgbench, and pgbouncer or HAProxy when they are the target), the pgpool nodes, the postgres nodes. */
export const CPU_GROUPS = ['client', 'pgpool', 'postgres'] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];

export interface Measurement {
  round: number;
  target: Target;
  mode: Mode;
  clients: number;
  tps: number;
  /** Transactions pgbench completed in the run. */
  transactions?: number;
  /** CPU time each group of containers used during the run, in ms (cgroup counters via the engine). */
  cpuMs?: Record<CpuGroup, number>;
}

export interface BenchRun {
  primary: string;
  measurements: Measurement[];
  /** Per "mode/clients", per target: tps / direct tps of the same round, min / median / max. */
  ratios: Record<string, Record<string, Spread | null>>;
  /** Per "mode/clients": direct tps, min / median / max. */
  direct: Record<string, Spread | null>;
  /** Per "mode/clients", per target, per CPU group: CPU ms per 1000 transactions, median over the rounds. */
  cpuPerKTx?: Record<string, Record<string, Record<CpuGroup, number> | null>>;
  /** The bench saturates the host's CPU: what the nodes logged meanwhile that a healthy cluster never logs (counts). */
  alarms?: Omit<FalseAlarms, 'events'>;
  pgpoolSettings: Record<string, string>;
}

const BENCH_DB = 'pgha_bench';

/**
 * The pgbench database at `scale` on the primary (`direct`: psql's host, port and user flags),
 * its tables made anew by `pgbench -i`. The database itself is created only when missing: a
 * run just before may have left it behind (dropBenchDb), and dropping it then would need
 * pg_terminate_backend on pgpool's cached connections, which pgpool
 * (failover_on_backend_shutdown) would take for a backend going down.
 */
async function initBenchDb(bench: Docker.Container, direct: string, scale: number): Promise<void> {
  const create = `psql -X -q -At ${direct} -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '${BENCH_DB}'" | grep -q 1 || psql -X -q ${direct} -d postgres -c 'CREATE DATABASE ${BENCH_DB}'`;
  await sh(bench, `set -e; ${create}; pgbench -q -i -s ${scale} ${direct} ${BENCH_DB}`, { check: true });
}

/**
 * Drops the pgbench database, or says why it stays: pgpool keeps connections to it cached
 * until its children recycle (child_life_time), and the next run reuses it.
 */
async function dropBenchDb(io: BenchIo, bench: Docker.Container, direct: string): Promise<void> {
  const r = await sh(bench, `psql -X -q ${direct} -d postgres -c 'DROP DATABASE IF EXISTS ${BENCH_DB}' 2>&1`);
  if (r.exitCode !== 0) io.say(`${BENCH_DB} kept on the primary: ${r.stdout.trim().split('\n')[0]} (pgpool's cached connections; they close after child_life_time, and the next run reuses it)`);
}

/** The address of one of the bench's containers: its offset from the subnet's network address. */
export function benchAddress(topo: Topology, offset: number): string {
  const address = intToIpv4(ipv4ToInt(topo.gateway)! - 1 + offset);
  if (address === topo.delegateIp) throw new Error(`the bench needs ${address} for its own container, and it is the cluster's delegate IP: choose network.delegateIp elsewhere to run the bench`);
  return address;
}

/**
 * A container of the bench on the cluster's network at `address`, sleeping; removed at the end
 * by the caller, with its anonymous volumes (v: the bench image is the postgres image's, which
 * declares a VOLUME).
 */
async function startBenchSide(io: BenchIo, name: string, image: string, address: string): Promise<Docker.Container> {
  await io.docker.getContainer(name).remove({ force: true, v: true }).catch(() => {});
  const primaryContainer = await io.docker.getContainer(`${io.cluster.name}-${io.topo.postgres[0]!.host}`).inspect();
  const network = Object.keys(primaryContainer.NetworkSettings.Networks)[0]!;
  const c = await io.docker.createContainer({
    name,
    Image: image,
    Entrypoint: ['sleep'],
    Cmd: ['infinity'],
    User: 'root',
    Env: [`PGPASSWORD=${io.password}`],
    // The pgpool image's own health check asks for a watchdog this pgpool does not have.
    Healthcheck: { Test: ['NONE'] },
    HostConfig: { NetworkMode: network, AutoRemove: false },
    NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: address } } } },
  });
  await c.start();
  return c;
}

/**
 * pgpool with its upstream sample config (samplePgpoolOverrides): the cluster's pgpool binary,
 * none of the generated settings. The password reaches pool_passwd from the container's
 * environment, in plain text (pgpool's TEXT prefix), inside the container only.
 */
async function startSamplePgpool(io: BenchIo, bench: Docker.Container, backends: { host: string; port: number }[]): Promise<Docker.Container> {
  const host = benchAddress(io.topo, BENCH_OFFSETS.samplePgpool);
  const container = await startBenchSide(io, `${io.cluster.name}-bench-pgpool`, io.pgpoolImage, host);
  const d = SAMPLE_PGPOOL_DIR;
  const setup = [
    'set -e',
    `install -d -o postgres -g postgres -m 0700 ${d}`,
    `cp /usr/local/etc/pgpool.conf.sample ${d}/pgpool.conf`,
    `cat >>${d}/pgpool.conf <<'EOF'\n${samplePgpoolOverrides(backends)}EOF`,
    `printf 'postgres:TEXT%s\\n' "$PGPASSWORD" >${d}/pool_passwd`,
    `: >${d}/pcp.conf`,
    `chown postgres:postgres ${d}/pgpool.conf ${d}/pool_passwd ${d}/pcp.conf`,
    `chmod 0600 ${d}/pool_passwd`,
    // su -s: both variants have it (Debian's util-linux, Alpine's BusyBox).
    `su -s /bin/sh postgres -c 'exec setsid pgpool -n -D -f ${d}/pgpool.conf -F ${d}/pcp.conf' >${d}/pgpool.log 2>&1 </dev/null &`,
  ].join('\n');
  await sh(container, setup, { check: true });
  // Asked from the bench container (the Alpine pgpool image has no psql), bounded.
  const ready = await sh(bench, `for _ in $(seq 30); do PGCONNECT_TIMEOUT=2 psql -X -q -At -h ${host} -p ${BENCH_PORTS.samplePgpool} -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1`);
  if (ready.exitCode !== 0) {
    const log = await sh(container, `tail -n 20 ${d}/pgpool.log`);
    throw new Error(`the pgpool with the upstream sample config did not answer within 30 s: ${log.stdout.trim()}`);
  }
  return container;
}

function parseTransactions(out: string): number | undefined {
  const m = /number of transactions actually processed: (\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

/** Total CPU time (ns) the containers have used so far, from the engine's one-shot stats. */
async function cpuNs(containers: Docker.Container[]): Promise<number> {
  const each = await Promise.all(containers.map(async (c) => ((await c.stats({ stream: false })) as unknown as { cpu_stats: { cpu_usage: { total_usage: number } } }).cpu_stats.cpu_usage.total_usage));
  return each.reduce((a, b) => a + b, 0);
}

/** CPU ms per 1000 transactions per group, median over the rounds of each configuration and target. */
export function cpuProfile(measurements: Measurement[]): NonNullable<BenchRun['cpuPerKTx']> {
  const out: NonNullable<BenchRun['cpuPerKTx']> = {};
  for (const key of [...new Set(measurements.map((m) => configKey(m.mode, m.clients)))]) {
    out[key] = Object.fromEntries(
      TARGETS.map((t) => {
        const of = measurements.filter((m) => configKey(m.mode, m.clients) === key && m.target === t && m.cpuMs && m.transactions);
        if (!of.length) return [t, null];
        return [t, Object.fromEntries(CPU_GROUPS.map((g) => [g, spread(of.map((m) => (m.cpuMs![g] * 1000) / m.transactions!))!.median])) as Record<CpuGroup, number>];
      }),
    );
  }
  return out;
}

function parseTps(out: string): number {
  const m = /tps = ([0-9.]+) \(without initial connection time\)/.exec(out);
  if (!m) throw new Error(`pgbench printed no tps: ${out.slice(-400)}`);
  return Number(m[1]);
}

export function targetAddress(target: Target, io: BenchIo, primaryIp: string): { host: string; port: number } {
  switch (target) {
    case 'pgpool-sample':
      return { host: benchAddress(io.topo, BENCH_OFFSETS.samplePgpool), port: BENCH_PORTS.samplePgpool };
    case 'direct':
      return { host: primaryIp, port: io.cluster.postgres.port };
    case 'pgpool':
      return { host: io.topo.delegateIp, port: io.cluster.pgpool.port };
    case 'pgbouncer':
      return { host: '127.0.0.1', port: BENCH_PORTS.pgbouncer };
    case 'haproxy':
      return { host: '127.0.0.1', port: BENCH_PORTS.haproxy };
  }
}

/** One "mode/clients" key per configuration. */
export const configKey = (mode: Mode, clients: number) => `${mode}/${clients}`;

/** Ratios to direct, paired by round: a slow moment of the host hits both sides of a pair. */
export function benchRatios(measurements: Measurement[]): Pick<BenchRun, 'ratios' | 'direct'> {
  const ratios: BenchRun['ratios'] = {};
  const direct: BenchRun['direct'] = {};
  const keys = [...new Set(measurements.map((m) => configKey(m.mode, m.clients)))];
  for (const key of keys) {
    const of = measurements.filter((m) => configKey(m.mode, m.clients) === key);
    const base = new Map(of.filter((m) => m.target === 'direct').map((m) => [m.round, m.tps]));
    direct[key] = spread([...base.values()]);
    ratios[key] = Object.fromEntries(
      TARGETS.filter((t) => t !== 'direct').map((t) => [t, spread(of.filter((m) => m.target === t && base.get(m.round)).map((m) => m.tps / base.get(m.round)!))]),
    );
  }
  return { ratios, direct };
}

async function primaryOf(io: BenchIo): Promise<{ host: string; ip: string }> {
  const s = await clusterStatus(clusterContainers(io.docker, io.cluster), io.cluster, io.topo);
  const host = s.backends.find((b) => b.role === 'primary' && b.status === 'up')?.host;
  if (!host) throw new Error(`cluster ${io.cluster.name} has no primary up: ${s.problems.join('; ') || 'see pgha cluster status'}`);
  return { host, ip: io.topo.postgres.find((n) => n.host === host)!.address };
}

/** The pgpool.conf keys that decide proxy cost, as the leader pgpool runs them. */
async function pgpoolSettings(io: BenchIo, bench: Docker.Container): Promise<Record<string, string>> {
  const keys = ['ssl', 'num_init_children', 'max_pool', 'connection_cache', 'load_balance_mode', 'statement_level_load_balance', 'memory_cache_enabled', 'reserved_connections', 'child_life_time', 'child_max_connections', 'connection_life_time', 'process_management_mode'];
  const r = await sh(bench, `PGCONNECT_TIMEOUT=5 timeout 20 psql -X -At -F'|' -h ${io.topo.delegateIp} -p ${io.cluster.pgpool.port} -U postgres -d postgres -c 'PGPOOL SHOW ALL'`);
  const all = Object.fromEntries(r.stdout.split('\n').map((l) => l.split('|')).filter((p) => p.length >= 2).map((p) => [p[0]!, p[1]!]));
  return Object.fromEntries(keys.map((k) => [k, all[k] ?? 'unknown']));
}

export async function runProxyBench(io: BenchIo, opts: BenchOptions): Promise<BenchRun> {
  const primary = await primaryOf(io);
  const since = Date.now();
  io.say(`primary ${primary.host} (${primary.ip}); starting the bench container with pgbouncer and HAProxy, and a pgpool with the upstream sample config`);
  const bench = await startBenchSide(io, `${io.cluster.name}-bench`, io.benchImage, benchAddress(io.topo, BENCH_OFFSETS.bench));
  let sample: Docker.Container | undefined;
  try {
    const setup = [
      'install -d -m 0700 /run/bench',
      `printf '"postgres" "%s"\\n' "$PGPASSWORD" >/run/bench/userlist.txt`,
      `cat >/run/bench/pgbouncer.ini <<'EOF'\n${pgbouncerIni(primary.ip, io.cluster.postgres.port)}EOF`,
      `cat >/run/bench/haproxy.cfg <<'EOF'\n${haproxyCfg(primary.ip, io.cluster.postgres.port)}EOF`,
      'chown -R postgres /run/bench',
      'runuser -u postgres -- pgbouncer -d /run/bench/pgbouncer.ini',
      'haproxy -D -f /run/bench/haproxy.cfg',
    ].join('\n');
    await sh(bench, setup, { check: true });
    const direct = `-h ${primary.ip} -p ${io.cluster.postgres.port} -U postgres`;
    io.say(`initialising ${BENCH_DB} at scale ${opts.scale} on the primary`);
    await initBenchDb(bench, direct, opts.scale);
    const settings = await pgpoolSettings(io, bench);
    // The primary first (backend 0), then the standbys: the sample pgpool balances reads as the cluster's does.
    const standbys = io.topo.postgres.filter((n) => n.host !== primary.host).map((n) => ({ host: n.address, port: io.cluster.postgres.port }));
    sample = await startSamplePgpool(io, bench, [{ host: primary.ip, port: io.cluster.postgres.port }, ...standbys]);
    const node = (host: string) => io.docker.getContainer(`${io.cluster.name}-${host}`);
    // The sample pgpool's CPU counts with the pgpool nodes' (idle but for their checks while it is the target).
    const groups: Record<CpuGroup, Docker.Container[]> = { client: [bench], pgpool: [...io.topo.pgpool.map((n) => node(n.host)), sample], postgres: io.topo.postgres.map((n) => node(n.host)) };
    const sampleCpu = () => Promise.all(CPU_GROUPS.map((g) => cpuNs(groups[g])));
    const measurements: Measurement[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      // Rotate the order each round so no target always runs first (cold caches) or last.
      const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]!);
      for (const mode of MODES) {
        for (const clients of opts.clients) {
          for (const target of order) {
            const { host, port } = targetAddress(target, io, primary.ip);
            const before = await sampleCpu();
            const r = await sh(bench, `timeout ${opts.seconds + 60} pgbench -n ${mode === 'select-only' ? '-S' : ''} -c ${clients} -j 2 -T ${opts.seconds} -h ${host} -p ${port} -U postgres ${BENCH_DB} 2>&1`);
            const after = await sampleCpu();
            const tps = parseTps(r.stdout);
            const cpuMs = Object.fromEntries(CPU_GROUPS.map((g, k) => [g, (after[k]! - before[k]!) / 1e6])) as Record<CpuGroup, number>;
            measurements.push({ round, target, mode, clients, tps, transactions: parseTransactions(r.stdout), cpuMs });
            io.say(`round ${round}/${opts.rounds} ${mode} ${clients} clients ${target}: ${tps.toFixed(0)} tps`);
          }
        }
      }
    }
    await dropBenchDb(io, bench, direct);
    const { failovers, vipMoves, healthCheckFailures } = await falseAlarms(io, since);
    return { primary: primary.host, measurements, ...benchRatios(measurements), cpuPerKTx: cpuProfile(measurements), alarms: { failovers, vipMoves, healthCheckFailures }, pgpoolSettings: settings };
  } catch (err) {
    // A pgbench that fails mid-run under full load is most likely a false alarm of the cluster: say so.
    const a = await falseAlarms(io, since).catch(() => null);
    const why = a ? `; meanwhile the nodes logged ${a.failovers} failover(s), ${a.vipMoves} delegate IP move(s), ${a.healthCheckFailures} failed or retried health check(s)` : '';
    throw new Error(`${(err as Error).message.trim()}${why}`);
  } finally {
    await bench.remove({ force: true, v: true }).catch(() => {});
    await sample?.remove({ force: true, v: true }).catch(() => {});
  }
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
  const bench = await startBenchSide(io, `${io.cluster.name}-bench`, io.benchImage, benchAddress(io.topo, BENCH_OFFSETS.bench));
  const since = Date.now();
  try {
    const direct = `-h ${primary.ip} -p ${io.cluster.postgres.port} -U postgres`;
    await initBenchDb(bench, direct, scale);
    io.say(`soak: pgbench tpcb-like, ${clients} clients through ${io.topo.delegateIp}:${io.cluster.pgpool.port} for ${seconds} s`);
    const r = await sh(bench, `timeout ${seconds + 120} pgbench -n -c ${clients} -j 2 -T ${seconds} -P 60 -h ${io.topo.delegateIp} -p ${io.cluster.pgpool.port} -U postgres ${BENCH_DB} 2>&1`);
    let tps: number | null = null;
    try {
      tps = parseTps(r.stdout);
    } catch {
      io.say(`soak: pgbench did not finish cleanly: ${r.stdout.slice(-300)}`);
    }
    await dropBenchDb(io, bench, direct);
    return { seconds, clients, tps, ...(await falseAlarms(io, since)) };
  } finally {
    await bench.remove({ force: true, v: true }).catch(() => {});
  }
}
