import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { buildImage } from '../docker/build.js';
import { imageExists } from '../docker/engine.js';
import { REPOSITORIES } from '../images/catalog.js';

/**
 * The bench's own container: the project's postgres image (for pgbench and psql of the
 * pinned major) plus Debian's pgbouncer and HAProxy, the proxies pgpool is compared with. It
 * runs inside the cluster's network, so no host networking sits between client and proxy.
 */
export const BENCH_PORTS = { pgbouncer: 6432, haproxy: 5433, samplePgpool: 9999 } as const;

/** Where the bench's containers sit in the cluster's subnet: after the pgpool nodes (.20-.29). */
export const BENCH_OFFSETS = { bench: 30, samplePgpool: 31 } as const;

/** The directory of the sample-config pgpool in its container (config, pool_passwd, pid, log). */
export const SAMPLE_PGPOOL_DIR = '/run/bench-pgpool';

export function benchImageRef(postgresRef: string): string {
  return `${REPOSITORIES.postgres.replace(/postgres$/, 'bench')}:${postgresRef.slice(postgresRef.indexOf(':') + 1)}`;
}

function benchDockerfile(postgresRef: string): string {
  return [
    `# The pgha bench tools: pgbench from ${postgresRef}, Debian's pgbouncer and HAProxy.`,
    `FROM ${postgresRef}`,
    'USER root',
    // The official image lists apt.postgresql.org, which is not needed for two Debian packages.
    'RUN rm -f /etc/apt/sources.list.d/pgdg*.list \\',
    ' && apt-get update \\',
    ' && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends pgbouncer haproxy \\',
    ' && rm -rf /var/lib/apt/lists/*',
    'ENTRYPOINT []',
    'CMD ["sleep", "infinity"]',
    '',
  ].join('\n');
}

export async function ensureBenchImage(docker: Docker, postgresRef: string, logFile: string): Promise<string> {
  const ref = benchImageRef(postgresRef);
  if (await imageExists(docker, ref)) return ref;
  const dir = mkdtempSync(join(tmpdir(), 'pgha-bench-image-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), benchDockerfile(postgresRef));
    await buildImage(docker, { name: 'bench', contextDir: dir, tags: [ref], logFile });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ref;
}

/** pgbouncer in transaction pooling in front of the primary; the password file lives only in the bench container. */
export function pgbouncerIni(primary: string, port: number): string {
  return [
    '[databases]',
    `* = host=${primary} port=${port}`,
    '[pgbouncer]',
    `listen_addr = 0.0.0.0`,
    `listen_port = ${BENCH_PORTS.pgbouncer}`,
    'auth_type = scram-sha-256',
    'auth_file = /run/bench/userlist.txt',
    'pool_mode = transaction',
    'max_client_conn = 200',
    'default_pool_size = 32',
    'unix_socket_dir =',
    'logfile = /run/bench/pgbouncer.log',
    'pidfile = /run/bench/pgbouncer.pid',
    '',
  ].join('\n');
}

/** HAProxy as a plain TCP relay to the primary: the floor of what any proxy costs. */
export function haproxyCfg(primary: string, port: number): string {
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
    `  server primary ${primary}:${port}`,
    '',
  ].join('\n');
}

/**
 * What the bench appends to pgpool's own `pgpool.conf.sample` (as `make install` put it in the
 * image) so that it runs here, and nothing more: listen beyond localhost, the backends (the
 * primary first), writable paths for a non-root pgpool, and a user for the streaming-
 * replication check (the sample's is empty, and pgpool could not tell the primary). Every
 * other setting is the sample's: no TLS, no health check, no watchdog, max_pool 4,
 * load_balance_mode on.
 */
export function samplePgpoolOverrides(backends: { host: string; port: number }[]): string {
  return [
    '',
    '# pgha bench: the upstream sample above, with only what it needs to run in the bench.',
    "listen_addresses = '*'",
    `port = ${BENCH_PORTS.samplePgpool}`,
    `unix_socket_directories = '${SAMPLE_PGPOOL_DIR}'`,
    `pcp_socket_dir = '${SAMPLE_PGPOOL_DIR}'`,
    `pid_file_name = '${SAMPLE_PGPOOL_DIR}/pgpool.pid'`,
    `logdir = '${SAMPLE_PGPOOL_DIR}'`,
    "sr_check_user = 'postgres'",
    ...backends.flatMap((b, i) => [`backend_hostname${i} = '${b.host}'`, `backend_port${i} = ${b.port}`]),
    '',
  ].join('\n');
}
