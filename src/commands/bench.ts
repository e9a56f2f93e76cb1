import { join, resolve } from 'node:path';
import { z } from 'zod';
import { machineInfo, stampOf } from '../bench/machine.js';
import { ensureBenchImage } from '../bench/proxies.js';
import { formatBench, formatSoak, type BenchRecord, type SoakRecord } from '../bench/report.js';
import { writeResultsMarkdown } from '../bench/results.js';
import { runProxyBench, runSoak, type BenchIo } from '../bench/run.js';
import { writeRecord } from '../chaos/report.js';
import { healedProblem } from '../deploy/lifecycle.js';
import { clusterContainers, clusterStatus } from '../deploy/inspect.js';
import { connectEngine } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { clusterInputs, runningClusterPassword, type ClusterOptions } from './cluster.js';
import { parseFlags, wholeNumber } from './options.js';
import { say } from './say.js';

export interface BenchCommandOptions extends ClusterOptions {
  rounds: string;
  seconds: string;
  clients: string[];
  scale: string;
  soak?: string;
  json?: boolean;
  results: string | false;
}

const schema = z.object({
  rounds: wholeNumber(1, 100),
  seconds: wholeNumber(1, 3600),
  clients: z.array(wholeNumber(1, 1000)).min(1, 'expected at least one client count'),
  scale: wholeNumber(1, 10_000),
  soak: wholeNumber(10, 86_400).optional(),
});
const FLAGS = { rounds: '--rounds', seconds: '--seconds', clients: '--clients', scale: '--scale', soak: '--soak' };

/**
 * `npm run bench` (`pgha bench`): what the proxy costs against the running cluster: pgbench
 * direct to the primary, through pgpool at the delegate IP, through pgbouncer and HAProxy,
 * as ratios to direct in the same round. With --soak: load without faults, counting false
 * alarms. Records under bench/results and rewrites bench/RESULTS.md.
 */
export async function benchCommand(root: string, opts: BenchCommandOptions): Promise<number> {
  const o = parseFlags(schema, opts, FLAGS);
  const { cluster, topo, dir, images } = clusterInputs(root, opts);
  const password = runningClusterPassword(cluster.name, dir);
  const docker = await connectEngine();
  const status = await clusterStatus(clusterContainers(docker, cluster), cluster, topo);
  const machine = await machineInfo(docker, root);
  const problem = healedProblem(status);
  if (problem) throw new UsageError([`cluster ${cluster.name} is not ready for a benchmark: ${problem}`]);
  const log = opts.json ? (line: string) => console.error(`pgha: ${line}`) : say;
  const benchImage = await ensureBenchImage(docker, images.postgres, join(root, 'results', 'bench-image.log'));
  const io: BenchIo = { docker, cluster, topo, benchImage, pgpoolImage: images.pgpool, password, say: log };
  let rec: BenchRecord | SoakRecord;
  if (o.soak !== undefined) {
    const run = await runSoak(io, o.soak, Math.max(...o.clients), o.scale);
    rec = { kind: 'soak', machine, timings: cluster.timings, ...run };
  } else {
    const options = { rounds: o.rounds, seconds: o.seconds, clients: o.clients, scale: o.scale };
    rec = { kind: 'bench', machine, options, ...(await runProxyBench(io, options)) };
  }
  if (opts.results !== false) {
    const resultsDir = resolve(opts.results);
    log(`recorded in ${writeRecord(resultsDir, rec, stampOf(machine))}; summary in ${writeResultsMarkdown(resultsDir)}`);
  }
  console.log(opts.json ? JSON.stringify(rec, null, 2) : rec.kind === 'soak' ? formatSoak(rec) : formatBench(rec));
  return rec.kind === 'soak' && (rec.failovers || rec.vipMoves || rec.tps === null) ? 1 : 0;
}
