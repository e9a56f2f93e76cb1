import { relative } from 'node:path';
import type { CheckResult, RoleTick } from './checker.js';
import type { Spread } from './metrics.js';
import { spread } from './metrics.js';
import type { InjectedFault, NemesisOptions, NemesisRun } from './nemesis.js';
import type { Attempt } from './probe.js';
import { readRecords, s, writeWithTimelines, type Machine } from './report.js';
import { roleChanges } from './sampler.js';
import { describeEpisode } from './schedule.js';
import { timelineSvg } from './timeline.js';

/** A nemesis run as kept under bench/results: what ran, what the checks found, the heal times. */
export interface NemesisRecord {
  kind: 'nemesis';
  machine: Machine;
  cluster: { name: string; replication: string; durability: string; postgresNodes: number; pgpoolNodes: number };
  seed: number;
  durationMs: number;
  /** The episodes that ran, as the schedule drew them. */
  schedule: string[];
  faults: InjectedFault[];
  episodes: { n: number; start: number; released: number; healedAt: number | null; healMs: number | null; notHealed: string | null; timeline: string }[];
  /** From each episode's release to the cluster whole and taking writes: min, median, max (ms). */
  heal: Spread | null;
  checks: CheckResult[];
  passed: boolean;
  stopped: string | null;
  logsKeptIn: string | null;
  writes: { acked: number; failed: number };
  sampling: { rounds: number; medianIntervalMs: number | null; maxIntervalMs: number | null };
  /** The sampler's rounds where some node's answer changed. */
  roleChanges: RoleTick[];
}

export function nemesisRecord(run: NemesisRun, machine: Machine, cluster: NemesisRecord['cluster'], opts: NemesisOptions): NemesisRecord {
  const intervals = run.ticks.slice(1).map((t, i) => t.at - run.ticks[i]!.at);
  const healMs = (e: NemesisRun['episodes'][number]) => (e.healedAt === null ? null : e.healedAt - e.released);
  const gaps = spread(intervals);
  return {
    kind: 'nemesis',
    machine,
    cluster,
    seed: opts.seed,
    durationMs: opts.durationMs,
    schedule: run.episodes.map((e) => describeEpisode(e.episode)),
    faults: run.episodes.flatMap((e) => e.faults),
    episodes: run.episodes.map((e) => ({ n: e.episode.n, start: e.start, released: e.released, healedAt: e.healedAt, healMs: healMs(e), notHealed: e.notHealed, timeline: `episode${e.episode.n}.svg` })),
    heal: spread(run.episodes.map(healMs)),
    checks: run.checks,
    passed: run.checks.every((c) => c.ok) && run.stopped === null,
    stopped: run.stopped,
    logsKeptIn: run.logsKeptIn,
    writes: { acked: run.acked.length, failed: run.writeErrors },
    sampling: { rounds: run.ticks.length, medianIntervalMs: gaps?.median ?? null, maxIntervalMs: gaps?.max ?? null },
    roleChanges: roleChanges(run.ticks),
  };
}

/** One SVG per episode: the probe's lanes, the faults as bands, what the nodes logged. */
export function nemesisTimelines(run: NemesisRun, attempts: Attempt[], title: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of run.episodes) {
    const hit = e.faults.filter((f) => f.host);
    const first = hit[0]?.at ?? e.start;
    const marks = { from: e.start - 3000, to: (e.healedAt ?? e.released + 60_000) + 2000, injected: first, fault: first, released: e.released, healed: e.healedAt };
    const bands = hit.map((f) => ({ label: `${f.kind} ${f.host}`, from: f.at, to: f.releasedAt ?? marks.to }));
    out.set(`episode${e.episode.n}.svg`, timelineSvg(`${title}, episode ${describeEpisode(e.episode)}`, attempts, e.events, marks, bands));
  }
  return out;
}

/** The terminal summary: the schedule as run, each check, the heal times. */
export function formatNemesis(rec: NemesisRecord): string {
  const lines = [
    `nemesis seed ${rec.seed}, ${(rec.durationMs / 60_000).toFixed(1)} min on ${rec.cluster.name} (${rec.cluster.postgresNodes} postgres, ${rec.cluster.replication}, ${rec.cluster.durability})`,
    ...rec.episodes.map((e, i) => `  ${rec.schedule[i]} -> ${e.healMs === null ? `NOT healed: ${e.notHealed}` : `healed in ${s(e.healMs)} s`}`),
    `heal after release (s): ${rec.heal ? `min ${s(rec.heal.min)} / median ${s(rec.heal.median)} / max ${s(rec.heal.max)}` : '-'}`,
    `writes acknowledged ${rec.writes.acked}, failed ${rec.writes.failed}; sampler ${rec.sampling.rounds} rounds, median ${rec.sampling.medianIntervalMs ?? '-'} ms apart (max ${rec.sampling.maxIntervalMs ?? '-'} ms)`,
    ...rec.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`),
  ];
  if (rec.stopped) lines.push(`stopped early: ${rec.stopped}`);
  if (rec.logsKeptIn) lines.push(`every container's log kept in ${rec.logsKeptIn}`);
  lines.push(rec.passed ? 'PASSED' : 'FAILED');
  return lines.join('\n');
}

/** Writes the record and its timelines under `<resultsDir>/<date>-<commit>/`; returns that directory. */
export function writeNemesisResults(resultsDir: string, rec: NemesisRecord, timelines: Map<string, string>, stamp: string): string {
  const prefix = `nemesis-${stamp}`;
  return writeWithTimelines(resultsDir, { ...rec, episodes: rec.episodes.map((e) => ({ ...e, timeline: `${prefix}-${e.timeline}` })) }, timelines, stamp, prefix);
}

/** The nemesis part of bench/RESULTS.md: every recorded run, newest first. */
export function nemesisResultsMarkdown(resultsDir: string, mdDir: string): string {
  const runs = readRecords<NemesisRecord>(resultsDir, 'nemesis').reverse();
  const lines = ['## Nemesis runs (`pgha chaos --fault random`)', '', 'Heal: from the release of an episode\'s last fault to the cluster whole and taking writes, min / median / max.', ''];
  if (!runs.length) lines.push('No run recorded yet.', '');
  for (const { file, rec } of runs) {
    const m = rec.machine;
    lines.push(
      `### ${m.date} · commit ${m.commit} · seed ${rec.seed}, ${(rec.durationMs / 60_000).toFixed(0)} min · ${rec.cluster.postgresNodes} postgres (${rec.cluster.replication}, ${rec.cluster.durability}) + ${rec.cluster.pgpoolNodes} pgpool: ${rec.passed ? 'passed' : '**failed**'}`,
      '',
      `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, kernel ${m.kernel}, ${m.engine}. Record: [${relative(mdDir, file)}](${relative(mdDir, file)}).`,
      '',
      `${rec.episodes.length} episodes, ${rec.faults.filter((f) => f.host).length} faults; heal (s) ${rec.heal ? `${s(rec.heal.min)} / ${s(rec.heal.median)} / ${s(rec.heal.max)}` : '-'}; writes acknowledged ${rec.writes.acked}.`,
      '',
      ...rec.checks.map((c) => `- ${c.ok ? 'ok' : '**failed**'} ${c.check}: ${c.detail}`),
      ...(rec.stopped ? [`- stopped early: ${rec.stopped}`] : []),
      '',
    );
  }
  return lines.join('\n');
}
