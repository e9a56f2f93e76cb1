import { relative } from 'node:path';
import type { Machine } from '../chaos/report.js';
import { readRecords } from '../chaos/report.js';
import type { Spread } from '../chaos/metrics.js';
import { table } from '../format.js';
import { formatDuration, TARGETS, type BenchOptions, type Series } from './plan.js';
import type { BenchRun, SeriesRun } from './series.js';
import type { SoakRun } from './run.js';
import { legacyBenchMarkdown, type LegacyBenchRecord } from './legacy.js';

/** The bench's record version: 2 is the matched method (TLS hop for hop, every proxy in its own container). */
export const BENCH_METHOD = 2;

export interface BenchRecord extends BenchRun {
  kind: 'bench';
  method: typeof BENCH_METHOD;
  machine: Machine;
  options: BenchOptions;
  plan: {
    /** What of the full matrix this run leaves out; null: the full matrix. */
    subset: string | null;
    pgpoolChildren: number;
    idleSeconds: number;
    /** The target order of each round. */
    orders: string[][];
    estimatedSeconds: number;
    /** One run's pgbench command line, as every run has it (clients, mode, host and port vary). */
    pgbench: string;
  };
}

export type AnyBenchRecord = BenchRecord | LegacyBenchRecord;
export const isMatched = (r: AnyBenchRecord): r is BenchRecord => (r as BenchRecord).method === BENCH_METHOD;

export interface SoakRecord extends SoakRun {
  kind: 'soak';
  machine: Machine;
  timings: unknown;
}

export const ratio = (v: Spread | null | undefined) => (v ? `${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})` : '-');

const proxiesOf = (rec: BenchRecord) => TARGETS.filter((t) => t !== 'direct' && rec.options.targets.includes(t));

/** One series' ratios: per configuration, direct tps and each proxy's ratio to it (median, range). */
function ratioRows(rec: BenchRecord, s: SeriesRun): string[][] {
  return Object.keys(s.direct).map((key) => [key, s.direct[key]?.median.toFixed(0) ?? '-', ...proxiesOf(rec).map((t) => ratio(s.ratios[key]?.[t]))]);
}

/** Net CPU ms per 1000 transactions: pgbench / the target's proxy / postgres, median over the rounds. */
function cpuRows(rec: BenchRecord, s: SeriesRun): string[][] {
  const cell = (v: Record<string, number> | null | undefined) => (v ? ['pgbench', 'proxy', 'postgres'].map((r) => v[r]!.toFixed(0)).join(' / ') : '-');
  return Object.keys(s.cpuPerKTx).map((key) => [key, ...rec.options.targets.map((t) => cell(s.cpuPerKTx[key]?.[t]))]);
}

/** Each target's hops in one line: client hop, backend hop. */
function hopsLine(s: SeriesRun): string {
  const one = (h: { tls: boolean | null; version: string | null } | null) => (!h ? '' : h.tls === null ? 'unknown' : h.tls ? (h.version ?? 'TLS') : 'plain');
  return s.hops.map((h) => `${h.target} ${one(h.client)}${h.backend ? ` -> ${one(h.backend)}` : ''}`).join(', ');
}

const runLine = (rec: BenchRecord) =>
  `${rec.options.rounds} round${rec.options.rounds === 1 ? '' : 's'} of ${rec.options.seconds} s, scale ${rec.options.scale}, clients ${rec.options.clients.join(' ')}, pgpool num_init_children ${rec.plan.pgpoolChildren}; ${rec.plan.subset ? `a subset: ${rec.plan.subset}` : 'the full matrix'}`;

const alarmsText = (a: BenchRecord['alarms']) =>
  `During the run, at full CPU: ${a.failovers} failovers, ${a.vipMoves} delegate IP moves, ${a.healthCheckFailures} failed or retried health checks.`;

/** The terminal summary of a matched run: per series, the ratios, the CPU and the hops. */
export function formatBench(rec: BenchRecord): string {
  const out: string[] = [];
  for (const series of Object.keys(rec.series) as Series[]) {
    const s = rec.series[series]!;
    out.push(
      `${series} series (hops: ${hopsLine(s)})`,
      table(['MODE/CLIENTS', 'DIRECT TPS (median)', ...proxiesOf(rec).map((t) => `${t.toUpperCase()} / DIRECT`)], ratioRows(rec, s)),
      '',
      `net CPU ms per 1000 transactions (pgbench / proxy / postgres, idle background subtracted):`,
      table(['MODE/CLIENTS', ...rec.options.targets.map((t) => t.toUpperCase())], cpuRows(rec, s)),
      ...(s.problems.length ? [`sessions without the series' TLS: ${s.problems.join('; ')}`] : []),
      '',
    );
  }
  out.push(alarmsText(rec.alarms), `machine: ${rec.machine.cores} cores, ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}, commit ${rec.machine.commit}; ${runLine(rec)}`);
  return out.join('\n');
}

export function formatSoak(rec: SoakRecord): string {
  return `soak: ${rec.seconds} s, ${rec.clients} clients through the delegate IP, ${rec.tps === null ? 'pgbench did not finish' : `${rec.tps.toFixed(0)} tps`}; failovers ${rec.failovers}, delegate IP moves ${rec.vipMoves}, failed health checks ${rec.healthCheckFailures} (commit ${rec.machine.commit})`;
}

const mdTable = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];

/** One matched run in bench/RESULTS.md. */
function matchedMarkdown(rec: BenchRecord, link: string): string[] {
  const lines = [
    `### ${rec.machine.date} · commit ${rec.machine.commit} · matched TLS, own containers`,
    '',
    `Machine: ${rec.machine.cores} cores, ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}; ${runLine(rec)}; about ${formatDuration(rec.plan.estimatedSeconds)} planned. Record (every round, each hop's TLS, every proxy's effective configuration): [${link}](${link}).`,
    '',
  ];
  for (const series of Object.keys(rec.series) as Series[]) {
    const s = rec.series[series]!;
    lines.push(
      `**${series} series**: ${hopsLine(s)}.`,
      '',
      ...mdTable(['mode/clients', 'direct tps', ...proxiesOf(rec)], ratioRows(rec, s)),
      '',
      `Net CPU ms per 1000 transactions, pgbench / proxy / postgres (each container's idle rate, measured at the start of the round, subtracted):`,
      '',
      ...mdTable(['mode/clients', ...rec.options.targets], cpuRows(rec, s)),
      '',
      ...(s.problems.length ? [`Sessions without the series' TLS: ${s.problems.join('; ')}.`, ''] : []),
    );
  }
  lines.push(alarmsText(rec.alarms), '');
  return lines;
}

/** How a matched run measures, said once above the runs. */
const METHOD = [
  'pgbench in a container of its own; each proxy in its own container on the same bridge (pgbouncer in',
  'transaction and in session pooling, HAProxy as a TCP relay, the generated pgpool configuration and',
  "pgpool's sample, both with num_init_children above the largest client count). Two series: every hop",
  'TLS (verified against the cluster CA), or every hop plain; each hop read from pg_stat_ssl, libpq and',
  "pgbouncer's SHOW CLIENTS. Each figure is tps through the proxy / tps direct in the same round and",
  'series, median (min-max) over the rounds; the target order rotates per round; the tables are vacuumed',
  'and checkpointed before every run. See docs/measuring.md.',
].join(' ');

const OLD_METHOD = [
  '**Runs without "matched TLS" in their heading were measured the old way and are not comparable**:',
  'pgbench set no sslmode (direct and HAProxy ran one TLS hop, the generated pgpool two, the sample',
  'pgpool and pgbouncer none), pgbouncer and HAProxy ran on loopback inside pgbench\'s container while',
  "pgpool crossed the bridge twice, pgbouncer's CPU was counted in the client column, 3 rounds of",
  '10-15 s on a table never vacuumed. They are kept as recorded.',
].join(' ');

export function benchResultsMarkdown(resultsDir: string, mdDir: string): string {
  const lines = ['## Proxy cost (`npm run bench`)', '', METHOD, '', OLD_METHOD, ''];
  const runs = readRecords<AnyBenchRecord>(resultsDir, 'bench').reverse();
  if (!runs.length) lines.push('No run recorded yet.', '');
  for (const { file, rec } of runs) {
    const link = relative(mdDir, file);
    lines.push(...(isMatched(rec) ? matchedMarkdown(rec, link) : legacyBenchMarkdown(rec, link)));
  }
  lines.push('## Soak (`npm run bench -- --soak SECONDS`)', '', 'pgbench tpcb-like through the delegate IP at full CPU, no fault injected: any failover, delegate IP move or failed health check is a false alarm.', '');
  const soaks = readRecords<SoakRecord>(resultsDir, 'soak').reverse();
  lines.push('| run | seconds | clients | tps | failovers | VIP moves | failed health checks |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const { rec } of soaks) lines.push(`| ${rec.machine.date.slice(0, 16)} ${rec.machine.commit} | ${rec.seconds} | ${rec.clients} | ${rec.tps?.toFixed(0) ?? '-'} | ${rec.failovers} | ${rec.vipMoves} | ${rec.healthCheckFailures} |`);
  if (!soaks.length) lines.push('| not run yet | | | | | | |');
  return [...lines, ''].join('\n');
}

