import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ensureBenchImage } from '../bench/image.js';
import { machineInfo, stampOf } from '../bench/machine.js';
import { benchPlan, formatDuration, MODES, pgbenchExample, SERIES, TARGETS, type BenchOptions, type BenchPlan } from '../bench/plan.js';
import { BENCH_METHOD, formatBench, formatSoak, type BenchRecord, type SoakRecord } from '../bench/report.js';
import { writeResultsMarkdown } from '../bench/results.js';
import { runSoak, type BenchIo } from '../bench/run.js';
import { runProxyBench } from '../bench/series.js';
import { writeRecord } from '../chaos/report.js';
import type { Cluster } from '../cluster/schema.js';
import { healedProblem } from '../deploy/lifecycle.js';
import { clusterContainers, clusterStatus } from '../deploy/inspect.js';
import { connectEngine } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { clusterInputs, runningClusterPassword, type ClusterOptions } from './cluster.js';
import { parseFlags, wholeNumber } from './options.js';
import { say } from './say.js';

export interface BenchCommandOptions extends ClusterOptions {
  series: string[];
  targets: string[];
  modes: string[];
  rounds: string;
  duration: string;
  clients: string[];
  scale?: string;
  soak?: string;
  plan?: boolean;
  json?: boolean;
  results: string | false;
}

const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.array(z.enum(values, { error: (i) => `expected one of ${values.join(', ')}, got ${String(i.input)}` })).min(1, `expected at least one of ${values.join(', ')}`);

const schema = z
  .object({
    series: oneOf(SERIES),
    targets: oneOf(TARGETS),
    modes: oneOf(MODES),
    rounds: wholeNumber(1, 100),
    duration: wholeNumber(5, 3600),
    clients: z.array(wholeNumber(1, 1000)).min(1, 'expected at least one client count'),
    scale: wholeNumber(1, 10_000).optional(),
    soak: wholeNumber(10, 86_400).optional(),
  })
  // tpcb-like updates one pgbench_branches row per transaction: fewer branches than clients
  // makes the clients queue on row locks, which measures the locks and not the proxy.
  .refine((o) => o.scale === undefined || o.scale >= Math.max(...o.clients), { path: ['scale'], message: 'expected at least the largest client count (tpcb-like clients would queue on the same branch row)' });
const FLAGS = { series: '--series', targets: '--targets', modes: '--modes', rounds: '--rounds', duration: '--duration', clients: '--clients', scale: '--scale', soak: '--soak' };

/** The flags checked (every bad one a line naming it) as a proxy run's options, and the soak's seconds when asked. */
export function parseBenchFlags(opts: Omit<BenchCommandOptions, keyof ClusterOptions | 'results'>): { options: BenchOptions; soak?: number } {
  const o = parseFlags(schema, opts, FLAGS);
  const options = { series: o.series, targets: o.targets, modes: o.modes, rounds: o.rounds, seconds: o.duration, clients: o.clients, scale: o.scale ?? Math.max(...o.clients) };
  return { options, ...(o.soak === undefined ? {} : { soak: o.soak }) };
}

/** The plan in a few lines: what runs, in which order, for how long. */
export function planText(plan: BenchPlan): string {
  const o = plan.options;
  return [
    `plan: series ${o.series.join(', ')}; targets ${o.targets.join(', ')}; modes ${o.modes.join(', ')}; clients ${o.clients.join(', ')}; ${o.rounds} round${o.rounds === 1 ? '' : 's'} of ${o.seconds} s runs; scale ${o.scale}; pgpool num_init_children ${plan.pgpoolChildren}`,
    ...plan.orders.map((order, i) => `  round ${i + 1}: ${order.join(', ')}`),
    `  ${plan.runs.length} pgbench runs, the first: ${pgbenchExample(plan)}`,
    `  ${plan.subset ? `a subset: ${plan.subset}` : 'the full matrix'}; planned duration about ${formatDuration(plan.estimatedSeconds)}`,
  ].join('\n');
}

/** The tls series needs the cluster's certificates: refused, one line, on a cluster without TLS. */
function refuseTlsWithout(cluster: Cluster, plan: BenchPlan): void {
  if (plan.options.series.includes('tls') && !cluster.tls.enabled) {
    throw new UsageError([`--series: expected plain for cluster ${cluster.name}, which runs with tls.enabled: false (the tls series verifies every hop against the cluster CA), got tls`]);
  }
}

/**
 * `npm run bench` (`pgha bench`): what each proxy costs against the running cluster, as
 * ratios to direct in the same round, in a TLS series and a plain one (see
 * docs/measuring.md). With --plan: the plan only, nothing started. With --soak: load without
 * faults, counting false alarms. Records under bench/results and rewrites bench/RESULTS.md.
 */
export async function benchCommand(root: string, opts: BenchCommandOptions): Promise<number> {
  const { options, soak } = parseBenchFlags(opts);
  const plan = benchPlan(options);
  const { cluster, topo, dir, images } = clusterInputs(root, opts);
  const log = opts.json ? (line: string) => console.error(`pgha: ${line}`) : say;
  if (soak === undefined) {
    refuseTlsWithout(cluster, plan);
    if (opts.plan) {
      console.log(planText(plan));
      return 0;
    }
    log(planText(plan));
  }
  const password = runningClusterPassword(cluster.name, dir);
  const docker = await connectEngine();
  const status = await clusterStatus(clusterContainers(docker, cluster), cluster, topo);
  const machine = await machineInfo(docker, root);
  const problem = healedProblem(status);
  if (problem) throw new UsageError([`cluster ${cluster.name} is not ready for a benchmark: ${problem}`]);
  const benchImage = await ensureBenchImage(docker, images.postgres, join(root, 'results', 'bench-image.log'));
  const io: BenchIo = { docker, cluster, topo, benchImage, pgpoolImage: images.pgpool, password, say: log };
  let rec: BenchRecord | SoakRecord;
  if (soak !== undefined) {
    const run = await runSoak(io, soak, Math.max(...options.clients), options.scale);
    rec = { kind: 'soak', machine, timings: cluster.timings, ...run };
  } else {
    const planRecord = { subset: plan.subset, pgpoolChildren: plan.pgpoolChildren, idleSeconds: plan.idleSeconds, orders: plan.orders, estimatedSeconds: plan.estimatedSeconds, pgbench: pgbenchExample(plan) };
    rec = { kind: 'bench', method: BENCH_METHOD, machine, options: plan.options, plan: planRecord, ...(await runProxyBench(io, plan)) };
  }
  if (opts.results !== false) {
    const resultsDir = resolve(opts.results);
    log(`recorded in ${writeRecord(resultsDir, rec, stampOf(machine))}; summary in ${writeResultsMarkdown(resultsDir)}`);
  }
  console.log(opts.json ? JSON.stringify(rec, null, 2) : rec.kind === 'soak' ? formatSoak(rec) : formatBench(rec));
  return rec.kind === 'soak' && (rec.failovers || rec.vipMoves || rec.tps === null) ? 1 : 0;
}

