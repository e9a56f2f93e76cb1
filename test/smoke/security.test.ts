import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import { PATHS } from '../../src/images/facts.js';
import { render } from '../../src/render/render.js';
import { projectInput } from '../helpers.js';
import { engineOrSkip, ensureImages, logsOf, PGPOOL_IMAGE, POSTGRES_IMAGE, Sandbox, secretsDir, sh, waitFor, waitForLog } from './harness.js';

// The privilege boundaries of both images, tried as the postgres account would try them:
// sudo, files root writes at start, and secrets that are present but unusable.

const docker = await engineOrSkip();
const SUBNET = '172.29.78.0/24';
const ip = (n: number) => `172.29.78.${n}`;
const VIP = ip(100);
const PW = { postgres_password: 'sec-pg-Pa55', pgpool_password: 'sec-pgpool-Pa55', pcp_password: 'sec-pcp-Pa55', wd_authkey: 'sec-wd-key', replication_password: 'sec-repl-Pa55' };
const secretEnv = (names: (keyof typeof PW)[]) => names.map((n) => `${n.toUpperCase()}_FILE=/run/secrets/${n}`);
const asPostgres = { user: 'postgres' };

/** Root-owned files as bait, then the postgres account points a symlink at each from every path root writes at start. */
async function plantLinks(box: Docker.Container, paths: string[]): Promise<Record<string, string>> {
  const targets: Record<string, string> = {};
  for (const [i, path] of paths.entries()) {
    const target = `/etc/pgha-bait-${i}`;
    await sh(box, `printf 'bait %s\\n' ${i} > ${target}; chmod 0644 ${target}`, { check: true });
    await sh(box, `mkdir -p "$(dirname ${path})" 2>/dev/null; rm -f ${path}; ln -s ${target} ${path}`, { ...asPostgres, check: true });
    targets[target] = `bait ${i}\n`;
  }
  return targets;
}

async function expectUntouched(box: Docker.Container, targets: Record<string, string>): Promise<void> {
  for (const [target, content] of Object.entries(targets)) {
    const r = await sh(box, `stat -c '%U %a' ${target}; cat ${target}`, { check: true });
    expect(r.stdout, target).toBe(`root 644\n${content}`);
  }
}

describe.skipIf(!docker)('security: sudo, links planted by postgres, secrets (real containers)', () => {
  const sandbox = new Sandbox(docker!);
  const secrets = secretsDir(PW);
  let net: Docker.Network;
  let pg: Docker.Container;
  let pgpool: Docker.Container;
  let watchdog: Docker.Container;

  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm', 'pgpool/bookworm']);
    net = await sandbox.network('net', SUBNET);
    pg = await sandbox.run('pg', POSTGRES_IMAGE, {
      network: net,
      ip: ip(10),
      Env: [...secretEnv(['postgres_password', 'pgpool_password', 'replication_password', 'pcp_password']), `PGHA_CLUSTER_SUBNET=${SUBNET}`],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`] },
    });
    await waitFor('the postgres backend', async () => (await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode === 0);
    pgpool = await sandbox.run('pgpool', PGPOOL_IMAGE, {
      network: net,
      ip: ip(20),
      Env: ['PGHA_BACKENDS=pg:5432', ...secretEnv(['postgres_password', 'pgpool_password', 'pcp_password'])],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`] },
    });
    await waitForLog(pgpool, /starting pgpool/);
    // A one-node watchdog that holds the delegate IP (its configured peer does not exist).
    const conf = join(secretsDir({}), 'cluster.conf');
    writeFileSync(
      conf,
      ['use_watchdog = on', `delegate_ip = '${VIP}'`, `hostname0 = '${ip(30)}'`, 'wd_port0 = 9000', 'pgpool_port0 = 9999', `hostname1 = '${ip(99)}'`, 'wd_port1 = 9000', 'pgpool_port1 = 9999', "wd_lifecheck_method = 'external'", 'enable_consensus_with_half_votes = on', ''].join('\n'),
    );
    watchdog = await sandbox.run('watchdog', PGPOOL_IMAGE, {
      network: net,
      ip: ip(30),
      Env: ['PGHA_BACKENDS=pg:5432', 'PGPOOL_NODE_ID=0', 'PGHA_VIP_PREFIX=24', 'PGHA_VIP_DEVICE=eth0', ...secretEnv(['postgres_password', 'pgpool_password', 'pcp_password', 'wd_authkey'])],
      HostConfig: { CapAdd: ['NET_ADMIN', 'NET_RAW'], Binds: [`${secrets}:/run/secrets:ro`, `${conf}:/etc/pgpool-II/cluster.conf:ro`] },
    });
    await waitForLog(watchdog, /successfully acquired the delegate IP|failed to acquire the delegate IP/, 120_000);
  });
  afterAll(() => sandbox.cleanup());

  it('postgres image: the postgres account has no sudo at all', async () => {
    expect((await sh(pg, 'sudo -n -l', asPostgres)).exitCode).not.toBe(0);
    expect((await sh(pg, 'ls /etc/sudoers.d/pgha')).exitCode).not.toBe(0);
    for (const cmd of ['/usr/sbin/ip -4 addr show', '/usr/sbin/arping --help', '/usr/bin/id']) {
      expect((await sh(pg, `sudo -n ${cmd}`, asPostgres)).exitCode, cmd).not.toBe(0);
    }
  });

  it('pgpool image: sudo lists only pgha-vip with fixed arguments; ip, arping and other arguments are refused', async () => {
    const list = await sh(pgpool, 'sudo -n -l', { ...asPostgres, check: true });
    const rules = list.stdout.split('\n').filter((l) => /^\s+\(root\)/.test(l)).map((l) => l.trim());
    expect(rules).toEqual([`(root) NOPASSWD: ${PATHS.vipWrapper} up, ${PATHS.vipWrapper} down, ${PATHS.vipWrapper} announce`]);
    for (const cmd of ['/sbin/ip -force -batch /etc/shadow', '/sbin/ip netns exec x id', '/sbin/ip addr add 10.9.9.9/32 dev eth0', '/usr/local/sbin/arping -U -c 1 -I eth0 10.9.9.9', `${PATHS.vipWrapper} up ${ip(77)}`, `${PATHS.vipWrapper} up eth0`, '/usr/bin/id']) {
      const r = await sh(pgpool, `sudo -n ${cmd}`, asPostgres);
      expect(r.exitCode, cmd).not.toBe(0);
      expect(r.stderr, cmd).toMatch(/sudo: a password is required|not allowed|may not run/);
    }
    // Without the watchdog root wrote no delegate IP, so the wrapper acts on nothing.
    const none = await sh(pgpool, `sudo -n ${PATHS.vipWrapper} up`, asPostgres);
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toContain(`${PATHS.vipConf} is missing or not root's`);
    // And the postgres account cannot write one: the run directory is root's.
    expect((await sh(pgpool, `echo delegate_ip=${ip(77)} > ${PATHS.vipConf}`, asPostgres)).exitCode).not.toBe(0);
  });

  it('pgpool image: the wrapper moves only the configured delegate IP; vip.sh refuses another address', async () => {
    const has = async (addr: string) => (await sh(watchdog, 'ip -4 -o addr show dev eth0', { check: true })).stdout.includes(`inet ${addr}/24`);
    expect(await has(VIP)).toBe(true);
    const other = await sh(watchdog, `${PATHS.libDir}/vip.sh up ${ip(77)}`, asPostgres);
    expect(other.exitCode).not.toBe(0);
    expect(other.stderr).toContain(`expected the configured delegate IP ${VIP}, got '${ip(77)}'`);
    expect(await has(ip(77))).toBe(false);
    expect((await sh(watchdog, `sudo -n ${PATHS.vipWrapper} down`, { ...asPostgres, check: true })).stdout.trim()).toBe('removed');
    expect(await has(VIP)).toBe(false);
    expect((await sh(watchdog, `${PATHS.libDir}/vip.sh up ${VIP}`, { ...asPostgres, check: true })).stderr).toContain(`action=vip-up: ${VIP}/24 added to eth0`);
    expect(await has(VIP)).toBe(true);
  });

  it('pgpool image: symlinks the postgres account plants where root writes at start are never followed', async () => {
    const targets = await plantLinks(pgpool, [
      '/run/pgha/private/.pgpoolkey',
      '/run/pgha/private/pcppass',
      '/run/pgha/private/pg_enc-input',
      '/run/pgha/private/id_ed25519',
      '/run/pgha/pgpool/pgpool.conf',
      '/run/pgha/pgpool/pcp.conf',
      '/run/pgha/pgpool/pool_passwd',
      '/run/pgha/pgpool/pool_hba.conf',
      '/run/pgpool/pgpool.pid',
    ]);
    await pgpool.restart({ t: 10 });
    const answered = await waitFor('pgpool to answer again', async () => (await sh(pgpool, 'psql -h 127.0.0.1 -p 9999 -U postgres -d postgres -Atc "SELECT 1"', { env: [`PGPASSWORD=${PW.postgres_password}`] })).exitCode === 0, 60_000).catch(() => false);
    // The bait first: that is what an attack changes, whether or not pgpool came back.
    if ((await pgpool.inspect()).State.Running) await expectUntouched(pgpool, targets);
    expect(answered, 'pgpool answers again after the restart').toBe(true);
    expect((await sh(pgpool, 'stat -c "%U %a" /run/pgha/private/.pgpoolkey; test ! -L /run/pgha/private/.pgpoolkey', { check: true })).stdout.trim()).toBe('postgres 600');
  });

  it('postgres image: symlinks the postgres account plants in its run directory and volume are never followed by root', async () => {
    const targets = await plantLinks(pg, ['/run/pgha/private/pgpass', '/run/pgha/private/pcppass', '/run/pgha/private/initdb-pw', '/run/pgha/private/rejoin-requested', '/run/pgha/private/known_hosts', `${PATHS.pgdata}/pgha.conf`]);
    await pg.restart({ t: 30 });
    await waitFor('postgres to accept connections again', async () => (await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode === 0, 90_000);
    await expectUntouched(pg, targets);
    // pgha.conf was written anew by postgres, as a file of its own.
    expect((await sh(pg, `stat -c "%U %F" ${PATHS.pgdata}/pgha.conf`, { check: true })).stdout.trim()).toBe('postgres regular file');
  });

  it('postgres image: replication is accepted from the cluster network only', async () => {
    const hba = await sh(pg, `grep "^host" ${PATHS.pgdata}/pg_hba.conf`, { check: true });
    expect(hba.stdout).toMatch(new RegExp(`^host\\s+replication\\s+repl\\s+${SUBNET.replace(/\./g, '\\.')}\\s+scram-sha-256$`, 'm'));
    expect(hba.stdout).not.toMatch(/^host\s+replication\s+\S+\s+0\.0\.0\.0\/0/m);
  });

  it('refuses a secret given twice, a secret file holding only a line break, and a secret of two lines', async () => {
    const odd = secretsDir({});
    writeFileSync(join(odd, 'blank'), '\n');
    writeFileSync(join(odd, 'two'), 'one\ntwo\n');
    const bad = await sandbox.run('pgpool-secrets', PGPOOL_IMAGE, {
      Env: ['PGHA_BACKENDS=pg', 'POSTGRES_PASSWORD=x', 'POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password', 'PGPOOL_PASSWORD_FILE=/run/odd/blank', 'PCP_PASSWORD_FILE=/run/odd/two'],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`, `${odd}:/run/odd:ro`] },
    });
    // Bounded: an image that accepts these secrets would run on instead of exiting.
    const exited = await Promise.race([bad.wait(), new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
    expect(exited?.StatusCode, 'the container should stop at once with exit code 2').toBe(2);
    expect((await logsOf(bad)).trim().split('\n')).toEqual([
      'pgha-pgpool: configuration error: POSTGRES_PASSWORD: expected a value in POSTGRES_PASSWORD or in the file named by POSTGRES_PASSWORD_FILE, not both',
      'pgha-pgpool: configuration error: PGPOOL_PASSWORD_FILE: expected a value, found only white space',
      'pgha-pgpool: configuration error: PCP_PASSWORD_FILE: expected a value on one line without control characters',
    ]);
  });
});

describe.skipIf(!docker)('pgpool.conf values through the built pgpool\'s own parser (real containers)', () => {
  const sandbox = new Sandbox(docker!);
  const secrets = secretsDir(PW);
  // Accepted by validate, each hostile to a naive writer: backslashes (also last), '#', '=',
  // a key name inside the value, non-ASCII. pgpool must read each back exactly.
  const settings: Record<string, string> = {
    log_line_prefix: 'pgha\\ #1 = x use_watchdog = off %m: ',
    syslog_ident: 'pgha é#q\\',
  };

  async function pgpoolWith(name: string, clusterConf: string): Promise<Docker.Container> {
    const dir = secretsDir({});
    writeFileSync(join(dir, 'cluster.conf'), clusterConf);
    return sandbox.run(name, PGPOOL_IMAGE, {
      Env: ['PGHA_BACKENDS=127.0.0.1:5432', ...secretEnv(['postgres_password', 'pgpool_password', 'pcp_password'])],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`, `${dir}/cluster.conf:/etc/pgpool-II/cluster.conf:ro`] },
    });
  }

  beforeAll(async () => {
    await ensureImages(docker!, ['pgpool/bookworm']);
  });
  afterAll(() => sandbox.cleanup());

  it('renders settings pgpool reads back exactly (pcp_pool_status), and never the keys hidden in them', async () => {
    const input = projectInput();
    // No backend answers here: a short primary search lets pgpool (and pcp) finish starting.
    const yaml = `timings:\n  searchPrimarySeconds: 1\npgpool:\n  nodes: 1\n  settings:\n${Object.entries(settings).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
    const cluster = parseCluster(yaml, 'hostile.yaml', input.manifest);
    const rendered = render({ ...input, cluster, clusterSource: 'hostile.yaml' });
    const conf = rendered.get(`deploy/${cluster.name}/pgpool/cluster.conf`)!;
    const box = await pgpoolWith('hostile', conf);
    const status = await waitFor('pcp_pool_status', async () => {
      const r = await sh(box, `PCPPASSFILE=/run/pgha/private/pcppass pcp_pool_status -h localhost -p 9898 -U pgpool -w`, asPostgres);
      return r.exitCode === 0 ? r.stdout : false;
    }, 90_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${(await logsOf(box)).slice(-3000)}`);
    });
    const values = new Map<string, string>();
    for (const m of status.matchAll(/^name : (\S+)\nvalue: (.*)$/gm)) values.set(m[1]!, m[2]!);
    for (const [key, value] of Object.entries(settings)) expect(values.get(key), key).toBe(value);
    expect(values.get('use_watchdog')).toBe('0');
    const logs = await logsOf(box);
    expect(logs).not.toMatch(/syntax error/i);
    // pgpool's own log lines start with the prefix as it read it.
    expect(logs).toContain(`\n${settings.log_line_prefix!.replace('%m: ', '')}`);
  });

  it('the old escaping (a doubled quote) is a syntax error to pgpool: the check above can fail', async () => {
    const box = await pgpoolWith('doubled-quote', "log_line_prefix = 'it''s: '\n");
    const exited = await Promise.race([box.wait(), new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
    expect(exited?.StatusCode, 'pgpool should stop at once').not.toBe(0);
    expect(await logsOf(box)).toMatch(/syntax error/i);
  });
});
