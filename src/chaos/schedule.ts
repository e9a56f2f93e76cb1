import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * The nemesis's schedule: episodes of one fault, or of two where the second lands while the
 * cluster is still repairing the first, drawn from a seed. Pure: the same seed gives the same
 * episodes, in the same order, on any machine. Targets are roles ("the primary"), resolved
 * against the cluster when each fault is injected, so a second fault on "the primary" hits
 * whichever node was promoted after the first.
 */
export const NEMESIS_KINDS = ['kill', 'pause', 'isolate'] as const;
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

export const NEMESIS_TARGETS = ['primary', 'standby', 'leader', 'pgpool'] as const;
export type NemesisTarget = (typeof NEMESIS_TARGETS)[number];

/** What each fault can hit: a killed node is started again, a paused one thawed, an isolated one reconnected. */
const MENU: readonly { kind: NemesisKind; target: NemesisTarget }[] = [
  { kind: 'kill', target: 'primary' },
  { kind: 'kill', target: 'standby' },
  { kind: 'kill', target: 'leader' },
  { kind: 'kill', target: 'pgpool' },
  { kind: 'pause', target: 'primary' },
  { kind: 'pause', target: 'standby' },
  { kind: 'pause', target: 'leader' },
  { kind: 'isolate', target: 'primary' },
  { kind: 'isolate', target: 'standby' },
];

export interface ScheduledFault {
  kind: NemesisKind;
  target: NemesisTarget;
  /** Which of several nodes of that role (standby, pgpool), taken modulo their number. */
  pick: number;
  /** Milliseconds from the episode's start to the injection. */
  afterMs: number;
  /** How long the fault lasts: a killed node stays down, a paused or isolated one stays so. */
  lastsMs: number;
}

export interface Episode {
  n: number;
  /** Quiet time (the cluster whole) before the episode starts. */
  quietMs: number;
  faults: ScheduledFault[];
}

export interface ScheduleShape {
  /** Percent of episodes with a second fault during the repair of the first. */
  compoundPercent: number;
  /** Bounds (ms) of the quiet time, each fault's length, and the second fault's delay. */
  quietMs: [number, number];
  lastsMs: [number, number];
  secondAfterMs: [number, number];
}

export const DEFAULT_SHAPE: ScheduleShape = { compoundPercent: 40, quietMs: [5_000, 20_000], lastsMs: [3_000, 35_000], secondAfterMs: [2_000, 25_000] };

/** The first `count` episodes of the schedule of `seed` (a run takes as many as fit its duration). */
export function drawSchedule(seed: number, count: number, shape: ScheduleShape = DEFAULT_SHAPE): Episode[] {
  const rng = xoroshiro128plus(seed);
  const int = ([lo, hi]: [number, number]) => uniformInt(rng, lo, hi);
  const fault = (afterMs: number): ScheduledFault => {
    const { kind, target } = MENU[uniformInt(rng, 0, MENU.length - 1)]!;
    return { kind, target, pick: uniformInt(rng, 0, 7), afterMs, lastsMs: int(shape.lastsMs) };
  };
  const episodes: Episode[] = [];
  for (let n = 1; n <= count; n++) {
    const quietMs = int(shape.quietMs);
    const faults = [fault(0)];
    if (uniformInt(rng, 1, 100) <= shape.compoundPercent) faults.push(fault(int(shape.secondAfterMs)));
    episodes.push({ n, quietMs, faults });
  }
  return episodes;
}

/** One line per episode, for the run's log and its record: "3: kill primary 12.0 s; +8.1 s pause standby 4.2 s". */
export function describeEpisode(e: Episode): string {
  const fault = (f: ScheduledFault) => `${f.afterMs ? `+${(f.afterMs / 1000).toFixed(1)} s ` : ''}${f.kind} ${f.target}${f.target === 'standby' || f.target === 'pgpool' ? `#${f.pick}` : ''} ${(f.lastsMs / 1000).toFixed(1)} s`;
  return `${e.n}: after ${(e.quietMs / 1000).toFixed(1)} s quiet: ${e.faults.map(fault).join('; ')}`;
}

/** "10m", "90s", "1h", or a number of seconds, as milliseconds; null when it is none of these. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}
