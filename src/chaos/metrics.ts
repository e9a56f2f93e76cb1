import { firstEvent, type ClusterEvent } from './events.js';
import { LANES, type Attempt, type Lane } from './probe.js';

/** The moments of one round the runner itself marks (epoch milliseconds). */
export interface RoundMarks {
  /** The round's window: from its first attempt considered to the moment it ended. */
  from: number;
  to: number;
  /** When the runner asked the engine for the fault: the nodes may notice from here on. */
  injected: number;
  /** When the fault was in effect (the engine's kill, pause or disconnect returned). */
  fault: number;
  /** A paused or isolated node set free again. */
  released?: number;
  /** Killed containers started again. */
  restarted?: number;
  /** Every backend up and streaming, one primary, one delegate IP holder: null when it never got there. */
  healed: number | null;
}

export type PerLane = Record<Lane, number | null>;

export interface RoundMetrics {
  /** Last acknowledged write before the fault to the first one after it, per lane (ms); null: none came back. */
  writeUnavailableMs: PerLane;
  readUnavailableMs: PerLane;
  /** The worse of the lanes: what the slowest kind of client saw. */
  worstWriteUnavailableMs: number | null;
  worstReadUnavailableMs: number | null;
  /** Fault to pgpool's degenerate request (its health check gave up). */
  detectionMs: number | null;
  /** Fault to the new primary's promotion request. */
  promotionMs: number | null;
  /** Fault to the delegate IP coming up on a node other than the one that held it. */
  vipMoveMs: number | null;
  /** A watchdog node announcing itself leader after the fault (a new leader, or the same one re-elected). */
  leaderMs: number | null;
  /** Restart (or release) of the faulted node to the cluster being whole again, the node an attached streaming standby. */
  rejoinMs: number | null;
  attempts: { writes: number; acked: number; errors: number };
  /** Sequence numbers acknowledged to the client in this round and missing at the end. */
  lostAcked: number[];
  /** Sequence numbers whose write the client saw fail, but which are in the table at the end. */
  visibleAfterError: number[];
}

function unavailable(attempts: Attempt[], op: 'write' | 'read', lane: Lane, fault: number): number | null {
  const ok = attempts.filter((a) => a.lane === lane && a.op === op && a.ok);
  const before = ok.filter((a) => a.end <= fault).at(-1);
  const after = ok.find((a) => a.start >= fault);
  if (!after) return null;
  return after.end - (before?.end ?? fault);
}

export function roundMetrics(attempts: Attempt[], events: ClusterEvent[], marks: RoundMarks, committed: Set<number> | null, vipHolderBefore: string | null): RoundMetrics {
  const inRound = attempts.filter((a) => a.start >= marks.from && a.start < marks.to);
  const perLane = (op: 'write' | 'read') => Object.fromEntries(LANES.map((l) => [l, unavailable(inRound, op, l, marks.fault)])) as PerLane;
  const writeUnavailableMs = perLane('write');
  const readUnavailableMs = perLane('read');
  const worst = (l: PerLane) => (Object.values(l).includes(null) ? null : Math.max(...(Object.values(l) as number[])));
  // The nodes' moments count from the request: a killed node's sockets may close (and a
  // health check fail) before the engine's kill call returns.
  const at = (e: ClusterEvent | undefined) => (e ? e.at - marks.injected : null);
  const vipUp = events.filter((e) => e.kind === 'vipUp' && e.at >= marks.injected && e.host !== vipHolderBefore).sort((a, b) => a.at - b.at)[0];
  const writes = inRound.filter((a) => a.op === 'write' && a.seq !== undefined);
  const acked = writes.filter((a) => a.ok).map((a) => a.seq!);
  const failed = writes.filter((a) => !a.ok).map((a) => a.seq!);
  const since = marks.restarted ?? marks.released;
  return {
    writeUnavailableMs,
    readUnavailableMs,
    worstWriteUnavailableMs: worst(writeUnavailableMs),
    worstReadUnavailableMs: worst(readUnavailableMs),
    detectionMs: at(firstEvent(events, 'detected', marks.injected)),
    promotionMs: at(firstEvent(events, 'promoted', marks.injected)),
    vipMoveMs: at(vipUp),
    leaderMs: at(firstEvent(events, 'leaderElected', marks.injected)),
    rejoinMs: since !== undefined && marks.healed !== null ? marks.healed - since : null,
    attempts: { writes: writes.length, acked: acked.length, errors: inRound.filter((a) => !a.ok).length },
    lostAcked: committed ? acked.filter((s) => !committed.has(s)) : [],
    visibleAfterError: committed ? failed.filter((s) => committed.has(s)) : [],
  };
}

export interface Spread {
  min: number;
  median: number;
  max: number;
  /** Rounds that had a value (a metric can be absent, e.g. no VIP move when the primary dies). */
  n: number;
}

export function spread(values: (number | null)[]): Spread | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, max: v.at(-1)!, n: v.length };
}
