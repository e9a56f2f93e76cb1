import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { buildImage } from '../docker/build.js';
import { imageExists } from '../docker/engine.js';
import { REPOSITORIES } from '../images/catalog.js';

/**
 * The bench's image: the project's postgres image (pgbench and psql of the pinned major) plus
 * Debian's pgbouncer and HAProxy, the proxies pgpool is compared with. pgbench, pgbouncer and
 * HAProxy each run in a container of their own made from it.
 */
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
