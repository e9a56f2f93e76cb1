import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCluster } from '../../src/cluster/load.js';
import { ConfigError } from '../../src/errors.js';
import { sshAccess, topology } from '../../src/cluster/topology.js';
import { deployFiles, healedProblem, readiness } from '../../src/deploy/lifecycle.js';
import { diskProblem, parseDiskLine, parseNodeInfo, type ClusterStatus } from '../../src/deploy/inspect.js';
import { render } from '../../src/render/render.js';
import { projectInput, ROOT } from '../helpers.js';

const input = projectInput();

function composeFor(yaml: string) {
  const cluster = parseCluster(yaml, 'c.yaml', input.manifest);
  const files = deployFiles(render({ ...input, cluster, clusterSource: 'c.yaml' }), cluster);
  return parse(files.get('docker-compose.yml')!) as { services: Record<string, { environment: Record<string, string>; extra_hosts: string[]; restart: string; depends_on?: Record<string, { condition: string }>; secrets: string[] }> };
}

/** The problems parseCluster reports for a definition, as `where: message` lines. */
function problems(yaml: string): string[] {
  try {
    parseCluster(yaml, 'c.yaml', input.manifest);
    return [];
  } catch (err) {
    return (err as ConfigError).problems.map((p) => `${p.where}: ${p.message}`);
  }
}

describe('dev cluster deploy files', () => {
  it('initialPrimary picks the node initialised as primary; the others clone it', () => {
    const c = composeFor('postgres:\n  nodes: 3\n  initialPrimary: 1\n');
    expect(c.services.pg1!.environment.PGHA_ROLE).toBe('primary');
    expect(c.services.pg0!.environment).toMatchObject({ PGHA_ROLE: 'standby', PGHA_PRIMARY_HOST: 'pg1' });
    expect(c.services.pg2!.depends_on).toEqual({ init: { condition: 'service_completed_successfully' }, pg1: { condition: 'service_started' } });
  });

  it("every postgres node's max_connections holds all pgpool nodes' pools plus the checks and a margin, following pgpool.settings", () => {
    expect(composeFor('').services.pg0!.environment.PGHA_MAX_CONNECTIONS).toBe(String(3 * 32 * 2 + 3 + 6 + 20));
    const c = composeFor('pgpool:\n  nodes: 2\n  settings:\n    num_init_children: 10\n    max_pool: 1\n');
    expect(['pg0', 'pg1'].map((n) => c.services[n]!.environment.PGHA_MAX_CONNECTIONS)).toEqual(['47', '47']);
  });

  it('every pgpool node has its own wd_priority (equal ones can stall an election); settings cannot set one for all', () => {
    const c = composeFor('');
    expect(['pgpool0', 'pgpool1', 'pgpool2'].map((n) => c.services[n]!.environment.PGHA_WD_PRIORITY)).toEqual(['3', '2', '1']);
    expect(problems('pgpool:\n  settings:\n    wd_priority: 5\n')).toEqual(['pgpool.settings.wd_priority: wd_priority is set from pgpool.nodes (each node its own, PGHA_WD_PRIORITY: equal priorities can stall an election); change it there']);
  });

  it('no service leaves an anonymous volume behind: tmpfs over the data paths the postgres image declares VOLUMEs, where no named volume is', () => {
    const init = composeFor('').services.init as unknown as { tmpfs: string[] };
    expect(init.tmpfs).toEqual(['/var/lib/postgresql', '/var/lib/postgresql/data']);
    // The nodes: their named volume at /var/lib/postgresql, a tmpfs over the base's unused data VOLUME.
    const pg0 = composeFor('').services.pg0 as unknown as { tmpfs: string[]; volumes: string[] };
    expect(pg0.tmpfs).toEqual(['/var/lib/postgresql/data']);
    expect(pg0.volumes[0]).toBe('pg0-data:/var/lib/postgresql');
  });

  it("pgpool nodes get the cluster's client port for their health check and metrics service, and a grace period for the fast shutdown", () => {
    const c = composeFor('pgpool:\n  port: 6543\n');
    for (const n of ['pgpool0', 'pgpool1', 'pgpool2']) {
      expect(c.services[n]!.environment).toMatchObject({ PGHA_PGPOOL_PORT: '6543', PGHA_PCP_PORT: '9898' });
      expect(c.services[`${n}-metrics`]!.environment).toMatchObject({ PGHA_METRICS_PGPOOL: n, PGHA_PGPOOL_PORT: '6543' });
      expect((c.services[n] as unknown as { stop_grace_period: string }).stop_grace_period).toBe('30s');
    }
  });

  it('each pgpool node has a metrics service from the postgres image on every variant, with the pgpool password and the CA only', () => {
    for (const variant of ['debian', 'alpine']) {
      const c = composeFor(`pgpool:\n  nodes: 2\n  variant: ${variant}\n`);
      const metrics = Object.keys(c.services).filter((n) => n.endsWith('-metrics'));
      expect(metrics).toEqual(['pgpool0-metrics', 'pgpool1-metrics']);
      const m = c.services['pgpool1-metrics'] as unknown as { image: string; entrypoint: string[]; environment: Record<string, string>; networks: Record<string, { ipv4_address: string }>; extra_hosts: string[]; volumes: string[]; healthcheck: { test: string[] } };
      expect(m.image).toBe((c.services.pg0 as unknown as { image: string }).image);
      expect(m.entrypoint).toEqual(['/usr/local/bin/pgha-pgpool-metrics']);
      expect(Object.keys(m.environment).sort()).toEqual(['PGHA_METRICS_PGPOOL', 'PGHA_NODE', 'PGHA_PGPOOL_PORT', 'PGHA_TLS_CA_FILE', 'PGPOOL_PASSWORD_FILE']);
      expect(Object.values(m.networks)[0]!.ipv4_address).toBe('172.30.0.41');
      expect(m.extra_hosts).toEqual(['pgpool1:172.30.0.21']);
      expect(m.healthcheck.test).toEqual(['CMD', '/usr/local/bin/pgha-pgpool-metrics', 'health']);
      // Only metrics/: the pgpool password and the CA, no other secret, no private key.
      expect(m.volumes).toEqual(['./metrics:/etc/pgha/metrics:ro']);
      expect(m.environment).toMatchObject({ PGPOOL_PASSWORD_FILE: '/etc/pgha/metrics/pgpool_password', PGHA_TLS_CA_FILE: '/etc/pgha/metrics/ca.crt' });
      expect(c.services['pgpool1-metrics']!.depends_on).toEqual({ init: { condition: 'service_completed_successfully' } });
    }
    const plain = composeFor('tls:\n  enabled: false\n').services['pgpool0-metrics']!;
    expect(plain.environment.PGHA_TLS_CA_FILE).toBeUndefined();
  });

  it('every node can ask pgpool for its own recovery and resolves every other node without Docker DNS', () => {
    const c = composeFor('');
    expect(c.services.pg0!.environment).toMatchObject({ PGHA_NODE_ID: '0', PGHA_DELEGATE_IP: '172.30.0.100', PGHA_PCP_PORT: '9898', PCP_PASSWORD_FILE: '/run/secrets/pcp_password' });
    expect((c.services.pg0 as unknown as { volumes: string[] }).volumes).toContain('./secrets:/run/secrets:ro');
    const all = ['pg0:172.30.0.10', 'pg1:172.30.0.11', 'pgpool0:172.30.0.20', 'pgpool1:172.30.0.21', 'pgpool2:172.30.0.22'];
    for (const [name, s] of Object.entries(c.services).filter(([n]) => n !== 'init' && !n.endsWith('-metrics'))) {
      // Every other node; its own name Docker writes (a second line makes pgpool's watchdog bind twice).
      expect(s.extra_hosts, name).toEqual(all.filter((h) => !h.startsWith(`${name}:`)));
      expect(s.restart).toBe('unless-stopped');
    }
  });

  it('postgres.user and postgres.database become POSTGRES_USER and POSTGRES_DB (the database defaulting to the user, as the official image); pgpool nodes get the user for pool_passwd', () => {
    const c = composeFor('postgres:\n  user: app\n') as unknown as { services: Record<string, { environment: Record<string, string> }> };
    expect(c.services.pg0!.environment).toMatchObject({ POSTGRES_USER: 'app', POSTGRES_DB: 'app' });
    expect(c.services.pgpool1!.environment.POSTGRES_USER).toBe('app');
    const d = composeFor('postgres:\n  user: app\n  database: appdb\n') as unknown as { services: Record<string, { environment: Record<string, string> }> };
    expect(d.services.pg1!.environment).toMatchObject({ POSTGRES_USER: 'app', POSTGRES_DB: 'appdb' });
    expect(problems('postgres:\n  user: App\n')).toEqual(["postgres.user: expected a role name of at most 63 lower-case letters, digits and '_', not starting with a digit"]);
    expect(problems('postgres:\n  user: repl\n')).toEqual(['postgres.user: expected a role of your own: pgpool and repl are pgha\'s']);
    for (const reserved of ['pg_app', 'public', 'none']) {
      expect(problems(`postgres:\n  user: ${reserved}\n`)).toEqual(["postgres.user: expected a role name PostgreSQL allows: 'pg_' names, public and none are reserved"]);
    }
    expect(problems('postgres:\n  database: template1\n')).toEqual(['postgres.database: expected a database of your own: template0 and template1 exist in every cluster']);
    expect(problems('postgres:\n  database: "a b"\n')).toEqual(["postgres.database: expected a database name of at most 63 letters, digits, '_' and '-', not starting with a digit or '-'"]);
  });

  it('TLS: every node serves the init service\'s certificate from ./tls (read-only); the CA\'s key (ca/) is mounted nowhere; off, nothing of it', () => {
    type Svc = { environment: Record<string, string>; volumes?: string[] };
    const on = composeFor('') as unknown as { services: Record<string, Svc> };
    expect(on.services.init!.environment).toMatchObject({ PGHA_INIT_TLS: 'on' });
    expect(on.services.init!.environment.PGHA_TLS_SAN).toMatch(/^DNS:pg0,.*IP:172\.30\.0\.100,/);
    for (const [name, s] of Object.entries(on.services).filter(([n]) => n !== 'init' && !n.endsWith('-metrics'))) {
      expect(s.environment, name).toMatchObject({ PGHA_TLS_CERT_FILE: '/etc/pgha/tls/server.crt', PGHA_TLS_KEY_FILE: '/etc/pgha/tls/server.key', PGHA_TLS_CA_FILE: '/etc/pgha/tls/ca.crt' });
      expect(s.volumes, name).toContain('./tls:/etc/pgha/tls:ro');
      expect(s.volumes!.some((v) => v.startsWith('./ca') || v.startsWith('.:')), name).toBe(false);
    }
    // A metrics service checks its pgpool's certificate: the CA, copied by the init service into metrics/.
    expect(Object.keys(on.services['pgpool0-metrics']!.environment).filter((k) => k.startsWith('PGHA_TLS_'))).toEqual(['PGHA_TLS_CA_FILE']);
    expect(on.services.init!.environment.PGHA_INIT_METRICS).toBe('on');
    const off = composeFor('tls:\n  enabled: false\n') as unknown as { services: Record<string, Svc> };
    expect(off.services.init!.environment.PGHA_INIT_TLS).toBe('off');
    expect(off.services.init!.environment).not.toHaveProperty('PGHA_TLS_SAN');
    for (const s of Object.values(off.services)) {
      expect(Object.keys(s.environment).filter((k) => k.startsWith('PGHA_TLS_'))).toEqual([]);
      expect((s.volumes ?? []).filter((v) => v.includes('tls'))).toEqual([]);
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

describe('the init service and the SSH access policy', () => {
  it('grants pgpool → every postgres node and the other pgpool nodes, postgres → the other postgres nodes, nothing else', () => {
    const cluster = parseCluster('postgres:\n  nodes: 2\npgpool:\n  nodes: 2\n', 'c.yaml', input.manifest);
    const grants = sshAccess(topology(cluster)).map((g) => `${g.host}:${g.caller}:${g.kind}`);
    expect(grants).toEqual(['pg0:pgpool0:pgpool', 'pg0:pgpool1:pgpool', 'pg0:pg1:postgres', 'pg1:pgpool0:pgpool', 'pg1:pgpool1:pgpool', 'pg1:pg0:postgres', 'pgpool0:pgpool1:pgpool', 'pgpool1:pgpool0:pgpool']);
  });

  it('runs once before every node, from the postgres image, with only the deploy directory mounted and no network', () => {
    const c = composeFor('') as unknown as { services: Record<string, Record<string, unknown>> };
    const init = c.services.init!;
    expect(init).toMatchObject({ entrypoint: ['/usr/local/bin/pgha-init'], volumes: ['.:/pgha/deploy'], network_mode: 'none', restart: 'no', image: c.services.pg0!.image });
    expect((init.environment as Record<string, string>).PGHA_SSH_ACCESS!.split(' ')).toContain('pgpool0:pgpool1:pgpool');
    expect(init).not.toHaveProperty('secrets');
    for (const [name, s] of Object.entries(c.services)) {
      if (name === 'init') continue;
      expect(s.depends_on, name).toMatchObject({ init: { condition: 'service_completed_successfully' } });
    }
    expect(c.services.pgpool0!.depends_on).toMatchObject({ pg0: { condition: 'service_started' }, pg1: { condition: 'service_started' } });
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
  it('cluster up also waits until pgpool reports every standby streaming (a doctor run right after it checks that)', () => {
    expect(healedProblem(ready)).toBeNull();
    const catchingUp = { ...ready, backends: [ready.backends[0]!, { ...ready.backends[1]!, replicationState: '' }] };
    expect(readiness(catchingUp)).toBeNull();
    expect(healedProblem(catchingUp)).toBe('standbys not streaming: pg1 (unknown)');
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
    expect(readdirSync(dir).sort()).toEqual(['.env', 'docker-compose.yml', 'pgpool']);
  });
});

describe('pgpool\'s view of the backends (pcp_node_info)', () => {
  it('reads host, status and role; "waiting" is up, as the scripts read it (pgha_pcp_nodes)', () => {
    const out = 'pg0 5432 3 0.500000 down down standby standby 0 streaming async 2026-11-22 10:26:05\npg1 5432 1 0.500000 waiting up primary primary 0 none none 2026-11-22 10:26:21\n';
    expect(parseNodeInfo(out)).toEqual([
      { host: 'pg0', status: 'down', role: 'standby' },
      { host: 'pg1', status: 'up', role: 'primary' },
    ]);
  });
  it('reads no backend from an empty answer', () => {
    expect(parseNodeInfo('')).toEqual([]);
    expect(parseNodeInfo('\n')).toEqual([]);
  });
});
