import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { logUpdateStderr } from 'log-update';
import { z } from 'zod';
import { machineInfo, stampOf } from '../bench/machine.js';
import { DEFAULT_LIMITS } from '../chaos/checker.js';
import { CUT_FAULTS, FAULTS, HOST_FAULTS, POWER_FAULTS, SINGLE_HOST_FAULTS, type FaultName } from '../chaos/faults.js';
import { hostPower, parsePowerCommand } from '../chaos/power.js';
import { composeReach, swarmReach } from '../chaos/reach.js';
import type { Cluster } from '../cluster/schema.js';
import { runNemesis, type NemesisOptions } from '../chaos/nemesis.js';
import { formatNemesis, nemesisRecord, nemesisTimelines, writeNemesisResults } from '../chaos/nemesis-report.js';
import { parseDuration } from '../chaos/schedule.js';
import { writeResultsMarkdown } from '../bench/results.js';
import { chaosRecord, formatChaos, writeChaosResults } from '../chaos/report.js';
import { runChaos, type ChaosIo, type ChaosOptions } from '../chaos/run.js';
import type { Machine } from '../chaos/report.js';
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
  seed?: string;
  duration?: string;
  healLimit?: string;
  json?: boolean;
  results: string | false;
  /** host-kill faults: the commands that power a host off and on, with {host}. */
  hostOff?: string;
  hostOn?: string;
  /** host-partition: the commands that cut a host off from the other hosts and heal it, with {host}. */
  hostCut?: string;
  hostHeal?: string;
  /** Where the probe connects instead of the delegate IP: host:port,host:port (a multi-host string's order). */
  connect?: string;
}

const whole = wholeNumber;

const FAULT_NAMES = [...FAULTS, 'random'] as const;

const optionsSchema = z.object({
  fault: z
    .array(z.enum(FAULT_NAMES, { error: (i) => `expected one of ${FAULT_NAMES.join(', ')}, got ${String(i.input)}` }))
    .min(1, 'expected at least one fault')
    .refine((f) => !f.includes('random') || f.length === 1, 'expected random alone (the nemesis draws its own faults)'),
  rounds: whole(1, 1000),
  intervalMs: whole(20, 10_000),
  timeoutMs: whole(100, 60_000),
  warmup: whole(0, 3600),
  hold: whole(1, 3600),
  down: whole(0, 3600),
  healTimeout: whole(10, 3600),
  seed: wholeNumber(0, 999_999_999).optional(),
  healLimit: whole(10, 3600).optional(),
  duration: z
    .string()
    .transform((d, ctx) => {
      const ms = parseDuration(d);
      if (ms === null || ms < 10_000 || ms > 86_400_000) {
        ctx.addIssue({ code: 'custom', message: `expected a duration from 10s to 24h (as 90s, 10m, 1h), got ${d}` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
});

const FLAGS: Record<string, string> = { fault: '--fault', rounds: '--rounds', intervalMs: '--interval-ms', timeoutMs: '--timeout-ms', warmup: '--warmup', hold: '--hold', down: '--down', healTimeout: '--heal-timeout', seed: '--seed', duration: '--duration', healLimit: '--heal-limit' };

/** What `pgha chaos` runs: rounds of named faults, or the nemesis (`--fault random`). */
export type ChaosPlan = { mode: 'rounds'; options: ChaosOptions } | { mode: 'nemesis'; options: NemesisOptions };

/** Every bad option, one line each naming the flag; nothing runs unless all are good. A missing --seed is drawn (and printed). */
export function parseChaosPlan(opts: ChaosCommandOptions): ChaosPlan {
  const o = parseFlags(optionsSchema, opts, FLAGS);
  if (o.fault[0] !== 'random') {
    const stray = (['seed', 'duration', 'healLimit'] as const).filter((k) => opts[k] !== undefined).map((k) => `${FLAGS[k]}: expected only with --fault random`);
    if (stray.length) throw new UsageError(stray);
    return { mode: 'rounds', options: parseChaosOptions(opts) };
  }
  return {
    mode: 'nemesis',
    options: { seed: o.seed ?? Math.floor(Math.random() * 1e9), durationMs: o.duration ?? 600_000, intervalMs: o.intervalMs, timeoutMs: o.timeoutMs, healTimeoutMs: o.healTimeout * 1000, limits: { ...DEFAULT_LIMITS, healMs: (o.healLimit ?? DEFAULT_LIMITS.healMs / 1000) * 1000 } },
  };
}

/** Every bad option, one line each naming the flag; nothing runs unless all are good. */
export function parseChaosOptions(opts: ChaosCommandOptions): ChaosOptions {
  const o = parseFlags(optionsSchema, opts, FLAGS);
  return { faults: o.fault.filter((f): f is FaultName => f !== 'random'), rounds: o.rounds, intervalMs: o.intervalMs, timeoutMs: o.timeoutMs, warmupSeconds: o.warmup, holdSeconds: o.hold, downSeconds: o.down, healTimeoutSeconds: o.healTimeout };
}

/**
 * `pgha chaos`: injects faults into a running cluster while a probe writes and reads through
 * the delegate IP; prints what clients saw and records it under bench/results. Returns the
 * exit status: 1 when the cluster did not heal or (synchronous replication) an acknowledged
 * write was lost; with `--fault random`, 1 when any check of the nemesis failed.
 */
export async function chaosCommand(root: string, opts: ChaosCommandOptions): Promise<number> {
  const plan = parseChaosPlan(opts);
  const { cluster, topo, dir } = clusterInputs(root, opts, { swarm: true });
  const faults = plan.mode === 'rounds' ? plan.options.faults : [];
  const problems = [...engineProblems(cluster, plan.mode, faults), ...powerProblems(opts, faults)];
  if (problems.length) throw new UsageError(problems);
  const password = runningClusterPassword(cluster.name, dir);
  const docker = await connectEngine();
  const reach = cluster.engine === 'swarm' ? await swarmReach(cluster, topo, opts.connect) : composeReach(docker, cluster, topo, opts.connect);
  const containers = await reach.containers();
  const running = [];
  for (const n of topo.pgpool) if (await containers.running(n.host)) running.push(n.host);
  if (!running.length) throw new UsageError([`cluster ${cluster.name} is not running: no pgpool container of it is up; start it with pgha cluster up`]);

  // The machine and commit as the run starts: a tree edited while it runs must not relabel it.
  const machine = await machineInfo(docker, root);
  const live = !opts.json && process.stderr.isTTY ? (line: string) => logUpdateStderr(line) : undefined;
  const log = opts.json ? (line: string) => console.error(`pgha: ${line}`) : (line: string) => (live ? (logUpdateStderr.clear(), say(line)) : say(line));
  const [target, ...fallbacks] = reach.targets.map((t) => ({ ...t, user: 'postgres', password, database: 'postgres' }));
  const power = POWER_FAULTS.some((f) => faults.includes(f)) ? hostPower(parsedPower(opts.hostOff), parsedPower(opts.hostOn)) : undefined;
  const cut = CUT_FAULTS.some((f) => faults.includes(f)) ? hostPower(parsedPower(opts.hostCut), parsedPower(opts.hostHeal)) : undefined;
  const io: ChaosIo = { containers: reach.containers, cluster, topo, say: log, live, target: target!, fallbacks, power, cut };
  if (plan.mode === 'nemesis') return nemesisCommand(io, plan.options, machine, opts);
  return roundsCommand(io, plan.options, machine, opts);
}

/** `pgha chaos --fault NAME...`: the rounds, their record and timelines; 1 when not healed or (sync) a write was lost. */
async function roundsCommand(io: ChaosIo, options: ChaosOptions, machine: Machine, opts: ChaosCommandOptions): Promise<number> {
  const { cluster } = io;
  const run = await runChaos(io, options);
  if (io.live) logUpdateStderr.clear();
  const rec = chaosRecord(run, machine, { name: cluster.name, engine: cluster.engine, replication: cluster.postgres.replication, postgresNodes: cluster.postgres.nodes, pgpoolNodes: cluster.pgpool.nodes, timings: cluster.timings, databaseMB: run.databaseMB }, options);
  if (opts.results !== false) {
    const resultsDir = resolve(opts.results);
    const out = writeChaosResults(resultsDir, rec, run.timelines, stampOf(machine));
    io.say(`recorded in ${out}; summary in ${writeResultsMarkdown(resultsDir)}`);
  }
  console.log(opts.json ? JSON.stringify(rec, null, 2) : formatChaos(rec));
  const lost = cluster.postgres.replication === 'sync' && (run.lostAcked === null || run.lostAcked.length > 0);
  return run.aborted || lost ? 1 : 0;
}

/** The faults this cluster's engine can take, one line per one it cannot. */
function engineProblems(cluster: Cluster, mode: ChaosPlan['mode'], faults: FaultName[]): string[] {
  if (cluster.engine !== 'swarm') return faults.filter((f) => HOST_FAULTS.includes(f)).map((f) => `--fault ${f}: expected a cluster on several hosts (engine: swarm); ${cluster.name} runs on one`);
  if (mode === 'nemesis') return ['--fault random: the nemesis drives a compose cluster only so far (its cut-off uses this machine\'s bridge)'];
  return faults.filter((f) => SINGLE_HOST_FAULTS.includes(f)).map((f) => `--fault ${f}: expected a compose cluster (on a swarm ${f === 'isolate-primary' ? 'use host-kill; a cut-off needs the hosts\' own firewall' : 'Swarm restarts a killed task itself: use kill-primary'})`);
}

/** A pair of host commands (power, cut): both given, each a usable template, when a fault of theirs is asked for. */
const HOST_COMMANDS = [
  { faults: POWER_FAULTS, first: ['--host-off', 'hostOff', 'powers a host off', 'virsh destroy {host}'], second: ['--host-on', 'hostOn', 'powers a host on', 'virsh start {host}'] },
  { faults: CUT_FAULTS, first: ['--host-cut', 'hostCut', 'cuts a host off from the other hosts', 'ssh {host} sudo /usr/local/sbin/cut-off'], second: ['--host-heal', 'hostHeal', 'heals a host\'s cut', 'ssh {host} sudo /usr/local/sbin/heal'] },
] as const;

function powerProblems(opts: ChaosCommandOptions, faults: FaultName[]): string[] {
  return HOST_COMMANDS.flatMap(({ faults: mine, first, second }) => {
    const wanted = mine.some((f) => faults.includes(f));
    return [first, second].flatMap(([flag, key, what, example]) => {
      const value = opts[key];
      if (!wanted) return value === undefined ? [] : [`${flag}: expected only with --fault ${mine.join(' or ')}`];
      if (value === undefined) return [`${flag}: expected the command that ${what}, with {host} (as '${example}')`];
      const argv = parsePowerCommand(flag, value);
      return 'problem' in argv ? [argv.problem] : [];
    });
  });
}

const parsedPower = (template: string | undefined): string[] => parsePowerCommand('', template ?? '') as string[];

/** `pgha chaos --fault random`: the nemesis, its record and timelines; 1 when a check failed. */
async function nemesisCommand(io: ChaosIo, options: NemesisOptions, machine: Machine, opts: ChaosCommandOptions): Promise<number> {
  const { cluster } = io;
  const stamp = stampOf(machine);
  // A failed check keeps every container's log beside the record (or in a temporary directory with --no-results).
  const logsDir = opts.results !== false ? join(resolve(opts.results), `${machine.date.slice(0, 10)}-${machine.commit}`, `nemesis-${stamp}-logs`) : mkdtempSync(join(tmpdir(), 'pgha-nemesis-logs-'));
  io.say(`nemesis: seed ${options.seed}, ${(options.durationMs / 1000).toFixed(0)} s (rerun with --seed ${options.seed} for the same schedule)`);
  const run = await runNemesis(io, options, logsDir);
  if (io.live) logUpdateStderr.clear();
  const rec = nemesisRecord(run, machine, { name: cluster.name, replication: cluster.postgres.replication, durability: cluster.postgres.durability, postgresNodes: cluster.postgres.nodes, pgpoolNodes: cluster.pgpool.nodes }, options);
  if (opts.results !== false) {
    const resultsDir = resolve(opts.results);
    const out = writeNemesisResults(resultsDir, rec, nemesisTimelines(run, run.attempts, `${cluster.name}, seed ${options.seed}`), stamp);
    io.say(`recorded in ${out}; summary in ${writeResultsMarkdown(resultsDir)}`);
  }
  console.log(opts.json ? JSON.stringify(rec, null, 2) : formatNemesis(rec));
  return rec.passed ? 0 : 1;
}
