import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterSchema } from '../../src/cluster/schema.js';
import { topology, type Topology } from '../../src/cluster/topology.js';
import { pgpoolEnvironment } from '../../src/render/compose.js';
import { idleRates, runCpu, type CpuRole } from '../../src/bench/cpu.js';
import { figuresOf, type Measurement } from '../../src/bench/figures.js';
import { benchImageRef } from '../../src/bench/image.js';
import { BENCH_OFFSETS, benchAddress, sessionSource, targetEndpoint } from '../../src/bench/layout.js';
import { BENCH_DEFAULTS, benchPlan, connectionProblem, primaryConnections, formatDuration, pgbenchExample, pgbenchInvocation, poolModeOf, rotation, TARGETS, type BenchOptions } from '../../src/bench/plan.js';
import { generatedPgpoolEnv, generatedPgpoolOverrides, haproxyCfg, pgbouncerIni, samplePgpoolOverrides } from '../../src/bench/proxies.js';
import { BENCH_METHOD, benchResultsMarkdown, formatBench, type BenchRecord } from '../../src/bench/report.js';
import type { SeriesRun } from '../../src/bench/series.js';
import { targetsMarkdown } from '../../src/bench/targets.js';
import { hopProblems, parseConninfo, parseSessionCounts, parseSettings, parseShowClients, parseSslRow, sessionProblem, type HopRecord } from '../../src/bench/tls.js';
import { parseBenchFlags, planText } from '../../src/commands/bench.js';

const cluster = clusterSchema.parse({});
const topo = topology(cluster);
const machine = (date = '2026-12-08T10:00:00.000Z', commit = 'c') => ({ date, commit, cores: 2, cpu: 'x', memoryGiB: 24, kernel: 'k', engine: 'e' });
const flags = { series: ['tls', 'plain'], targets: [...TARGETS], modes: ['select-only', 'tpcb-like'], rounds: '5', duration: '60', clients: ['8', '32'] };

describe('the plan', () => {
  const plan = benchPlan(BENCH_DEFAULTS);

  it('defaults: both series, every target, 5 rounds of 60 s, scale at least the clients, the full matrix', () => {
    const { options } = parseBenchFlags(flags);
    expect(options).toEqual(BENCH_DEFAULTS);
    expect(options.scale).toBe(32);
    expect(plan.subset).toBeNull();
    // 2 series x 5 rounds x 2 modes x 2 client counts x 6 targets.
    expect(plan.runs).toHaveLength(240);
    expect(plan.estimatedSeconds).toBeGreaterThan(4 * 3600);
    expect(planText(plan)).toMatch(/the full matrix; planned duration about \d+ h \d+ min$/);
  });

  it('rotates the target order each round, every target once per round', () => {
    expect(plan.orders[0]).toEqual([...TARGETS]);
    expect(plan.orders[1]).toEqual(['pgpool', 'pgpool-sample', 'pgbouncer', 'pgbouncer-session', 'haproxy', 'direct']);
    expect(plan.orders.map((o) => o[0])).toEqual(['direct', 'pgpool', 'pgpool-sample', 'pgbouncer', 'pgbouncer-session']);
    for (const order of plan.orders) expect([...order].sort()).toEqual([...TARGETS].sort());
    expect(rotation(['direct', 'haproxy'], 2)).toEqual(['haproxy', 'direct']);
  });

  it('runs one series after the other; within a round, every mode and client count in the round order', () => {
    const first = plan.runs.slice(0, 6);
    expect(first.map((r) => `${r.series} ${r.round} ${r.mode} ${r.clients} ${r.target}`)).toEqual(plan.orders[0]!.map((t) => `tls 1 select-only 8 ${t}`));
    expect(plan.runs.filter((r) => r.series === 'tls' && r.round === 2).slice(6, 12).map((r) => r.target)).toEqual(plan.orders[1]);
    expect(plan.runs.findIndex((r) => r.series === 'plain')).toBe(120);
  });

  it('a subset keeps direct (every ratio is to it) and says what it leaves out', () => {
    const { options } = parseBenchFlags({ ...flags, series: ['plain'], targets: ['haproxy', 'pgpool'], modes: ['select-only'], rounds: '1', duration: '10', clients: ['8'] });
    const p = benchPlan(options);
    expect(p.options.targets).toEqual(['direct', 'pgpool', 'haproxy']);
    expect(p.runs).toHaveLength(3);
    expect(p.subset).toBe('series tls not run; targets pgpool-sample, pgbouncer, pgbouncer-session not run; modes tpcb-like not run; 1 round (full: 5); 10 s runs (full: 60)');
    expect(p.pgpoolChildren).toBe(12);
    expect(formatDuration(p.estimatedSeconds)).toMatch(/^\d+ min \d+ s$/);
  });

  it('both pgpool targets get num_init_children above the largest client count', () => {
    expect(plan.pgpoolChildren).toBeGreaterThan(32);
    expect(samplePgpoolOverrides([{ host: 'a', port: 1 }], 'plain', plan.pgpoolChildren)).toContain(`num_init_children = ${plan.pgpoolChildren}\n`);
    expect(generatedPgpoolOverrides(plan.pgpoolChildren)).toContain(`num_init_children = ${plan.pgpoolChildren}\n`);
    expect(poolModeOf('pgpool', plan.pgpoolChildren)).toContain(`num_init_children ${plan.pgpoolChildren}`);
  });

  it('refuses a plan the primary cannot take without starving the cluster\'s own checks', () => {
    // pgbouncer 32 + 32, pgpool 36 + 2, sample 36 + 1, a direct or HAProxy run 32, the probe 2.
    expect(primaryConnections(plan)).toBe(173);
    expect(connectionProblem(plan, { max: 221, reserved: 3, used: 5 })).toBeNull();
    expect(connectionProblem(plan, { max: 100, reserved: 3, used: 5 })).toBe(
      "--clients: the primary has 92 free connections (max_connections 100 less 3 reserved and 5 in use) and the plan may hold 173 at once, leaving fewer than 10 for the cluster's own checks; run fewer clients or --targets at a time",
    );
  });

  it('bad flags: one line each naming the flag and what was expected', () => {
    expect(() => parseBenchFlags({ ...flags, series: ['tls', 'both'] })).toThrow(/--series: expected one of tls, plain, got both/);
    expect(() => parseBenchFlags({ ...flags, targets: ['pgcat'] })).toThrow(/--targets: expected one of direct, pgpool, pgpool-sample, pgbouncer, pgbouncer-session, haproxy, got pgcat/);
    expect(() => parseBenchFlags({ ...flags, scale: '10' })).toThrow(/--scale: expected at least the largest client count .*, got 10/);
    expect(() => parseBenchFlags({ ...flags, duration: '0' })).toThrow(/--duration: expected a whole number from 5 to 3600, got 0/);
  });
});

describe('pgbench and the hops', () => {
  it('tls series: every connection verifies TLS against the cluster CA; plain: TLS refused', () => {
    const at = { host: '172.30.0.33', port: 6432 };
    const tls = pgbenchInvocation({ series: 'tls', mode: 'tpcb-like', clients: 32 }, 60, at);
    expect(tls.env).toEqual(['PGSSLMODE=verify-ca', 'PGSSLROOTCERT=/etc/pgha/tls/ca.crt']);
    expect(tls.argv.join(' ')).toBe('pgbench -n -b tpcb-like -M simple -c 32 -j 2 -T 60 -h 172.30.0.33 -p 6432 -U postgres pgha_bench');
    const plain = pgbenchInvocation({ series: 'plain', mode: 'select-only', clients: 1 }, 10, at);
    expect(plain.env).toEqual(['PGSSLMODE=disable']);
    expect(plain.argv).toContain('-j');
    expect(plain.argv[plain.argv.indexOf('-j') + 1]).toBe('1');
    expect(pgbenchExample(benchPlan(BENCH_DEFAULTS))).toBe('PGSSLMODE=verify-ca PGSSLROOTCERT=/etc/pgha/tls/ca.crt pgbench -n -b select-only -M simple -c 8 -j 2 -T 60 -h HOST -p PORT -U postgres pgha_bench');
  });

  it('pgbouncer: both sides TLS against the cluster CA in the tls series, none in plain; transaction and session pooling', () => {
    const ini = pgbouncerIni({ host: '172.30.0.10', port: 5432 }, 'transaction', 'tls', 32);
    expect(ini).toMatch(/pgha_bench = host=172\.30\.0\.10 port=5432 dbname=pgha_bench/);
    expect(ini).toMatch(/client_tls_sslmode = require\nclient_tls_cert_file = \S+server\.crt\nclient_tls_key_file = \S+server\.key\nserver_tls_sslmode = verify-ca\nserver_tls_ca_file = \S+ca\.crt/);
    expect(ini).toMatch(/pool_mode = transaction[\s\S]*default_pool_size = 32/);
    const plain = pgbouncerIni({ host: '172.30.0.10', port: 5432 }, 'session', 'plain', 32);
    expect(plain).toMatch(/pool_mode = session/);
    expect(plain).toMatch(/client_tls_sslmode = disable\nserver_tls_sslmode = disable/);
    expect(plain).not.toMatch(/tls_(cert|key|ca)_file/);
  });

  it('pgpool: ssl on with the cluster certificate in tls, off in plain; the copy of the generated config never acts on the cluster', () => {
    const sample = samplePgpoolOverrides([{ host: '172.30.0.11', port: 5432 }, { host: '172.30.0.10', port: 5432 }], 'tls', 36);
    expect(sample).toContain("listen_addresses = '*'\nport = 9999\n");
    expect(sample).toMatch(/ssl = on\nssl_cert = '\S+server\.crt'\nssl_key = '\S+server\.key'\nssl_ca_cert = '\S+ca\.crt'/);
    expect(sample).toContain("backend_hostname0 = '172.30.0.11'\nbackend_port0 = 5432\nbackend_hostname1 = '172.30.0.10'\n");
    // Nothing of the generated tuning: the sample's own values stand.
    expect(sample).not.toMatch(/max_pool|load_balance_mode|health_check/);
    expect(samplePgpoolOverrides([], 'plain', 36)).toContain('ssl = off\n');
    expect(generatedPgpoolOverrides(36)).toMatch(/use_watchdog = off\nnum_init_children = 36\nfailover_command = ''\nfollow_primary_command = ''\nfailback_command = ''/);
    const env = pgpoolEnvironment(cluster, topo, topo.pgpool[0]!);
    const tls = generatedPgpoolEnv(env, 'tls');
    expect(Object.keys(tls)).not.toEqual(expect.arrayContaining(['PGPOOL_NODE_ID']));
    expect(tls).not.toHaveProperty('PGHA_DELEGATE_IP');
    expect(tls).not.toHaveProperty('WD_AUTHKEY_FILE');
    expect(tls).toMatchObject({ PGHA_TLS_CERT_FILE: env.PGHA_TLS_CERT_FILE, PGHA_CLUSTER_CONF: '/etc/pgpool-II/bench-cluster.conf', POSTGRES_PASSWORD_FILE: env.POSTGRES_PASSWORD_FILE });
    expect(generatedPgpoolEnv(env, 'plain')).not.toHaveProperty('PGHA_TLS_CERT_FILE');
    expect(haproxyCfg({ host: '172.30.0.10', port: 5432 })).toMatch(/mode tcp[\s\S]*bind 0\.0\.0\.0:5433[\s\S]*server primary 172\.30\.0\.10:5432/);
  });

  it('reads each hop: libpq\'s \\conninfo, pg_stat_ssl rows, pgbouncer\'s SHOW CLIENTS, settings', () => {
    const conninfo = 'You are connected to database "pgha_bench" as user "postgres" on host "172.30.0.32" at port "9999".\nSSL connection (protocol: TLSv1.3, cipher: TLS_AES_256_GCM_SHA384, compression: off)\nt|TLSv1.3\n';
    expect(parseConninfo(conninfo)).toEqual({ tls: true, version: 'TLSv1.3' });
    expect(parseSslRow(conninfo)).toEqual({ tls: true, version: 'TLSv1.3' });
    expect(parseConninfo('You are connected to database "x" as user "postgres" on host "h" at port "1".\nf|\n')).toEqual({ tls: false, version: null });
    expect(parseSslRow('f|\n')).toEqual({ tls: false, version: null });
    expect(parseConninfo('psql: error: connection refused')).toBeNull();
    expect(parseSessionCounts('t|TLSv1.3|30\nf||2\n')).toEqual({ tls: 30, plain: 2, versions: ['TLSv1.3'] });
    const clients = 'type|user|database|state|addr|port|tls\nC|postgres|pgha_bench|active|172.30.0.30|4000|TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519\nC|postgres|pgha_bench|active|172.30.0.30|4001|\nC|postgres|pgbouncer|active|172.30.0.30|4002|\n';
    expect(parseShowClients(clients, 'pgha_bench')).toEqual({ tls: 1, plain: 1, versions: ['TLSv1.3'] });
    expect(parseSettings('ssl|on|Enables SSL\nnum_init_children|36|x\n')).toEqual({ ssl: 'on', num_init_children: '36' });
  });

  it('a hop without the series\' TLS, or unread, is a problem; so are plain sessions in the tls series', () => {
    const hop = (tls: boolean | null) => ({ tls, version: tls ? 'TLSv1.3' : null, how: 'probe' });
    const rec = (series: 'tls' | 'plain', client: boolean | null, backend: boolean | null): HopRecord => ({ target: 'pgpool', series, client: hop(client), backend: hop(backend), proxySettings: {} });
    expect(hopProblems(rec('tls', true, true))).toEqual([]);
    expect(hopProblems(rec('plain', false, false))).toEqual([]);
    expect(hopProblems(rec('tls', true, false))).toEqual(['pgpool (tls): the backend hop is plain, the series asks for TLS']);
    expect(hopProblems(rec('plain', null, false))).toEqual(['pgpool (plain): the client hop\'s TLS could not be read (probe)']);
    expect(sessionProblem('tls', 'at pg0', { tls: 30, plain: 2, versions: [] })).toBe('at pg0: 2 of 32 benchmark sessions are plain in the tls series');
    expect(sessionProblem('plain', 'at pg0', { tls: 0, plain: 32, versions: [] })).toBeNull();
  });
});

describe('placement', () => {
  it('pgbench and every proxy in a container of their own on the cluster network, never loopback', () => {
    const hosts = TARGETS.map((t) => targetEndpoint(t, cluster, topo, '172.30.0.10').host);
    expect(hosts[0]).toBe('172.30.0.10');
    expect(new Set(hosts).size).toBe(TARGETS.length);
    expect(hosts.some((h) => h.startsWith('127.'))).toBe(false);
    expect(targetEndpoint('pgbouncer-session', cluster, topo, 'x')).toEqual({ host: '172.30.0.34', port: 6432 });
    expect(sessionSource('direct', topo)).toBe('172.30.0.30');
    expect(sessionSource('haproxy', topo)).toBe('172.30.0.35');
    expect(benchImageRef('pgha/postgres:15.17-pgpool4.7.2')).toBe('pgha/bench:15.17-pgpool4.7.2');
  });

  it('the bench containers sit at .30-.35 of the subnet, never on the delegate IP', () => {
    const t = { gateway: '10.9.8.1', delegateIp: '10.9.8.100' } as Topology;
    expect(benchAddress(t, BENCH_OFFSETS.pgbench)).toBe('10.9.8.30');
    expect(benchAddress(t, BENCH_OFFSETS.haproxy)).toBe('10.9.8.35');
    expect(() => benchAddress({ ...t, delegateIp: '10.9.8.31' }, BENCH_OFFSETS['pgpool-sample'])).toThrow(/10\.9\.8\.31 .* is the cluster's delegate IP: choose network\.delegateIp elsewhere/);
  });
});

const zero = { pgbench: 0, proxy: 0, postgres: 0, other: 0 };
const cpuOf = (proxyMs: number, pgbenchMs: number) => ({ windowMs: 10_000, rawMs: { ...zero, proxy: proxyMs, pgbench: pgbenchMs }, netMs: { ...zero, proxy: proxyMs, pgbench: pgbenchMs } });
const m = (round: number, target: Measurement['target'], tps: number, mode: Measurement['mode'] = 'select-only', clients = 8, series: Measurement['series'] = 'tls'): Measurement => ({ series, round, target, mode, clients, tps, transactions: tps * 10, cpu: cpuOf(tps, tps / 2) });

describe('CPU and ratios', () => {
  it('subtracts each container\'s idle rate over the run\'s window; pgbench never counts as the proxy', () => {
    const quiet = { atMs: 0, ns: { bench: 0, pgbouncer: 0, pg0: 0, pgpool0: 0 } };
    const end = { atMs: 10_000, ns: { bench: 1e8, pgbouncer: 2e8, pg0: 5e8, pgpool0: 3e8 } };
    const idle = idleRates(quiet, end);
    expect(idle).toEqual({ bench: 10, pgbouncer: 20, pg0: 50, pgpool0: 30 });
    const role = (c: string): CpuRole => (c === 'bench' ? 'pgbench' : c === 'pgbouncer' ? 'proxy' : c === 'pg0' ? 'postgres' : 'other');
    const before = { atMs: 100_000, ns: { bench: 1e9, pgbouncer: 1e9, pg0: 1e9, pgpool0: 1e9 } };
    const after = { atMs: 160_000, ns: { bench: 1e9 + 30_000e6, pgbouncer: 1e9 + 9_000e6, pg0: 1e9 + 40_000e6, pgpool0: 1e9 + 1_800e6 } };
    const cpu = runCpu(before, after, idle, role);
    expect(cpu.windowMs).toBe(60_000);
    expect(cpu.rawMs).toEqual({ pgbench: 30_000, proxy: 9_000, postgres: 40_000, other: 1_800 });
    // 60 s at the idle rate: 600 ms pgbench, 1200 ms pgbouncer, 3000 ms postgres, 1800 ms the rest.
    expect(cpu.netMs).toEqual({ pgbench: 29_400, proxy: 7_800, postgres: 37_000, other: 0 });
  });

  it('pairs each proxy with direct of the same round and series; CPU per 1000 transactions is the median of the rounds', () => {
    const ms = [m(1, 'direct', 1000), m(1, 'pgpool', 500), m(1, 'pgbouncer', 700), m(2, 'direct', 2000), m(2, 'pgpool', 1200), m(2, 'pgbouncer', 1400), m(3, 'direct', 1000), m(3, 'pgpool', 550), m(3, 'pgbouncer', 720)];
    const f = figuresOf(ms);
    expect(f.direct['select-only/8']).toEqual({ min: 1000, median: 1000, max: 2000, n: 3 });
    expect(f.ratios['select-only/8']!.pgpool).toEqual({ min: 0.5, median: 0.55, max: 0.6, n: 3 });
    expect(f.ratios['select-only/8']!.haproxy).toBeNull();
    // proxy ms = tps, transactions = tps x 10: 100 ms per 1000 transactions; pgbench half of it.
    expect(f.cpuPerKTx['select-only/8']!.pgbouncer).toEqual({ pgbench: 50, proxy: 100, postgres: 0, other: 0 });
  });
});

/** A matched record of one series with the given measurements. */
function matchedRecord(ms: Measurement[], date = '2026-12-08T10:00:00.000Z'): BenchRecord {
  const plan = benchPlan({ ...BENCH_DEFAULTS, series: ['tls'], rounds: 3 });
  const hops: HopRecord[] = [
    { target: 'direct', series: 'tls', client: { tls: true, version: 'TLSv1.3', how: 'x' }, backend: null, proxySettings: {} },
    { target: 'pgpool', series: 'tls', client: { tls: true, version: 'TLSv1.3', how: 'x' }, backend: { tls: true, version: 'TLSv1.3', how: 'x' }, proxySettings: { ssl: 'on' } },
  ];
  const series: SeriesRun = { targets: {}, hops, configs: {}, idle: [], measurements: ms, problems: [], ...figuresOf(ms) };
  return {
    kind: 'bench',
    method: BENCH_METHOD,
    machine: machine(date),
    options: plan.options,
    plan: { subset: plan.subset, pgpoolChildren: plan.pgpoolChildren, idleSeconds: 15, orders: plan.orders, estimatedSeconds: plan.estimatedSeconds, pgbench: pgbenchExample(plan) },
    primary: 'pg0',
    series: { tls: series },
    alarms: { failovers: 0, vipMoves: 0, healthCheckFailures: 0 },
  };
}

const legacyRecord = { kind: 'bench', machine: machine('2026-11-23T14:24:48.349Z', 'd70642b'), options: { rounds: 3, seconds: 15, clients: [8], scale: 10 }, primary: 'pg0', measurements: [], direct: { 'select-only/8': { min: 11530, median: 11530, max: 11530, n: 1 } }, ratios: { 'select-only/8': { pgpool: { min: 0.46, median: 0.46, max: 0.46, n: 1 }, pgbouncer: { min: 1.09, median: 1.09, max: 1.09, n: 1 } } }, pgpoolSettings: { ssl: 'on' } };

function resultsWith(records: { kind: string; machine: { date: string; commit: string } }[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-bench-'));
  records.forEach((r, i) => {
    mkdirSync(join(dir, 'results', `run${i}`), { recursive: true });
    writeFileSync(join(dir, 'results', `run${i}`, `${r.kind}-00000${i}.json`), JSON.stringify(r));
  });
  return dir;
}

describe('the record and bench/RESULTS.md', () => {
  const ms = [m(1, 'direct', 1000), m(1, 'pgpool', 800), m(1, 'pgbouncer', 700), m(1, 'direct', 1000, 'select-only', 32), m(1, 'pgpool', 760, 'select-only', 32), m(1, 'pgbouncer', 780, 'select-only', 32)];

  it('the terminal summary: per series the hops, the ratios, the net CPU, and which subset ran', () => {
    const text = formatBench(matchedRecord(ms));
    expect(text).toContain('tls series (hops: direct TLSv1.3, pgpool TLSv1.3 -> TLSv1.3)');
    expect(text).toMatch(/select-only\/8\s+1000\s+0\.80 \(0\.80-0\.80\)\s+- +0\.70 \(0\.70-0\.70\)/);
    expect(text).toContain('a subset: series plain not run; 3 rounds (full: 5)');
  });

  it('matched runs beside old ones: the old are kept as recorded, marked not comparable', () => {
    const dir = resultsWith([legacyRecord, matchedRecord(ms)]);
    const md = benchResultsMarkdown(join(dir, 'results'), dir);
    expect(md).toContain('were measured the old way and are not comparable');
    expect(md).toContain('### 2026-11-23T14:24:48.349Z · commit d70642b · old method, not comparable');
    expect(md).toContain('| select-only/8 | 11530 | 0.46 (0.46-0.46) | - | 1.09 (1.09-1.09) | - |');
    expect(md).toContain('### 2026-12-08T10:00:00.000Z · commit c · matched TLS, own containers');
    expect(md).toContain('| select-only/8 | 50 / 100 / 0 | 50 / 100 / 0 | - | 50 / 100 / 0 | - | - |');
    expect(md.indexOf('matched TLS, own containers')).toBeLessThan(md.indexOf('old method, not comparable'));
  });

  it('the targets: read from the newest matched tls series, else the old run, marked', () => {
    const md = targetsMarkdown(join(resultsWith([legacyRecord, matchedRecord(ms)]), 'results'));
    expect(md).toContain('| bench select-only: generated pgpool >= 0.75 of direct and ahead of pgbouncer | 8 clients 0.80 (pgbouncer 0.70), 32 clients 0.76 (pgbouncer 0.78) (tls series) | 3 | 2026-12-08T10:00 c | **no**');
    expect(md).toContain('| bench tpcb-like: generated pgpool >= 0.85 of direct and ahead of pgbouncer | not measured |');
    expect(targetsMarkdown(join(resultsWith([legacyRecord]), 'results'))).toContain('8 clients 0.46 (pgbouncer 1.09) (old method, TLS unmatched) | 3 | 2026-11-23T14:24 d70642b | **no**');
  });
});

describe('targets in bench/RESULTS.md', () => {
  const spreadOf = (ms: number) => ({ min: ms, median: ms, max: ms, n: 3 });
  const rejoinRun = (date: string, commit: string, databaseMB: number, rejoinMs: number) => ({
    kind: 'chaos', machine: machine(date, commit), options: {}, cluster: { name: 'pgha', replication: 'async', postgresNodes: 2, pgpoolNodes: 3, timings: {}, databaseMB },
    rounds: [], lostAcked: [], summary: { 'restart-old-primary': { rejoinMs: spreadOf(rejoinMs) } },
  });
  const targets = (records: { kind: string; machine: { date: string; commit: string } }[]) => targetsMarkdown(join(resultsWith(records), 'results'));

  it('the ~2 GB rejoin against the newest dev-size one: within 2x is met, beyond is not', () => {
    const ok = targets([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000), rejoinRun('2026-11-23T11:00', 'big', 1966, 15_000)]);
    expect(ok).toContain('| 15.0 s at 1966 MB against 8.0 s at 22 MB (2026-11-23T10:00 small): 1.88x | 3 | 2026-11-23T11:00 big | yes |');
    const slow = targets([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000), rejoinRun('2026-11-23T11:00', 'big', 1966, 17_000)]);
    expect(slow).toMatch(/: 2\.13x \| 3 \| 2026-11-23T11:00 big \| \*\*no\*\* \|/);
    expect(targets([rejoinRun('2026-11-23T10:00', 'small', 22, 8_000)])).toMatch(/MB of data: back as a streaming standby, median within 2x the dev size's \| not measured \|/);
  });

  it('the soak: any failover or delegate IP move misses the target', () => {
    const soak = (date: string, failovers: number, vipMoves: number) => ({ kind: 'soak', machine: machine(date, 'c'), timings: {}, seconds: 600, clients: 32, tps: 500, failovers, vipMoves, healthCheckFailures: 0, events: [] });
    expect(targets([soak('2026-11-23T09:00', 1, 0), soak('2026-11-23T10:00', 0, 0)])).toContain('| 0 failovers, 0 moves in 600 s | 1 | 2026-11-23T10:00 c | yes |');
    expect(targets([soak('2026-11-23T10:00', 0, 1)])).toContain('| 0 failovers, 1 moves in 600 s | 1 | 2026-11-23T10:00 c | **no** |');
  });
});
