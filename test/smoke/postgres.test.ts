import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineOrSkip, ensureImages, logsOf, manifest, POSTGRES_IMAGE, Sandbox, secretsDir, sh, waitFor, waitForLog } from './harness.js';

const docker = await engineOrSkip();
const PASSWORD = 'smoke-pg-Pa55word';

/** SSH material as `pgha cluster up` mounts it: host key, client key, authorized_keys, known_hosts. */
function sshDir(host: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-ssh-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${host} host`, '-f', join(dir, 'ssh_host_ed25519_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pgha', '-f', join(dir, 'id_ed25519')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
  const hostKey = readFileSync(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:2222 ${hostKey}\n[${host}]:2222 ${hostKey}\n`);
  chmodSync(dir, 0o755);
  for (const f of ['ssh_host_ed25519_key', 'id_ed25519']) chmodSync(join(dir, f), 0o644); // root in the container copies them to 0600
  return dir;
}

describe.skipIf(!docker)('postgres image (real containers)', () => {
  const sandbox = new Sandbox(docker!);
  let pg: Docker.Container;

  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm']);
    const secrets = secretsDir({ postgres_password: PASSWORD });
    pg = await sandbox.run('pg', POSTGRES_IMAGE, {
      Env: ['POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password'],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`, `${sshDir('pg')}:/etc/pgha/ssh:ro`] },
    });
    await waitForLog(pg, /starting supervisor/);
    await waitFor('postgres to accept connections', async () => (await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode === 0);
  });
  afterAll(() => sandbox.cleanup());

  it('starts with only a password secret and accepts scram-sha-256 logins', async () => {
    const ok = await sh(pg, 'psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1"', { env: [`PGPASSWORD=${PASSWORD}`] });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const bad = await sh(pg, 'psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1"', { env: ['PGPASSWORD=wrong'] });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/password authentication failed/);
    const stored = await sh(pg, `psql -Atc "SELECT rolpassword LIKE 'SCRAM-SHA-256\\$%' FROM pg_authid WHERE rolname = 'postgres'"`, { user: 'postgres', check: true });
    expect(stored.stdout.trim()).toBe('t');
    const hba = await sh(pg, 'grep -v "^#" "$PGDATA/pg_hba.conf" | grep host', { check: true });
    expect(hba.stdout).not.toMatch(/\b(md5|trust|password)\b/);
  });

  it('runs postgres and sshd under supervisor; sshd answers on 2222 with keys only', async () => {
    // supervisorctl exits 3 when any program is not running: `rejoin` is one-shot and has
    // exited (nothing to rejoin on a lone node), so the exit code is not the check here.
    // supervisor says RUNNING once a program has stayed up for its startsecs (1 s): sshd can
    // still be STARTING when postgres already answers. A program that never gets there fails
    // the wait (bounded: 30 s).
    const status = await waitFor('postgres and sshd RUNNING under supervisor', async () => {
      const s = await sh(pg, 'supervisorctl -c /etc/supervisor/supervisord.conf status');
      return [/^postgres\s+RUNNING/m, /^sshd\s+RUNNING/m, /^watch\s+RUNNING/m, /^rejoin\s+EXITED/m].every((p) => p.test(s.stdout)) ? s : false;
    }, 30_000, 500);
    expect(status.stdout).toMatch(/^postgres\s+RUNNING/m);
    expect(status.stdout).toMatch(/^sshd\s+RUNNING/m);
    expect(status.stdout).toMatch(/^rejoin\s+EXITED/m);
    // A lone node has no delegate IP: the watch loop idles (running) rather than checking.
    expect(status.stdout).toMatch(/^watch\s+RUNNING/m);
    const config = await sh(pg, '/usr/sbin/sshd -T -f /etc/ssh/sshd_config', { check: true });
    expect(config.stdout).toMatch(/^port 2222$/m);
    expect(config.stdout).toMatch(/^passwordauthentication no$/m);
    expect(config.stdout).toMatch(/^kbdinteractiveauthentication no$/m);
    expect(config.stdout).toMatch(/^permitrootlogin no$/m);
    const opts = '-p 2222 -i /run/pgha/private/id_ed25519 -o UserKnownHostsFile=/run/pgha/private/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes';
    const withKey = await sh(pg, `ssh ${opts} postgres@127.0.0.1 'id -un; cat ~/.node_role'`, { user: 'postgres' });
    expect(withKey.exitCode, withKey.stderr).toBe(0);
    expect(withKey.stdout.trim().split('\n')).toEqual(['postgres', 'MASTER']);
    const noKey = await sh(pg, 'ssh -p 2222 -o UserKnownHostsFile=/run/pgha/private/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o PubkeyAuthentication=no postgres@127.0.0.1 true', { user: 'postgres' });
    expect(noKey.exitCode).not.toBe(0);
    expect(noKey.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it('has pgpool_recovery in the postgres database and pcp tools of the manifest version', async () => {
    const ext = await sh(pg, "psql -q -d postgres -Atc \"DROP EXTENSION IF EXISTS pgpool_recovery; CREATE EXTENSION pgpool_recovery; SELECT extname FROM pg_extension WHERE extname = 'pgpool_recovery'\"", { user: 'postgres', check: true });
    expect(ext.stdout.trim()).toBe('pgpool_recovery');
    for (const tool of ['pcp_node_info', 'pcp_attach_node', 'pcp_recovery_node', 'pcp_watchdog_info']) {
      const v = await sh(pg, `${tool} --version`, { check: true });
      expect(v.stdout + v.stderr, tool).toContain(`(pgpool-II) ${manifest.pgpool.version}`);
    }
  });

  it('writes .node_role, and .do_not_start keeps postgres down until it is removed', async () => {
    expect((await sh(pg, 'cat /var/lib/postgresql/.node_role', { check: true })).stdout.trim()).toBe('MASTER');
    await sh(pg, 'touch /var/lib/postgresql/.do_not_start', { user: 'postgres', check: true });
    await pg.restart({ t: 30 });
    await waitForLog(pg, /postgres held: \/var\/lib\/postgresql\/\.do_not_start exists/);
    // Held for a while: postgres is not running, supervisor still is.
    await new Promise((r) => setTimeout(r, 8000));
    expect((await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode).not.toBe(0);
    expect((await sh(pg, 'pgrep -u postgres -x postgres')).exitCode).not.toBe(0);
    await sh(pg, 'pgha-node release', { user: 'postgres', check: true });
    await waitFor('postgres to start once the marker is gone', async () => (await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode === 0, 60_000);
  });

  it('runs as root only what must be: supervisord and sshd', async () => {
    const ps = await sh(pg, 'ps -eo user:20,comm --no-headers', { check: true });
    const rootProcs = ps.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      // ps itself, the exec's shell, and the engine's HEALTHCHECK (pgha-node health), which runuser drops to postgres at once.
      .filter(([user, comm]) => user === 'root' && comm && !['ps', 'bash', 'pgha-node', 'runuser', 'timeout'].includes(comm))
      .map(([, comm]) => comm);
    expect([...new Set(rootProcs)].sort()).toEqual(['sshd', 'supervisord']);
    const pgProcs = ps.stdout.split('\n').filter((l) => /\bpostgres$/.test(l.trim()));
    expect(pgProcs.length).toBeGreaterThan(0);
    expect(pgProcs.every((l) => l.trim().startsWith('postgres'))).toBe(true);
  });

  it('stops with one clear line per configuration problem and a non-zero exit', async () => {
    const bad = await sandbox.run('pg-bad', POSTGRES_IMAGE, {
      Env: ['PGHA_ROLE=replica', 'PGHA_PRIMARY_PORT=abc', 'PGHA_SYNCHRONOUS=maybe', 'PGPOOL_PASSWORD_FILE=/nonexistent'],
    });
    const { StatusCode } = await bad.wait();
    expect(StatusCode).toBe(2);
    const lines = (await logsOf(bad)).trim().split('\n');
    expect(lines).toEqual([
      'pgha-postgres: configuration error: POSTGRES_PASSWORD: expected a password in POSTGRES_PASSWORD or a file path in POSTGRES_PASSWORD_FILE',
      'pgha-postgres: configuration error: PGPOOL_PASSWORD_FILE: expected a readable file, got /nonexistent',
      "pgha-postgres: configuration error: PGHA_ROLE: expected primary or standby, got 'replica'",
      "pgha-postgres: configuration error: PGHA_PRIMARY_PORT: expected a port number, got 'abc'",
      "pgha-postgres: configuration error: PGHA_SYNCHRONOUS: expected on or off, got 'maybe'",
    ]);
  });

  it('refuses a data directory of another PostgreSQL major in one line and stays up without postgres: no restart loop, docker stop ends it', async () => {
    const data = mkdtempSync(join(tmpdir(), 'pgha-old-major-'));
    const old = manifest.postgres.major - 1;
    writeFileSync(join(data, 'PG_VERSION'), `${old}\n`);
    chmodSync(data, 0o755);
    const c = await sandbox.run('pg-old-major', POSTGRES_IMAGE, {
      Env: ['POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password'],
      HostConfig: {
        Binds: [`${secretsDir({ postgres_password: PASSWORD })}:/run/secrets:ro`, `${data}:/var/lib/postgresql/pgdata`],
        RestartPolicy: { Name: 'unless-stopped' },
      },
    });
    await waitForLog(c, /action=refuse: /);
    // Long enough for a crash loop to show: supervisor and postgres would be up and down by now.
    await new Promise((r) => setTimeout(r, 4000));
    const info = await c.inspect();
    expect(info.State.Running).toBe(true);
    expect(info.RestartCount).toBe(0);
    const log = await logsOf(c);
    expect(log.match(/action=refuse: /g)).toHaveLength(1);
    expect(log).toContain(`action=refuse: /var/lib/postgresql/pgdata holds a PostgreSQL ${old} database cluster and this image runs PostgreSQL ${manifest.postgres.major}: postgres is not started; upgrade the data directory (pg_upgrade, or dump and restore) or run the image of its major`);
    expect(log).not.toContain('starting supervisor');
    expect((await sh(c, 'ps -eo comm=')).stdout).not.toMatch(/^(postgres|supervisord)$/m);
    const health = await sh(c, '/usr/local/bin/pgha-node health');
    expect(health.exitCode).not.toBe(0);
    expect(health.stdout.trim()).toMatch(/^refused: \/var\/lib\/postgresql\/pgdata holds a PostgreSQL \d+ database cluster/);
    // Nothing was written into the refused directory.
    expect(readdirSync(data)).toEqual(['PG_VERSION']);
    // Exit 0, not 137: the TERM ended it (an ignored TERM is a SIGKILL after the 10 s).
    await c.stop({ t: 10 });
    expect((await c.inspect()).State.ExitCode).toBe(0);
  });

  describe('first initialisation as the official image does it', () => {
    /** A directory for /docker-entrypoint-initdb.d with the given files (readable by the postgres account). */
    function initDir(files: Record<string, string | Buffer>): string {
      const dir = mkdtempSync(join(tmpdir(), 'pgha-initdb-'));
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
      chmodSync(dir, 0o755);
      return dir;
    }
    const secrets = () => secretsDir({ postgres_password: PASSWORD });

    it('POSTGRES_DB, POSTGRES_INITDB_ARGS and /docker-entrypoint-initdb.d (*.sql, *.sh sourced, *.sql.gz, in name order; other files skipped)', async () => {
      const dir = initDir({
        '01-table.sql': "CREATE TABLE init_items (id int PRIMARY KEY, source text);\nINSERT INTO init_items VALUES (1, 'sql');\n",
        // Not executable: sourced, with the entrypoint's environment (POSTGRES_DB) at hand.
        '02-role.sh': 'psql -X -q -v ON_ERROR_STOP=1 -d "$POSTGRES_DB" -c "CREATE ROLE init_reader LOGIN" -c "GRANT SELECT ON init_items TO init_reader" -c "INSERT INTO init_items VALUES (2, \'sh\')"\n',
        '03-more.sql.gz': gzipSync("INSERT INTO init_items VALUES (3, 'gz');\n"),
        'README.txt': 'not a script\n',
      });
      const c = await sandbox.run('pg-init', POSTGRES_IMAGE, {
        Env: ['POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password', 'POSTGRES_DB=appdb', 'POSTGRES_INITDB_ARGS=--data-checksums'],
        HostConfig: { Binds: [`${secrets()}:/run/secrets:ro`, `${sshDir('pg-init')}:/etc/pgha/ssh:ro`, `${dir}:/docker-entrypoint-initdb.d:ro`] },
      });
      await waitForLog(c, /starting supervisor/);
      await waitFor('postgres to accept connections', async () => (await sh(c, 'pg_isready -q -h 127.0.0.1')).exitCode === 0);
      const q = (sql: string) => sh(c, `psql -X -At -d appdb -c "${sql}"`, { user: 'postgres', check: true }).then((r) => r.stdout.trim());
      expect(await q("SELECT string_agg(source, ',' ORDER BY id) FROM init_items")).toBe('sql,sh,gz');
      expect(await q("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'init_reader'")).toBe('t');
      expect(await q('SHOW data_checksums')).toBe('on');
      const log = await logsOf(c);
      expect(log).toContain('action=init: database appdb created');
      expect(log).toContain('action=init: ignoring /docker-entrypoint-initdb.d/README.txt (not .sh, .sql or .sql.gz)');
    });

    it('a failing init script stops the first initialisation with its error, even when a later one would pass, and leaves nothing half-made: the next start initialises anew', async () => {
      const dir = initDir({
        '01-bad.sql': 'CREATE TABLE fine (id int);\nSELECT no_such_column FROM fine;\n',
        '02-good.sql': 'CREATE TABLE later (id int);\n',
      });
      const c = await sandbox.run('pg-init-bad', POSTGRES_IMAGE, {
        Env: ['POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password'],
        HostConfig: { Binds: [`${secrets()}:/run/secrets:ro`, `${sshDir('pg-init-bad')}:/etc/pgha/ssh:ro`, `${dir}:/docker-entrypoint-initdb.d:ro`] },
      });
      const { StatusCode } = await c.wait();
      expect(StatusCode).not.toBe(0);
      const log = await logsOf(c);
      expect(log).toMatch(/column "no_such_column" does not exist/);
      expect(log).toMatch(/the first initialisation failed \(status \d+; see above\); the data directory was emptied again/);
      // The first failure ends it: the passing script after it never ran.
      expect(log).not.toContain('running /docker-entrypoint-initdb.d/02-good.sql');
      // The script fixed, the same container (same volume) initialises from the start.
      writeFileSync(join(dir, '01-bad.sql'), 'CREATE TABLE fine (id int);\n');
      await c.start();
      await waitForLog(c, /starting supervisor/);
      await waitFor('postgres to accept connections', async () => (await sh(c, 'pg_isready -q -h 127.0.0.1')).exitCode === 0);
      expect((await sh(c, "psql -X -At -d postgres -c \"SELECT to_regclass('fine') IS NOT NULL AND to_regclass('later') IS NOT NULL\"", { user: 'postgres', check: true })).stdout.trim()).toBe('t');
    });
  });
});
