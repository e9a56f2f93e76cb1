import type { Machine } from '../chaos/report.js';
import type { Spread } from '../chaos/metrics.js';

/**
 * Records of the bench's first method (before the record's `method` field): TLS unmatched
 * between targets, pgbouncer and HAProxy inside pgbench's container. Read only to show them in
 * bench/RESULTS.md as they were recorded, marked as not comparable with matched runs.
 */
export interface LegacyBenchRecord {
  kind: 'bench';
  method?: undefined;
  machine: Machine;
  options: { rounds: number; seconds: number; clients: number[]; scale: number };
  primary: string;
  measurements: unknown[];
  ratios: Record<string, Record<string, Spread | null>>;
  direct: Record<string, Spread | null>;
  cpuPerKTx?: Record<string, Record<string, Record<string, number> | null>>;
  alarms?: { failovers: number; vipMoves: number; healthCheckFailures: number };
  pgpoolSettings: Record<string, string>;
}

const LEGACY_TARGETS = ['direct', 'pgpool', 'pgpool-sample', 'pgbouncer', 'haproxy'];
const LEGACY_GROUPS = ['client', 'pgpool', 'postgres'];

const ratio = (v: Spread | null | undefined) => (v ? `${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})` : '-');

function legacyCpu(rec: LegacyBenchRecord): string[] {
  if (!rec.cpuPerKTx) return [];
  const cell = (v: Record<string, number> | null | undefined) => (v ? LEGACY_GROUPS.map((g) => v[g]!.toFixed(0)).join(' / ') : '-');
  return [
    `CPU ms per 1000 transactions (median over the rounds), ${LEGACY_GROUPS.join(' / ')}; the client column holds pgbouncer and HAProxy when they are the target:`,
    '',
    `| mode/clients | ${LEGACY_TARGETS.join(' | ')} |`,
    `| --- | ${LEGACY_TARGETS.map(() => '---').join(' | ')} |`,
    ...Object.keys(rec.cpuPerKTx).map((key) => `| ${key} | ${LEGACY_TARGETS.map((t) => cell(rec.cpuPerKTx![key]?.[t])).join(' | ')} |`),
    '',
  ];
}

/** One old-method run in bench/RESULTS.md, its figures as recorded. */
export function legacyBenchMarkdown(rec: LegacyBenchRecord, link: string): string[] {
  const others = LEGACY_TARGETS.filter((t) => t !== 'direct');
  const a = rec.alarms;
  return [
    `### ${rec.machine.date} · commit ${rec.machine.commit} · old method, not comparable`,
    '',
    `Machine: ${rec.machine.cores} cores, ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}; ${rec.options.rounds} rounds of ${rec.options.seconds} s, scale ${rec.options.scale}. Record: [${link}](${link}).`,
    '',
    `| mode/clients | direct tps | ${others.join(' | ')} |`,
    `| --- | --- | ${others.map(() => '---').join(' | ')} |`,
    ...Object.keys(rec.direct).map((key) => `| ${key} | ${rec.direct[key]?.median.toFixed(0) ?? '-'} | ${others.map((t) => ratio(rec.ratios[key]?.[t])).join(' | ')} |`),
    '',
    `pgpool: ${Object.entries(rec.pgpoolSettings).map(([k, v]) => `\`${k}=${v}\``).join(', ')}`,
    '',
    ...(a ? [`During the run, at full CPU: ${a.failovers} failovers, ${a.vipMoves} delegate IP moves, ${a.healthCheckFailures} failed or retried health checks.`, ''] : []),
    ...legacyCpu(rec),
  ];
}
