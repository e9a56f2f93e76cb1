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
export const BENCH_PORTS = { pgbouncer: 6432, haproxy: 5433 } as const;

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
