import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { clusterStatus, type ClusterContainers, type ClusterStatus } from '../deploy/inspect.js';
import { healedProblem } from '../deploy/lifecycle.js';
import { timestampedLogsSince } from '../docker/exec.js';
import type { Log } from '../log.js';
import { parseEvents, type ClusterEvent } from './events.js';
import { planFault, type FaultName } from './faults.js';
import type { HostPower } from './power.js';
import { roundMetrics, spread, type RoundMarks, type RoundMetrics, type Spread } from './metrics.js';
import { Probe, type ProbeTarget } from './probe.js';
import { timelineSvg } from './timeline.js';

export interface ChaosOptions {
  faults: FaultName[];
  rounds: number;
  intervalMs: number;
  timeoutMs: number;
  warmupSeconds: number;
  holdSeconds: number;
  downSeconds: number;
  healTimeoutSeconds: number;
}

export interface RoundResult {
  fault: FaultName;
  round: number;
  targets: string[];
  before: { primary: string; leader: string; vipHolder: string | null };
  after: { primary: string | null; leader: string | null; vipHolder: string | null } | null;
  marks: RoundMarks;
  metrics: RoundMetrics;
  /** What the nodes logged in the round's window (detection, promotion, VIP, rejoin). */
  events: ClusterEvent[];
  /** Why the round left the cluster unhealed, when it did. */
  notHealed?: string;
}

export interface ChaosRun {
  rounds: RoundResult[];
  /** Per fault, per metric: min, median, max over its rounds. */
  summary: Record<string, Record<string, Spread | null>>;
  /** Acknowledged writes missing at the end, over the whole run; null when the final read failed. */
  lostAcked: number[] | null;
  /** Set when the run ended early: the cluster did not heal. */
  aborted?: string;
  /** The SVG timeline of each round, by file name. */
  timelines: Map<string, string>;
  /** The size of the cluster's databases when the run started, in MB. */
  databaseMB: number;
}

export interface ChaosIo {
  /** The cluster's containers now (a swarm's task containers change when a task is replaced). */
  containers: () => Promise<ClusterContainers>;
  cluster: Cluster;
  topo: Topology;
  /** Where the probe connects: the delegate IP, or the first entry of a multi-host string. */
  target: ProbeTarget;
  /** The multi-host string's other entries, tried in order when the first fails. */
  fallbacks?: ProbeTarget[];
  /** Powers a whole host off and on (host-kill faults); absent on a single host. */
  power?: HostPower;
  /** Cuts a whole host off from the others and heals it (host-partition); absent on a single host. */
  cut?: HostPower;
  /** Phase lines (a round starts, the fault is injected, the cluster healed). */
  say: Log;
  /** The live line, rewritten in place on a terminal. */
  live?: Log;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until the cluster is whole (healedProblem), polled every 500 ms, or why not after `timeoutMs`. */
export async function waitHealed(io: ChaosIo, timeoutMs: number): Promise<{ status: ClusterStatus; at: number } | { why: string }> {
  const deadline = Date.now() + timeoutMs;
  let why = 'not asked yet';
  while (Date.now() < deadline) {
    const s = await io.containers().then((c) => clusterStatus(c, io.cluster, io.topo)).catch((err: Error) => err);
    if (!(s instanceof Error)) {
      const problem = healedProblem(s);
      if (!problem) return { status: s, at: Date.now() };
      why = problem;
    } else why = s.message;
    await sleep(500);
  }
  return { why };
}

/** What every node of the cluster logged since `since`, as events, in time order. */
export async function logsSince(io: ChaosIo, since: number): Promise<ClusterEvent[]> {
  const containers = await io.containers();
  const hosts = [...io.topo.postgres, ...io.topo.pgpool].map((n) => n.host);
  const events: ClusterEvent[] = [];
  // A node whose host is down has no log to read: the others still tell the round.
  for (const host of hosts) events.push(...parseEvents(host, await logOf(containers, host, since)));
  return events.sort((a, b) => a.at - b.at);
}

/** A node's timestamped log since `since`, or nothing when its container or host does not answer. */
async function logOf(containers: ClusterContainers, host: string, since: number): Promise<string> {
  try {
    return await timestampedLogsSince(containers.get(host), since);
  } catch {
    return '';
  }
}

/** What the live line shows: the phase, and since when its counts run. */
interface LiveState {
  label: string;
  roundStart: number;
}

/** Every round of every fault, then what the probe saw; aborted when the cluster does not heal. */
export async function runChaos(io: ChaosIo, opts: ChaosOptions): Promise<ChaosRun> {
  const probe = new Probe(io.target, { intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs }, io.fallbacks);
  const databaseMB = await startProbe(io, opts, probe);
  const live: LiveState = { label: 'warming up', roundStart: Date.now() };
  const ticker = io.live ? setInterval(() => io.live!(liveLine(probe, live)), 250) : undefined;
  let outcome: RoundsOutcome;
  try {
    outcome = await runRounds(io, opts, probe, live);
  } finally {
    if (ticker) clearInterval(ticker);
    await probe.stop();
  }
  return chaosReport(io, probe, outcome, databaseMB);
}

/** Setup: the cluster must be whole first; then the probe's table is made and it starts. Returns the databases' size (MB). */
async function startProbe(io: ChaosIo, opts: ChaosOptions, probe: Probe): Promise<number> {
  const first = await waitHealed(io, opts.healTimeoutSeconds * 1000);
  if ('why' in first) throw new Error(`cluster ${io.cluster.name} is not whole before the first round: ${first.why}`);
  await probe.prepare();
  const databaseMB = await probe.databaseMB();
  io.say(`databases: ${databaseMB} MB`);
  probe.start();
  return databaseMB;
}

/** The live line: the phase, time into it, its writes, and the last attempt. */
function liveLine(probe: Probe, { label, roundStart }: LiveState): string {
  const recent = probe.attempts.filter((a) => a.start >= roundStart);
  const writes = recent.filter((a) => a.op === 'write');
  const last = probe.attempts.at(-1);
  return `${label} · t+${((Date.now() - roundStart) / 1000).toFixed(1)} s · writes ok ${writes.filter((a) => a.ok).length} failed ${writes.filter((a) => !a.ok).length} · last ${last ? (last.ok ? `ok on ${last.server}` : `error: ${last.error?.slice(0, 50)}`) : '-'}`;
}

interface RoundsOutcome {
  /** The rounds run, their metrics not computed yet (they need the committed rows, read at the end). */
  pending: Omit<RoundResult, 'metrics'>[];
  aborted?: string;
}

/** The rounds, one after another, each from a whole cluster; the first that does not heal ends the run. */
async function runRounds(io: ChaosIo, opts: ChaosOptions, probe: Probe, live: LiveState): Promise<RoundsOutcome> {
  const pending: RoundsOutcome['pending'] = [];
  for (const fault of opts.faults) {
    for (let round = 1; round <= opts.rounds; round++) {
      live.label = `${fault} round ${round}/${opts.rounds}`;
      const whole = await waitHealed(io, opts.healTimeoutSeconds * 1000);
      if ('why' in whole) return { pending, aborted: `before ${live.label}: the cluster did not heal within ${opts.healTimeoutSeconds} s: ${whole.why}` };
      const result = await runRound(io, opts, probe, live, fault, round, whole.status);
      pending.push(result);
      if (result.notHealed !== undefined) return { pending, aborted: `${live.label}: the cluster did not heal within ${opts.healTimeoutSeconds} s: ${result.notHealed}` };
    }
  }
  return { pending };
}

/** One round: warm up, inject the fault (hold and release it, or restart its target), wait for writes and for the cluster to heal. */
async function runRound(io: ChaosIo, opts: ChaosOptions, probe: Probe, live: LiveState, fault: FaultName, round: number, whole: ClusterStatus): Promise<Omit<RoundResult, 'metrics'>> {
  const { label } = live;
  const healMs = opts.healTimeoutSeconds * 1000;
  const primary = whole.backends.find((b) => b.role === 'primary')!.host;
  const leader = whole.watchdog.leader!;
  const vipHolder = whole.watchdog.vipHolders[0] ?? null;
  const from = (live.roundStart = Date.now());
  io.say(`${label}: primary ${primary}, watchdog leader ${leader}; warming up ${opts.warmupSeconds} s`);
  await sleep(opts.warmupSeconds * 1000);
  const plan = planFault(fault, { containers: await io.containers(), topo: io.topo, hosts: io.cluster.hosts, power: io.power, cut: io.cut, primary, leader }, opts);
  const injected = Date.now();
  await plan.inject();
  // Writes count from when the fault is in effect: a write that started while the engine
  // was still killing the container may yet succeed, and must not count as "back".
  const marks: RoundMarks = { from, to: 0, injected, fault: Date.now(), healed: null };
  io.say(`${label}: ${fault} (${plan.targets.join(', ')}) injected`);
  if (plan.release) {
    await sleep(plan.holdSeconds * 1000);
    await plan.release();
    marks.released = Date.now();
    io.say(`${label}: ${plan.targets.join(', ')} released after ${plan.holdSeconds} s`);
  }
  const backFrom = marks.released ?? marks.fault;
  const deadline = Date.now() + healMs;
  while (Date.now() < deadline && !probe.attempts.some((a) => a.op === 'write' && a.ok && a.start >= backFrom)) await sleep(100);
  if (plan.restart) {
    await sleep(plan.downSeconds * 1000);
    await plan.restart();
    marks.restarted = Date.now();
    io.say(`${label}: ${plan.targets.join(', ')} started again`);
  }
  const healed = await waitHealed(io, healMs);
  marks.healed = 'why' in healed ? null : healed.at;
  await sleep(1000);
  marks.to = Date.now();
  const after = 'why' in healed ? null : healed.status;
  const result = {
    fault,
    round,
    targets: plan.targets,
    before: { primary, leader, vipHolder },
    after: after ? { primary: after.backends.find((b) => b.role === 'primary')?.host ?? null, leader: after.watchdog.leader, vipHolder: after.watchdog.vipHolders[0] ?? null } : null,
    marks,
    events: (await logsSince(io, from)).filter((e) => e.at >= from && e.at <= marks.to),
    notHealed: 'why' in healed ? healed.why : undefined,
  };
  io.say(`${label}: ${'why' in healed ? `NOT healed within ${opts.healTimeoutSeconds} s: ${healed.why}` : `healed ${((healed.at - marks.fault) / 1000).toFixed(1)} s after the fault`}`);
  return result;
}

/** Report: the rows that committed, each round's metrics and timeline, and acknowledged writes that were lost. */
async function chaosReport(io: ChaosIo, probe: Probe, { pending, aborted }: RoundsOutcome, databaseMB: number): Promise<ChaosRun> {
  let committed: Set<number> | null = null;
  try {
    committed = await probe.committedSeqs(30_000);
    await probe.drop(30_000);
  } catch (err) {
    io.say(`could not read or drop the probe table at the end: ${(err as Error).message}`);
  }
  const rounds: RoundResult[] = pending.map((r) => ({ ...r, metrics: roundMetrics(probe.attempts, r.events, r.marks, committed, r.before.vipHolder) }));
  const timelines = new Map(
    rounds.map((r) => [`${r.fault}-round${r.round}.svg`, timelineSvg(`${r.fault}, round ${r.round} (${r.targets.join(', ')}); ${io.cluster.postgres.replication} replication`, probe.attempts, r.events, r.marks)]),
  );
  const acked = probe.attempts.filter((a) => a.op === 'write' && a.ok).map((a) => a.seq!);
  return { rounds, summary: summarise(rounds), lostAcked: committed ? acked.filter((s) => !committed.has(s)) : null, aborted, timelines, databaseMB };
}

export const SUMMARY_METRICS = ['worstWriteUnavailableMs', 'worstReadUnavailableMs', 'detectionMs', 'promotionMs', 'vipMoveMs', 'leaderMs', 'rejoinMs'] as const;

function summarise(rounds: RoundResult[]): Record<string, Record<string, Spread | null>> {
  const out: Record<string, Record<string, Spread | null>> = {};
  for (const fault of new Set(rounds.map((r) => r.fault))) {
    const of = rounds.filter((r) => r.fault === fault);
    out[fault] = {
      ...Object.fromEntries(SUMMARY_METRICS.map((m) => [m, spread(of.map((r) => r.metrics[m]))])),
      lostAcked: spread(of.map((r) => r.metrics.lostAcked.length)),
      visibleAfterError: spread(of.map((r) => r.metrics.visibleAfterError.length)),
    };
  }
  return out;
}
