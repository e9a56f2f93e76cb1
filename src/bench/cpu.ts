import { spread } from '../chaos/metrics.js';

/**
 * Where a run's CPU went, net of the idle background. Every container's counter (the engine's
 * cgroup total) is read before and after each run; each round starts with an idle window that
 * gives every container's background rate (health checks, the watchdog, the exporter), which
 * is subtracted from the runs of the same round. pgbench has a container of its own, so its
 * share is never in a proxy's figure.
 */
export const CPU_ROLES = ['pgbench', 'proxy', 'postgres', 'other'] as const;
export type CpuRole = (typeof CPU_ROLES)[number];

/** Every watched container's CPU counter (ns), and when they were read (ms since the epoch). */
export interface CpuSample {
  atMs: number;
  ns: Record<string, number>;
}

/** Each container's idle CPU, in ms of CPU per second of wall time. */
export type IdleRates = Record<string, number>;

export function idleRates(before: CpuSample, after: CpuSample): IdleRates {
  const seconds = (after.atMs - before.atMs) / 1000;
  return Object.fromEntries(Object.keys(after.ns).map((c) => [c, seconds > 0 ? (after.ns[c]! - (before.ns[c] ?? after.ns[c]!)) / 1e6 / seconds : 0]));
}

export interface RunCpu {
  windowMs: number;
  /** CPU ms per role as counted. */
  rawMs: Record<CpuRole, number>;
  /** The same less each container's idle rate over the window. */
  netMs: Record<CpuRole, number>;
}

/** A run's CPU by role: `roleOf` names the role of each container (the target's proxy, pgbench, postgres, the rest). */
export function runCpu(before: CpuSample, after: CpuSample, idle: IdleRates, roleOf: (container: string) => CpuRole): RunCpu {
  const windowMs = after.atMs - before.atMs;
  const zero = () => Object.fromEntries(CPU_ROLES.map((r) => [r, 0])) as Record<CpuRole, number>;
  const rawMs = zero();
  const netMs = zero();
  for (const c of Object.keys(after.ns)) {
    const used = (after.ns[c]! - (before.ns[c] ?? after.ns[c]!)) / 1e6;
    rawMs[roleOf(c)] += used;
    netMs[roleOf(c)] += used - (idle[c] ?? 0) * (windowMs / 1000);
  }
  return { windowMs, rawMs, netMs };
}

/** Net CPU ms per 1000 transactions by role, the median over the rounds; null where none was measured. */
export function cpuPerKTx(runs: { cpu?: RunCpu; transactions?: number }[]): Record<CpuRole, number> | null {
  const of = runs.filter((r) => r.cpu && r.transactions);
  if (!of.length) return null;
  return Object.fromEntries(CPU_ROLES.map((role) => [role, spread(of.map((r) => (r.cpu!.netMs[role] * 1000) / r.transactions!))!.median])) as Record<CpuRole, number>;
}
