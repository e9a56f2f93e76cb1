import { clusterSchema } from '../cluster/schema.js';
import type { ChaosRecord } from '../chaos/report.js';
import { readRecords, s } from '../chaos/report.js';
import type { Spread } from '../chaos/metrics.js';
import { isMatched, type AnyBenchRecord, type SoakRecord } from './report.js';

/** The chaos figures issue 10 sets a bound on, checked against the newest run that measured each. */
const CHAOS_TARGETS: { fault: string; metric: string; stat: 'median' | 'max'; limitMs: number; label: string }[] = [
  { fault: 'kill-primary', metric: 'worstWriteUnavailableMs', stat: 'median', limitMs: 5000, label: 'kill-primary: writes unavailable, median <= 5 s' },
  { fault: 'kill-primary', metric: 'worstWriteUnavailableMs', stat: 'max', limitMs: 10000, label: 'kill-primary: writes unavailable, max <= 10 s' },
  { fault: 'kill-leader', metric: 'worstWriteUnavailableMs', stat: 'median', limitMs: 6000, label: 'kill-leader: delegate IP answering writes again, median <= 6 s' },
  { fault: 'restart-old-primary', metric: 'rejoinMs', stat: 'median', limitMs: 10000, label: 'restart-old-primary: back as a streaming standby, median <= 10 s' },
];

/** A database at least this big counts as the "~2 GB" rejoin of the issue; smaller ones as the dev size. */
export const LARGE_DATABASE_MB = 1024;

/** The bench's bar for the generated pgpool config: ahead of pgbouncer and at least this share of direct. */
const BENCH_TARGETS: { mode: string; floor: number }[] = [
  { mode: 'select-only', floor: 0.75 },
  { mode: 'tpcb-like', floor: 0.85 },
];

type Chaos = { file: string; rec: ChaosRecord };

/** The issue's targets are for the default cluster definition: runs on another shape do not count for them. */
const DEFAULT_CLUSTER = clusterSchema.parse({});
const isDefaultShape = ({ rec }: Chaos) =>
  rec.cluster.postgresNodes === DEFAULT_CLUSTER.postgres.nodes && rec.cluster.replication === DEFAULT_CLUSTER.postgres.replication && rec.cluster.pgpoolNodes === DEFAULT_CLUSTER.pgpool.nodes;
const run = (r: { machine: { date: string; commit: string } }) => `${r.machine.date.slice(0, 16)} ${r.machine.commit}`;
const met = (ok: boolean) => (ok ? 'yes' : '**no**');

function chaosRows(runs: Chaos[]): string[] {
  return CHAOS_TARGETS.map((t) => {
    const hit = runs.find(({ rec }) => rec.summary[t.fault]?.[t.metric]);
    const v = hit?.rec.summary[t.fault]![t.metric];
    return hit && v ? `| ${t.label} | ${s(v[t.stat])} s | ${v.n} | ${run(hit.rec)} | ${met(v[t.stat] <= t.limitMs)} |` : `| ${t.label} | not measured | - | - | - |`;
  });
}

/** The rejoin's cost must grow with the divergence, not the database: ~2 GB within 2x the dev size. */
function rejoinScaleRow(runs: Chaos[]): string {
  const label = `restart-old-primary with >= ${LARGE_DATABASE_MB} MB of data: back as a streaming standby, median within 2x the dev size's`;
  const rejoin = (large: boolean) =>
    runs.find(({ rec }) => rec.summary['restart-old-primary']?.rejoinMs && (rec.cluster.databaseMB ?? 0) >= LARGE_DATABASE_MB === large);
  const big = rejoin(true);
  const small = rejoin(false);
  if (!big || !small) return `| ${label} | not measured | - | - | - |`;
  const b = big.rec.summary['restart-old-primary']!.rejoinMs!;
  const m = small.rec.summary['restart-old-primary']!.rejoinMs!;
  const factor = b.median / m.median;
  return `| ${label} | ${s(b.median)} s at ${big.rec.cluster.databaseMB} MB against ${s(m.median)} s at ${small.rec.cluster.databaseMB ?? '?'} MB (${run(small.rec)}): ${factor.toFixed(2)}x | ${b.n} | ${run(big.rec)} | ${met(factor <= 2)} |`;
}

/** Zero acknowledged writes lost in synchronous mode, counted over every run of each cluster size. */
function syncRows(runs: Chaos[]): string[] {
  const sync = runs.filter(({ rec }) => rec.cluster.replication === 'sync');
  const sizes = [...new Set([2, 3, ...sync.map(({ rec }) => rec.cluster.postgresNodes)])].sort();
  return sizes.map((nodes) => {
    const these = sync.filter(({ rec }) => rec.cluster.postgresNodes === nodes);
    const label = `synchronous replication, ${nodes} postgres nodes: 0 acknowledged writes lost, every round`;
    if (!these.length) return `| ${label} | not measured | - | - | - |`;
    const lost = these.reduce((n, { rec }) => n + (rec.lostAcked?.length ?? 0), 0);
    const unknown = these.filter(({ rec }) => rec.lostAcked === null).length;
    const rounds = these.reduce((n, { rec }) => n + rec.rounds.length, 0);
    return `| ${label} | ${lost} lost over ${these.length} runs${unknown ? ` (${unknown} unknown)` : ''} | ${rounds} | all ${nodes}-node sync runs | ${met(lost === 0 && !unknown)} |`;
  });
}

function soakRow(soaks: { rec: SoakRecord }[]): string {
  const label = 'soak: pgbench at full CPU through the delegate IP, no fault: 0 failovers and 0 delegate IP moves';
  const newest = soaks[0]?.rec;
  if (!newest) return `| ${label} | not measured | - | - | - |`;
  return `| ${label} | ${newest.failovers} failovers, ${newest.vipMoves} moves in ${newest.seconds} s | 1 | ${run(newest)} | ${met(newest.failovers === 0 && newest.vipMoves === 0 && newest.tps !== null)} |`;
}

/**
 * The ratios the bench targets are read from: the newest matched run with the tls series (the
 * cluster's default), else the newest matched run's plain series, else the newest old-method
 * run, marked as such.
 */
function benchBasis(benches: { rec: AnyBenchRecord }[]): { ratios: Record<string, Record<string, Spread | null>>; rec: AnyBenchRecord; note: string } | null {
  const matched = benches.map((b) => b.rec).filter(isMatched);
  const tls = matched.find((r) => r.series.tls);
  if (tls) return { ratios: tls.series.tls!.ratios, rec: tls, note: ' (tls series)' };
  const plain = matched.find((r) => r.series.plain);
  if (plain) return { ratios: plain.series.plain!.ratios, rec: plain, note: ' (plain series)' };
  const old = benches[0]?.rec;
  return old && !isMatched(old) ? { ratios: old.ratios, rec: old, note: ' (old method, TLS unmatched)' } : null;
}

/** The generated pgpool config against pgbouncer in the same run, per mode, at every client count. */
function benchRows(benches: { rec: AnyBenchRecord }[]): string[] {
  const basis = benchBasis(benches);
  return BENCH_TARGETS.map(({ mode, floor }) => {
    const label = `bench ${mode}: generated pgpool >= ${floor} of direct and ahead of pgbouncer`;
    const keys = basis ? Object.keys(basis.ratios).filter((k) => k.startsWith(`${mode}/`)) : [];
    if (!basis || !keys.length) return `| ${label} | not measured | - | - | - |`;
    const { ratios, rec, note } = basis;
    const pairs = keys.map((k) => ({ clients: k.split('/')[1], pgpool: ratios[k]?.pgpool?.median, pgbouncer: ratios[k]?.pgbouncer?.median }));
    const ok = pairs.every((p) => p.pgpool !== undefined && p.pgbouncer !== undefined && p.pgpool >= floor && p.pgpool >= p.pgbouncer);
    const text = pairs.map((p) => `${p.clients} clients ${p.pgpool?.toFixed(2) ?? '-'} (pgbouncer ${p.pgbouncer?.toFixed(2) ?? '-'})`).join(', ');
    return `| ${label} | ${text}${note} | ${rec.options.rounds} | ${run(rec)} | ${ok ? 'yes' : '**no**: what bounds it is in docs/measuring.md'} |`;
  });
}

/** The targets section of bench/RESULTS.md, from every record under `resultsDir`. */
export function targetsMarkdown(resultsDir: string): string {
  const chaos = readRecords<ChaosRecord>(resultsDir, 'chaos').reverse();
  return [
    '## Targets (issue 10), against the newest run that measured each',
    '',
    `Timings and the rejoin on the default cluster definition (${DEFAULT_CLUSTER.postgres.nodes} postgres, ${DEFAULT_CLUSTER.postgres.replication}, ${DEFAULT_CLUSTER.pgpool.nodes} pgpool); zero loss over every synchronous run.`,
    '',
    '| target | measured | rounds | run | met |',
    '| --- | --- | --- | --- | --- |',
    ...chaosRows(chaos.filter(isDefaultShape)),
    rejoinScaleRow(chaos.filter(isDefaultShape)),
    ...syncRows(chaos),
    soakRow(readRecords<SoakRecord>(resultsDir, 'soak').reverse()),
    ...benchRows(readRecords<AnyBenchRecord>(resultsDir, 'bench').reverse()),
  ].join('\n');
}
