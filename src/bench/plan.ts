import { PATHS } from '../images/facts.js';

/**
 * The proxy bench as data: which series and targets run, in which order each round, for how
 * long, and the pgbench invocation of every run. Pure: the Docker side reads this plan and
 * never decides any of it, so the plan is what the unit tests check.
 */

/** tls: every hop of every target encrypted; plain: none. Ratios compare targets within a series. */
export const SERIES = ['tls', 'plain'] as const;
export type Series = (typeof SERIES)[number];

/**
 * direct: pgbench to the primary. pgpool: the cluster's own pgpool image and configuration,
 * run beside the cluster without watchdog; pgpool-sample: the same binary with pgpool's
 * upstream sample configuration; pgbouncer in transaction and in session pooling; HAProxy as
 * a TCP relay. Every proxy in a container of its own.
 */
export const TARGETS = ['direct', 'pgpool', 'pgpool-sample', 'pgbouncer', 'pgbouncer-session', 'haproxy'] as const;
export type Target = (typeof TARGETS)[number];
export const MODES = ['select-only', 'tpcb-like'] as const;
export type Mode = (typeof MODES)[number];

export interface BenchOptions {
  series: Series[];
  targets: Target[];
  modes: Mode[];
  rounds: number;
  /** Seconds of each pgbench run. */
  seconds: number;
  clients: number[];
  /** pgbench scale: at least the largest client count, so tpcb-like clients do not queue on one branch row. */
  scale: number;
}

export const BENCH_DEFAULTS: BenchOptions = { series: [...SERIES], targets: [...TARGETS], modes: [...MODES], rounds: 5, seconds: 60, clients: [8, 32], scale: 32 };

/** pgpool children beyond the largest client count: the bench's probes and an admin session never make a client wait. */
export const PGPOOL_HEADROOM = 4;
/** Seconds with no load at the start of every round: each container's idle CPU, subtracted from the runs of that round. */
export const IDLE_SECONDS = 15;
/** What a run costs beyond its pgbench seconds (vacuum, checkpoint, CPU counters, the TLS sample), for the estimate. */
const RUN_OVERHEAD_SECONDS = 12;
/** Starting a series' proxies and probing each target's TLS, for the estimate. */
const SERIES_SETUP_SECONDS = 90;

export const BENCH_DB = 'pgha_bench';
/** Where the bench containers see the cluster's CA (the nodes' own TLS directory, mounted read-only). */
export const BENCH_CA_FILE = `${PATHS.tlsMount}/ca.crt`;

export interface PlannedRun {
  series: Series;
  round: number;
  mode: Mode;
  clients: number;
  target: Target;
}

export interface BenchPlan {
  options: BenchOptions;
  /** num_init_children of both pgpool targets. */
  pgpoolChildren: number;
  idleSeconds: number;
  /** The target order of each round (index 0: round 1). */
  orders: Target[][];
  runs: PlannedRun[];
  /** What of the full matrix this run leaves out; null for the full matrix at the defaults' shape. */
  subset: string | null;
  estimatedSeconds: number;
}

/** Round `round` (from 1) starts one target later than the round before, so none is always first or last. */
export function rotation(targets: readonly Target[], round: number): Target[] {
  return targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
}

/** Every ratio is to direct of the same round and series: direct always runs, first in the list. */
function withDirect(targets: Target[]): Target[] {
  return ['direct' as Target, ...TARGETS.filter((t) => t !== 'direct' && targets.includes(t))];
}

/** What a run leaves out of the full matrix (every series, target and mode, the default rounds and seconds). */
export function subsetOf(o: BenchOptions): string | null {
  const left: string[] = [];
  const missing = <T extends string>(all: readonly T[], got: T[], what: string) => {
    const out = all.filter((x) => !got.includes(x));
    if (out.length) left.push(`${what} ${out.join(', ')} not run`);
  };
  missing(SERIES, o.series, 'series');
  missing(TARGETS, o.targets, 'targets');
  missing(MODES, o.modes, 'modes');
  if (o.rounds < BENCH_DEFAULTS.rounds) left.push(`${o.rounds} round${o.rounds === 1 ? '' : 's'} (full: ${BENCH_DEFAULTS.rounds})`);
  if (o.seconds < BENCH_DEFAULTS.seconds) left.push(`${o.seconds} s runs (full: ${BENCH_DEFAULTS.seconds})`);
  return left.length ? left.join('; ') : null;
}

export function benchPlan(given: BenchOptions): BenchPlan {
  const o: BenchOptions = {
    ...given,
    series: SERIES.filter((s) => given.series.includes(s)),
    targets: withDirect(given.targets),
    modes: MODES.filter((m) => given.modes.includes(m)),
    clients: [...new Set(given.clients)].sort((a, b) => a - b),
  };
  const orders = Array.from({ length: o.rounds }, (_, i) => rotation(o.targets, i + 1));
  const runs: PlannedRun[] = [];
  for (const series of o.series) {
    for (let round = 1; round <= o.rounds; round++) {
      for (const mode of o.modes) {
        for (const clients of o.clients) runs.push(...orders[round - 1]!.map((target) => ({ series, round, mode, clients, target })));
      }
    }
  }
  const estimatedSeconds = o.series.length * (SERIES_SETUP_SECONDS + o.rounds * IDLE_SECONDS) + runs.length * (o.seconds + RUN_OVERHEAD_SECONDS);
  return { options: o, pgpoolChildren: Math.max(...o.clients) + PGPOOL_HEADROOM, idleSeconds: IDLE_SECONDS, orders, runs, subset: subsetOf(o), estimatedSeconds };
}

/** "4 h 12 min", "3 min 20 s": the planned time, said before a run of hours starts. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/** The libpq settings of every connection of a series: TLS verified against the cluster's CA, or none at all. */
export function sslEnv(series: Series): string[] {
  return series === 'tls' ? ['PGSSLMODE=verify-ca', `PGSSLROOTCERT=${BENCH_CA_FILE}`] : ['PGSSLMODE=disable'];
}

/** A host and port a client connects to (the bench's targets, the chaos probe's entries). */
export interface Endpoint {
  host: string;
  port: number;
}

/**
 * One pgbench run: the built-in script, no vacuum of its own (-n: the bench vacuums between
 * runs, directly on the primary, never through the target), the simple query protocol.
 */
export function pgbenchInvocation(run: Pick<PlannedRun, 'series' | 'mode' | 'clients'>, seconds: number, at: Endpoint): { argv: string[]; env: string[] } {
  const threads = Math.min(2, run.clients);
  return {
    argv: ['pgbench', '-n', '-b', run.mode, '-M', 'simple', '-c', String(run.clients), '-j', String(threads), '-T', String(seconds), '-h', at.host, '-p', String(at.port), '-U', 'postgres', BENCH_DB],
    env: sslEnv(run.series),
  };
}

/** The first run's pgbench command line, as every run has it but for mode, clients and target (HOST:PORT). */
export function pgbenchExample(plan: BenchPlan): string {
  const o = plan.options;
  const { argv, env } = pgbenchInvocation({ series: o.series[0]!, mode: o.modes[0]!, clients: o.clients[0]! }, o.seconds, { host: 'HOST', port: 0 });
  return [...env, ...argv].join(' ').replace('-p 0', '-p PORT');
}

/**
 * Connections to the primary the plan may hold at once, worst case: each pgbouncer's full
 * pool and each pgpool's children (with their health and replication checks) stay open
 * between runs; a direct or HAProxy run adds a backend per client; the bench's own probe.
 */
export function primaryConnections(plan: BenchPlan): number {
  const largest = Math.max(...plan.options.clients);
  const held: Record<Target, number> = { direct: 0, haproxy: 0, pgbouncer: largest, 'pgbouncer-session': largest, pgpool: plan.pgpoolChildren + 2, 'pgpool-sample': plan.pgpoolChildren + 1 };
  const perRun = plan.options.targets.some((t) => t === 'direct' || t === 'haproxy') ? largest : 0;
  return plan.options.targets.reduce((n, t) => n + held[t], 0) + perRun + 2;
}

/** Slots the bench leaves to the cluster's own pgpool checks and exporter: a refused health check is a false failover. */
export const CLUSTER_SLOTS = 10;

/** Why the primary cannot take the plan's connections (one line), or null. */
export function connectionProblem(plan: BenchPlan, primary: { max: number; reserved: number; used: number }): string | null {
  const free = primary.max - primary.reserved - primary.used;
  const need = primaryConnections(plan);
  if (need + CLUSTER_SLOTS <= free) return null;
  return `--clients: the primary has ${free} free connections (max_connections ${primary.max} less ${primary.reserved} reserved and ${primary.used} in use) and the plan may hold ${need} at once, leaving fewer than ${CLUSTER_SLOTS} for the cluster's own checks; run fewer clients or --targets at a time`;
}

/** How each target pools server connections, as recorded beside its figures. */
export function poolModeOf(target: Target, pgpoolChildren: number): string {
  switch (target) {
    case 'direct':
      return 'none: a backend per client';
    case 'pgpool':
    case 'pgpool-sample':
      return `pgpool connection cache: a child per client session (num_init_children ${pgpoolChildren}), its backends kept after the session`;
    case 'pgbouncer':
      return 'transaction';
    case 'pgbouncer-session':
      return 'session';
    case 'haproxy':
      return 'none: a TCP relay, a backend per client';
  }
}
