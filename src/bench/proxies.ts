import { PATHS } from '../images/facts.js';
import type { Endpoint, Series } from './plan.js';
import { BENCH_DB } from './plan.js';
import { BENCH_PORTS } from './layout.js';

/**
 * The proxies' configurations, per series: every hop encrypted (tls) or none (plain), so a
 * ratio to direct compares proxies and not TLS handshakes. Pure text; the containers that run
 * them are in containers.ts.
 */

/** The run directory of pgbouncer and HAProxy in their containers (config, password file, TLS copies). */
export const BENCH_RUN_DIR = '/run/bench';
/** The directory of the sample-config pgpool in its container (config, pool_passwd, TLS copies, pid, log). */
export const SAMPLE_PGPOOL_DIR = '/run/bench-pgpool';
/** Where the generated-config pgpool reads the cluster's file plus the bench's lines. */
export const GENERATED_PGPOOL_CONF = `${PATHS.pgpoolEtc}/bench-cluster.conf`;

export type PgbouncerPoolMode = 'transaction' | 'session';

/**
 * pgbouncer in front of the primary. tls: clients must use TLS (the cluster's server
 * certificate, which pgbench verifies against the cluster CA) and pgbouncer verifies the
 * primary's certificate against the same CA; plain: TLS refused on both sides. Pool and
 * client limits fit the largest client count, so no client waits for a server connection.
 */
export function pgbouncerIni(primary: Endpoint, poolMode: PgbouncerPoolMode, series: Series, largestClients: number): string {
  const d = BENCH_RUN_DIR;
  const tls =
    series === 'tls'
      ? ['client_tls_sslmode = require', `client_tls_cert_file = ${d}/tls/server.crt`, `client_tls_key_file = ${d}/tls/server.key`, 'server_tls_sslmode = verify-ca', `server_tls_ca_file = ${d}/tls/ca.crt`]
      : ['client_tls_sslmode = disable', 'server_tls_sslmode = disable'];
  return [
    '[databases]',
    `${BENCH_DB} = host=${primary.host} port=${primary.port} dbname=${BENCH_DB}`,
    '[pgbouncer]',
    'listen_addr = 0.0.0.0',
    `listen_port = ${BENCH_PORTS.pgbouncer}`,
    'auth_type = scram-sha-256',
    `auth_file = ${d}/userlist.txt`,
    // SHOW CONFIG and SHOW CLIENTS: the bench records the client hop's TLS as pgbouncer sees it.
    'admin_users = postgres',
    `pool_mode = ${poolMode}`,
    `max_client_conn = ${largestClients + 20}`,
    `default_pool_size = ${largestClients}`,
    ...tls,
    'unix_socket_dir =',
    `logfile = ${d}/pgbouncer.log`,
    `pidfile = ${d}/pgbouncer.pid`,
    '',
  ].join('\n');
}

/**
 * HAProxy as a plain TCP relay to the primary: the floor of what any proxy costs. It
 * terminates no TLS: in the tls series pgbench's TLS session runs through it to postgres.
 */
export function haproxyCfg(primary: Endpoint): string {
  return [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    'listen postgres',
    `  bind 0.0.0.0:${BENCH_PORTS.haproxy}`,
    `  server primary ${primary.host}:${primary.port}`,
    '',
  ].join('\n');
}

/** pgpool's TLS lines for a series: `ssl` covers the client side and the backend side alike. */
function pgpoolTls(series: Series, dir: string): string[] {
  return series === 'tls' ? ['ssl = on', `ssl_cert = '${dir}/server.crt'`, `ssl_key = '${dir}/server.key'`, `ssl_ca_cert = '${dir}/ca.crt'`] : ['ssl = off'];
}

/**
 * What the bench appends to pgpool's own `pgpool.conf.sample` (as `make install` put it in the
 * image) so that it runs here: listen beyond localhost, the backends (the primary first),
 * writable paths for a non-root pgpool, a user for the streaming-replication check (the
 * sample's is empty, and pgpool could not tell the primary), num_init_children with headroom
 * above the largest client count, and the series' TLS. Every other setting is the sample's:
 * no health check, no watchdog, max_pool 4, load_balance_mode on.
 */
export function samplePgpoolOverrides(backends: Endpoint[], series: Series, children: number): string {
  const d = SAMPLE_PGPOOL_DIR;
  return [
    '',
    '# pgha bench: the upstream sample above, with only what it needs to run in the bench.',
    "listen_addresses = '*'",
    `port = ${BENCH_PORTS['pgpool-sample']}`,
    `unix_socket_directories = '${d}'`,
    `pcp_socket_dir = '${d}'`,
    `pid_file_name = '${d}/pgpool.pid'`,
    `logdir = '${d}'`,
    "sr_check_user = 'postgres'",
    `num_init_children = ${children}`,
    ...pgpoolTls(series, d),
    ...backends.flatMap((b, i) => [`backend_hostname${i} = '${b.host}'`, `backend_port${i} = ${b.port}`]),
    '',
  ].join('\n');
}

/**
 * The lines the bench appends to the cluster's own cluster.conf for its copy of the generated
 * pgpool (the cluster's image, entrypoint and settings). It runs beside the cluster, so it
 * must never act on it: no watchdog (no delegate IP, no votes) and no failover, follow or
 * failback command (a backend it marks down stays down in its own view only). The pool gets
 * headroom above the largest client count. TLS is not here: the entrypoint turns `ssl` on
 * when it is given the certificate (tls series) and leaves pgpool's default, off, otherwise.
 */
export function generatedPgpoolOverrides(children: number): string {
  return [
    '',
    '# pgha bench: the cluster file above, run beside the cluster by npm run bench.',
    'use_watchdog = off',
    `num_init_children = ${children}`,
    "failover_command = ''",
    "follow_primary_command = ''",
    "failback_command = ''",
    '',
  ].join('\n');
}

/** The environment variables of a pgpool node the bench's copy must not have: its watchdog identity and the delegate IP. */
export const WATCHDOG_ENV = ['PGPOOL_NODE_ID', 'PGHA_WD_PRIORITY', 'PGHA_DELEGATE_IP', 'PGHA_VIP_PREFIX', 'PGHA_VIP_DEVICE', 'PGHA_PGPOOL_PEERS', 'WD_AUTHKEY_FILE'];
const TLS_ENV = ['PGHA_TLS_CERT_FILE', 'PGHA_TLS_KEY_FILE', 'PGHA_TLS_CA_FILE'];

/** The copy's environment: a pgpool node's, without the watchdog, with TLS only in the tls series, reading the bench's cluster file. */
export function generatedPgpoolEnv(nodeEnv: Record<string, string>, series: Series): Record<string, string> {
  const drop = new Set([...WATCHDOG_ENV, ...(series === 'tls' ? [] : TLS_ENV)]);
  return { ...Object.fromEntries(Object.entries(nodeEnv).filter(([k]) => !drop.has(k))), PGHA_NODE: 'bench-pgpool', PGHA_CLUSTER_CONF: GENERATED_PGPOOL_CONF };
}
