import { resolve } from 'node:path';
import { logUpdateStderr } from 'log-update';
import { z } from 'zod';
import { machineInfo, stampOf } from '../bench/machine.js';
import { FAULTS } from '../chaos/faults.js';
import { writeResultsMarkdown } from '../bench/results.js';
import { chaosRecord, formatChaos, writeChaosResults } from '../chaos/report.js';
import { runChaos, type ChaosOptions } from '../chaos/run.js';
import { clusterContainers } from '../deploy/inspect.js';
import { connectEngine } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { clusterInputs, runningClusterPassword, type ClusterOptions } from './cluster.js';
import { parseFlags, wholeNumber } from './options.js';
import { say } from './say.js';

/** The options as commander hands them over: strings, checked below. */
export interface ChaosCommandOptions extends ClusterOptions {
  fault: string[];
  rounds: string;
  intervalMs: string;
  timeoutMs: string;
  warmup: string;
  hold: string;
  down: string;
  healTimeout: string;
  json?: boolean;
  results: string | false;
}

const whole = wholeNumber;

const optionsSchema = z.object({
  fault: z.array(z.enum(FAULTS, { error: (i) => `expected one of ${FAULTS.join(', ')}, got ${String(i.input)}` })).min(1, 'expected at least one fault'),
  rounds: whole(1, 1000),
  intervalMs: whole(20, 10_000),
  timeoutMs: whole(100, 60_000),
  warmup: whole(0, 3600),
  hold: whole(1, 3600),
  down: whole(0, 3600),
  healTimeout: whole(10, 3600),
});

const FLAGS: Record<string, string> = { fault: '--fault', rounds: '--rounds', intervalMs: '--interval-ms', timeoutMs: '--timeout-ms', warmup: '--warmup', hold: '--hold', down: '--down', healTimeout: '--heal-timeout' };

/** Every bad option, one line each naming the flag; nothing runs unless all are good. */
export function parseChaosOptions(opts: ChaosCommandOptions): ChaosOptions {
  const o = parseFlags(optionsSchema, opts, FLAGS);
  return { faults: o.fault, rounds: o.rounds, intervalMs: o.intervalMs, timeoutMs: o.timeoutMs, warmupSeconds: o.warmup, holdSeconds: o.hold, downSeconds: o.down, healTimeoutSeconds: o.healTimeout };
}

/**
 * `pgha chaos`: injects faults into a running cluster while a probe writes and reads through
 * the delegate IP; prints what clients saw and records it under bench/results. Returns the
 * exit status: 1 when the cluster did not heal or (synchronous replication) an acknowledged
 * write was lost.
 */
export async function chaosCommand(root: string, opts: ChaosCommandOptions): Promise<number> {
  const options = parseChaosOptions(opts);
  const { cluster, topo, dir } = clusterInputs(root, opts);
  const password = runningClusterPassword(cluster.name, dir);
  const docker = await connectEngine();
  const containers = clusterContainers(docker, cluster);
  const running = [];
  for (const n of topo.pgpool) if (await containers.running(n.host)) running.push(n.host);
  if (!running.length) throw new UsageError([`cluster ${cluster.name} is not running: no pgpool container of it is up; start it with pgha cluster up`]);

  // The machine and commit as the run starts: a tree edited while it runs must not relabel it.
  const machine = await machineInfo(docker, root);
  const live = !opts.json && process.stderr.isTTY ? (line: string) => logUpdateStderr(line) : undefined;
  const log = opts.json ? (line: string) => console.error(`pgha: ${line}`) : (line: string) => (live ? (logUpdateStderr.clear(), say(line)) : say(line));
  const run = await runChaos(
    { docker, cluster, topo, say: log, live, target: { host: topo.delegateIp, port: cluster.pgpool.port, user: 'postgres', password: password, database: 'postgres' } },
    options,
  );
  if (live) logUpdateStderr.clear();
  const rec = chaosRecord(run, machine, { name: cluster.name, replication: cluster.postgres.replication, postgresNodes: cluster.postgres.nodes, pgpoolNodes: cluster.pgpool.nodes, timings: cluster.timings, databaseMB: run.databaseMB }, options);
  if (opts.results !== false) {
    const resultsDir = resolve(opts.results);
    const out = writeChaosResults(resultsDir, rec, run.timelines, stampOf(machine));
    log(`recorded in ${out}; summary in ${writeResultsMarkdown(resultsDir)}`);
  }
  console.log(opts.json ? JSON.stringify(rec, null, 2) : formatChaos(rec));
  const lost = cluster.postgres.replication === 'sync' && (run.lostAcked === null || run.lostAcked.length > 0);
  return run.aborted || lost ? 1 : 0;
}
