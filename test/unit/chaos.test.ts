import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseChaosOptions, type ChaosCommandOptions } from '../../src/commands/chaos.js';
import { UsageError } from '../../src/errors.js';
import { parseEvents } from '../../src/chaos/events.js';
import { roundMetrics, spread, type RoundMarks } from '../../src/chaos/metrics.js';
import type { Attempt } from '../../src/chaos/probe.js';
import { timelineSvg } from '../../src/chaos/timeline.js';
import { resultsMarkdown } from '../../src/bench/results.js';
import { chaosRecord, formatChaos, writeChaosResults } from '../../src/chaos/report.js';
import type { ChaosRun } from '../../src/chaos/run.js';
import { planFault } from '../../src/chaos/faults.js';
import { hostPower, parsePowerCommand, powerArgv } from '../../src/chaos/power.js';
import { parseConnect } from '../../src/chaos/reach.js';
import type { Topology } from '../../src/cluster/topology.js';
import type { ClusterContainers } from '../../src/deploy/inspect.js';
import { ROOT } from '../helpers.js';

const T0 = Date.parse('2026-11-22T06:00:00Z');

/** A lane of ticks every 100 ms from `from` to `to` (ms after T0); failing inside [downFrom, downTo). */
function lane(l: 'new' | 'pooled', from: number, to: number, downFrom: number, downTo: number, seq0: number): Attempt[] {
  const out: Attempt[] = [];
  let seq = seq0;
  for (let t = from; t < to; t += 100) {
    const ok = t < downFrom || t >= downTo;
    out.push({ lane: l, op: 'write', seq: seq++, start: T0 + t, end: T0 + t + 20, ok, server: ok ? '172.30.0.11' : undefined, error: ok ? undefined : 'connection refused' });
    out.push({ lane: l, op: 'read', start: T0 + t + 20, end: T0 + t + 30, ok, server: ok ? '172.30.0.11' : undefined, error: ok ? undefined : 'connection refused' });
  }
  return out;
}

const marks: RoundMarks = { from: T0, to: T0 + 20_000, injected: T0 + 4_990, fault: T0 + 5_000, restarted: T0 + 12_000, healed: T0 + 18_000 };

describe('chaos metrics', () => {
  const attempts = [...lane('new', 0, 20_000, 5_000, 9_000, 1), ...lane('pooled', 0, 20_000, 5_000, 10_000, 100_000)];
  const events = parseEvents(
    'pgpool0',
    [
      '2026-11-22T06:00:04.000000000Z 2026-11-22 06:00:04.000: health_check0 pid 3: LOG:  received degenerate backend request for node_id: 0 from pid [3]',
      '2026-11-22T06:00:07.000000000Z 2026-11-22 06:00:07.000: health_check0 pid 3: LOG:  received degenerate backend request for node_id: 0 from pid [3]',
      '2026-11-22T06:00:07.500000000Z 2026-11-22 06:00:07.500: main pid 1: LOG:  === Starting degeneration. shutdown host pg0(5432) ===',
      'not a log line',
      '2026-11-22T06:00:08.000000000Z 2026-11-22T06:00:08Z pgha[vip.sh] node=pgpool0 action=vip-up: 172.30.0.100/24 added to eth0',
    ].join('\n'),
  ).concat(parseEvents('pg1', '2026-11-22T06:00:07.800000000Z 2026-11-22 06:00:07.800 UTC [9] LOG:  received promote request\n'));

  it('names the nodes\' moments from their log lines, with the engine timestamps', () => {
    expect(events.map((e) => e.kind)).toEqual(['detected', 'detected', 'failoverStart', 'vipUp', 'promoted']);
    expect(events[0]!.at).toBe(T0 + 4_000);
  });

  it('measures unavailability per lane from the last acknowledged write before the fault to the first after it', () => {
    const m = roundMetrics(attempts, events, marks, null, 'pgpool1');
    // Last ok write before the fault ended at 4.92 s; first ok after it ended at 9.02 s (new), 10.02 s (pooled).
    expect(m.writeUnavailableMs).toEqual({ new: 4_100, pooled: 5_100 });
    expect(m.worstWriteUnavailableMs).toBe(5_100);
    expect(m.readUnavailableMs.new).toBe(4_100);
    // Detection counts from the request, and an event before it (an earlier round) is ignored.
    expect(m.detectionMs).toBe(2_010);
    expect(m.promotionMs).toBe(2_810);
    expect(m.vipMoveMs).toBe(3_010);
    expect(m.rejoinMs).toBe(6_000);
  });

  it('a new watchdog leader counts from the request; none announced, no figure', () => {
    const elected = parseEvents('pgpool2', '2026-11-22T06:00:09.000000000Z 2026-11-22 06:00:09.000: watchdog pid 7: LOG:  I am the cluster leader node\n');
    expect(elected.map((e) => e.kind)).toEqual(['leaderElected']);
    expect(roundMetrics(attempts, [...events, ...elected], marks, null, null).leaderMs).toBe(4_010);
    expect(roundMetrics(attempts, events, marks, null, null).leaderMs).toBeNull();
  });

  it('no delegate IP move when the node that holds it brings it up again', () => {
    expect(roundMetrics(attempts, events, marks, null, 'pgpool0').vipMoveMs).toBeNull();
  });

  it('a lane that never writes again has no unavailability figure, and the worst of the lanes is unknown', () => {
    const m = roundMetrics(lane('new', 0, 20_000, 5_000, 30_000, 1), [], marks, null, null);
    expect(m.writeUnavailableMs.new).toBeNull();
    expect(m.worstWriteUnavailableMs).toBeNull();
  });

  it('acknowledged writes missing at the end are lost; failed writes present at the end are visible after an error', () => {
    const committed = new Set(attempts.filter((a) => a.op === 'write' && a.seq !== undefined).map((a) => a.seq!));
    committed.delete(3); // acknowledged (t = 0.2 s), gone
    const failed = attempts.find((a) => a.op === 'write' && !a.ok)!;
    const m = roundMetrics(attempts, [], marks, committed, null);
    expect(m.lostAcked).toEqual([3]);
    expect(m.visibleAfterError).toContain(failed.seq);
    const none = roundMetrics(attempts, [], marks, new Set(attempts.filter((a) => a.op === 'write' && a.ok).map((a) => a.seq!)), null);
    expect(none.lostAcked).toEqual([]);
    expect(none.visibleAfterError).toEqual([]);
  });

  it('spread: min, median (mean of the middle two when even), max, and rounds without a value left out', () => {
    expect(spread([3, null, 1, 2])).toEqual({ min: 1, median: 2, max: 3, n: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4, n: 4 });
    expect(spread([null])).toBeNull();
  });

  it('the timeline has a lane per probe kind, a mark per attempt coloured by outcome, the moments and the events', () => {
    const svg = timelineSvg('kill-primary, round 1 <pg0>', attempts, events, marks);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('kill-primary, round 1 &lt;pg0&gt;');
    for (const label of ['new connection write', 'new connection read', 'pooled connection write', 'pooled connection read', '>fault<', '>restarted<', '>healed<']) expect(svg).toContain(label);
    expect(svg.match(/fill="#d62728"><title>/g)!.length).toBe(attempts.filter((a) => !a.ok).length);
    expect(svg.match(/fill="#2e9e44"><title>/g)!.length).toBe(attempts.filter((a) => a.ok).length);
    expect(svg).toContain('received promote request');
  });
});

describe('chaos records', () => {
  const run: ChaosRun = {
    rounds: [
      {
        fault: 'kill-primary',
        round: 1,
        targets: ['pg0'],
        before: { primary: 'pg0', leader: 'pgpool0', vipHolder: 'pgpool0' },
        after: { primary: 'pg1', leader: 'pgpool0', vipHolder: 'pgpool0' },
        marks,
        metrics: roundMetrics(lane('new', 0, 20_000, 5_000, 9_000, 1), [], marks, null, null),
        events: [],
      },
    ],
    summary: { 'kill-primary': { worstWriteUnavailableMs: spread([4_100]) } },
    lostAcked: [],
    timelines: new Map([['kill-primary-round1.svg', '<svg/>']]),
    databaseMB: 2048,
  };
  const machine = { date: '2026-11-22T06:00:00.000Z', commit: 'abc1234', cores: 2, cpu: 'cpu', memoryGiB: 24, kernel: '6.1', engine: 'Docker Engine 20.10' };
  const rec = chaosRecord(run, machine, { name: 'pgha', replication: 'sync', postgresNodes: 2, pgpoolNodes: 3, timings: {}, databaseMB: run.databaseMB }, parseChaosOptions(options({})));

  it('times in the record are relative to the fault', () => {
    expect(rec.rounds[0]!.marks).toMatchObject({ fault: 0, from: -5_000, restarted: 7_000, healed: 13_000 });
  });

  it('the table names every round and the summary per fault', () => {
    const text = formatChaos(rec);
    expect(text).toMatch(/kill-primary\s+1\s+pg0\s+4\.1 \/ -/);
    expect(text).toContain('writes unavailable (s)         4.1 / 4.1 / 4.1');
    expect(text).toContain('commit abc1234');
  });

  it('the targets read the newest run by when it ran, not by the name of its directory (runs of one day sort by commit hash)', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-bench-'));
    // Later in the day, but its commit sorts first.
    // The timing targets are for the default cluster shape (2 postgres, async, 3 pgpool).
    const early = { ...rec, cluster: { ...rec.cluster, replication: 'async' } };
    const late = { ...early, machine: { ...machine, date: '2026-11-22T09:00:00.000Z', commit: '0000aaa' }, summary: { 'kill-primary': { worstWriteUnavailableMs: spread([3_000]) } } };
    writeChaosResults(join(root, 'results'), early, run.timelines, '060000');
    writeChaosResults(join(root, 'results'), late, run.timelines, '090000');
    const md = resultsMarkdown(join(root, 'results'), root);
    expect(md).toContain('| kill-primary: writes unavailable, median <= 5 s | 3.0 s | 1 | 2026-11-22T09:00 0000aaa | yes |');
    // Newest first in the list of runs too.
    expect(md.indexOf('commit 0000aaa')).toBeLessThan(md.indexOf('commit abc1234'));
  });

  it('results land under <date>-<commit>/ with their timelines, and RESULTS.md links them and checks the targets', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-bench-'));
    const dir = writeChaosResults(join(root, 'results'), rec, run.timelines, '060000');
    expect(dir).toBe(join(root, 'results', '2026-11-22-abc1234'));
    expect(JSON.parse(readFileSync(join(dir, 'chaos-060000.json'), 'utf8')).rounds[0].timeline).toBe('chaos-060000-kill-primary-round1.svg');
    expect(readFileSync(join(dir, 'chaos-060000-kill-primary-round1.svg'), 'utf8')).toBe('<svg/>');
    const md = resultsMarkdown(join(root, 'results'), root);
    expect(md).toContain('[kill-primary 1](results/2026-11-22-abc1234/chaos-060000-kill-primary-round1.svg)');
    expect(md).toContain('### 2026-11-22T06:00:00.000Z · commit abc1234 · 2 postgres (sync) + 3 pgpool · 2048 MB of data');
    // A synchronous run counts for zero loss, not for the default cluster's timings.
    expect(md).toContain('| kill-primary: writes unavailable, median <= 5 s | not measured |');
    writeChaosResults(join(root, 'results'), { ...rec, cluster: { ...rec.cluster, replication: 'async' }, lostAcked: [] }, run.timelines, '070000');
    const md2 = resultsMarkdown(join(root, 'results'), root);
    expect(md2).toContain('| kill-primary: writes unavailable, median <= 5 s | 4.1 s | 1 | 2026-11-22T06:00 abc1234 | yes |');
    expect(md2).toContain('| kill-leader: delegate IP answering writes again, median <= 6 s | not measured |');
    expect(md).toMatch(/synchronous replication, 2 postgres nodes: 0 acknowledged writes lost, every round \| 0 lost over 1 runs \| 1 \|/);
    expect(md).toContain("| synchronous replication, 3 postgres nodes: 0 acknowledged writes lost, every round | not measured |");
  });
});

describe('host faults (a swarm)', () => {
  const hosts = [
    { name: 'rig-a', nodes: ['pg0', 'pgpool0'] },
    { name: 'rig-b', nodes: ['pg1', 'pgpool1'] },
    { name: 'rig-c', nodes: ['pgpool2'] },
  ];
  const calls: string[] = [];
  const power = { off: async (h: string) => void calls.push(`off ${h}`), on: async (h: string) => void calls.push(`on ${h}`) };
  const killed: string[] = [];
  const containers = { name: (h: string) => h, get: (h: string) => ({ kill: async () => void killed.push(h), start: async () => void killed.push(`start ${h}`) }), running: async () => true, state: async () => 'running' } as unknown as ClusterContainers;
  const ctx = { containers, topo: {} as Topology, hosts, power, primary: 'pg1', leader: 'pgpool0:9000 Linux 3f2a' };
  const timing = { holdSeconds: 20, downSeconds: 7 };

  it('host-kill powers off the primary\'s host and on again after --down; host-kill-leader the leader\'s (named with its port)', async () => {
    const plan = planFault('host-kill', ctx, timing);
    expect([plan.targets, plan.downSeconds]).toEqual([['rig-b (pg1 pgpool1)'], 7]);
    await plan.inject();
    await plan.restart!();
    const leader = planFault('host-kill-leader', ctx, timing);
    expect(leader.targets).toEqual(['rig-a (pg0 pgpool0)']);
    await leader.inject();
    expect(calls).toEqual(['off rig-b', 'on rig-b', 'off rig-a']);
  });

  it('a killed task is not started again on a swarm (Swarm replaces it), but is on one host', async () => {
    const swarm = planFault('kill-primary', ctx, timing);
    await swarm.inject();
    expect([killed, swarm.restart]).toEqual([['pg1'], undefined]);
    const compose = planFault('kill-primary', { ...ctx, hosts: undefined }, timing);
    await compose.restart!();
    expect(killed).toEqual(['pg1', 'start pg1']);
  });

  it('power commands: argv with {host} replaced, no shell; a host name that could be an option or a path is refused', async () => {
    expect(parsePowerCommand('--host-off', '  docker   kill {host} ')).toEqual(['docker', 'kill', '{host}']);
    expect(powerArgv(['ssh', 'root@{host}.lab', 'systemctl', 'stop', 'docker'], 'rig-a')).toEqual(['ssh', 'root@rig-a.lab', 'systemctl', 'stop', 'docker']);
    expect(() => powerArgv(['docker', 'kill', '{host}'], '-rf')).toThrow(/host name "-rf": expected letters/);
    const p = hostPower(['true', '{host}'], ['false', '{host}']);
    await p.off('rig-a');
    await expect(p.on('rig-a')).rejects.toThrow(/^false rig-a: exit 1/);
  });

  it('--connect: host:port entries in order; anything else is one line naming the flag', () => {
    expect(parseConnect('10.0.0.5:9999,db-b:10000,[fd00::7]:9999')).toEqual([{ host: '10.0.0.5', port: 9999 }, { host: 'db-b', port: 10000 }, { host: 'fd00::7', port: 9999 }]);
    expect(parseConnect('10.0.0.5')).toEqual({ problem: '--connect: expected host:port[,host:port...], got "10.0.0.5"' });
    expect(parseConnect('a:70000')).toEqual({ problem: '--connect: expected host:port[,host:port...], got "a:70000"' });
  });
});

function options(o: Partial<ChaosCommandOptions>): ChaosCommandOptions {
  return { fault: ['kill-primary'], rounds: '1', intervalMs: '100', timeoutMs: '2000', warmup: '5', hold: '20', down: '10', healTimeout: '180', results: false, ...o };
}

describe('pgha chaos options', () => {
  it('turns the flags into options', () => {
    expect(parseChaosOptions(options({ fault: ['kill-primary', 'kill-leader'], rounds: '10' }))).toMatchObject({ faults: ['kill-primary', 'kill-leader'], rounds: 10, healTimeoutSeconds: 180 });
  });

  it('collects every bad flag, one line each naming it', () => {
    let err: unknown;
    try {
      parseChaosOptions(options({ fault: ['kill-everything'], rounds: '0', intervalMs: 'fast' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).reasons).toEqual([
      '--fault: expected one of kill-primary, pause-primary, pause-standby, isolate-primary, kill-leader, kill-leader-and-primary, restart-old-primary, host-kill, host-kill-leader, host-partition, random, got kill-everything',
      '--rounds: expected a whole number from 1 to 1000, got 0',
      '--interval-ms: expected a whole number from 20 to 10000, got fast',
    ]);
  });

  const pgha = (...args: string[]) => spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'chaos', ...args], { cwd: ROOT, encoding: 'utf8' });

  it('the CLI: an unknown fault is one line and exit 2, before anything is asked of the engine', () => {
    const r = pgha('--fault', 'kill-everything', '--no-results');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['pgha: --fault: expected one of kill-primary, pause-primary, pause-standby, isolate-primary, kill-leader, kill-leader-and-primary, restart-old-primary, host-kill, host-kill-leader, host-partition, random, got kill-everything']);
  });

  it('the CLI: a host fault on a cluster of one host, and a power command without {host}, are refused together before anything runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-chaos-'));
    const def = join(dir, 'cluster.yaml');
    writeFileSync(def, 'name: nowhere\n');
    const r = pgha('--cluster', def, '--dir', dir, '--no-results', '--fault', 'host-kill', '--host-off', 'virsh destroy');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'pgha: --fault host-kill: expected a cluster on several hosts (engine: swarm); nowhere runs on one',
      'pgha: --host-off: expected {host} in the command (the host\'s name from cluster.yaml), got virsh destroy',
      "pgha: --host-on: expected the command that powers a host on, with {host} (as 'virsh start {host}')",
    ]);
    const stray = pgha('--cluster', def, '--dir', dir, '--no-results', '--host-on', 'virsh start {host}');
    expect(stray.status).toBe(2);
    expect(stray.stderr.trim()).toBe('pgha: --host-on: expected only with --fault host-kill or host-kill-leader');
    // host-partition takes its own pair of commands, and refuses the power pair.
    const cut = pgha('--cluster', def, '--dir', dir, '--no-results', '--fault', 'host-partition', '--host-cut', 'cut-off {host}', '--host-off', 'virsh destroy {host}');
    expect(cut.status).toBe(2);
    expect(cut.stderr.trim().split('\n')).toEqual([
      'pgha: --fault host-partition: expected a cluster on several hosts (engine: swarm); nowhere runs on one',
      'pgha: --host-off: expected only with --fault host-kill or host-kill-leader',
      "pgha: --host-heal: expected the command that heals a host's cut, with {host} (as 'ssh {host} sudo /usr/local/sbin/heal')",
    ]);
  });

  it('the CLI: a cluster that is not running here is one line and exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-chaos-'));
    const def = join(dir, 'cluster.yaml');
    writeFileSync(def, 'name: nowhere\n');
    const r = pgha('--cluster', def, '--dir', dir, '--no-results');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`pgha: cluster nowhere is not running here: ${join(dir, 'secrets/postgres_password')} is missing; start it with pgha cluster up`);
  });
});
