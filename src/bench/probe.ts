import type Docker from 'dockerode';
import { sh } from '../docker/exec.js';
import { BENCH_DB, sslEnv, type Endpoint, type Series, type Target } from './plan.js';
import { hopMethods, parseConninfo, parseSessionCounts, parseSettings, parseShowClients, parseSslRow, type HopRecord, type SessionTls } from './tls.js';

/**
 * What the bench asks the targets and postgres, always from the pgbench container: each hop's
 * TLS, the proxies' effective settings, the benchmark's sessions mid-run, and the vacuum
 * between runs. Every answer is parsed by the pure functions of tls.ts.
 */

const psql = (at: Endpoint, db: string, seconds = 30) => `PGCONNECT_TIMEOUT=5 timeout ${seconds} psql -X -h ${at.host} -p ${at.port} -U postgres -d ${db}`;

/** A proxy's full effective settings: pgpool's PGPOOL SHOW ALL through it, pgbouncer's SHOW CONFIG on its console. */
export async function proxySettings(pgbench: Docker.Container, target: Target, at: Endpoint, series: Series): Promise<Record<string, string>> {
  const query = target === 'pgpool' || target === 'pgpool-sample' ? `${psql(at, BENCH_DB)} -At -F'|' -c 'PGPOOL SHOW ALL'` : target.startsWith('pgbouncer') ? `${psql(at, 'pgbouncer')} -At -F'|' -c 'SHOW CONFIG'` : null;
  if (!query) return {};
  const r = await sh(pgbench, query, { env: sslEnv(series) });
  if (r.exitCode !== 0) throw new Error(`${target} (${series}): its settings could not be read: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
  return parseSettings(r.stdout);
}

/** The settings that decide a proxy's TLS, out of its full settings. */
function tlsSettings(target: Target, all: Record<string, string>): Record<string, string> {
  const keys = target.startsWith('pgbouncer') ? ['client_tls_sslmode', 'server_tls_sslmode', 'pool_mode'] : ['ssl', 'ssl_ca_cert'];
  return Object.fromEntries(keys.filter((k) => k in all).map((k) => [k, all[k]!]));
}

/**
 * One target's hops in a series: psql with pgbench's settings through the target asks libpq
 * for its own connection (\conninfo: the client hop) and postgres for the session it reached
 * (pg_stat_ssl of pg_backend_pid(): through a proxy, the proxy's backend connection).
 */
export async function probeHops(pgbench: Docker.Container, target: Target, at: Endpoint, series: Series, settings: Record<string, string>): Promise<HopRecord> {
  const r = await sh(pgbench, `${psql(at, BENCH_DB)} -c '\\conninfo' -At -F'|' -c "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1`, { env: sslEnv(series) });
  const client = parseConninfo(r.stdout);
  const atPostgres = parseSslRow(r.stdout);
  const how = hopMethods(target);
  const failed = r.exitCode !== 0 ? ` (psql exited ${r.exitCode}: ${r.stdout.trim().slice(0, 200)})` : '';
  return {
    target,
    series,
    // For direct and HAProxy, postgres sees pgbench's own TLS session: both views must agree.
    client: { tls: client?.tls ?? null, version: client?.version ?? null, how: how.client + failed },
    backend: how.backend === null ? null : { tls: atPostgres?.tls ?? null, version: atPostgres?.version ?? null, how: how.backend + failed },
    proxySettings: tlsSettings(target, settings),
  };
}

/** The benchmark's sessions from `source` (the target's address as postgres sees it) at one postgres node, by TLS. */
async function sessionsAt(pgbench: Docker.Container, node: Endpoint, source: string, series: Series): Promise<SessionTls | null> {
  const sql = `SELECT coalesce(s.ssl, false), coalesce(s.version, ''), count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '${BENCH_DB}' AND a.client_addr = '${source}' GROUP BY 1, 2`;
  const r = await sh(pgbench, `${psql(node, 'postgres')} -At -F'|' -c "${sql}"`, { env: sslEnv(series) });
  return r.exitCode === 0 ? parseSessionCounts(r.stdout) : null;
}

/** Mid-run: the benchmark's sessions by TLS at every postgres node and, for pgbouncer, its clients as pgbouncer sees them. */
export async function sampleSessions(pgbench: Docker.Container, nodes: { host: string; at: Endpoint }[], source: string, series: Series, pgbouncer: Endpoint | null) {
  const postgres = Object.fromEntries(await Promise.all(nodes.map(async (n) => [n.host, await sessionsAt(pgbench, n.at, source, series)] as const)));
  const out: { postgres: Record<string, SessionTls>; pgbouncerClients?: SessionTls } = {
    postgres: Object.fromEntries(Object.entries(postgres).filter((e): e is [string, SessionTls] => e[1] !== null)),
  };
  if (pgbouncer) {
    const r = await sh(pgbench, `${psql(pgbouncer, 'pgbouncer')} -A -F'|' -P footer=off -c 'SHOW CLIENTS'`, { env: sslEnv(series) });
    if (r.exitCode === 0) out.pgbouncerClients = parseShowClients(r.stdout, BENCH_DB);
  }
  return out;
}

/**
 * Every run starts from the same table state, directly on the primary (never through a
 * target): pgbench_history emptied, the tables vacuumed and analysed, a checkpoint, so no run
 * pays for the dead rows or the dirty pages of the run before it.
 */
export async function resetTables(pgbench: Docker.Container, primary: Endpoint, series: Series): Promise<void> {
  const steps = ['TRUNCATE pgbench_history', 'VACUUM ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts', 'CHECKPOINT'];
  await sh(pgbench, `set -e; ${steps.map((s) => `${psql(primary, BENCH_DB, 600)} -q -c '${s}'`).join('; ')}`, { env: sslEnv(series), check: true });
}

/** The primary's connection slots: max_connections, those reserved for superusers, the client backends now. */
export async function primarySlots(pgbench: Docker.Container, primary: Endpoint): Promise<{ max: number; reserved: number; used: number }> {
  const sql = "SELECT current_setting('max_connections'), current_setting('superuser_reserved_connections'), count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'";
  const r = await sh(pgbench, `${psql(primary, 'postgres')} -At -F'|' -c "${sql}"`, { check: true });
  const [max, reserved, used] = r.stdout.trim().split('|').map(Number);
  return { max: max!, reserved: reserved!, used: used! };
}
