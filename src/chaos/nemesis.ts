import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { clusterStatus, type ClusterContainers } from '../deploy/inspect.js';
import { timestampedLogsSince } from '../docker/exec.js';
import { cutOff } from '../docker/partition.js';
import { PORTS } from '../images/facts.js';
import { checkRun, twoWritablePrimaries, type CheckLimits, type CheckResult, type HealRecord, type RestartCount, type RoleTick } from './checker.js';
import type { ClusterEvent } from './events.js';
import { Probe, PROBE_TABLE, type Attempt, type ProbeTarget } from './probe.js';
import { logsSince, waitHealed, type ChaosIo } from './run.js';
import { RoleSampler } from './sampler.js';
import { describeEpisode, drawSchedule, type Episode, type NemesisKind, type NemesisTarget, type ScheduledFault } from './schedule.js';

/**
 * `pgha chaos --fault random`: a schedule of faults drawn from a seed (schedule.ts), run
 * episode after episode until the duration is spent, while the probe writes through the
 * delegate IP and the sampler asks every node what it is (sampler.ts); then the checks
 * (checker.ts). A check that fails during the run (two writable primaries, an episode not
 * healed) stops it; any failed check keeps every container's log beside the record.
 */
export interface NemesisOptions {
  seed: number;
  durationMs: number;
  /** Probe cadence and bound, as for the rounds. */
  intervalMs: number;
  timeoutMs: number;
  /** How long to wait for a heal before the run stops (longer than the check's limit, to tell slow from never). */
  healTimeoutMs: number;
  limits: CheckLimits;
}

export interface InjectedFault {
  episode: number;
  kind: NemesisKind;
  target: NemesisTarget;
  /** The container it hit; null when it was skipped (why says why). */
  host: string | null;
  at: number;
  releasedAt: number | null;
  why?: string;
}

export interface EpisodeResult {
  episode: Episode;
  start: number;
  released: number;
  healedAt: number | null;
  /** The run stopped on another check before the heal was waited for. */
  interrupted: boolean;
  /** What was still missing when the heal was given up. */
  notHealed: string | null;
  faults: InjectedFault[];
  events: ClusterEvent[];
}

export interface NemesisRun {
  episodes: EpisodeResult[];
  /** Every probe attempt (for the timelines). */
  attempts: Attempt[];
  ticks: RoleTick[];
  acked: { seq: number; at: number }[];
  committed: number[] | null;
  restarts: RestartCount[];
  checks: CheckResult[];
  /** Why the run stopped before its duration, if it did. */
  stopped: string | null;
  /** Where the containers' logs were kept (a check failed); null otherwise. */
  logsKeptIn: string | null;
  writeErrors: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mutable state the episode loop and the sampler share: the first failed live check stops the run. */
interface Live {
  stop: string | null;
  /** Hosts under a fault right now (a second fault never hits one of them). */
  faulted: Set<string>;
  lastTick: RoleTick | null;
}

export async function runNemesis(io: ChaosIo, opts: NemesisOptions, logsDir: string): Promise<NemesisRun> {
  const first = await waitHealed(io, opts.healTimeoutMs);
  if ('why' in first) throw new Error(`cluster ${io.cluster.name} is not whole before the nemesis starts: ${first.why}`);
  const probe = new Probe(io.target, { intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs });
  await probe.prepare();
  const live: Live = { stop: null, faulted: new Set(), lastTick: null };
  const sampler = new RoleSampler(io.topo.postgres.map((n) => ({ host: n.host, address: n.address })), { port: PORTS.postgres, user: io.target.user, password: io.target.password });
  sampler.onTick = (t) => {
    live.lastTick = t;
    if (!live.stop && twoWritablePrimaries([t]).length) live.stop = `two writable primaries at ${new Date(t.at).toISOString()}: ${Object.entries(t.roles).map(([h, r]) => `${h} ${r}`).join(', ')}`;
  };
  const restartsBefore = await restartCounts(io);
  const runStart = Date.now();
  sampler.start();
  probe.start();
  const episodes: EpisodeResult[] = [];
  try {
    await runEpisodes(io, opts, probe, live, episodes, restartsBefore);
  } finally {
    await Promise.all([probe.stop(), sampler.stop()]);
  }
  return finish(io, opts, { probe, ticks: sampler.ticks, episodes, live, restartsBefore, runStart, logsDir });
}

/** Episodes of the seed's schedule, one after another, until the duration is spent or a live check fails. */
async function runEpisodes(io: ChaosIo, opts: NemesisOptions, probe: Probe, live: Live, out: EpisodeResult[], restartsBefore: RestartCount[]): Promise<void> {
  const end = Date.now() + opts.durationMs;
  // More episodes than any duration uses (each takes several seconds at least).
  for (const episode of drawSchedule(opts.seed, Math.ceil(opts.durationMs / 1000) + 1)) {
    if (Date.now() + episode.quietMs >= end || live.stop) return;
    await sleep(episode.quietMs);
    io.say(`episode ${describeEpisode(episode)}`);
    const result = await runEpisode(io, opts, probe, live, episode);
    out.push(result);
    const heal = result.healedAt === null ? `NOT healed (${result.notHealed})` : `healed ${((result.healedAt - result.released) / 1000).toFixed(1)} s after the release`;
    io.say(`episode ${episode.n}: ${result.faults.map((f) => `${f.kind} ${f.target} ${f.host ?? `skipped (${f.why})`}`).join('; ')}; ${heal}`);
    live.stop ??= await failedBetweenEpisodes(io, opts, result, restartsBefore);
  }
}

/** The checks a run stops on between episodes: a heal too slow or missing, a container the engine keeps restarting. */
async function failedBetweenEpisodes(io: ChaosIo, opts: NemesisOptions, result: EpisodeResult, restartsBefore: RestartCount[]): Promise<string | null> {
  const n = result.episode.n;
  if (result.interrupted) return null;
  if (result.healedAt === null) return `episode ${n} not healed within ${(opts.healTimeoutMs / 1000).toFixed(0)} s of its release: ${result.notHealed}`;
  const healMs = result.healedAt - result.released;
  if (healMs > opts.limits.healMs) return `episode ${n} healed ${(healMs / 1000).toFixed(1)} s after its release (limit ${(opts.limits.healMs / 1000).toFixed(0)} s)`;
  const now = await restartCounts(io);
  const looping = now.filter((r, i) => r.after - (restartsBefore[i]?.before ?? 0) > opts.limits.restarts);
  return looping.length ? `after episode ${n}: ${looping.map((r) => r.container).join(', ')} restarted by the engine more than ${opts.limits.restarts} times` : null;
}

/** One episode: its faults injected at their times and released after their lengths, then the wait for the cluster to heal. */
async function runEpisode(io: ChaosIo, opts: NemesisOptions, probe: Probe, live: Live, episode: Episode): Promise<EpisodeResult> {
  const start = Date.now();
  const faults: InjectedFault[] = [];
  const releases: Promise<void>[] = [];
  for (const f of [...episode.faults].sort((a, b) => a.afterMs - b.afterMs)) {
    await sleep(Math.max(0, start + f.afterMs - Date.now()));
    if (live.stop) break;
    const injected = await inject(io, live, episode.n, f);
    faults.push(injected.fault);
    if (injected.release) releases.push(injected.release);
  }
  await Promise.all(releases);
  const released = Date.now();
  const healed = await waitWhole(io, probe, live, released, opts.healTimeoutMs);
  const healedAt = 'at' in healed ? healed.at : null;
  const events = (await logsSince(io, start - 2000).catch(() => [])).filter((e) => e.at >= start - 2000);
  return { episode, start, released, healedAt, notHealed: 'why' in healed ? healed.why : null, interrupted: healedAt === null && live.stop !== null, faults, events };
}

/** Resolves the fault's target now, injects it, and returns the promise of its release (after its length). */
async function inject(io: ChaosIo, live: Live, episode: number, f: ScheduledFault): Promise<{ fault: InjectedFault; release?: Promise<void> }> {
  const target = await resolveTarget(io, live, f);
  const fault: InjectedFault = { episode, kind: f.kind, target: f.target, host: null, at: Date.now(), releasedAt: null };
  if ('why' in target) return { fault: { ...fault, why: target.why } };
  const host = target.host;
  const actions = faultActions(io, await io.containers(), f.kind, host);
  try {
    await actions.inject();
  } catch (err) {
    return { fault: { ...fault, why: `injection failed: ${(err as Error).message.split('\n')[0]}` } };
  }
  live.faulted.add(host);
  Object.assign(fault, { host, at: Date.now() });
  const release = sleep(f.lastsMs)
    .then(() => releaseWithRetry(actions.release))
    .then(() => {
      fault.releasedAt = Date.now();
      live.faulted.delete(host);
    })
    .catch((err: Error) => {
      live.stop ??= `could not release ${f.kind} of ${host}: ${err.message}`;
    });
  return { fault, release };
}

/** A release (start, unpause, reconnect) is retried for 30 s: an engine busy with the rest must not leave a node down for good. */
async function releaseWithRetry(release: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await release();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(1000);
    }
  }
}

/** The container a role names right now: pgpool's primary and leader, else what the sampler last saw. */
async function resolveTarget(io: ChaosIo, live: Live, f: ScheduledFault): Promise<{ host: string } | { why: string }> {
  const status = await clusterStatus(await io.containers(), io.cluster, io.topo).catch(() => null);
  const sampledPrimary = Object.entries(live.lastTick?.roles ?? {}).find(([, r]) => r === 'writable' || r === 'primary')?.[0];
  const primary = status?.backends.find((b) => b.role === 'primary' && b.status === 'up')?.host ?? sampledPrimary;
  const leader = status?.watchdog.leader ?? undefined;
  const free = (hosts: string[]) => hosts.filter((h) => !live.faulted.has(h));
  let candidates: string[];
  switch (f.target) {
    case 'primary':
      candidates = primary ? free([primary]) : [];
      break;
    case 'standby':
      candidates = free(io.topo.postgres.map((n) => n.host).filter((h) => h !== primary));
      break;
    case 'leader':
      candidates = leader ? free([leader]) : [];
      break;
    case 'pgpool':
      candidates = free(io.topo.pgpool.map((n) => n.host).filter((h) => h !== leader));
      break;
  }
  if (!candidates.length) return { why: `no ${f.target} to hit (${[...live.faulted].join(', ') || 'none'} under a fault; primary ${primary ?? 'unknown'}, leader ${leader ?? 'unknown'})` };
  return { host: candidates[f.pick % candidates.length]! };
}

function faultActions(io: ChaosIo, containers: ClusterContainers, kind: NemesisKind, host: string): { inject: () => Promise<void>; release: () => Promise<void> } {
  const c = containers.get(host);
  switch (kind) {
    case 'kill':
      return { inject: () => c.kill(), release: () => c.start() };
    case 'pause':
      return { inject: () => c.pause(), release: () => c.unpause() };
    case 'isolate': {
      const address = [...io.topo.postgres, ...io.topo.pgpool].find((n) => n.host === host)!.address;
      let heal: (() => Promise<void>) | null = null;
      return {
        inject: async () => {
          heal = (await cutOff(address, `pgha-nemesis ${io.cluster.name}-${host}`)).heal;
        },
        release: async () => {
          await heal?.();
        },
      };
    }
  }
}

/**
 * Healed: the cluster whole (one primary, every standby streaming and attached, a leader, one
 * delegate IP holder), a probe write through the delegate IP acknowledged after the release,
 * and a write through the published pgpool ports as a multi-host client makes it. The time
 * of the first moment all three hold; null when they do not within `timeoutMs`.
 */
async function waitWhole(io: ChaosIo, probe: Probe, live: Live, released: number, timeoutMs: number): Promise<{ at: number } | { why: string }> {
  const deadline = released + timeoutMs;
  let why = 'the run stopped';
  while (Date.now() < deadline && !live.stop) {
    const whole = await waitHealed(io, Math.max(1000, deadline - Date.now()));
    if ('why' in whole) return whole;
    const viaVip = probe.attempts.some((a) => a.op === 'write' && a.ok && a.start >= released);
    if (!viaVip) why = 'no write acknowledged through the delegate IP since the release';
    else if (!(await writeThroughPublished(io))) why = 'no write acknowledged through the published ports (a multi-host read-write client)';
    else return { at: whole.at };
    await sleep(500);
  }
  return { why };
}

let publishedSeq = 0;

/** The published pgpool ports, in order, as the probe's targets (0.0.0.0 is reached on loopback). */
function publishedTargets(io: ChaosIo): ProbeTarget[] {
  return io.topo.published.map((p) => ({ ...io.target, host: p.address === '0.0.0.0' ? '127.0.0.1' : p.address, port: p.port }));
}

/**
 * One write as a multi-host client with target_session_attrs=read-write makes it: the
 * published pgpool nodes in order, the first that takes the write. (libpq itself skips a node
 * by the in_hot_standby it reports, patch 0006; a `SHOW transaction_read_only` here would be
 * load-balanced to a standby and skip nodes libpq keeps.)
 */
async function writeThroughPublished(io: ChaosIo): Promise<boolean> {
  if (!io.topo.published.length) return true;
  for (const p of publishedTargets(io)) {
    const c = new pg.Client({ ...p, connectionTimeoutMillis: 3000, query_timeout: 5000 });
    c.on('error', () => {});
    try {
      // Negative sequence numbers: never counted as the probe's acknowledged writes.
      const ok = await c.connect().then(
        () => c.query(`INSERT INTO ${PROBE_TABLE} (seq, lane) VALUES ($1, 'published')`, [-++publishedSeq]).then(() => true, () => false),
        () => false,
      );
      if (ok) return true;
    } finally {
      await c.end().catch(() => {});
    }
  }
  return false;
}

async function restartCounts(io: ChaosIo): Promise<RestartCount[]> {
  const containers = await io.containers();
  const out: RestartCount[] = [];
  for (const n of [...io.topo.postgres, ...io.topo.pgpool]) {
    const info = await containers.get(n.host).inspect().catch(() => null);
    out.push({ container: containers.name(n.host), before: info?.RestartCount ?? 0, after: info?.RestartCount ?? 0 });
  }
  return out;
}

interface FinishInput {
  probe: Probe;
  ticks: RoleTick[];
  episodes: EpisodeResult[];
  live: Live;
  restartsBefore: RestartCount[];
  runStart: number;
  logsDir: string;
}

/** The end of a run: the committed rows, the restart counts, every check; the logs kept when one failed. */
async function finish(io: ChaosIo, opts: NemesisOptions, f: FinishInput): Promise<NemesisRun> {
  let committed: number[] | null = null;
  const whole = await waitHealed(io, opts.healTimeoutMs);
  // Read through the delegate IP, else any other way in: a run that ends with the delegate IP
  // down must still say which acknowledged writes survived.
  const reader = new Probe(io.target, { intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs }, [...(io.fallbacks ?? []), ...publishedTargets(io)]);
  try {
    committed = [...(await reader.committedSeqs(30_000))];
    await reader.drop(30_000);
  } catch (err) {
    io.say(`could not read or drop the probe table at the end: ${(err as Error).message}`);
  }
  const after = await restartCounts(io);
  const restarts = f.restartsBefore.map((r, i) => ({ ...r, after: after[i]!.after }));
  const writes = f.probe.attempts.filter((a) => a.op === 'write');
  const acked = writes.filter((a) => a.ok).map((a) => ({ seq: a.seq!, at: a.end }));
  const heals: HealRecord[] = f.episodes.map((e) => ({ episode: e.episode.n, released: e.released, healedAt: e.healedAt, interrupted: e.interrupted }));
  const primaryFaultsAt = f.episodes.flatMap((e) => e.faults.filter((x) => x.host && x.target === 'primary').map((x) => x.at));
  const checks = checkRun({ replication: io.cluster.postgres.replication, ticks: f.ticks, acked, committed, primaryFaultsAt, heals, limits: opts.limits, restarts });
  if ('why' in whole) checks.push({ check: 'healed', ok: false, detail: `not whole at the end: ${whole.why}` });
  const failed = checks.some((c) => !c.ok) || f.live.stop !== null;
  const logsKeptIn = failed ? await keepLogs(io, f.runStart, f.logsDir) : null;
  return { episodes: f.episodes, attempts: f.probe.attempts, ticks: f.ticks, acked, committed, restarts, checks, stopped: f.live.stop, logsKeptIn, writeErrors: writes.length - acked.length };
}

/** Every container's log since the run started, one file each under `dir`. */
async function keepLogs(io: ChaosIo, since: number, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const containers = await io.containers();
  for (const n of [...io.topo.postgres, ...io.topo.pgpool]) {
    writeFileSync(join(dir, `${containers.name(n.host)}.log`), await timestampedLogsSince(containers.get(n.host), since - 60_000));
  }
  return dir;
}
