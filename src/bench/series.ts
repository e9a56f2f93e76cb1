import type Docker from 'dockerode';
import { logsOf, sh } from '../docker/exec.js';
import { UsageError } from '../errors.js';
import { idleRates, runCpu, type CpuRole, type CpuSample, type IdleRates } from './cpu.js';
import { clusterSide, startGeneratedPgpool, startHaproxy, startPgbouncer, startSamplePgpool, startSide, tlsBind, waitForTarget, type ClusterSide } from './containers.js';
import { figuresOf, type Figures, type Measurement } from './figures.js';
import { benchContainerName, sessionSource, targetEndpoint, type ProxyTarget } from './layout.js';
import { connectionProblem, pgbenchInvocation, poolModeOf, type BenchPlan, type Endpoint, type PlannedRun, type Series, type Target } from './plan.js';
import { primarySlots, probeHops, proxySettings, resetTables, sampleSessions } from './probe.js';
import { dropBenchDb, falseAlarms, initBenchDb, parseTps, parseTransactions, primaryOf, type BenchIo, type FalseAlarms } from './run.js';
import { hopProblems, sessionProblem, type HopRecord } from './tls.js';

/** One series as recorded: what each target was, each hop's TLS, every proxy's effective configuration, every round. */
export interface SeriesRun extends Figures {
  targets: Record<string, { endpoint: Endpoint; poolMode: string; container: string | null }>;
  hops: HopRecord[];
  /** Per target: its configuration as the bench wrote it (text) and as the proxy reports it (settings). */
  configs: Record<string, { written?: string; effective?: Record<string, string> }>;
  /** Each round's idle window: every watched container's CPU ms per second with no load. */
  idle: { round: number; windowMs: number; msPerS: IdleRates }[];
  measurements: Measurement[];
  /** Runs whose sessions did not have the series' TLS (counted mid-run); empty when every one did. */
  problems: string[];
}

export interface BenchRun {
  primary: string;
  series: Partial<Record<Series, SeriesRun>>;
  /** The bench saturates the host's CPU: what the cluster's nodes logged meanwhile that a healthy cluster never logs (counts). */
  alarms: Omit<FalseAlarms, 'events'>;
}

interface Ctx {
  io: BenchIo;
  side: ClusterSide;
  plan: BenchPlan;
  pgbench: Docker.Container;
  primary: Endpoint;
}

type Proxies = Map<ProxyTarget, { container: Docker.Container; written: string }>;

/** The proxies a series measures, each in its own container, configured for the series. */
async function startProxies(ctx: Ctx, series: Series, into: Proxies): Promise<void> {
  const { io, side, plan, primary } = ctx;
  const largest = Math.max(...plan.options.clients);
  for (const target of plan.options.targets) {
    if (target === 'pgpool') {
      const p = await startGeneratedPgpool(io, side, series, plan.pgpoolChildren);
      into.set(target, { container: p.container, written: p.conf });
    } else if (target === 'pgpool-sample') {
      // The primary first (backend 0), then the standbys: it balances reads as the cluster's does.
      const standbys = io.topo.postgres.filter((n) => n.address !== primary.host).map((n) => ({ host: n.address, port: io.cluster.postgres.port }));
      const p = await startSamplePgpool(io, side, [primary, ...standbys], series, plan.pgpoolChildren);
      into.set(target, { container: p.container, written: p.overrides });
    } else if (target === 'pgbouncer' || target === 'pgbouncer-session') {
      const p = await startPgbouncer(io, side, target, primary, series, largest);
      into.set(target, { container: p.container, written: p.ini });
    } else if (target === 'haproxy') {
      const p = await startHaproxy(io, side, primary);
      into.set(target, { container: p.container, written: p.cfg });
    }
  }
}

const endpointOf = (ctx: Ctx, target: Target) => targetEndpoint(target, ctx.io.cluster, ctx.io.topo, ctx.primary.host);

/** Waits for every target, reads its effective settings and probes its hops; a hop without the series' TLS stops the run here. */
async function probeSeries(ctx: Ctx, series: Series, proxies: Proxies): Promise<Pick<SeriesRun, 'hops' | 'configs'>> {
  const hops: HopRecord[] = [];
  const configs: SeriesRun['configs'] = {};
  for (const target of ctx.plan.options.targets) {
    const at = endpointOf(ctx, target);
    const proxy = target === 'direct' ? undefined : proxies.get(target);
    // The generated pgpool logs to its container's output (its entrypoint); the others to their run directory.
    const logOf = async () => (!proxy ? '' : target === 'pgpool' ? logsOf(proxy.container) : (await sh(proxy.container, 'cat /run/bench*/*.log 2>/dev/null')).stdout);
    await waitForTarget(ctx.pgbench, target, at, series, logOf);
    const effective = await proxySettings(ctx.pgbench, target, at, series);
    configs[target] = { ...(proxy ? { written: proxy.written } : {}), ...(Object.keys(effective).length ? { effective } : {}) };
    const rec = await probeHops(ctx.pgbench, target, at, series, effective);
    const problems = hopProblems(rec);
    if (problems.length) throw new Error(`the ${series} series is not matched hop for hop: ${problems.join('; ')}`);
    hops.push(rec);
    ctx.io.say(`${series}: ${target} answers; client hop ${rec.client.tls ? rec.client.version : 'plain'}${rec.backend ? `, backend hop ${rec.backend.tls ? rec.backend.version : 'plain'}` : ''}`);
  }
  return { hops, configs };
}

/** Every container whose CPU is counted: pgbench, the series' proxies, and the cluster's nodes (postgres, pgpool, metrics). */
function watchList(ctx: Ctx, proxies: Proxies): Map<string, Docker.Container> {
  const { io } = ctx;
  const nodes = [...io.topo.postgres, ...io.topo.pgpool, ...io.topo.pgpoolMetrics].map((n) => `${io.cluster.name}-${n.host}`);
  return new Map([
    [benchContainerName(io.cluster, 'pgbench'), ctx.pgbench],
    ...[...proxies].map(([t, p]) => [benchContainerName(io.cluster, t), p.container] as const),
    ...nodes.map((name) => [name, io.docker.getContainer(name)] as const),
  ]);
}

/** Every watched container's CPU counter at once, read without the engine's second sample (one-shot). */
async function cpuSample(watched: Map<string, Docker.Container>): Promise<CpuSample> {
  const t0 = Date.now();
  const ns = await Promise.all(
    [...watched].map(async ([name, c]) => {
      // A counter that cannot be read is left out of this sample, so that container counts 0 for the window, not a wrong figure.
      const s = (await c.stats({ stream: false, 'one-shot': true } as { stream: false }).catch(() => null)) as unknown as { cpu_stats: { cpu_usage: { total_usage: number } } } | null;
      return s ? ([[name, s.cpu_stats.cpu_usage.total_usage]] as const) : [];
    }),
  );
  return { atMs: (t0 + Date.now()) / 2, ns: Object.fromEntries(ns.flat()) };
}

/** Which role a container plays in a run of `target`. */
function rolesFor(ctx: Ctx, target: Target): (container: string) => CpuRole {
  const { io } = ctx;
  const postgres = new Set(io.topo.postgres.map((n) => `${io.cluster.name}-${n.host}`));
  const pgbench = benchContainerName(io.cluster, 'pgbench');
  const proxy = target === 'direct' ? null : benchContainerName(io.cluster, target);
  return (c) => (c === pgbench ? 'pgbench' : c === proxy ? 'proxy' : postgres.has(c) ? 'postgres' : 'other');
}

/** One pgbench run from a reset table state, with the CPU counters around it and the sessions' TLS counted halfway. */
async function measureRun(ctx: Ctx, run: PlannedRun, watched: Map<string, Docker.Container>, idle: IdleRates): Promise<Measurement> {
  const { io, plan } = ctx;
  const seconds = plan.options.seconds;
  await resetTables(ctx.pgbench, ctx.primary, run.series);
  const { argv, env } = pgbenchInvocation(run, seconds, endpointOf(ctx, run.target));
  const nodes = io.topo.postgres.map((n) => ({ host: n.host, at: { host: n.address, port: io.cluster.postgres.port } }));
  const pgbouncer = run.target.startsWith('pgbouncer') ? endpointOf(ctx, run.target) : null;
  const before = await cpuSample(watched);
  const halfway = new Promise((r) => setTimeout(r, (seconds * 1000) / 2)).then(() => sampleSessions(ctx.pgbench, nodes, sessionSource(run.target, io.topo), run.series, pgbouncer));
  const r = await sh(ctx.pgbench, `timeout ${seconds + 60} ${argv.join(' ')} 2>&1`, { env });
  const after = await cpuSample(watched);
  const sessions = await halfway.catch(() => undefined);
  const cpu = runCpu(before, after, idle, rolesFor(ctx, run.target));
  return { ...run, tps: parseTps(r.stdout), transactions: parseTransactions(r.stdout), cpu, ...(sessions ? { sessions } : {}) };
}

/** Lines for a run whose counted sessions lack the series' TLS. */
function runProblems(m: Measurement): string[] {
  const where = `round ${m.round} ${m.mode} ${m.clients} clients ${m.target}`;
  const lines = Object.entries(m.sessions?.postgres ?? {}).map(([node, s]) => sessionProblem(m.series, `${where}, at ${node}`, s));
  lines.push(sessionProblem(m.series, `${where}, pgbouncer's clients`, m.sessions?.pgbouncerClients ?? null));
  return lines.filter((l): l is string => l !== null);
}

/** The rounds of one series: an idle window, then every planned run of the round in its order. */
async function runRounds(ctx: Ctx, series: Series, watched: Map<string, Docker.Container>): Promise<Pick<SeriesRun, 'idle' | 'measurements' | 'problems'>> {
  const out: Pick<SeriesRun, 'idle' | 'measurements' | 'problems'> = { idle: [], measurements: [], problems: [] };
  const { plan, io } = ctx;
  for (let round = 1; round <= plan.options.rounds; round++) {
    const quiet = await cpuSample(watched);
    await new Promise((r) => setTimeout(r, plan.idleSeconds * 1000));
    const end = await cpuSample(watched);
    const idle = idleRates(quiet, end);
    out.idle.push({ round, windowMs: end.atMs - quiet.atMs, msPerS: idle });
    for (const run of plan.runs.filter((r) => r.series === series && r.round === round)) {
      const m = await measureRun(ctx, run, watched, idle);
      out.measurements.push(m);
      const problems = runProblems(m);
      out.problems.push(...problems);
      io.say(`${series} round ${round}/${plan.options.rounds} ${run.mode} ${run.clients} clients ${run.target}: ${m.tps.toFixed(0)} tps${problems.length ? ` (${problems.join('; ')})` : ''}`);
    }
  }
  return out;
}

async function runSeries(ctx: Ctx, series: Series): Promise<SeriesRun> {
  const proxies: Proxies = new Map();
  try {
    ctx.io.say(`${series} series: starting ${[...ctx.plan.options.targets].filter((t) => t !== 'direct').join(', ')}, each in its own container`);
    await startProxies(ctx, series, proxies);
    const { hops, configs } = await probeSeries(ctx, series, proxies);
    const rounds = await runRounds(ctx, series, watchList(ctx, proxies));
    const targets = Object.fromEntries(
      ctx.plan.options.targets.map((t) => [t, { endpoint: endpointOf(ctx, t), poolMode: poolModeOf(t, ctx.plan.pgpoolChildren), container: t === 'direct' ? null : benchContainerName(ctx.io.cluster, t) }]),
    );
    return { targets, hops, configs, ...rounds, ...figuresOf(rounds.measurements) };
  } finally {
    await Promise.all([...proxies.values()].map((p) => p.container.remove({ force: true, v: true }).catch(() => {})));
  }
}

/**
 * The proxy bench: pgbench in its own container, each series' proxies in theirs, every run
 * of the plan in its order. The cluster itself is only read (its primary, its nodes' mounts
 * and file, their logs and CPU); nothing of the bench acts on it.
 */
export async function runProxyBench(io: BenchIo, plan: BenchPlan): Promise<BenchRun> {
  const primary = await primaryOf(io);
  const since = Date.now();
  const side = await clusterSide(io);
  io.say(`primary ${primary.host} (${primary.at.host}); starting pgbench's container`);
  const pgbench = await startSide(io, side, { side: 'pgbench', image: io.benchImage, binds: tlsBind(side) });
  try {
    io.say(`initialising the bench database at scale ${plan.options.scale} on the primary`);
    await initBenchDb(pgbench, primary.at, plan.options.scale);
    const problem = connectionProblem(plan, await primarySlots(pgbench, primary.at));
    if (problem) throw new UsageError([problem]);
    const ctx: Ctx = { io, side, plan, pgbench, primary: primary.at };
    const series: BenchRun['series'] = {};
    for (const s of plan.options.series) series[s] = await runSeries(ctx, s);
    await dropBenchDb(io, pgbench, primary.at);
    const { failovers, vipMoves, healthCheckFailures } = await falseAlarms(io, since);
    return { primary: primary.host, series, alarms: { failovers, vipMoves, healthCheckFailures } };
  } catch (err) {
    // A pgbench that fails mid-run under full load is most likely a false alarm of the cluster: say so.
    const a = await falseAlarms(io, since).catch(() => null);
    const why = a ? `; meanwhile the nodes logged ${a.failovers} failover(s), ${a.vipMoves} delegate IP move(s), ${a.healthCheckFailures} failed or retried health check(s)` : '';
    throw new Error(`${(err as Error).message.trim()}${why}`);
  } finally {
    await pgbench.remove({ force: true, v: true }).catch(() => {});
  }
}
