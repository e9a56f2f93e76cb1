import { relative } from 'node:path';
import type { Machine } from '../chaos/report.js';
import { readRecords } from '../chaos/report.js';
import type { Spread } from '../chaos/metrics.js';
import { table } from '../format.js';
import type { BenchOptions, BenchRun, SoakRun } from './run.js';
import { CPU_GROUPS, TARGETS } from './run.js';

export interface BenchRecord extends BenchRun {
  kind: 'bench';
  machine: Machine;
  options: BenchOptions;
}

export interface SoakRecord extends SoakRun {
  kind: 'soak';
  machine: Machine;
  timings: unknown;
}

const ratio = (v: Spread | null | undefined) => (v ? `${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})` : '-');

/** The terminal table: per configuration, direct tps and each proxy's ratio to it (median, range). */
export function formatBench(rec: BenchRecord): string {
  const others = TARGETS.filter((t) => t !== 'direct');
  const rows = Object.keys(rec.direct).map((key) => [key, rec.direct[key] ? rec.direct[key]!.median.toFixed(0) : '-', ...others.map((t) => ratio(rec.ratios[key]?.[t]))]);
  return [
    table(['MODE/CLIENTS', 'DIRECT TPS (median)', ...others.map((t) => `${t.toUpperCase()} / DIRECT`)], rows),
    '',
    `pgpool settings: ${Object.entries(rec.pgpoolSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    ...(rec.alarms ? [alarmsText(rec)] : []),
    `machine: ${rec.machine.cores} cores, ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}, commit ${rec.machine.commit}; ${rec.options.rounds} rounds of ${rec.options.seconds} s, scale ${rec.options.scale}`,
  ].join('\n');
}

export function formatSoak(rec: SoakRecord): string {
  return `soak: ${rec.seconds} s, ${rec.clients} clients through the delegate IP, ${rec.tps === null ? 'pgbench did not finish' : `${rec.tps.toFixed(0)} tps`}; failovers ${rec.failovers}, delegate IP moves ${rec.vipMoves}, failed health checks ${rec.healthCheckFailures} (commit ${rec.machine.commit})`;
}

/** The false alarms a run at full CPU provoked: all must be zero. */
function alarmsText(rec: BenchRecord): string {
  const a = rec.alarms!;
  return `During the run, at full CPU: ${a.failovers} failovers, ${a.vipMoves} delegate IP moves, ${a.healthCheckFailures} failed or retried health checks.`;
}

/**
 * The profile: CPU ms per 1000 transactions by where it was spent (client: the bench container,
 * pgbench plus pgbouncer or HAProxy when they are the target; the pgpool nodes; the postgres
 * nodes). On a CPU-bound host, a proxy's ratio to direct is what its share costs.
 */
function cpuTable(rec: BenchRecord): string[] {
  if (!rec.cpuPerKTx) return [];
  const cell = (v: Record<string, number> | null | undefined) => (v ? CPU_GROUPS.map((g) => v[g]!.toFixed(0)).join(' / ') : '-');
  return [
    `CPU ms per 1000 transactions (median over the rounds), ${CPU_GROUPS.join(' / ')}; the client column holds pgbouncer and HAProxy when they are the target:`,
    '',
    `| mode/clients | ${TARGETS.join(' | ')} |`,
    `| --- | ${TARGETS.map(() => '---').join(' | ')} |`,
    ...Object.keys(rec.cpuPerKTx).map((key) => `| ${key} | ${TARGETS.map((t) => cell(rec.cpuPerKTx![key]?.[t])).join(' | ')} |`),
    '',
  ];
}

export function benchResultsMarkdown(resultsDir: string, mdDir: string): string {
  const lines = ['## Proxy cost (`npm run bench`)', '', 'pgbench inside the cluster network (a container at .30); each figure is tps through the proxy / tps direct to the primary in the same round: median (min-max) over the rounds.', ''];
  const runs = readRecords<BenchRecord>(resultsDir, 'bench').reverse();
  if (!runs.length) lines.push('No run recorded yet.', '');
  for (const { file, rec } of runs) {
    const others = TARGETS.filter((t) => t !== 'direct');
    lines.push(
      `### ${rec.machine.date} · commit ${rec.machine.commit}`,
      '',
      `Machine: ${rec.machine.cores} cores, ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}; ${rec.options.rounds} rounds of ${rec.options.seconds} s, scale ${rec.options.scale}. Record: [${relative(mdDir, file)}](${relative(mdDir, file)}).`,
      '',
      `| mode/clients | direct tps | ${others.join(' | ')} |`,
      `| --- | --- | ${others.map(() => '---').join(' | ')} |`,
      ...Object.keys(rec.direct).map((key) => `| ${key} | ${rec.direct[key]?.median.toFixed(0) ?? '-'} | ${others.map((t) => ratio(rec.ratios[key]?.[t])).join(' | ')} |`),
      '',
      `pgpool: ${Object.entries(rec.pgpoolSettings).map(([k, v]) => `\`${k}=${v}\``).join(', ')}`,
      '',
      ...(rec.alarms ? [alarmsText(rec), ''] : []),
      ...cpuTable(rec),
    );
  }
  lines.push('## Soak (`npm run bench -- --soak SECONDS`)', '', 'pgbench tpcb-like through the delegate IP at full CPU, no fault injected: any failover, delegate IP move or failed health check is a false alarm.', '');
  const soaks = readRecords<SoakRecord>(resultsDir, 'soak').reverse();
  lines.push('| run | seconds | clients | tps | failovers | VIP moves | failed health checks |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const { rec } of soaks) lines.push(`| ${rec.machine.date.slice(0, 16)} ${rec.machine.commit} | ${rec.seconds} | ${rec.clients} | ${rec.tps?.toFixed(0) ?? '-'} | ${rec.failovers} | ${rec.vipMoves} | ${rec.healthCheckFailures} |`);
  if (!soaks.length) lines.push('| not run yet | | | | | | |');
  return [...lines, ''].join('\n');
}

