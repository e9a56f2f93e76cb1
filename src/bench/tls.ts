import type { Series, Target } from './plan.js';

/**
 * The effective TLS of every hop, as the bench records it beside the figures, and what it
 * measured against what it only inferred. Pure: parsers of psql's and pgbouncer's output and
 * the check that a series got the TLS it asked for.
 */

export interface TlsState {
  tls: boolean;
  /** The protocol (TLSv1.3), when encrypted. */
  version: string | null;
}

export interface Hop {
  /** null: could not be read. */
  tls: boolean | null;
  version: string | null;
  /** How it was found: measured (and where) or inferred (and from what). */
  how: string;
}

/** One target's hops in one series, from the probe the bench runs before the series' first round. */
export interface HopRecord {
  target: Target;
  series: Series;
  /** pgbench to the target (for direct: to postgres). */
  client: Hop;
  /** The target to postgres; null for direct (one hop). For HAProxy, the client's own TLS session relayed. */
  backend: Hop | null;
  /** The proxy's own TLS settings as it reports them (pgpool SHOW, pgbouncer SHOW CONFIG). */
  proxySettings: Record<string, string>;
}

/** psql's `\conninfo`: libpq's own view of the connection it made (PostgreSQL 15's wording). */
export function parseConninfo(out: string): TlsState | null {
  if (!/You are connected to database/.test(out)) return null;
  const m = /SSL connection \(protocol: ([^,)]+)/.exec(out);
  return m ? { tls: true, version: m[1]!.trim() } : { tls: false, version: null };
}

/** A row `t|TLSv1.3` or `f|` of `SELECT ssl, version FROM pg_stat_ssl ...` (psql -At). */
export function parseSslRow(out: string): TlsState | null {
  const line = out.split('\n').find((l) => /^[tf]\|/.test(l.trim()));
  if (!line) return null;
  const [ssl, version] = line.trim().split('|');
  return ssl === 't' ? { tls: true, version: version || null } : { tls: false, version: null };
}

/** Sessions of the benchmark by TLS, as counted during a run. */
export interface SessionTls {
  tls: number;
  plain: number;
  versions: string[];
}

/** Rows `ssl|version|count` (psql -At) of pg_stat_ssl joined with the benchmark's sessions, summed. */
export function parseSessionCounts(out: string): SessionTls {
  const acc: SessionTls = { tls: 0, plain: 0, versions: [] };
  for (const line of out.split('\n')) {
    const [ssl, version, count] = line.trim().split('|');
    if (!count || !/^[0-9]+$/.test(count)) continue;
    if (ssl === 't') {
      acc.tls += Number(count);
      if (version && !acc.versions.includes(version)) acc.versions.push(version);
    } else acc.plain += Number(count);
  }
  return acc;
}

/**
 * pgbouncer's `SHOW CLIENTS` (psql -A with its header): the benchmark's clients by their `tls`
 * column, which pgbouncer fills with the protocol and cipher of an encrypted client.
 */
export function parseShowClients(out: string, database: string): SessionTls {
  const lines = out.split('\n').filter((l) => l.includes('|'));
  const header = lines[0]?.split('|') ?? [];
  const tlsAt = header.indexOf('tls');
  const dbAt = header.indexOf('database');
  const acc: SessionTls = { tls: 0, plain: 0, versions: [] };
  if (tlsAt < 0 || dbAt < 0) return acc;
  for (const row of lines.slice(1).map((l) => l.split('|'))) {
    if (row[dbAt] !== database) continue;
    const tls = row[tlsAt] ?? '';
    if (tls === '') acc.plain++;
    else {
      acc.tls++;
      const version = tls.split('/')[0]!;
      if (!acc.versions.includes(version)) acc.versions.push(version);
    }
  }
  return acc;
}

/** `key|value|...` rows (psql -At) as a map: pgpool's SHOW ALL, pgbouncer's SHOW CONFIG. */
export function parseSettings(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.split('|'))
      .filter((p) => p.length >= 2 && p[0]!.trim() !== '')
      .map((p) => [p[0]!.trim(), p[1]!.trim()]),
  );
}

const want = (series: Series) => series === 'tls';

/** Every hop of the record that is not what its series asks for, or could not be read: one line each. */
export function hopProblems(rec: HopRecord): string[] {
  const out: string[] = [];
  const check = (name: string, hop: Hop | null) => {
    if (!hop) return;
    if (hop.tls === null) out.push(`${rec.target} (${rec.series}): the ${name} hop's TLS could not be read (${hop.how})`);
    else if (hop.tls !== want(rec.series)) out.push(`${rec.target} (${rec.series}): the ${name} hop is ${hop.tls ? `TLS (${hop.version ?? '?'})` : 'plain'}, the series asks for ${rec.series === 'tls' ? 'TLS' : 'plain'}`);
  };
  check('client', rec.client);
  check('backend', rec.backend);
  return out;
}

/** A run's counted sessions that are not what the series asks for: one line, or null. */
export function sessionProblem(series: Series, where: string, s: SessionTls | null): string | null {
  if (!s) return null;
  const wrong = series === 'tls' ? s.plain : s.tls;
  return wrong ? `${where}: ${wrong} of ${s.tls + s.plain} benchmark sessions are ${series === 'tls' ? 'plain' : 'TLS'} in the ${series} series` : null;
}

/**
 * How each hop of a target is found, written into the record. The probe is psql with
 * pgbench's own libpq settings, through the target, before the series' first round.
 */
export function hopMethods(target: Target): { client: string; backend: string | null } {
  const clientSide = "measured: psql's \\conninfo (libpq's own view) through the target with pgbench's settings";
  const atPostgres = 'measured: pg_stat_ssl at postgres of the session the probe reached';
  switch (target) {
    case 'direct':
      return { client: `${clientSide}; and pg_stat_ssl of pgbench's own sessions during every run`, backend: null };
    case 'haproxy':
      return {
        client: `${clientSide}; HAProxy terminates nothing: pg_stat_ssl of pgbench's own sessions during every run is this hop too`,
        backend: `${atPostgres} (the same session, relayed)`,
      };
    case 'pgbouncer':
    case 'pgbouncer-session':
      return {
        client: `${clientSide}; and pgbouncer's SHOW CLIENTS (tls column) for pgbench's own clients during every run`,
        backend: `${atPostgres} (pgbouncer's server connection); and pg_stat_ssl of pgbouncer's connections during every run`,
      };
    case 'pgpool':
    case 'pgpool-sample':
      return {
        client: `${clientSide}; for pgbench's own sessions inferred: pgpool shows no per-client TLS, and sslmode (verify-ca / disable) allows no other outcome`,
        backend: `${atPostgres} (the pgpool child's backend connection); and pg_stat_ssl of pgpool's connections during every run`,
      };
  }
}
