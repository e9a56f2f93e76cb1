import { spread, type Spread } from '../chaos/metrics.js';
import { cpuPerKTx, type CpuRole, type RunCpu } from './cpu.js';
import { TARGETS, type Mode, type Series, type Target } from './plan.js';
import type { SessionTls } from './tls.js';

/** One pgbench run, as recorded: every round is kept. */
export interface Measurement {
  series: Series;
  round: number;
  target: Target;
  mode: Mode;
  clients: number;
  tps: number;
  /** Transactions pgbench completed in the run. */
  transactions?: number;
  cpu?: RunCpu;
  /** The benchmark's sessions by TLS mid-run: at postgres (per node), and at pgbouncer (its clients). */
  sessions?: { postgres: Record<string, SessionTls>; pgbouncerClients?: SessionTls };
}

/** One "mode/clients" key per configuration. */
export const configKey = (mode: Mode, clients: number) => `${mode}/${clients}`;

export interface Figures {
  /** Per "mode/clients": direct tps, min / median / max over the rounds. */
  direct: Record<string, Spread | null>;
  /** Per "mode/clients", per target: tps / direct tps of the same round, min / median / max. */
  ratios: Record<string, Record<string, Spread | null>>;
  /** Per "mode/clients", per target: net CPU ms per 1000 transactions by role, median over the rounds. */
  cpuPerKTx: Record<string, Record<string, Record<CpuRole, number> | null>>;
}

/** Ratios to direct, paired by round: a slow moment of the host hits both sides of a pair. Measurements of one series. */
export function figuresOf(measurements: Measurement[]): Figures {
  const out: Figures = { direct: {}, ratios: {}, cpuPerKTx: {} };
  const keys = [...new Set(measurements.map((m) => configKey(m.mode, m.clients)))];
  for (const key of keys) {
    const of = measurements.filter((m) => configKey(m.mode, m.clients) === key);
    const base = new Map(of.filter((m) => m.target === 'direct').map((m) => [m.round, m.tps]));
    out.direct[key] = spread([...base.values()]);
    out.ratios[key] = Object.fromEntries(
      TARGETS.filter((t) => t !== 'direct').map((t) => [t, spread(of.filter((m) => m.target === t && base.get(m.round)).map((m) => m.tps / base.get(m.round)!))]),
    );
    out.cpuPerKTx[key] = Object.fromEntries(TARGETS.map((t) => [t, cpuPerKTx(of.filter((m) => m.target === t))]));
  }
  return out;
}
