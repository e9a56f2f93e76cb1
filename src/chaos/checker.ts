/**
 * The nemesis's checks, as pure functions of what a run recorded: separate from the schedule,
 * so a record can be checked again (and a bad one shown to fail) without a cluster.
 */

/**
 * A node's answer to the sampler: `writable` (not in recovery, and a transaction writing one
 * WAL record committed within the bound), `primary` (not in recovery, but its commit did not complete:
 * it waits for a synchronous standby that is not there, and acknowledges nothing), `standby`,
 * or `silent` (no answer within the sampler's bound: down, frozen, cut off).
 */
export type SampledRole = 'writable' | 'primary' | 'standby' | 'silent';

/** One sampling round: every postgres node asked at once (epoch ms of the round's start). */
export interface RoleTick {
  at: number;
  roles: Record<string, SampledRole>;
}

export interface HealRecord {
  episode: number;
  /** When the episode's last fault was released (node started, thawed, reconnected). */
  released: number;
  /** When the cluster was whole again and took writes; null: never within the run's bound. */
  healedAt: number | null;
  /** The run stopped on another check while this episode was healing: its heal was not waited for. */
  interrupted?: boolean;
}

export interface RestartCount {
  container: string;
  /** The engine's RestartCount when the run started and when it ended. */
  before: number;
  after: number;
}

export interface CheckInput {
  replication: 'sync' | 'async';
  ticks: RoleTick[];
  /** Writes the cluster acknowledged to the probe: sequence number and when. */
  acked: { seq: number; at: number }[];
  /** Sequence numbers present at the end; null when the final read failed. */
  committed: number[] | null;
  /** When faults that hit the primary were injected (async: the loss window is measured back from them). */
  primaryFaultsAt: number[];
  heals: HealRecord[];
  limits: CheckLimits;
  restarts: RestartCount[];
}

export interface CheckLimits {
  /** An episode must be healed this long after its release (the issue's 60 s). */
  healMs: number;
  /** Asynchronous replication: a lost write must have been acknowledged at most this long before a fault on the primary. */
  asyncLossWindowMs: number;
  /** More engine restarts of one container than this during a run is a restart loop. */
  restarts: number;
}

export const DEFAULT_LIMITS: CheckLimits = { healMs: 60_000, asyncLossWindowMs: 5_000, restarts: 2 };

export const CHECKS = ['one-writable-primary', 'no-lost-write', 'healed', 'no-restart-loop'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  check: CheckName;
  ok: boolean;
  detail: string;
}

/** The rounds in which two or more nodes were writable primaries at once. */
export function twoWritablePrimaries(ticks: RoleTick[]): RoleTick[] {
  return ticks.filter((t) => Object.values(t.roles).filter((r) => r === 'writable').length > 1);
}

/** Acknowledged writes missing at the end. */
export function lostWrites(acked: CheckInput['acked'], committed: number[]): CheckInput['acked'] {
  const have = new Set(committed);
  return acked.filter((a) => !have.has(a.seq));
}

/** How long before the nearest later fault on the primary a write was acknowledged (ms); Infinity when no fault followed it. */
export function ackedBeforeFault(at: number, primaryFaultsAt: number[]): number {
  const next = primaryFaultsAt.filter((f) => f >= at).sort((a, b) => a - b)[0];
  return next === undefined ? Infinity : next - at;
}

/** Episodes not healed within the limit: never, or too late. */
export function slowHeals(heals: HealRecord[], limitMs: number): HealRecord[] {
  return heals.filter((h) => !h.interrupted && (h.healedAt === null || h.healedAt - h.released > limitMs));
}

const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
const when = (t: number) => new Date(t).toISOString();

/** Every check on a run's record; a check that fails says where. */
export function checkRun(input: CheckInput): CheckResult[] {
  return [checkPrimaries(input), checkLostWrites(input), checkHeals(input), checkRestarts(input)];
}

function checkPrimaries({ ticks }: CheckInput): CheckResult {
  const bad = twoWritablePrimaries(ticks);
  const first = bad[0];
  return {
    check: 'one-writable-primary',
    ok: bad.length === 0 && ticks.length > 0,
    detail: ticks.length === 0
      ? 'no sample was taken'
      : first
        ? `${bad.length} sampling rounds with two writable primaries, first at ${when(first.at)}: ${Object.entries(first.roles).map(([h, r]) => `${h} ${r}`).join(', ')}`
        : `never two writable primaries in ${ticks.length} sampling rounds`,
  };
}

function checkLostWrites({ replication, acked, committed, primaryFaultsAt, limits }: CheckInput): CheckResult {
  if (committed === null) return { check: 'no-lost-write', ok: false, detail: 'the committed rows could not be read at the end' };
  const lost = lostWrites(acked, committed);
  if (lost.length === 0) return { check: 'no-lost-write', ok: true, detail: `all ${acked.length} acknowledged writes present` };
  const seqs = lost.slice(0, 10).map((l) => l.seq).join(', ') + (lost.length > 10 ? ', ...' : '');
  if (replication === 'sync') return { check: 'no-lost-write', ok: false, detail: `${lost.length} acknowledged writes lost with synchronous replication: ${seqs}` };
  // Asynchronous: a failover may lose what the standby had not received yet, no more.
  const outside = lost.filter((l) => ackedBeforeFault(l.at, primaryFaultsAt) > limits.asyncLossWindowMs);
  return {
    check: 'no-lost-write',
    ok: outside.length === 0,
    detail: outside.length
      ? `${outside.length} of ${lost.length} lost writes were acknowledged more than ${ms(limits.asyncLossWindowMs)} before any fault on the primary: ${outside.slice(0, 10).map((l) => l.seq).join(', ')}`
      : `${lost.length} acknowledged writes lost (asynchronous replication), each within ${ms(limits.asyncLossWindowMs)} before a fault on the primary: ${seqs}`,
  };
}

function checkHeals({ heals, limits }: CheckInput): CheckResult {
  const slow = slowHeals(heals, limits.healMs);
  const interrupted = heals.filter((h) => h.interrupted).map((h) => ` (episode ${h.episode}: the run stopped on another check before it healed)`).join('');
  return {
    check: 'healed',
    ok: slow.length === 0,
    detail: slow.length
      ? slow.map((h) => `episode ${h.episode}: ${h.healedAt === null ? 'never healed' : `healed after ${ms(h.healedAt - h.released)}`}`).join('; ') + ` (limit ${ms(limits.healMs)})${interrupted}`
      : `${heals.filter((h) => !h.interrupted).length} episodes, each healed within ${ms(limits.healMs)}${interrupted}`,
  };
}

function checkRestarts({ restarts, limits }: CheckInput): CheckResult {
  const looping = restarts.filter((r) => r.after - r.before > limits.restarts);
  return {
    check: 'no-restart-loop',
    ok: looping.length === 0,
    detail: looping.length
      ? looping.map((r) => `${r.container} restarted ${r.after - r.before} times by the engine`).join('; ')
      : `no container restarted by the engine more than ${limits.restarts} times`,
  };
}
