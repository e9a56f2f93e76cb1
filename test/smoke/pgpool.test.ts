import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/docker/build.js';
import { imageExists } from '../../src/docker/engine.js';
import { derive } from '../../src/manifest/schema.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../../src/sources/cache.js';
import { hasCommand, IN_CI, ROOT } from '../helpers.js';
import { engineOrSkip, ensureImages, logsOf, manifest, PGPOOL_IMAGE, plans, POSTGRES_IMAGE, Sandbox, secretsDir, sh, waitFor, waitForLog } from './harness.js';

const docker = await engineOrSkip();
const SUBNET = '172.29.77.0/24';
const ip = (n: number) => `172.29.77.${n}`;
const PW = { postgres_password: 'smoke-pg-Pa55', pgpool_password: 'smoke-pgpool-Pa55', pcp_password: 'smoke-pcp-Pa55', wd_authkey: 'smoke-wd-key' };
const CONTROL_TAG = `${PGPOOL_IMAGE}-control`;
/** The patches the control image is built without: each has a test below that it fails. */
const CONTROL_SKIPS = ['watchdog-ping-rtt', 'unresolvable-watchdog-peer', 'pcp-port-check-is-not-an-error'];

let controlBuilt: Promise<void> | undefined;
/** The control image, built once per run: the same context as the pgpool image, without CONTROL_SKIPS. */
function controlImage(docker: Docker): Promise<void> {
  controlBuilt ??= (async () => {
    const built = await docker.getImage(PGPOOL_IMAGE).inspect();
    // Built beside this very pgpool image, or again: an old control image has old scripts.
    if ((await imageExists(docker, CONTROL_TAG)) && (await docker.getImage(CONTROL_TAG).inspect()).Config.Labels?.['io.pgha.control.of'] === built.Id) return;
    const standin = built.Config.Labels?.['io.pgha.bases'] === 'standin';
    const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(ROOT));
    await buildImage(docker, {
      name: 'pgpool/bookworm (control)',
      contextDir: join(ROOT, 'images/pgpool/bookworm'),
      extra: [{ name: derive(manifest).tarballFile, source: tarball.path }],
      tags: [CONTROL_TAG],
      buildargs: { ...(standin ? plans['pgpool/bookworm']!.standin! : plans['pgpool/bookworm']!.upstream), PGHA_SKIP_PATCHES: CONTROL_SKIPS.join(',') },
      labels: { 'io.pgha.control': `built without ${CONTROL_SKIPS.join(', ')}, for the smoke test only`, 'io.pgha.control.of': built.Id },
      logFile: join(ROOT, 'results/logs/pgpool-bookworm-control.log'),
    });
  })();
  return controlBuilt;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows of a psql -A result with a header line, as objects. */
function table(out: string): Record<string, string>[] {
  const [head, ...rows] = out.trim().split('\n').filter((l) => !/^\(\d+ rows?\)$/.test(l));
  const cols = head!.split('|');
  return rows.map((r) => Object.fromEntries(r.split('|').map((v, i) => [cols[i]!, v])));
}

describe.skipIf(!docker)('pgpool image, Debian variant (real containers)', () => {
  const sandbox = new Sandbox(docker!);
  const secrets = secretsDir(PW);
  const secretEnv = ['POSTGRES_PASSWORD_FILE', 'PGPOOL_PASSWORD_FILE', 'PCP_PASSWORD_FILE', 'WD_AUTHKEY_FILE'].map(
    (v) => `${v}=/run/secrets/${v.replace(/_FILE$/, '').toLowerCase()}`,
  );
  let net: Docker.Network;
  let pgpool: Docker.Container;

  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm', 'pgpool/bookworm']);
    net = await sandbox.network('net', SUBNET);
    const pg = await sandbox.run('pg', POSTGRES_IMAGE, {
      network: net,
      ip: ip(10),
      Env: ['POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password', 'PGPOOL_PASSWORD_FILE=/run/secrets/pgpool_password'],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`] },
    });
    await waitFor('the postgres backend', async () => (await sh(pg, 'pg_isready -q -h 127.0.0.1')).exitCode === 0);
    pgpool = await sandbox.run('pgpool', PGPOOL_IMAGE, {
      network: net,
      ip: ip(20),
      Env: ['PGHA_BACKENDS=pg:5432', ...secretEnv],
      HostConfig: { Binds: [`${secrets}:/run/secrets:ro`] },
    });
    await waitForLog(pgpool, /pgpool-II successfully started|accepting connections|listening on/i, 60_000).catch(async (err) => {
      throw new Error(`${(err as Error).message}\n${await logsOf(pgpool)}`);
    });
  });
  afterAll(() => sandbox.cleanup());

  it('reports the manifest version and carries the applied patches', async () => {
    const version = await sh(pgpool, 'pgpool --version', { check: true });
    expect(version.stdout + version.stderr).toContain(`pgpool-II version ${manifest.pgpool.version}`);
    const series = await sh(pgpool, 'grep -v "^#" /usr/local/share/pgha/patches/series | cut -f1', { check: true });
    expect(series.stdout.trim().split('\n')).toEqual(derive(manifest).patches.map((p) => p.name));
    expect((await sh(pgpool, 'cat /usr/local/share/pgha/patches/skipped', { check: true })).stdout.trim()).toBe('');
    // The RTT patch adds the string literal "min/avg/max" to the watchdog's code.
    expect((await sh(pgpool, 'grep -c "min/avg/max" /usr/local/bin/pgpool')).exitCode).toBe(0);
  });

  it('finds the backend as primary with pg_is_in_recovery() and shows it up', async () => {
    const nodes = await waitFor('pool_nodes to show the backend up as primary', async () => {
      const r = await sh(pgpool, 'psql -h 127.0.0.1 -p 9999 -U postgres -d postgres -A -c "SHOW pool_nodes"', { env: [`PGPASSWORD=${PW.postgres_password}`] });
      if (r.exitCode !== 0) throw new Error(r.stderr);
      const rows = table(r.stdout);
      return rows[0]?.status === 'up' && rows[0]?.role === 'primary' && rows[0]?.pg_role === 'primary' ? rows : false;
    }, 60_000);
    expect(nodes).toHaveLength(1);
    expect(nodes[0]!.hostname).toBe('pg');
    // Writes go to it: a table created through pgpool is there.
    const w = await sh(pgpool, 'psql -h 127.0.0.1 -p 9999 -U postgres -d postgres -Atc "CREATE TABLE smoke(x int); INSERT INTO smoke VALUES (1); SELECT pg_is_in_recovery()"', { env: [`PGPASSWORD=${PW.postgres_password}`] });
    expect(w.stdout.trim().split('\n').pop()).toBe('f');
  });

  it('logs clients in with scram-sha-256 from pool_passwd and .pgpoolkey made together at start', async () => {
    const ok = await sh(pgpool, 'psql -h 127.0.0.1 -p 9999 -U postgres -d postgres -Atc "SELECT current_user"', { env: [`PGPASSWORD=${PW.postgres_password}`] });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('postgres');
    const bad = await sh(pgpool, 'psql -h 127.0.0.1 -p 9999 -U postgres -d postgres -Atc "SELECT 1"', { env: ['PGPASSWORD=wrong'] });
    expect(bad.exitCode).not.toBe(0);
    const files = await sh(pgpool, 'stat -c "%a %U %Y %n" /run/pgha/pgpool/pool_passwd /run/pgha/private/.pgpoolkey', { check: true });
    const [passwd, key] = files.stdout.trim().split('\n').map((l) => l.split(' '));
    expect([passwd![0], passwd![1], key![0], key![1]]).toEqual(['600', 'postgres', '600', 'postgres']);
    expect(Math.abs(Number(passwd![2]) - Number(key![2]))).toBeLessThanOrEqual(2);
    const entries = await sh(pgpool, 'cat /run/pgha/pgpool/pool_passwd', { check: true });
    expect(entries.stdout.trim().split('\n').map((l) => l.replace(/^(\w+:AES).*/, '$1'))).toEqual(['postgres:AES', 'pgpool:AES']);
    expect(entries.stdout).not.toContain(PW.postgres_password);
    const hba = await sh(pgpool, 'grep -v "^#" /run/pgha/pgpool/pool_hba.conf', { check: true });
    expect(hba.stdout).not.toMatch(/\b(md5|trust|password)\b/);
  });

  it('runs pgpool as postgres, nothing as root', async () => {
    const ps = await sh(pgpool, 'ps -eo user:20,comm --no-headers', { check: true });
    const procs = ps.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(procs.filter(([u, c]) => u === 'root' && !['ps', 'bash'].includes(c!))).toEqual([]);
    expect(procs.some(([u, c]) => u === 'postgres' && c === 'pgpool')).toBe(true);
  });

  it('stops with one clear line per configuration problem and a non-zero exit', async () => {
    const bad = await sandbox.run('pgpool-bad', PGPOOL_IMAGE, { Env: ['PCP_PASSWORD_FILE=/nonexistent'] });
    expect((await bad.wait()).StatusCode).toBe(2);
    expect((await logsOf(bad)).trim().split('\n')).toEqual([
      'pgha-pgpool: configuration error: POSTGRES_PASSWORD: expected a value in POSTGRES_PASSWORD or a file path in POSTGRES_PASSWORD_FILE',
      'pgha-pgpool: configuration error: PGPOOL_PASSWORD: expected a value in PGPOOL_PASSWORD or a file path in PGPOOL_PASSWORD_FILE',
      'pgha-pgpool: configuration error: PCP_PASSWORD_FILE: expected a readable file, got /nonexistent',
      'pgha-pgpool: configuration error: backend_hostname0: expected at least one backend in /etc/pgpool-II/cluster.conf or PGHA_BACKENDS',
    ]);
  });

  it('refuses a mounted cluster.conf with a key the pinned pgpool does not know', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-conf-'));
    writeFileSync(join(dir, 'cluster.conf'), "backend_hostname0 = 'pg'\ndelegate_IP = '172.29.77.100'\n");
    const bad = await sandbox.run('pgpool-badkey', PGPOOL_IMAGE, { Env: secretEnv, HostConfig: { Binds: [`${secrets}:/run/secrets:ro`, `${dir}/cluster.conf:/etc/pgpool-II/cluster.conf:ro`] } });
    expect((await bad.wait()).StatusCode).toBe(2);
    expect((await logsOf(bad)).trim()).toBe(`pgha-pgpool: configuration error: /etc/pgpool-II/cluster.conf: pgpool ${manifest.pgpool.version} has no parameter 'delegate_IP'`);
  });

  describe('watchdog delegate IP with BusyBox ping (the RTT patch, proven both ways)', () => {
    let busyboxDir = '';
    beforeAll(async () => {
      if (!hasCommand('busybox') || !hasCommand('setcap')) {
        if (IN_CI) throw new Error('busybox and setcap (libcap2-bin) are required under CI=true');
        return;
      }
      // A ping_path directory whose ping is BusyBox, as on Alpine.
      busyboxDir = mkdtempSync(join(tmpdir(), 'pgha-busybox-'));
      chmodSync(busyboxDir, 0o755);
      copyFileSync(execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim(), join(busyboxDir, 'busybox'));
      chmodSync(join(busyboxDir, 'busybox'), 0o755);
      symlinkSync('busybox', join(busyboxDir, 'ping'));
      // As in the Alpine image: pgpool runs as postgres, so BusyBox ping needs cap_net_raw.
      execFileSync('setcap', ['cap_net_raw+ep', join(busyboxDir, 'busybox')]);
      await controlImage(docker!);
    });

    async function watchdogNode(name: string, image: string, address: number): Promise<Docker.Container> {
      const dir = mkdtempSync(join(tmpdir(), 'pgha-wd-'));
      chmodSync(dir, 0o755);
      // One live watchdog node; its configured peer does not exist, so it needs half votes.
      writeFileSync(
        join(dir, 'cluster.conf'),
        [
          'use_watchdog = on',
          `delegate_ip = '${ip(100)}'`,
          `hostname0 = '${ip(address)}'`,
          'wd_port0 = 9000',
          'pgpool_port0 = 9999',
          `hostname1 = '${ip(99)}'`,
          'wd_port1 = 9000',
          'pgpool_port1 = 9999',
          "wd_lifecheck_method = 'external'",
          'enable_consensus_with_half_votes = on',
          "ping_path = '/opt/busybox'",
          '',
        ].join('\n'),
      );
      chmodSync(join(dir, 'cluster.conf'), 0o644);
      return sandbox.run(name, image, {
        network: net,
        ip: ip(address),
        Env: ['PGHA_BACKENDS=pg:5432', 'PGPOOL_NODE_ID=0', `PGHA_DELEGATE_IP=${ip(100)}`, 'PGHA_VIP_PREFIX=24', 'PGHA_VIP_DEVICE=eth0', ...secretEnv],
        HostConfig: {
          CapAdd: ['NET_ADMIN', 'NET_RAW'],
          Binds: [`${secrets}:/run/secrets:ro`, `${dir}/cluster.conf:/etc/pgpool-II/cluster.conf:ro`, `${busyboxDir}:/opt/busybox:ro`],
        },
      });
    }

    it('patched image: the watchdog brings up and confirms the delegate IP', async (ctx) => {
      if (!busyboxDir) ctx.skip('busybox not installed');
      const wd = await watchdogNode('wd-patched', PGPOOL_IMAGE, 30);
      const logs = await waitForLog(wd, /successfully acquired the delegate IP|failed to acquire the delegate IP/, 120_000);
      expect(logs).toMatch(/successfully acquired the delegate IP/);
      expect(logs).not.toMatch(/failed to acquire the delegate IP/);
      expect((await sh(wd, `ip -4 -o addr show dev eth0`, { check: true })).stdout).toContain(`inet ${ip(100)}/24`);
      await wd.remove({ force: true, v: true });
    });

    it('unpatched control image: the same watchdog fails to confirm the delegate IP', async (ctx) => {
      if (!busyboxDir) ctx.skip('busybox not installed');
      const wd = await watchdogNode('wd-unpatched', CONTROL_TAG, 31);
      expect((await sh(wd, 'cat /usr/local/share/pgha/patches/skipped', { check: true })).stdout.trim()).toBe(CONTROL_SKIPS.join(','));
      const logs = await waitForLog(wd, /successfully acquired the delegate IP|failed to acquire the delegate IP/, 120_000);
      expect(logs).toMatch(/failed to acquire the delegate IP/);
      expect(logs).not.toMatch(/successfully acquired the delegate IP/);
    });
  });
  describe('a connection to the pcp port that sends nothing (patch 0009, proven both ways)', () => {
    beforeAll(() => controlImage(docker!));
    const FATAL = /unable to read from client/g;
    /**
     * Five connections that close without a byte (as a TCP health check or the isolation guard's
     * look), then one that sends a single byte of a packet and closes: the count of pcp's
     * "unable to read from client" lines that follow.
     */
    async function fatalsAfterLooks(node: Docker.Container): Promise<number> {
      const fatals = async () => ((await logsOf(node)).match(FATAL) ?? []).length;
      await waitFor('the pcp port', async () => (await sh(node, ': >/dev/tcp/127.0.0.1/9898')).exitCode === 0, 60_000);
      await sleep(1_000);
      const before = await fatals();
      for (let i = 0; i < 5; i++) await sh(node, ': >/dev/tcp/127.0.0.1/9898', { check: true });
      await sh(node, 'printf R >/dev/tcp/127.0.0.1/9898', { check: true });
      // The partial packet's line shows that pcp has written what these looks cause.
      await waitFor('pcp to log the partial packet', async () => (await fatals()) > before, 20_000);
      await sleep(1_000);
      return (await fatals()) - before;
    }

    it('patched: only the connection that sent part of a packet is an error', async () => {
      expect(await fatalsAfterLooks(pgpool)).toBe(1);
    });

    it('unpatched control: every connection that sent nothing is logged as a FATAL too', async () => {
      const control = await sandbox.run('pgpool-pcp-control', CONTROL_TAG, {
        network: net,
        Env: ['PGHA_BACKENDS=pg:5432', ...secretEnv],
        HostConfig: { Binds: [`${secrets}:/run/secrets:ro`] },
      });
      expect(await fatalsAfterLooks(control)).toBe(6);
    });
  });
  describe('a watchdog peer whose name does not resolve (patch 0008, proven both ways)', () => {
    beforeAll(() => controlImage(docker!));

    /**
     * Watchdog node `id` of two; its peer is named, and the name is in neither DNS nor
     * /etc/hosts until a container carrying it as a network alias runs. Heartbeat lifecheck,
     * so the heartbeat sender resolves the name too. No delegate IP.
     */
    function peerConf(): string {
      const dir = mkdtempSync(join(tmpdir(), 'pgha-wdname-'));
      chmodSync(dir, 0o755);
      const nodes = [
        [0, ip(40)],
        [1, 'wdpeer'],
      ] as const;
      const lines = ['use_watchdog = on', "delegate_ip = ''", "wd_lifecheck_method = 'heartbeat'", 'enable_consensus_with_half_votes = on', 'wd_heartbeat_keepalive = 1', 'wd_heartbeat_deadtime = 5'];
      for (const [id, host] of nodes) lines.push(`hostname${id} = '${host}'`, `wd_port${id} = 9000`, `pgpool_port${id} = 9999`, `heartbeat_hostname${id} = '${host}'`, `heartbeat_port${id} = 9694`);
      writeFileSync(join(dir, 'cluster.conf'), `${lines.join('\n')}\n`);
      chmodSync(join(dir, 'cluster.conf'), 0o644);
      return dir;
    }
    const conf = peerConf();
    const node = (name: string, image: string, id: number, address?: string) =>
      sandbox.run(name, image, {
        network: net,
        ...(address ? { ip: address } : {}),
        Env: ['PGHA_BACKENDS=pg:5432', `PGPOOL_NODE_ID=${id}`, ...secretEnv],
        HostConfig: { Binds: [`${secrets}:/run/secrets:ro`, `${conf}/cluster.conf:/etc/pgpool-II/cluster.conf:ro`] },
      });

    it('unpatched control: pgpool exits at start while its peer\'s name does not resolve', async () => {
      const wd = await node('wdname-control', CONTROL_TAG, 0, ip(40));
      const exit = await Promise.race([wd.wait(), new Promise<null>((r) => setTimeout(() => r(null), 90_000))]);
      const logs = await logsOf(wd);
      expect(exit, `still running after 90 s:\n${logs}`).not.toBeNull();
      expect(exit!.StatusCode).not.toBe(0);
      expect(logs).toMatch(/getaddrinfo failed with error/);
      await wd.remove({ force: true, v: true });
    });

    it('patched: pgpool stays up, logs the peer as unreachable, and joins it once the name resolves', async () => {
      const wd = await node('wdname-a', PGPOOL_IMAGE, 0, ip(40));
      await waitForLog(wd, /watchdog peer "wdpeer" could not be resolved; treated as unreachable/, 60_000);
      // Well past the start: still running, answering, the leader on its own (half votes).
      await waitForLog(wd, /I am the cluster leader node/, 90_000);
      expect((await wd.inspect()).State.Running).toBe(true);
      const peer = await node('wdpeer', PGPOOL_IMAGE, 1);
      const joined = await waitForLog(peer, /successfully joined the watchdog cluster as standby node/, 120_000).catch(async (err) => {
        throw new Error(`${(err as Error).message}\n--- node 0:\n${await logsOf(wd)}`);
      });
      expect(joined).toMatch(/successfully joined/);
      // The entrypoint restarts a pgpool that exits after its first seconds: the container's
      // state cannot show a crash, its log does.
      expect(await logsOf(wd)).not.toMatch(/pgpool exited with status/);
    });
  });
});
