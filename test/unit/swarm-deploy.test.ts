import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import { topology } from '../../src/cluster/topology.js';
import { connectionStrings } from '../../src/deploy/connect.js';
import { parseManifest } from '../../src/manifest/load.js';
import { registrySchema } from '../../src/commands/publish.js';
import { swarmObjectKeys, swarmObjectSource } from '../../src/render/swarm.js';
import { objectName } from '../../src/swarm/deploy.js';
import { placementChecks } from '../../src/swarm/doctor.js';
import { contextHost, dockerContextDir, ENGINE_REQUEST_MS, engineOptions, hostEngines } from '../../src/swarm/engines.js';
import { readManifestJson, ROOT } from '../helpers.js';
import { mkdirSync, writeFileSync } from 'node:fs';

const manifest = parseManifest(JSON.stringify(readManifestJson()), 'versions.json', ROOT);
const cluster = parseCluster(
  `name: geo
engine: swarm
hosts:
  - { name: db-a, nodes: [pg0, pgpool0] }
  - { name: db-b, nodes: [pg1, pgpool1] }
  - { name: db-c, nodes: [pgpool2] }
postgres: { nodes: 2, replication: sync }
`,
  'c.yaml',
  manifest,
);
const topo = topology(cluster);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('deploying a swarm cluster', () => {
  it('clients get one multi-host string: each host by name, each at the port its pgpool node publishes there', () => {
    expect(connectionStrings(cluster, topo, '/d/tls/ca.crt').published).toBe(
      'host=db-a,db-b,db-c port=9999,9999,9999 user=postgres dbname=postgres sslmode=verify-full sslrootcert=/d/tls/ca.crt connect_timeout=3 target_session_attrs=read-write',
    );
  });

  it('every secret and config the stack names is made from a file of the init step', () => {
    const { secrets, configs } = swarmObjectKeys(cluster, topo);
    const sources = [...secrets, ...configs].map((k) => `${k} <- ${swarmObjectSource(k)}`);
    expect(sources).toContain('postgres_password <- secrets/postgres_password');
    expect(sources).toContain('wd_authkey <- secrets/wd_authkey');
    expect(sources).toContain('tls-server-key <- tls/server.key');
    expect(sources).toContain('tls-ca-crt <- tls/ca.crt');
    expect(sources).toContain('pgpool2-ssh-key <- ssh/pgpool2/id_ed25519');
    expect(sources).toContain('pg1-ssh-host-key <- ssh/pg1/ssh_host_ed25519_key');
    expect(sources).toContain('pg0-known-hosts <- ssh/pg0/known_hosts');
    expect(sources).toContain('pgpool0-authorized-keys <- ssh/pgpool0/authorized_keys');
    expect(new Set([...secrets, ...configs]).size).toBe(secrets.length + configs.length);
  });

  it('a secret\'s name changes with its content and with the naming key, and is no plain hash of it', () => {
    const key = Buffer.from('00'.repeat(32), 'hex');
    const a = objectName('geo', 'postgres_password', Buffer.from('one'), key);
    expect(a).toMatch(/^geo_postgres_password_[0-9a-f]{12}$/);
    expect(objectName('geo', 'postgres_password', Buffer.from('one'), key)).toBe(a);
    expect(objectName('geo', 'postgres_password', Buffer.from('two'), key)).not.toBe(a);
    expect(objectName('geo', 'postgres_password', Buffer.from('one'), Buffer.from('11'.repeat(32), 'hex'))).not.toBe(a);
    // sha256("one") starts 7692c3ad3540: the name is keyed, not that.
    expect(a).not.toContain('7692c3ad3540');
  });

  it('reads each host\'s engine from the Docker context named after it; a missing one is one line naming the host', async () => {
    const config = mkdtempSync(join(tmpdir(), 'pgha-contexts-'));
    dirs.push(config);
    for (const [name, host] of [['db-a', 'unix:///run/a.sock'], ['db-b', 'tcp://10.0.0.2:2376']]) {
      mkdirSync(dockerContextDir(config, name!), { recursive: true });
      writeFileSync(join(dockerContextDir(config, name!), 'meta.json'), JSON.stringify({ Name: name, Endpoints: { docker: { Host: host } } }));
    }
    expect(contextHost(config, 'db-a')).toEqual({ host: 'unix:///run/a.sock' });
    const { engines, problems } = await hostEngines(['db-a', 'db-b', 'db-c'], config);
    expect([...engines.keys()]).toEqual(['db-a', 'db-b']);
    expect(problems).toEqual([`no Docker context named db-c in ${config}: create it with docker context create db-c --docker host=unix:///run/pgha-db-c.sock (docs/swarm.md)`]);
  });

  it('engine addresses as DOCKER_HOST spells them', () => {
    // Every request bounded: a host cut off must not hang status or doctor.
    expect(engineOptions('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock', timeout: ENGINE_REQUEST_MS });
    expect(engineOptions('tcp://10.0.0.2:2376')).toEqual({ host: '10.0.0.2', port: 2376, protocol: 'http', timeout: ENGINE_REQUEST_MS });
    // dockerode's SSH transport would use no agent and check no host key: refused, with the tried way instead.
    expect(engineOptions('ssh://admin@db-a')).toEqual({ problem: "ssh://admin@db-a: ssh:// contexts are not supported yet; forward the engine's socket (ssh -nNT -L /run/pgha-db-a.sock:/var/run/docker.sock admin@db-a) and use a unix:// context" });
    expect(engineOptions('npipe:////./pipe/docker_engine')).toEqual({ problem: 'npipe:////./pipe/docker_engine: unsupported scheme npipe: (unix or tcp)' });
  });

  it('a registry is HOST[:PORT], as an image reference names it', () => {
    for (const ok of ['127.0.0.1:5000', 'ghcr.io', 'registry.example.net:5000']) expect(registrySchema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['https://ghcr.io', 'ghcr.io/pgha', '', 'host:port', '-x']) expect(registrySchema.safeParse(bad).success, bad).toBe(false);
  });
});

describe('doctor on a swarm', () => {
  const tasks = [
    { node: 'pg0', host: 'db-a', imageId: 'sha256:aaaaaaaaaaaaaaaaaaaa' },
    { node: 'pg1', host: 'db-b', imageId: 'sha256:aaaaaaaaaaaaaaaaaaaa' },
    { node: 'pgpool0', host: 'db-a', imageId: 'sha256:bbbbbbbbbbbbbbbbbbbb' },
    { node: 'pgpool1', host: 'db-b', imageId: 'sha256:bbbbbbbbbbbbbbbbbbbb' },
    { node: 'pgpool2', host: 'db-c', imageId: 'sha256:bbbbbbbbbbbbbbbbbbbb' },
  ];
  const failed = (t: typeof tasks) => placementChecks(cluster, topo, t).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

  it('passes when every node runs once, on its host, and each kind runs one image', () => {
    expect(failed(tasks)).toEqual([]);
  });

  it('names a node on the wrong host, on two hosts or on none, and the nodes that run other bytes', () => {
    const wrong = [
      { ...tasks[0]!, host: 'db-c' },
      tasks[1]!,
      { ...tasks[1]!, host: 'db-c' },
      tasks[2]!,
      { ...tasks[3]!, imageId: 'sha256:cccccccccccccccccccc' },
    ];
    expect(failed(wrong)).toEqual([
      'pg0 runs on db-a only: running on db-c: docker service ps geo_pg0',
      'pg1 runs on db-b only: running on db-b, db-c: docker service ps geo_pg1',
      'pgpool2 runs on db-c only: running on no host: docker service ps geo_pgpool2',
      'every pgpool node runs the same image: pgpool0: bbbbbbbbbbbb; pgpool1: cccccccccccc',
    ]);
  });
});
