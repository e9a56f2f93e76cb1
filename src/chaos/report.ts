import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { table } from '../format.js';
import type { Spread } from './metrics.js';
import type { ChaosOptions, ChaosRun, RoundResult } from './run.js';

/** Where and on what a benchmark ran: recorded beside every figure. */
export interface Machine {
  date: string;
  commit: string;
  cores: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  engine: string;
}

export interface ChaosRecord {
  kind: 'chaos';
  machine: Machine;
  /** databaseMB: the size of the databases when the run started (absent in records before it was measured). */
  /** engine: absent in records before chaos drove a swarm (compose then). */
  cluster: { name: string; engine?: string; replication: string; postgresNodes: number; pgpoolNodes: number; timings: unknown; databaseMB?: number };
  options: ChaosOptions;
  aborted: string | null;
  lostAcked: number[] | null;
  summary: ChaosRun['summary'];
  rounds: (Omit<RoundResult, 'marks'> & { marks: Record<string, number | null>; timeline: string })[];
}

export const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));

/** The run as JSON-ready data: times relative to the round's fault, in milliseconds. */
export function chaosRecord(run: ChaosRun, machine: Machine, cluster: ChaosRecord['cluster'], options: ChaosOptions): ChaosRecord {
  return {
    kind: 'chaos',
    machine,
    cluster,
    options,
    aborted: run.aborted ?? null,
    lostAcked: run.lostAcked,
    summary: run.summary,
    rounds: run.rounds.map((r) => ({
      ...r,
      marks: Object.fromEntries(Object.entries(r.marks).map(([k, v]) => [k, typeof v === 'number' ? v - r.marks.fault : null])),
      events: r.events.map((e) => ({ ...e, at: e.at - r.marks.fault })),
      timeline: `${r.fault}-round${r.round}.svg`,
    })),
  };
}


const spreadText = (v: Spread | null | undefined, unit: 's' | 'n') => (v ? (unit === 's' ? `${s(v.min)} / ${s(v.median)} / ${s(v.max)}` : `${v.min} / ${v.median} / ${v.max}`) : '-');

const METRIC_LABELS: [string, string, 's' | 'n'][] = [
  ['worstWriteUnavailableMs', 'writes unavailable (s)', 's'],
  ['worstReadUnavailableMs', 'reads unavailable (s)', 's'],
  ['detectionMs', 'detection (s)', 's'],
  ['promotionMs', 'promotion (s)', 's'],
  ['vipMoveMs', 'delegate IP moved (s)', 's'],
  ['leaderMs', 'new watchdog leader (s)', 's'],
  ['rejoinMs', 'back as streaming standby (s)', 's'],
  ['lostAcked', 'acknowledged writes lost', 'n'],
  ['visibleAfterError', 'rows visible after an error', 'n'],
];

/** The terminal table: every round, then min / median / max per fault. */
export function formatChaos(rec: ChaosRecord): string {
  const rounds = table(
    ['FAULT', 'ROUND', 'TARGETS', 'WRITES DOWN new/pooled (s)', 'READS DOWN (s)', 'DETECT', 'PROMOTE', 'VIP', 'LEADER', 'REJOIN', 'ACKED', 'LOST', 'VISIBLE AFTER ERROR', 'HEALED'],
    rec.rounds.map((r) => [
      r.fault,
      String(r.round),
      r.targets.join(','),
      `${s(r.metrics.writeUnavailableMs.new)} / ${s(r.metrics.writeUnavailableMs.pooled)}`,
      s(r.metrics.worstReadUnavailableMs),
      s(r.metrics.detectionMs),
      s(r.metrics.promotionMs),
      s(r.metrics.vipMoveMs),
      s(r.metrics.leaderMs),
      s(r.metrics.rejoinMs),
      String(r.metrics.attempts.acked),
      String(r.metrics.lostAcked.length),
      String(r.metrics.visibleAfterError.length),
      r.notHealed ? `no: ${r.notHealed}` : 'yes',
    ]),
  );
  const summaries = Object.entries(rec.summary).map(([fault, m]) => `${fault} (${rec.rounds.filter((r) => r.fault === fault).length} rounds), min / median / max:\n${table(['METRIC', 'VALUE'], METRIC_LABELS.map(([k, label, unit]) => [label, spreadText(m[k], unit)]))}`);
  const end = [
    `machine: ${rec.machine.cores} cores (${rec.machine.cpu}), ${rec.machine.memoryGiB} GiB, ${rec.machine.engine}, commit ${rec.machine.commit}; cluster ${rec.cluster.name}${rec.cluster.engine === 'swarm' ? ' (swarm)' : ''}: ${rec.cluster.postgresNodes} postgres (${rec.cluster.replication}), ${rec.cluster.pgpoolNodes} pgpool`,
    rec.lostAcked === null ? 'acknowledged writes lost over the run: unknown (the final read failed)' : `acknowledged writes lost over the run: ${rec.lostAcked.length}`,
    ...(rec.aborted ? [`ABORTED: ${rec.aborted}`] : []),
  ];
  return [rounds, '', ...summaries.flatMap((x) => [x, '']), ...end].join('\n');
}

/** Writes the record and its timelines under `<resultsDir>/<date>-<commit>/`; returns that directory. */
export function writeChaosResults(resultsDir: string, rec: ChaosRecord, timelines: Map<string, string>, stamp: string): string {
  const prefix = `chaos-${stamp}`;
  return writeWithTimelines(resultsDir, { ...rec, rounds: rec.rounds.map((r) => ({ ...r, timeline: `${prefix}-${r.timeline}` })) }, timelines, stamp, prefix);
}

/** Writes a record (its timeline names already prefixed) and the SVGs beside it as `<prefix>-<name>`; returns the run directory. */
export function writeWithTimelines<R extends { kind: string; machine: Machine }>(resultsDir: string, rec: R, timelines: Map<string, string>, stamp: string, prefix: string): string {
  const dir = writeRecord(resultsDir, rec, stamp);
  for (const [name, svg] of timelines) writeFileSync(join(dir, `${prefix}-${name}`), svg);
  return dir;
}

/** Every record of one kind (`chaos`, `bench`, `soak`) under `resultsDir`, oldest first, with its file. */
export function readRecords<T extends { kind: string; machine: { date: string } }>(resultsDir: string, kind: T['kind']): { file: string; rec: T }[] {
  if (!existsSync(resultsDir)) return [];
  const out: { file: string; rec: T }[] = [];
  for (const run of readdirSync(resultsDir).sort()) {
    const dir = join(resultsDir, run);
    for (const f of readdirSync(dir).filter((n) => n.startsWith(`${kind}-`) && n.endsWith('.json')).sort()) {
      const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as T;
      if (rec.kind === kind) out.push({ file: join(dir, f), rec });
    }
  }
  // Oldest first by when each ran: the directory names (<date>-<commit>) order runs of one day
  // by commit hash, which would make an older run look like the newest.
  return out.sort((a, b) => a.rec.machine.date.localeCompare(b.rec.machine.date));
}

/** Writes one record as `<resultsDir>/<date>-<commit>/<kind>-<stamp>.json`; returns the run directory. */
export function writeRecord(resultsDir: string, rec: { kind: string; machine: Machine }, stamp: string): string {
  const dir = join(resultsDir, `${rec.machine.date.slice(0, 10)}-${rec.machine.commit}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${rec.kind}-${stamp}.json`), `${JSON.stringify(rec, null, 2)}\n`);
  return dir;
}

/** The chaos part of bench/RESULTS.md: every recorded run, newest first, with links to its timelines. */
export function chaosResultsMarkdown(resultsDir: string, mdDir: string): string {
  const runs = readRecords<ChaosRecord>(resultsDir, 'chaos').reverse();
  const lines = ['## Chaos runs (`pgha chaos`)', '', 'Times in seconds, min / median / max over the rounds of one run; from the fault to the moment named.', ''];
  if (!runs.length) lines.push('No run recorded yet.');
  for (const { file, rec } of runs) {
    const m = rec.machine;
    lines.push(
      `### ${m.date} · commit ${m.commit} · ${rec.cluster.postgresNodes} postgres (${rec.cluster.replication}) + ${rec.cluster.pgpoolNodes} pgpool${rec.cluster.databaseMB === undefined ? '' : ` · ${rec.cluster.databaseMB} MB of data`}`,
      '',
      `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, kernel ${m.kernel}, ${m.engine}. Record: [${relative(mdDir, file)}](${relative(mdDir, file)}).${rec.aborted ? ` **Aborted: ${rec.aborted}**` : ''}`,
      '',
      `| fault | rounds | ${METRIC_LABELS.map(([, l]) => l).join(' | ')} |`,
      `| --- | --- | ${METRIC_LABELS.map(() => '---').join(' | ')} |`,
    );
    for (const [fault, metrics] of Object.entries(rec.summary)) {
      lines.push(`| ${fault} | ${rec.rounds.filter((r) => r.fault === fault).length} | ${METRIC_LABELS.map(([k, , u]) => spreadText(metrics[k], u)).join(' | ')} |`);
    }
    const links = rec.rounds.map((r) => `[${r.fault} ${r.round}](${relative(mdDir, join(file, '..', r.timeline))})`);
    lines.push('', `Timelines: ${links.join(', ')}`, '');
  }
  return lines.join('\n');
}
