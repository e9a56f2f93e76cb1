import { describe, expect, it } from 'vitest';
import { formatBench, type BenchRecord } from '../../src/bench/report.js';
import { benchAddress, benchRatios, cpuProfile, type Measurement } from '../../src/bench/run.js';
import { benchResultsMarkdown } from '../../src/bench/report.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_OFFSETS, benchImageRef, haproxyCfg, pgbouncerIni, samplePgpoolOverrides } from '../../src/bench/proxies.js';
import type { Topology } from '../../src/cluster/topology.js';
import { targetsMarkdown } from '../../src/bench/targets.js';

const m = (round: number, target: Measurement['target'], tps: number, mode: Measurement['mode'] = 'select-only', clients = 8): Measurement => ({ round, target, mode, clients, tps });

describe('bench', () => {
  const measurements = [
    m(1, 'direct', 1000), m(1, 'pgpool', 500), m(1, 'pgpool-sample', 650), m(1, 'pgbouncer', 700), m(1, 'haproxy', 900),
    m(2, 'direct', 2000), m(2, 'pgpool', 1200), m(2, 'pgbouncer', 1400), m(2, 'haproxy', 1900),
    m(3, 'direct', 1000), m(3, 'pgpool', 550), m(3, 'pgbouncer', 720), m(3, 'haproxy', 880),
    m(1, 'direct', 100, 'tpcb-like', 32), m(1, 'pgpool', 80, 'tpcb-like', 32),
  ];

  it('pairs each proxy with direct of the same round, so a slow round hits both sides', () => {
    const { ratios, direct } = benchRatios(measurements);
    expect(direct['select-only/8']).toEqual({ min: 1000, median: 1000, max: 2000, n: 3 });
    expect(ratios['select-only/8']!.pgpool).toEqual({ min: 0.5, median: 0.55, max: 0.6, n: 3 });
    expect(ratios['select-only/8']!.haproxy!.median).toBeCloseTo(0.9);
    expect(ratios['tpcb-like/32']!.pgpool).toEqual({ min: 0.8, median: 0.8, max: 0.8, n: 1 });
    expect(ratios['tpcb-like/32']!.pgbouncer).toBeNull();
  });

  it('prints a row per configuration with each ratio as median (range)', () => {
    const rec = { kind: 'bench', machine: { date: 'd', commit: 'c', cores: 2, cpu: 'x', memoryGiB: 24, kernel: 'k', engine: 'e' }, options: { rounds: 3, seconds: 10, clients: [8], scale: 10 }, primary: 'pg0', measurements, pgpoolSettings: { max_pool: '2' }, ...benchRatios(measurements) } satisfies BenchRecord;
    expect(formatBench(rec)).toMatch(/PGPOOL \/ DIRECT\s+PGPOOL-SAMPLE \/ DIRECT\s+PGBOUNCER \/ DIRECT/);
    expect(formatBench(rec)).toMatch(/select-only\/8\s+1000\s+0\.55 \(0\.50-0\.60\)\s+0\.65 \(0\.65-0\.65\)\s+0\.70 \(0\.70-0\.72\)/);
    expect(formatBench(rec)).toContain('max_pool=2');
  });

  it('profile: CPU ms per 1000 transactions per group, median over the rounds; absent where not measured', () => {
    const cpu = (round: number, target: Measurement['target'], transactions: number, client: number, pgpool: number, postgres: number): Measurement => ({ ...m(round, target, transactions / 10), transactions, cpuMs: { client, pgpool, postgres } });
    const ms = [cpu(1, 'direct', 10_000, 2_000, 100, 8_000), cpu(2, 'direct', 20_000, 4_400, 100, 15_000), cpu(1, 'pgpool', 5_000, 1_000, 6_000, 4_000), cpu(2, 'pgpool', 5_000, 1_100, 7_000, 4_000), m(3, 'haproxy', 900)];
    const p = cpuProfile(ms)['select-only/8']!;
    expect(p.direct).toEqual({ client: 210, pgpool: 7.5, postgres: 775 });
    expect(p.pgpool).toEqual({ client: 210, pgpool: 1300, postgres: 800 });
    expect(p.haproxy).toBeNull();
    const dir = mkdtempSync(join(tmpdir(), 'pgha-bench-'));
    mkdirSync(join(dir, 'results', 'x'), { recursive: true });
    const rec = { kind: 'bench', machine: { date: 'd', commit: 'c', cores: 2, cpu: 'x', memoryGiB: 24, kernel: 'k', engine: 'e' }, options: { rounds: 2, seconds: 10, clients: [8], scale: 10 }, primary: 'pg0', measurements: ms, pgpoolSettings: {}, ...benchRatios(ms), cpuPerKTx: cpuProfile(ms), alarms: { failovers: 1, vipMoves: 0, healthCheckFailures: 6 } } satisfies BenchRecord;
    writeFileSync(join(dir, 'results', 'x', 'bench-000000.json'), JSON.stringify(rec));
    expect(benchResultsMarkdown(join(dir, 'results'), dir)).toContain('| select-only/8 | 210 / 8 / 775 | 210 / 1300 / 800 | - | - | - |\n');
    expect(formatBench(rec)).toContain('During the run, at full CPU: 1 failovers, 0 delegate IP moves, 6 failed or retried health checks.');
  });

  it('the sample-config pgpool: the upstream sample plus listen, paths, the sr check user and the backends, primary first', () => {
    const conf = samplePgpoolOverrides([{ host: '172.30.0.11', port: 5432 }, { host: '172.30.0.10', port: 5432 }]);
    expect(conf).toContain("listen_addresses = '*'\nport = 9999\n");
    expect(conf).toContain("backend_hostname0 = '172.30.0.11'\nbackend_port0 = 5432\nbackend_hostname1 = '172.30.0.10'\nbackend_port1 = 5432\n");
    // Nothing of the generated tuning: the sample's own values stand.
    expect(conf).not.toMatch(/num_init_children|max_pool|load_balance_mode|ssl|health_check/);
  });

  it('the bench containers sit at .30 and .31 of the subnet, never on the delegate IP', () => {
    const topo = { gateway: '10.9.8.1', delegateIp: '10.9.8.100' } as Topology;
    expect(benchAddress(topo, BENCH_OFFSETS.bench)).toBe('10.9.8.30');
    expect(benchAddress(topo, BENCH_OFFSETS.samplePgpool)).toBe('10.9.8.31');
    expect(() => benchAddress({ ...topo, delegateIp: '10.9.8.31' }, BENCH_OFFSETS.samplePgpool)).toThrow(/10\.9\.8\.31 .* is the cluster's delegate IP: choose network\.delegateIp elsewhere/);
  });

  it('pgbouncer pools transactions to the primary with scram; HAProxy relays plain TCP', () => {
    expect(pgbouncerIni('172.30.0.10', 5432)).toMatch(/\* = host=172\.30\.0\.10 port=5432[\s\S]*auth_type = scram-sha-256[\s\S]*pool_mode = transaction/);
    expect(haproxyCfg('172.30.0.10', 5432)).toMatch(/mode tcp[\s\S]*server primary 172\.30\.0\.10:5432/);
    expect(benchImageRef('pgha/postgres:15.17-pgpool4.7.2')).toBe('pgha/bench:15.17-pgpool4.7.2');
  });
});

describe('targets in bench/RESULTS.md', () => {
  const machine = (date: string, commit: string) => ({ date, commit, cores: 2, cpu: 'x', memoryGiB: 24, kernel: 'k', engine: 'e' });
  const spreadOf = (ms: number) => ({ min: ms, median: ms, max: ms, n: 3 });
  const rejoinRun = (date: string, commit: string, databaseMB: number, rejoinMs: number) => ({
    kind: 'chaos', machine: machine(date, commit), options: {}, cluster: { name: 'pgha', replication: 'async', postgresNodes: 2, pgpoolNodes: 3, timings: {}, databaseMB },
    rounds: [], lostAcked: [], summary: { 'restart-old-primary': { rejoinMs: spreadOf(rejoinMs) } },
  });
  function resultsWith(records: { kind: string; machine: { date: string; commit: string } }[]): string {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-targets-'));
    records.forEach((r, i) => {
      mkdirSync(join(dir, 'results', `run${i}`), { recursive: true });
      writeFileSync(join(dir, 'results', `run${i}`, `${r.kind}-00000${i}.json`), JSON.stringify(r));
    });
    return targetsMarkdown(join(dir, 'results'));
  }

  it('the ~2 GB rejoin against the newest dev-size one: within 2x is met, beyond is not', () => {
    const ok = resultsWith([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000), rejoinRun('2026-11-23T11:00', 'big', 1966, 15_000)]);
    expect(ok).toContain('| 15.0 s at 1966 MB against 8.0 s at 22 MB (2026-11-23T10:00 small): 1.88x | 3 | 2026-11-23T11:00 big | yes |');
    const slow = resultsWith([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000), rejoinRun('2026-11-23T11:00', 'big', 1966, 17_000)]);
    expect(slow).toMatch(/: 2\.13x \| 3 \| 2026-11-23T11:00 big \| \*\*no\*\* \|/);
    expect(resultsWith([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000)])).toMatch(/MB of data: back as a streaming standby, median within 2x the dev size's \| not measured \|/);
  });

  it('the soak: any failover or delegate IP move misses the target', () => {
    const soak = (date: string, failovers: number, vipMoves: number) => ({ kind: 'soak', machine: machine(date, 'c'), timings: {}, seconds: 600, clients: 32, tps: 500, failovers, vipMoves, healthCheckFailures: 0, events: [] });
    expect(resultsWith([soak('2026-11-23T09:00', 1, 0), soak('2026-11-23T10:00', 0, 0)])).toContain('| 0 failovers, 0 moves in 600 s | 1 | 2026-11-23T10:00 c | yes |');
    expect(resultsWith([soak('2026-11-23T10:00', 0, 1)])).toContain('| 0 failovers, 1 moves in 600 s | 1 | 2026-11-23T10:00 c | **no** |');
  });

  it('the bench: the generated pgpool must reach the floor and beat pgbouncer at every client count', () => {
    const ms = [m(1, 'direct', 1000), m(1, 'pgpool', 800), m(1, 'pgbouncer', 700), m(1, 'direct', 1000, 'select-only', 32), m(1, 'pgpool', 760, 'select-only', 32), m(1, 'pgbouncer', 780, 'select-only', 32)];
    const rec = { kind: 'bench', machine: machine('2026-11-23T10:00', 'c'), options: { rounds: 1, seconds: 10, clients: [8, 32], scale: 10 }, primary: 'pg0', measurements: ms, pgpoolSettings: {}, ...benchRatios(ms) };
    const md = resultsWith([rec]);
    expect(md).toContain('| bench select-only: generated pgpool >= 0.75 of direct and ahead of pgbouncer | 8 clients 0.80 (pgbouncer 0.70), 32 clients 0.76 (pgbouncer 0.78) | 1 | 2026-11-23T10:00 c | **no**');
    expect(md).toContain('| bench tpcb-like: generated pgpool >= 0.85 of direct and ahead of pgbouncer | not measured |');
  });
});
