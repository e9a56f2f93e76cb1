// Scenarios 1, 2, 8, 9, 9b, 9c, 10 and 4 of the failover suite, on one 2-node cluster whose
// initial primary is node 1. They run in order on the same cluster; 4 (every backend down)
// is last because it leaves the cluster without a database.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cutOff } from '../../src/docker/partition.js';
import { connectionStrings } from '../../src/deploy/connect.js';
import { healedProblem } from '../../src/deploy/lifecycle.js';
import { TestCluster, Writer, e2eEngine, logSince, lost, sh, waitFor } from './harness.js';

const docker = await e2eEngine();

describe.skipIf(!docker)('e2e: roles, load balancing, watchdog, restart (2 postgres nodes, node 1 initial primary)', () => {
  let tc: TestCluster;

  beforeAll(async () => {
    tc = new TestCluster(docker!, 'e2e-roles', 41, { nodes: 2, initialPrimary: 1 });
    await tc.up();
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') await tc?.printDiagnostics();
  });
  afterAll(async () => {
    await tc?.destroy();
  });

  it('scenario 1: roles are discovered, not configured: node 1 starts as primary and takes the writes', async () => {
    const s = await tc.status();
    expect(tc.primaryOf(s)).toBe('pg1');
    expect(s.backends.find((b) => b.host === 'pg0')?.role).toBe('standby');
    // pgpool.conf names no primary: the backends are listed without roles.
    const conf = await sh(tc.container('pgpool0'), 'cat /run/pgha/pgpool/pgpool.conf');
    expect(conf.stdout).toMatch(/backend_hostname1 = 'pg1'/);
    expect(conf.stdout).not.toMatch(/ALWAYS_PRIMARY/);
    await tc.query('CREATE TABLE roles_probe AS SELECT host(inet_server_addr()) AS addr, pg_is_in_recovery() AS standby');
    const [probe] = await tc.query<{ addr: string; standby: boolean }>('SELECT * FROM roles_probe');
    expect(probe!.addr).toBe(tc.topo.postgres[1]!.address);
    expect(probe!.standby).toBe(false);
    expect(await tc.onNode('pg1', 'SELECT pg_is_in_recovery()')).toBe('f');
    expect((await sh(tc.container('pg1'), 'cat /var/lib/postgresql/.node_role')).stdout.trim()).toBe('MASTER');
    expect((await sh(tc.container('pg0'), 'cat /var/lib/postgresql/.node_role')).stdout.trim()).toBe('BACKUP');
  });

  it('scenario 2: writes reach the primary, reads are balanced over both nodes, the standby replays', async () => {
    await tc.query('CREATE TABLE balance (id int PRIMARY KEY, written_on text DEFAULT host(inet_server_addr()))');
    for (let i = 1; i <= 50; i++) await tc.query('INSERT INTO balance(id) VALUES ($1)', [i]);
    const writtenOn = await tc.query<{ written_on: string }>('SELECT DISTINCT written_on FROM balance');
    expect(writtenOn.map((r) => r.written_on)).toEqual([tc.topo.postgres[1]!.address]);

    // Load balancing picks a node per session: over 40 sessions both nodes answer reads.
    const readers = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const [r] = await tc.query<{ addr: string }>('SELECT host(inet_server_addr()) AS addr, count(*) FROM balance');
      readers.set(r!.addr, (readers.get(r!.addr) ?? 0) + 1);
    }
    console.log('reads per node:', Object.fromEntries(readers));
    expect([...readers.keys()].sort()).toEqual(tc.topo.postgres.map((n) => n.address).sort());

    await waitFor('the standby to replay the 50 rows', async () => (await tc.onNode('pg0', 'SELECT count(*) FROM balance')) === '50', 30_000);
    // pgpool's replication state is blank until its streaming-replication check has run since
    // the last attach (a standby still cloning at the first start is attached by its own node once it streams).
    const standby = await waitFor('pgpool to report pg0 streaming', async () => {
      const b = (await tc.status()).backends.find((x) => x.host === 'pg0')!;
      return b.replicationState ? b : false;
    }, 30_000, 1000);
    expect(standby.replicationState).toBe('streaming');
  });

  it('every container reports healthy to the engine (the images\' HEALTHCHECK: a primary or a streaming standby; pgpool answering and a joined watchdog member; a metrics service answering)', async () => {
    const hosts = [...tc.topo.postgres, ...tc.topo.pgpool, ...tc.topo.pgpoolMetrics].map((n) => n.host);
    const health = await waitFor('every container healthy', async () => {
      const states = await Promise.all(hosts.map(async (h) => [h, (await tc.container(h).inspect()).State.Health?.Status ?? 'none'] as const));
      return states.every(([, st]) => st === 'healthy') ? states : false;
    }, 90_000, 2000);
    expect(health.map(([h]) => h)).toEqual(hosts);
    const last = (await tc.container('pg0').inspect()).State.Health!.Log!.at(-1)!;
    expect(last.Output.trim()).toBe('standby, streaming');
  });

  it('pgha cluster status --json and pgha cluster doctor see the healthy cluster; doctor names a broken SSH path', async () => {
    const status = await tc.cli('status', '--json');
    expect(status.exitCode).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.backends.map((b: { host: string; role: string; status: string }) => `${b.host}:${b.role}:${b.status}`)).toEqual(['pg0:standby:up', 'pg1:primary:up']);
    expect(s.watchdog.vipHolders).toEqual([s.watchdog.leader]);
    const table = await tc.cli('status');
    expect(table.stdout).toMatch(/^ID\s+HOST\s+CONTAINER\s+STATUS\s+ROLE\s+LAG \(bytes\)/m);
    expect(table.stdout).toMatch(/^1\s+pg1\s+running\s+up\s+primary/m);

    const healthy = await tc.cli('doctor');
    console.log(healthy.stdout);
    expect(healthy.exitCode).toBe(0);
    expect(healthy.stdout).toMatch(/^all \d+ checks passed$/m);
    expect(healthy.stdout).toMatch(/^ok {4}ssh pgpool1 → pg0$/m);
    expect(healthy.stdout).toMatch(/^ok {4}pcp login from pg0 through /m);

    // Take away pgpool1's pinned host keys: its SSH must now fail, and doctor must say where.
    await sh(tc.container('pgpool1'), 'mv /run/pgha/private/known_hosts /run/pgha/private/known_hosts.away', { check: true });
    try {
      const broken = await tc.cli('doctor');
      expect(broken.exitCode).toBe(1);
      expect(broken.stdout).toMatch(/^FAIL {2}ssh pgpool1 → pg0: .*Host key verification failed.*known_hosts/m);
      expect(broken.stdout).toMatch(/^ok {4}ssh pgpool0 → pg0$/m);
      expect(broken.stdout).toMatch(/^\d+ of \d+ checks failed$/m);
    } finally {
      await sh(tc.container('pgpool1'), 'mv /run/pgha/private/known_hosts.away /run/pgha/private/known_hosts', { check: true });
    }
  });

  it('without the delegate IP, a postgres node finds the watchdog leader by asking the pgpool peers, and reads the backends there', async () => {
    const s = JSON.parse((await tc.cli('status', '--json')).stdout);
    // As a node of a cluster with no delegate IP (several hosts) runs it: the same functions, PGHA_DELEGATE_IP empty.
    const r = await sh(tc.container('pg0'), `runuser -u postgres -- env PGHA_DELEGATE_IP= PGHA_PGPOOL_LEADER_FILE=/tmp/pgha-leader-e2e bash -c '. /usr/local/bin/pgha-node && pgha_node_pgpool_host && pgha_node_pool_nodes'`);
    expect(r.exitCode, r.stderr).toBe(0);
    const [host, ...nodes] = r.stdout.trim().split('\n');
    expect(host).toBe(s.watchdog.leader);
    expect(nodes).toEqual(['0|pg0|up|standby', '1|pg1|up|primary']);
  });

  it('scenario 8: the watchdog leader is killed: escalation clears the VIP elsewhere first, one holder at every sample, clients reconnect', async () => {
    const before = await tc.status();
    const oldLeader = before.watchdog.leader!;
    expect(before.watchdog.vipHolders).toEqual([oldLeader]);
    const client = await tc.client();
    await client.query('SELECT 1');

    const samples: string[][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await tc.vipHolders());
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    await tc.container(oldLeader).kill();
    const after = await waitFor(
      'a new watchdog leader holding the VIP',
      async () => {
        const s = await tc.status();
        return s.watchdog.leader && s.watchdog.leader !== oldLeader && s.watchdog.vipHolders.length === 1 && s.watchdog.vipHolders[0] === s.watchdog.leader ? s : false;
      },
      120_000,
      1000,
    );
    // Keep sampling a little after the move.
    await new Promise((r) => setTimeout(r, 3000));
    sampling = false;
    await sampler;
    const newLeader = after.watchdog.leader!;
    console.log(`leader ${oldLeader} -> ${newLeader}; ${samples.length} VIP samples, holders per sample: ${[...new Set(samples.map((s) => s.length))].join(',')}`);
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((s) => s.length > 1)).toEqual([]);

    // On the new leader, escalation.sh ran and finished before the VIP came up there.
    const log = await tc.logs(newLeader);
    const escalation = log.indexOf(`node=${newLeader} action=escalation: becoming leader`);
    const escalationDone = log.indexOf(`node=${newLeader} action=escalation: done`);
    const vipUp = log.indexOf(`node=${newLeader} action=vip-up: ${tc.vip}`);
    expect(escalation).toBeGreaterThanOrEqual(0);
    expect(escalationDone).toBeGreaterThan(escalation);
    expect(vipUp).toBeGreaterThan(escalationDone);
    for (const peer of tc.topo.pgpool.map((n) => n.host).filter((h) => h !== newLeader)) {
      // Reached and cleared, or unreachable (the killed leader) and said so.
      expect(log).toMatch(new RegExp(`(${tc.vip} cleared on ${peer}|could not reach ${peer} over SSH)`));
    }
    expect(log).toMatch(new RegExp(`action=garp: gratuitous ARP sent for ${tc.vip.replace(/\./g, '\\.')}`));

    // The old connection died with its pgpool; a new one to the same address works.
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await client.end().catch(() => {});
    const [r] = await tc.query<{ ok: number }>('SELECT 1 AS ok');
    expect(r!.ok).toBe(1);

    // The old leader comes back as a standby watchdog member; still one VIP holder.
    await tc.container(oldLeader).start();
    const healed = await waitFor('the old leader to rejoin the watchdog', async () => {
      const s = await tc.status();
      return s.watchdog.nodes.every((n) => ['LEADER', 'STANDBY'].includes(n.state)) ? s : false;
    }, 120_000, 2000);
    expect(healed.watchdog.vipHolders).toEqual([newLeader]);
  });

  it('scenario 9: a pgpool node cut off from the network neither takes the VIP nor fails over alone', async () => {
    // Whole first (scenario 8 restarted a pgpool node moments ago; its view may still be filling in).
    const before = await tc.waitReady('the cluster whole before the partition', 120_000, healedProblem);
    const leader = before.watchdog.leader!;
    const isolated = tc.topo.pgpool.find((n) => n.host !== leader)!;
    const since = Date.now();
    // A partition on the bridge (the host's DOCKER-USER chain): the node keeps its interface
    // and /etc/hosts, as behind a cut cable.
    const partition = await cutOff(isolated.address, `pgha-e2e ${tc.containerName(isolated.host)}`);
    try {
      const holdersSeen: string[][] = [];
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline) {
        holdersSeen.push(await tc.vipHolders());
        await new Promise((r) => setTimeout(r, 500));
      }
      const isolatedLines = (await tc.logs(isolated.host)).split('\n').filter((l) => Date.parse(l.slice(0, 19).replace(' ', 'T') + 'Z') >= since - 1000);
      // How pgpool words it varies with timing: the peers are lost, it is the only node left, or it shuts down.
      const isolatedLog = isolatedLines.filter((l) => /is lost|lost the cluster leader|only alive node|lost the network|disconnected from the network|quorum/i.test(l));
      console.log(`isolated ${isolated.host}:\n${isolatedLog.slice(0, 8).join('\n')}\nholders seen: ${[...new Set(holdersSeen.map((h) => h.join('+')))].join(' | ')}`);
      expect(holdersSeen.filter((h) => h.includes(isolated.host))).toEqual([]);
      expect(holdersSeen.filter((h) => h.length !== 1)).toEqual([]);
      // pgpool notices it is cut off, and without quorum never escalates (which would bring the VIP up).
      expect(isolatedLog.length).toBeGreaterThan(0);
      expect(isolatedLines.filter((l) => l.includes(`pgha[escalation.sh] node=${isolated.host}`) || l.includes(`pgha[vip.sh] node=${isolated.host} action=vip-up`))).toEqual([]);
      // The isolated node lost every backend, yet no failover ran anywhere and the primary stayed.
      const logs = await tc.pgpoolLogs();
      const failovers = logs.split('\n').filter((l) => l.includes('pgha[failover.sh]') && Date.parse(l.slice(0, 20)) >= since - 1000);
      expect(failovers).toEqual([]);
      const during = await tc.status();
      expect(tc.primaryOf(during)).toBe(tc.primaryOf(before));
      expect(during.backends.every((b) => b.status === 'up')).toBe(true);
    } finally {
      await partition.heal();
    }
    const after = await waitFor('the isolated node to rejoin the watchdog', async () => {
      const s = await tc.status();
      return s.watchdog.nodes.every((n) => ['LEADER', 'STANDBY'].includes(n.state)) && s.watchdog.vipHolders.length === 1 ? s : false;
    }, 120_000, 2000);
    expect(after.watchdog.vipHolders).not.toContain(isolated.host);
  });

  it('scenario 9b: docker stop of a pgpool node is a fast shutdown: exit 0 before the engine\'s SIGKILL, and the node rejoins when started', async () => {
    const before = await tc.status();
    const node = tc.topo.pgpool.find((n) => n.host !== before.watchdog.leader)!.host;
    const container = tc.container(node);
    // The engine sends SIGTERM, then SIGKILL after t seconds; a SIGKILLed container exits 137.
    await container.stop({ t: 10 });
    const state = (await container.inspect()).State;
    expect(state.ExitCode).toBe(0);
    const log = await tc.logs(node);
    expect(log).toContain('Pgpool-II system is shutdown');
    expect(log).toContain(`node=${node} action=stop: pgpool shut down (status 0)`);
    await container.start();
    const after = await waitFor(`${node} to rejoin the watchdog`, async () => {
      const s = await tc.status();
      return s.watchdog.nodes.every((n) => ['LEADER', 'STANDBY'].includes(n.state)) && s.watchdog.vipHolders.length === 1 ? s : false;
    }, 120_000, 2000);
    expect(after.watchdog.vipHolders).toEqual([before.watchdog.leader]);
  });

  it('scenario 9c (patch 0007): a standby cut off while a session connects: the session goes on without it once pgpool marks it down, and when it answers again it is attached by failback and every pgpool node takes new sessions', async () => {
    const before = await tc.waitReady('the cluster whole before the cut-off', 120_000, healedProblem);
    const primary = tc.primaryOf(before)!;
    const standby = tc.topo.postgres.find((n) => n.host !== primary)!;
    // A database no pooled connection has seen, so the session's child connects to every
    // backend afresh (a reused pooled connection would not).
    const fresh = (tag: string) => `cutoff9c_${tag}_${Date.now()}`;
    // Created through pgpool, then waited for on every node: a session reads from each.
    const create = async (name: string) => {
      await tc.query(`CREATE DATABASE ${name}`);
      await waitFor(`${name} on every node`, async () => {
        for (const n of tc.topo.postgres) if ((await tc.onNode(n.host, `SELECT count(*) FROM pg_database WHERE datname = '${name}'`)) !== '1') return false;
        return true;
      }, 30_000, 200);
    };
    const during = fresh('during');
    await create(during);
    const connectTo = (host: string, database: string) =>
      new pg.Client({ host, port: tc.cluster.pgpool.port, user: 'postgres', password: tc.password, database, connectionTimeoutMillis: 90_000, statement_timeout: 15_000 });
    const since = Date.now();
    const partition = await cutOff(standby.address, `pgha-e2e ${tc.containerName(standby.host)}`);
    let healedAt = 0;
    let answeredAt = 0;
    try {
      const client = connectTo(tc.vip, during);
      client.on('error', () => {});
      const session = client.connect().then(() => client.query('SELECT 1')).then(() => { answeredAt = Date.now(); }, (e: Error) => e.message);
      // pgpool's health check marks the standby down within seconds; unpatched, the session's
      // connect to the cut-off host went on retrying until the cut-off ended. Bounded: 60 s.
      const outcome = await Promise.race([session, new Promise((r) => setTimeout(r, 60_000))]);
      await client.end().catch(() => {});
      console.log(`scenario 9c: session ${answeredAt ? `answered after ${((answeredAt - since) / 1000).toFixed(1)} s` : `did not answer in 60 s (${outcome === undefined ? "still connecting" : String(outcome)})`}, ${standby.host} still cut off`);
      expect(answeredAt).toBeGreaterThan(0);
      const down = await tc.status();
      expect(down.backends.find((b) => b.host === standby.host)?.status).toBe('down');
      expect(tc.primaryOf(down)).toBe(primary);
    } finally {
      await partition.heal();
      healedAt = Date.now();
    }
    // Back: the standby's own watch attaches it (pcp_attach_node, a failback), not a session.
    await tc.waitReady('the cut-off standby attached again', 120_000, healedProblem);
    const attachLog = await logSince(tc, standby.host, healedAt);
    expect(attachLog).toMatch(/action=attach: node \d attached/);
    // Every pgpool node takes a new session that connects to both backends afresh; unpatched,
    // a node whose session raised the standby itself answered "kind does not match" to all.
    const after = fresh('after');
    await create(after);
    const refused: string[] = [];
    for (const node of tc.topo.pgpool) {
      const c = connectTo(node.address, after);
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query('SELECT 1');
      } catch (e) {
        refused.push(`${node.host}: ${(e as Error).message}`);
      } finally {
        await c.end().catch(() => {});
      }
    }
    expect(refused).toEqual([]);
    await tc.query(`DROP DATABASE ${during} WITH (FORCE)`);
    await tc.query(`DROP DATABASE ${after} WITH (FORCE)`);
  });

  it('published ports: the delegate IP string and the multi-host string both reach the primary from the host; with the first pgpool node killed, the multi-host string skips it', async () => {
    const conn = connectionStrings(tc.cluster, tc.topo);
    // The first backend is a standby here (node 1 is the primary): the state in which unpatched
    // pgpool reported in_hot_standby=on and target_session_attrs=read-write refused every node.
    expect(tc.primaryOf(await tc.status())).toBe('pg1');
    expect(conn.published).toContain('target_session_attrs=read-write');
    // A write, then where it went: pgpool sends the transaction to the primary.
    await tc.query('CREATE TABLE IF NOT EXISTS published_probe (n int)');
    const isPrimary = 'WITH w AS (INSERT INTO published_probe VALUES (1) RETURNING n) SELECT NOT pg_is_in_recovery() FROM w';
    for (const c of [conn.delegateIp, conn.published!]) {
      const r = await tc.psqlFromHost(c, isPrimary);
      expect(r.stdout.trim(), `${c}: ${r.stderr}`).toBe('t');
    }
    const first = tc.topo.published[0]!;
    // A client given a pooled backend connection is answered from the kept parameters
    // (send_params): more sessions to one node than it has children (num_init_children 32)
    // makes some of them reuse one. Each must still see a read-write session.
    const single = conn.published!.replace(/host=[^ ]+ port=[^ ]+/, `host=${first.address} port=${first.port}`);
    expect(await tc.sessionsFromHost(single, 40)).toBe(40);
    await tc.container(first.host).kill();
    const down = await tc.psqlFromHost(`host=${first.address} port=${first.port} user=postgres dbname=postgres connect_timeout=3`, 'SELECT 1');
    expect(down.exitCode).not.toBe(0);
    // pgpool routes the write to the primary whichever pgpool node libpq reached.
    const r = await waitFor('the multi-host string to reach the primary without the first pgpool node', async () => {
      const x = await tc.psqlFromHost(conn.published!, isPrimary);
      return x.exitCode === 0 ? x : false;
    }, 60_000, 1000);
    expect(r.stdout.trim()).toBe('t');
    await tc.container(first.host).start();
    await tc.waitReady(`${first.host} back in the watchdog`, 120_000);
  });

  it('scenario 10: the whole cluster stopped and started with its volumes keeps its primary and every row', async () => {
    await tc.query('CREATE TABLE restart_rows (id int PRIMARY KEY)');
    const writer = new Writer(tc, 'restart_rows', 10);
    await writer.ackedMore(200);
    const { acked } = await writer.stop();
    const primaryBefore = tc.primaryOf(await tc.status());
    // The standby carries a hold from before the restart, as failover.sh's breadcrumb or a
    // rebuild cut short by a restart leaves it: it must ask to be rebuilt, not stay down.
    const standby = tc.topo.postgres.map((n) => n.host).find((h) => h !== primaryBefore)!;
    await sh(tc.container(standby), 'touch /var/lib/postgresql/.do_not_start', { user: 'postgres', check: true });

    await tc.down({ volumes: false });
    expect((await docker!.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${tc.cluster.name}`] } })).length).toBe(0);
    const s = await tc.up();
    expect(tc.primaryOf(s)).toBe(primaryBefore);

    expect(await tc.logs(standby)).toContain('.do_not_start was left from before this start');
    const ids = (await tc.query<{ id: number }>('SELECT id FROM restart_rows')).map((r) => r.id);
    expect(lost(acked, ids)).toEqual([]);
    for (const n of tc.topo.postgres) {
      await waitFor(`${n.host} to have every acknowledged row`, async () => Number(await tc.onNode(n.host, 'SELECT count(*) FROM restart_rows WHERE id <= ' + Math.max(...acked))) >= acked.length, 60_000);
    }
  });

  it('scenario 4: every backend down: failover.sh refuses to promote and says so', async () => {
    const since = Date.now();
    await tc.container('pg0').kill();
    await waitFor('pgpool to detach the standby', async () => (await tc.status()).backends.find((b) => b.host === 'pg0')?.status === 'down', 120_000, 2000);
    await tc.container('pg1').kill();
    const logs = await waitFor('failover.sh to refuse', async () => {
      const l = await tc.pgpoolLogs();
      return /every backend is down: no node to promote; refusing/.test(l) ? l : false;
    }, 120_000, 2000);
    const failoverLines = logs.split('\n').filter((l) => l.includes('pgha[failover.sh]') && Date.parse(l.slice(0, 20)) >= since - 1000);
    console.log(failoverLines.join('\n'));
    expect(failoverLines.some((l) => l.includes('promoting'))).toBe(false);
    await expect(tc.query('SELECT 1')).rejects.toThrow();
  });
});
