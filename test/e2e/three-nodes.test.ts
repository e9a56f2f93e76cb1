// Scenario 5 of the failover suite: three postgres nodes, synchronous replication (ANY 1 of
// the standbys confirms each commit). The primary is killed and the
// remaining standby follows the new primary with pg_rewind; then, with pg_rewind made to
// fail for real (repl loses the right to read files on the source), the next follow falls
// back to pg_basebackup. Each time the standby gets a fresh slot and pcp_attach_node. Then
// (5c) a standby that stopped receiving WAL is passed over for the one that has it all.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { checkServerIdentity } from 'node:tls';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import { CLUSTER_SECRETS } from '../../src/images/facts.js';
import { TestCluster, Writer, e2eEngine, lost, sh, waitFor } from './harness.js';

const docker = await e2eEngine();

describe.skipIf(!docker)('e2e: three postgres nodes, follow the new primary', () => {
  let tc: TestCluster;

  // The official image's /docker-entrypoint-initdb.d, given through the cluster definition.
  const initScripts = mkdtempSync(join(tmpdir(), 'pgha-e2e-initdb-'));

  beforeAll(async () => {
    writeFileSync(join(initScripts, '01-app.sql'), "CREATE TABLE app_items (id int PRIMARY KEY, name text);\nINSERT INTO app_items VALUES (1, 'from an init script');\nCREATE ROLE app_reader LOGIN;\nGRANT SELECT ON app_items TO app_reader;\n");
    // The official image's documented pattern: a sourced *.sh that runs psql as POSTGRES_USER in POSTGRES_DB.
    writeFileSync(join(initScripts, '02-user.sh'), 'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-EOSQL\n\tCREATE TABLE made_by_sh (who text, db text);\n\tINSERT INTO made_by_sh VALUES (current_user, current_database());\nEOSQL\n');
    chmodSync(initScripts, 0o755);
    // POSTGRES_USER / POSTGRES_DB of the official image, through the cluster definition.
    tc = new TestCluster(docker!, 'e2e-three', 43, { nodes: 3, replication: 'sync', initScripts, user: 'app', database: 'appdb' });
    // Started as a user would without the CLI: plain `docker compose up -d` in the deploy directory.
    await tc.upWithPlainCompose();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await tc?.printDiagnostics();
  });
  afterAll(async () => {
    await tc?.destroy();
  });

  it('plain docker compose up in a fresh deploy directory is enough: the init service made the secrets and SSH keys, and every node started after it', async () => {
    const init = await docker!.getContainer(tc.containerName('init')).inspect();
    expect(init.State.ExitCode).toBe(0);
    expect(init.Config.Labels['com.docker.compose.project']).toBe(tc.cluster.name);
    const initDone = Date.parse(init.State.FinishedAt);
    for (const n of [...tc.topo.postgres, ...tc.topo.pgpool]) {
      const c = await tc.container(n.host).inspect();
      expect(Date.parse(c.State.StartedAt), `${n.host} started after the init service finished`).toBeGreaterThanOrEqual(initDone);
      for (const f of ['ssh_host_ed25519_key', 'id_ed25519', 'authorized_keys', 'known_hosts']) expect(existsSync(join(tc.dir, 'ssh', n.host, f)), `${n.host}/${f}`).toBe(true);
    }
    expect(readdirSync(join(tc.dir, 'secrets')).sort()).toEqual([...CLUSTER_SECRETS].sort());
    expect(await tc.logs('init')).toMatch(/secrets made in secrets\/: postgres_password,/);
  });

  it('POSTGRES_USER, POSTGRES_DB and init scripts as the official image: the scripts ran as the user in its database at the primary\'s first initialisation; read through the VIP as that user; on every standby', async () => {
    const app = new pg.Client({ host: tc.vip, port: tc.cluster.pgpool.port, user: 'app', password: tc.password, database: 'appdb', connectionTimeoutMillis: 5000 });
    app.on('error', () => {});
    await app.connect();
    try {
      expect((await app.query('SELECT id, name FROM app_items')).rows).toEqual([{ id: 1, name: 'from an init script' }]);
      expect((await app.query('SELECT who, db FROM made_by_sh')).rows).toEqual([{ who: 'app', db: 'appdb' }]);
      expect((await app.query("SELECT tableowner FROM pg_tables WHERE tablename = 'app_items'")).rows).toEqual([{ tableowner: 'app' }]);
      expect((await app.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows).toEqual([{ rolsuper: true }]);
      expect((await app.query('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()')).rows).toEqual([{ owner: 'app' }]);
      expect((await app.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_reader'")).rows).toEqual([{ rolcanlogin: true }]);
    } finally {
      await app.end().catch(() => {});
    }
    for (const n of tc.topo.postgres) {
      await waitFor(`${n.host} to have the init script's table`, async () => (await tc.onNode(n.host, 'SELECT count(*) FROM app_items', 'appdb').catch(() => '')) === '1', 60_000);
    }
    expect(await tc.logs('pg0')).toContain('action=init: running /docker-entrypoint-initdb.d/01-app.sql');
    expect(await tc.logs('pg0')).toContain('action=init: running /docker-entrypoint-initdb.d/02-user.sh');
    expect(await tc.logs('pg1')).not.toContain('action=init: running');
  });

  it('TLS: clients verify the certificate fully (sslmode=verify-full) through the VIP and on a node by name; pgpool talks TLS to the backend (pg_stat_ssl); a client trusting another certificate is refused', async () => {
    const psqlOn = (conninfo: string, sql: string) => sh(tc.container('pg1'), `psql "${conninfo}" -XAtc "${sql}"`, { env: [`PGPASSWORD=${tc.password}`] });
    const ownSession = 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    const viaVip = `host=${tc.vip} port=${tc.cluster.pgpool.port} user=app dbname=appdb sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt connect_timeout=5`;
    // The session pgpool opened to the backend that answered: TLS as well.
    const r = await psqlOn(viaVip, ownSession);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^t\|TLSv1\.[23]$/);
    const direct = await psqlOn(`host=pg0 port=${tc.cluster.postgres.port} user=app dbname=appdb sslmode=verify-full sslrootcert=/etc/pgha/tls/ca.crt connect_timeout=5`, ownSession);
    expect(direct.exitCode, direct.stderr).toBe(0);
    expect(direct.stdout.trim()).toMatch(/^t\|TLSv1\.[23]$/);
    // Trusting the server's own certificate instead of the CA that issued it: refused.
    const wrong = await psqlOn(viaVip.replace('/etc/pgha/tls/ca.crt', '/etc/pgha/tls/server.crt'), 'SELECT 1');
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate verify failed/);
    // From the host with node-postgres and the CA from the deploy directory, the VIP checked against the certificate's names.
    const c = new pg.Client({
      host: tc.vip, port: tc.cluster.pgpool.port, user: 'app', password: tc.password, database: 'appdb', connectionTimeoutMillis: 5000,
      ssl: { ca: readFileSync(join(tc.dir, 'tls/ca.crt'), 'utf8'), rejectUnauthorized: true, checkServerIdentity: (_host, cert) => checkServerIdentity(tc.vip, cert) },
    });
    c.on('error', () => {});
    await c.connect();
    try {
      expect((await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
    } finally {
      await c.end().catch(() => {});
    }
  });

  it('metrics: each pgpool node\'s metrics service shows every backend with its status and role (SHOW pool_nodes, pool_health_check_stats), and again after its pgpool restarted; each postgres node\'s endpoint shows pg_up and its standbys', async () => {
    const scrape = async (address: string) => {
      const r = await fetch(`http://${address}:9187/metrics`, { signal: AbortSignal.timeout(10_000) });
      expect(r.status).toBe(200);
      return r.text();
    };
    const everyBackendUp = (t: string) =>
      tc.topo.postgres.every((n) => new RegExp(`^pgpool_nodes_replication_delay\\{[^}]*hostname="${n.host}"[^}]*status="up"`, 'm').test(t)) && /^pgpool_health_check_success_count\{/m.test(t) && /^pg_up 1$/m.test(t);
    // The exporter connects to pgpool on its first scrape; the health check counters exist once a check ran.
    for (const m of tc.topo.pgpoolMetrics) {
      const text = await waitFor(`${m.host} to show every backend`, async () => {
        const t = await scrape(m.address);
        return everyBackendUp(t) ? t : false;
      }, 60_000, 2000);
      const primaryLine = text.split('\n').find((l) => l.startsWith('pgpool_nodes_replication_delay{') && l.includes('hostname="pg0"'))!;
      expect(primaryLine).toMatch(/role="primary"/);
      expect(text).toContain(`server="${tc.topo.pgpool[m.id]!.host}:${tc.cluster.pgpool.port}"`);
    }
    // Its pgpool stopped: the endpoint still answers, with pg_up 0; started again: the backends are back.
    const last = tc.topo.pgpoolMetrics.at(-1)!;
    const pgpool = tc.container(tc.topo.pgpool[last.id]!.host);
    await pgpool.stop();
    await waitFor(`${last.host} to report its pgpool down`, async () => /^pg_up 0$/m.test(await scrape(last.address)), 60_000, 2000);
    await pgpool.start();
    await waitFor(`${last.host} to show every backend again`, async () => everyBackendUp(await scrape(last.address)), 120_000, 2000);
    await tc.waitReady(`${tc.topo.pgpool[last.id]!.host} back in the watchdog`, 120_000);

    const pg0 = await scrape(tc.topo.postgres[0]!.address);
    expect(pg0).toMatch(/^pg_up 1$/m);
    for (const standby of ['pg1', 'pg2']) expect(pg0).toMatch(new RegExp(`^pg_stat_replication_pg_wal_lsn_diff\\{application_name="${standby}"[^}]*state="streaming"`, 'm'));
  });

  const ids = async (host: string) => (await tc.onNode(host, 'SELECT id FROM follow_rows ORDER BY id')).split('\n').filter(Boolean).map(Number);
  const upstreamOf = (host: string) => tc.onNode(host, 'SELECT sender_host FROM pg_stat_wal_receiver');
  const allReplayed = async (acked: number[], hosts: string[]) => {
    for (const h of hosts) await waitFor(`${h} to replay every acknowledged row`, async () => lost(acked, await ids(h)).length === 0, 60_000);
  };

  async function failPrimary(dead: string, successor: string, follower: string) {
    const writer = new Writer(tc, 'follow_rows', 10);
    await writer.ackedMore(100);
    const { acked: before } = await writer.stop();
    // Wait for both standbys to replay before the kill (one confirms each commit; the other may lag), so the check below is about the failover.
    await allReplayed(before, [successor, follower]);
    // failover.sh promotes the standby that received the most WAL: with both level, pgpool's
    // candidate (the lowest-numbered, `successor` here) is kept.
    await waitFor('both standbys at the primary\'s WAL position', async () => {
      const at = await tc.onNode(dead, 'SELECT pg_current_wal_lsn()');
      return (await tc.onNode(successor, 'SELECT pg_last_wal_receive_lsn()')) === at && (await tc.onNode(follower, 'SELECT pg_last_wal_receive_lsn()')) === at;
    }, 30_000, 200);
    await tc.container(dead).kill();
    const s = await waitFor(`${successor} primary and ${follower} following it, attached`, async () => {
      const st = await tc.status();
      const f = st.backends.find((b) => b.host === follower)!;
      return tc.primaryOf(st) === successor && f.status === 'up' && f.replicationState === 'streaming' ? st : false;
    }, 180_000, 2000);
    expect(await upstreamOf(follower)).toBe(successor);
    expect(await tc.onNode(successor, `SELECT active FROM pg_replication_slots WHERE slot_name = '${follower}'`)).toBe('t');
    const w2 = new Writer(tc, 'follow_rows', 10);
    await w2.ackedMore(50);
    const { acked: afterIds } = await w2.stop();
    const all = [...before, ...afterIds];
    await allReplayed(all, [successor, follower]);
    return s;
  }

  it('scenario 5a: primary killed: the other standby follows the new primary with pg_rewind, fresh slot, pcp_attach_node', async () => {
    await tc.query('CREATE TABLE follow_rows (id int PRIMARY KEY)');
    await failPrimary('pg0', 'pg1', 'pg2');
    const logs = await tc.pgpoolLogs();
    expect(logs).toMatch(/action=follow: node 2 \(pg2\) follows the new primary 1 \(pg1:5432\)/);
    expect(logs).toMatch(/node=pg2 action=follow: rewinding onto pg1:5432/);
    expect(logs).toMatch(/node=pg2 action=follow: rewound onto pg1:5432/);
    expect(logs).not.toMatch(/node=pg2 action=follow: pg_rewind failed/);
    expect(logs).toMatch(/node=pg1 action=ensure-slot: replication slot pg2 present/);
    expect(logs).toMatch(/action=follow: attaching node 2 with pcp_attach_node/);
    expect(logs).toMatch(/action=follow: node 2 \(pg2\) is a standby of pg1 again/);
    // The primary that failed is left to rebuild itself, not re-pointed (nor failed on).
    expect(logs).toMatch(/action=follow: node 0 was the primary that failed: it rebuilds itself/);
    // Nothing attached pg2 before it followed (pgpool's auto_failback, off, once did).
    expect(logs).not.toMatch(/request auto failback/);
  });

  it('scenario 5b: when pg_rewind fails, the follow falls back to pg_basebackup', async () => {
    // The old primary returns first (rebuilt as a standby of pg1), so there are two standbys again.
    await tc.container('pg0').start();
    await tc.waitReady('pg0 to rejoin as a standby', 180_000);
    // Take from repl the file access pg_rewind needs on its source: the next rewind fails for real.
    await tc.query('REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text) FROM repl');
    await tc.query('REVOKE EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) FROM repl');
    await failPrimary('pg1', 'pg0', 'pg2');
    const logs = await tc.pgpoolLogs();
    expect(logs).toMatch(/node=pg2 action=follow: pg_rewind failed; falling back to pg_basebackup/);
    expect(logs).toMatch(/node=pg2 action=basebackup: cloning pg0:5432/);
    expect(logs).toMatch(/action=follow: node 2 \(pg2\) is a standby of pg0 again/);
    await tc.query('GRANT EXECUTE ON FUNCTION pg_read_binary_file(text) TO repl');
    await tc.query('GRANT EXECUTE ON FUNCTION pg_read_binary_file(text, bigint, bigint, boolean) TO repl');
  });

  it('scenario 5c: a standby cut off from the WAL while healthy; the primary killed: the standby with the most WAL is promoted, not pgpool\'s lowest-numbered candidate; no acknowledged write lost', async () => {
    // pg1 comes back (rebuilt) first: pg0 primary, pg1 and pg2 standbys.
    await tc.container('pg1').start();
    await tc.waitReady('pg1 to rejoin as a standby', 180_000);
    // pg1 stops receiving WAL but stays up for pgpool: its walreceiver has no primary to ask.
    await tc.onNode('pg1', "ALTER SYSTEM SET primary_conninfo = ''");
    await tc.onNode('pg1', 'SELECT pg_reload_conf()');
    await waitFor('pg1 to stop streaming', async () => (await tc.onNode('pg1', 'SELECT count(*) FROM pg_stat_wal_receiver')) === '0', 30_000, 500);
    const writer = new Writer(tc, 'follow_rows', 10);
    await writer.ackedMore(100);
    const { acked } = await writer.stop();
    await allReplayed(acked, ['pg2']);
    expect(lost(acked, await ids('pg1')).length).toBeGreaterThan(0);
    await tc.container('pg0').kill();
    await waitFor('pg2 to be the primary', async () => tc.primaryOf(await tc.status()) === 'pg2', 120_000, 1000);
    const logs = await tc.pgpoolLogs();
    expect(logs).toMatch(/action=failover: promoting pg2 instead of pgpool's candidate pg1: it received more WAL/);
    expect(lost(acked, await ids('pg2'))).toEqual([]);
    // pg1 is re-pointed at pg2 and catches up.
    await waitFor('pg1 to stream from pg2', async () => (await upstreamOf('pg1')) === 'pg2', 180_000, 2000);
    await allReplayed(acked, ['pg1']);
  });
});
