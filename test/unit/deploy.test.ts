import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCluster } from '../../src/cluster/load.js';
import { ConfigError } from '../../src/errors.js';
import { ensureSecrets } from '../../src/deploy/secrets.js';
import { ensureSshKeys } from '../../src/deploy/ssh.js';
import { deployFiles, readiness } from '../../src/deploy/lifecycle.js';
import { diskProblem, parseDiskLine, type ClusterStatus } from '../../src/deploy/inspect.js';
import { render } from '../../src/render/render.js';
import { projectInput, ROOT, toolMissing } from '../helpers.js';

const input = projectInput();

function composeFor(yaml: string) {
  const cluster = parseCluster(yaml, 'c.yaml', input.manifest);
  const files = deployFiles(render({ ...input, cluster, clusterSource: 'c.yaml' }), cluster);
  return parse(files.get('docker-compose.yml')!) as { services: Record<string, { environment: Record<string, string>; extra_hosts: string[]; restart: string; depends_on?: string[]; secrets: string[] }> };
}

describe('dev cluster deploy files', () => {
  it('initialPrimary picks the node initialised as primary; the others clone it', () => {
    const c = composeFor('postgres:\n  nodes: 3\n  initialPrimary: 1\n');
    expect(c.services.pg1!.environment.PGHA_ROLE).toBe('primary');
    expect(c.services.pg0!.environment).toMatchObject({ PGHA_ROLE: 'standby', PGHA_PRIMARY_HOST: 'pg1' });
    expect(c.services.pg2!.depends_on).toEqual(['pg1']);
  });

  it('every node can ask pgpool for its own recovery and resolves every other node without Docker DNS', () => {
    const c = composeFor('');
    expect(c.services.pg0!.environment).toMatchObject({ PGHA_NODE_ID: '0', PGHA_DELEGATE_IP: '172.30.0.100', PGHA_PCP_PORT: '9898', PCP_PASSWORD_FILE: '/run/secrets/pcp_password' });
    expect(c.services.pg0!.secrets).toContain('pcp_password');
    const all = ['pg0:172.30.0.10', 'pg1:172.30.0.11', 'pgpool0:172.30.0.20', 'pgpool1:172.30.0.21', 'pgpool2:172.30.0.22'];
    for (const [name, s] of Object.entries(c.services)) {
      // Every other node; its own name Docker writes (a second line makes pgpool's watchdog bind twice).
      expect(s.extra_hosts, name).toEqual(all.filter((h) => !h.startsWith(`${name}:`)));
      expect(s.restart).toBe('unless-stopped');
    }
  });

  it('rejects an initialPrimary outside the nodes', () => {
    try {
      parseCluster('postgres:\n  nodes: 2\n  initialPrimary: 2\n', 'c.yaml', input.manifest);
      expect.unreachable('accepted initialPrimary 2 of 2 nodes');
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => `${p.where}: ${p.message}`)).toEqual(['postgres.initialPrimary: expected a node id below postgres.nodes (2), got 2']);
    }
  });
});

describe('secrets and SSH keys of a dev cluster', () => {
  it('secrets are random, 0600, made once and kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-secrets-'));
    expect(ensureSecrets(dir)).toEqual(['postgres_password', 'pgpool_password', 'replication_password', 'pcp_password', 'wd_authkey']);
    const first = readFileSync(join(dir, 'secrets/postgres_password'), 'utf8');
    expect(first.trim()).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(readFileSync(join(dir, 'secrets/pgpool_password'), 'utf8')).not.toBe(first);
    for (const f of readdirSync(join(dir, 'secrets'))) expect(statSync(join(dir, 'secrets', f)).mode & 0o777).toBe(0o600);
    expect(ensureSecrets(dir)).toEqual([]);
    expect(readFileSync(join(dir, 'secrets/postgres_password'), 'utf8')).toBe(first);
  });

  it.skipIf(toolMissing('ssh-keygen'))('SSH keys per node; known_hosts pins every host key; each authorized key is restricted, from the cluster network, forced through ssh-command as its caller kind; kept across runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-ssh-'));
    const nodes = { postgres: ['pg0'], pgpool: ['pgpool0', 'pgpool1'], subnet: '172.30.0.0/24' };
    expect(await ensureSshKeys(dir, nodes, 2222)).toEqual(['pg0', 'pgpool0', 'pgpool1']);
    const known = readFileSync(join(dir, 'ssh/pg0/known_hosts'), 'utf8').trim().split('\n');
    expect(known.map((l) => l.split(' ')[0])).toEqual(['[pg0]:2222', '[pgpool0]:2222', '[pgpool1]:2222']);
    expect(known[1]!.split(' ').slice(1).join(' ')).toBe(readFileSync(join(dir, 'ssh/pgpool0/ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' '));
    const pub = (h: string) => readFileSync(join(dir, `ssh/${h}/id_ed25519.pub`), 'utf8').trim();
    const line = (kind: string, h: string) => `restrict,from="172.30.0.0/24",command="/usr/local/lib/pgha/ssh-command ${kind}" ${pub(h)}`;
    // A postgres node: every pgpool node, as pgpool; no key of its own.
    expect(readFileSync(join(dir, 'ssh/pg0/authorized_keys'), 'utf8').trim().split('\n')).toEqual([line('pgpool', 'pgpool0'), line('pgpool', 'pgpool1')]);
    // A pgpool node: the other pgpool nodes only; no postgres key.
    expect(readFileSync(join(dir, 'ssh/pgpool0/authorized_keys'), 'utf8').trim().split('\n')).toEqual([line('pgpool', 'pgpool1')]);
    for (const f of ['ssh_host_ed25519_key', 'id_ed25519', 'authorized_keys', 'known_hosts']) expect(statSync(join(dir, 'ssh/pg0', f)).mode & 0o077).toBe(0);
    const key = readFileSync(join(dir, 'ssh/pg0/id_ed25519'), 'utf8');
    // A second postgres node later: the others keep their keys, and everyone learns the new one.
    expect(await ensureSshKeys(dir, { ...nodes, postgres: ['pg0', 'pg1'] }, 2222)).toEqual(['pg1']);
    expect(readFileSync(join(dir, 'ssh/pg0/id_ed25519'), 'utf8')).toBe(key);
    expect(readFileSync(join(dir, 'ssh/pg0/known_hosts'), 'utf8')).toMatch(/^\[pg1\]:2222 ssh-ed25519 /m);
    expect(readFileSync(join(dir, 'ssh/pg0/authorized_keys'), 'utf8')).toContain(line('postgres', 'pg1'));
  });
});

describe('cluster readiness', () => {
  const ready: ClusterStatus = {
    askedPgpool: 'pgpool0',
    backends: [
      { id: 0, host: 'pg0', status: 'up', role: 'primary', lag: null, replicationState: '', syncState: '', container: 'running', disk: null },
      { id: 1, host: 'pg1', status: 'up', role: 'standby', lag: 0, replicationState: 'streaming', syncState: 'async', container: 'running', disk: null },
    ],
    watchdog: { leader: 'pgpool0', quorum: 'QUORUM EXIST', delegateIp: '172.30.0.100', vipHolders: ['pgpool0'], nodes: [{ host: 'pgpool0', state: 'LEADER', container: 'running', holdsVip: true }, { host: 'pgpool1', state: 'STANDBY', container: 'running', holdsVip: false }] },
    problems: [],
  };
  it('is ready with one primary, every backend up, a leader, every running watchdog node joined, one VIP holder', () => {
    expect(readiness(ready)).toBeNull();
  });
  it('names what is missing', () => {
    expect(readiness({ ...ready, backends: [{ ...ready.backends[0]!, role: 'standby' }, ready.backends[1]!] })).toBe('0 primaries up');
    expect(readiness({ ...ready, backends: [ready.backends[0]!, { ...ready.backends[1]!, status: 'down' }] })).toBe('backends not up: pg1 (down)');
    expect(readiness({ ...ready, watchdog: { ...ready.watchdog, vipHolders: ['pgpool0', 'pgpool1'] } })).toBe('delegate IP held by 2 nodes');
    expect(readiness({ ...ready, watchdog: { ...ready.watchdog, nodes: [ready.watchdog.nodes[0]!, { ...ready.watchdog.nodes[1]!, state: 'JOINING' }] } })).toBe('watchdog nodes not joined: pgpool1 (JOINING)');
  });
});

describe('data volume', () => {
  it('reads the node\'s disk line and nothing else', () => {
    expect(parseDiskLine('free_mb=40 used_pct=96 reserve_mb=128 state=low\n')).toEqual({ freeMb: 40, usedPct: 96, reserveMb: 128, state: 'low' });
    expect(parseDiskLine('free_mb=40 used_pct=96 reserve_mb=128 state=full')).toBeNull();
    expect(parseDiskLine('pgha[pgha-node] node=pg0 action=disk: df cannot read')).toBeNull();
  });
  it('names the node, the usage and the cause only when the volume needs a person', () => {
    const d = { freeMb: 0, usedPct: 100, reserveMb: 128, state: 'held' as const, noSpaceInLog: true };
    expect(diskProblem('pg0', d)).toBe('pg0: data volume 100% used, 0 MB free (reserve 128 MB); postgres logged "No space left on device"; postgres stopped and held, it rejoins as a standby once 256 MB are free');
    expect(diskProblem('pg0', { ...d, state: 'low', noSpaceInLog: false })).toMatch(/^pg0: data volume 100% used, 0 MB free \(reserve 128 MB\); a primary hands over/);
    expect(diskProblem('pg0', { ...d, freeMb: 900, usedPct: 10, state: 'ok', noSpaceInLog: false })).toBeNull();
    expect(diskProblem('pg0', null)).toBeNull();
  });
});

describe('pgha cluster up', () => {
  it('refuses, exit 2, naming the file, when the deploy directory is stale; starts nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-deploy-'));
    const cluster = parseCluster('', 'c.yaml', input.manifest);
    for (const [p, c] of deployFiles(render(input), cluster)) {
      spawnSync('mkdir', ['-p', join(dir, p, '..')]);
      writeFileSync(join(dir, p), c);
    }
    writeFileSync(join(dir, 'pgpool/cluster.conf'), '# edited by hand\n');
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'cluster', 'up', '--dir', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^pgha: ${dir}/pgpool/cluster.conf: differs from a fresh render of the cluster definition; run pgha generate$`, 'm'));
    expect(readdirSync(dir).sort()).toEqual(['docker-compose.yml', 'pgpool']);
  });
});
