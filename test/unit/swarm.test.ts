import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseCluster } from '../../src/cluster/load.js';
import { clusterWarnings } from '../../src/cluster/schema.js';
import { tlsNames, topology } from '../../src/cluster/topology.js';
import { parseManifest } from '../../src/manifest/load.js';
import { render } from '../../src/render/render.js';
import { CLIENT_ALIAS, PLACEMENT_LABEL, swarmObjectVariable } from '../../src/render/swarm.js';
import { clusterProblems, projectInput, readManifestJson, ROOT } from '../helpers.js';

const manifest = parseManifest(JSON.stringify(readManifestJson()), 'versions.json', ROOT);

const THREE_HOSTS = `engine: swarm
hosts:
  - { name: db-a, nodes: [pg0, pgpool0] }
  - { name: db-b, nodes: [pg1, pgpool1] }
  - { name: db-c, nodes: [pg2, pgpool2] }
postgres: { nodes: 3, replication: sync }
`;

const problems = (yaml: string): string[] => clusterProblems(yaml, manifest);

describe('engine and placement in cluster.yaml', () => {
  it('accepts three hosts, one postgres and one pgpool node each, and pins every node', () => {
    expect(problems(THREE_HOSTS)).toEqual([]);
    const topo = topology(parseCluster(THREE_HOSTS, 'c.yaml', manifest));
    expect(topo.postgres.map((n) => `${n.host}@${n.placedOn}`)).toEqual(['pg0@db-a', 'pg1@db-b', 'pg2@db-c']);
    expect(topo.pgpoolMetrics.map((n) => `${n.host}@${n.placedOn}`)).toEqual(['pgpool0-metrics@db-a', 'pgpool1-metrics@db-b', 'pgpool2-metrics@db-c']);
    expect(topo.delegateIp).toBe('');
    // One pgpool node per host: each publishes the same port on its own host, reached by the host's name.
    expect(topo.published.map((p) => p.port)).toEqual([9999, 9999, 9999]);
    expect(tlsNames(topo)).toContain('DNS:db-b');
    expect(tlsNames(topo)).toBe('DNS:pg0,DNS:pg1,DNS:pg2,DNS:pgpool0,DNS:pgpool1,DNS:pgpool2,DNS:db-a,DNS:db-b,DNS:db-c,DNS:localhost,IP:127.0.0.1');
  });

  it('says, one line each, every mistake in the placement', () => {
    const yaml = `engine: swarm
hosts:
  - { name: db-a, nodes: [pg0, pg1, pgpool0] }
  - { name: db-b, nodes: [pgpool1, pgpool2, pg7] }
  - { name: db-a, nodes: [pg0] }
postgres: { nodes: 3 }
`;
    expect(problems(yaml)).toEqual([
      'hosts[0].nodes: expected at most one postgres node per host (losing the host would take all of them), got pg0, pg1',
      'hosts[1].nodes[2]: expected a node of this cluster (pg0-pg2, pgpool0-pgpool2), got pg7',
      'hosts[1].nodes: expected at most one pgpool node per host (losing the host would take all of them), got pgpool1, pgpool2',
      'hosts[2].name: host db-a is already listed; list each host once with all its nodes',
      'hosts[2].nodes[0]: pg0 is already placed on db-a; place each node on one host',
      'hosts: expected every node placed on a host, got none for pg2',
    ]);
  });

  it('needs three hosts on swarm and none on compose; refuses what only one host can honour', () => {
    expect(problems('engine: swarm\n')).toEqual(["hosts: expected at least 3 hosts with engine: swarm (with one host down, the watchdog's quorum and Swarm's Raft each need a majority), got none"]);
    expect(problems('engine: swarm\nhosts:\n  - { name: a, nodes: [pg0, pgpool0, pgpool1] }\n  - { name: b, nodes: [pg1, pgpool2] }\n')[0]).toMatch(/^hosts: expected at least 3 hosts .* got 2$/);
    expect(problems('hosts:\n  - { name: a, nodes: [pg0] }\n')).toEqual(['hosts: expected no hosts with engine: compose (one Docker engine runs every node); set engine: swarm to place nodes on several hosts']);
    expect(problems(`${THREE_HOSTS}network: { delegateIp: 172.30.0.100 }\npgpool: { publish: { address: 127.0.0.1 } }\n`)).toEqual([
      'network.delegateIp: expected no delegate IP with engine: swarm: an address added inside a container on an overlay network answers only on its own host',
      "pgpool.publish.address: expected no address with engine: swarm: a port published in host mode listens on every address of its host (limit it with the host's firewall)",
    ]);
    expect(problems('engine: nomad\n')[0]).toMatch(/^engine: /);
    expect(problems(`${THREE_HOSTS.replace(', pgpool2]', ']').replace(', pgpool1]', ']')}pgpool: { nodes: 1 }\n`)).toEqual([
      'pgpool.nodes: expected at least 3 pgpool nodes with engine: swarm (the watchdog keeps its quorum with one host down, and the postgres nodes find its leader by asking them), got 1',
    ]);
    // On compose an empty delegate IP is no address, not "none".
    expect(problems("network: { delegateIp: '' }\n")).toEqual(['network.delegateIp: expected an IPv4 address, got ""']);
    expect(problems(`${THREE_HOSTS.replace('db-c', 'db c')}`)).toEqual(["hosts[2].name: expected a host name of letters, digits, '.', '_' and '-' (the Swarm node's hostname)"]);
  });

  it('warns when asynchronous replication spans hosts, and only then', () => {
    const warnings = (yaml: string) => clusterWarnings(parseCluster(yaml, 'c.yaml', manifest)).map((w) => `${w.where}: ${w.message}`);
    expect(warnings(THREE_HOSTS)).toEqual([]);
    expect(warnings(THREE_HOSTS.replace('replication: sync', 'replication: async'))).toEqual([
      'postgres.replication: async across several hosts: a failover after a host or network loss can lose acknowledged writes the old primary had not sent yet; postgres.replication: sync avoids it',
    ]);
    expect(warnings('postgres: { replication: async }\n')).toEqual([]);
  });
});

/** The swarm files of THREE_HOSTS (with `extra` appended to the definition), rendered as generate does. */
function swarmFiles(extra = '') {
  const cluster = parseCluster(THREE_HOSTS + extra, 'c.yaml', manifest);
  const rendered = render({ ...projectInput(), cluster, clusterSource: 'c.yaml' });
  const text = (path: string) => {
    const t = rendered.get(`deploy/${cluster.name}/${path}`);
    if (t === undefined) throw new Error(`not rendered: ${path}`);
    return t;
  };
  return { rendered, cluster, text, stack: parseYaml(text('swarm/stack.yml')) as Stack };
}

interface Service {
  image: string;
  environment: Record<string, string>;
  secrets: { source: string; target: string }[];
  configs: { source: string; target: string }[];
  networks: string[] | Record<string, { aliases?: string[] }>;
  ports?: { mode: string; published: number; target: number }[];
  healthcheck?: { test: string[] };
  deploy: { replicas: number; endpoint_mode: string; placement: { constraints: string[] }; update_config: { order: string; parallelism: number }; rollback_config: { order: string; parallelism: number } };
}
interface Stack {
  services: Record<string, Service>;
  secrets: Record<string, { external?: boolean; name: string; file?: string }>;
  configs: Record<string, { external?: boolean; name: string; file?: string }>;
}

describe('the Swarm stack (deploy/<name>/swarm/stack.yml)', () => {
  it('has no static IP, no extra_hosts, no delegate IP; no compose file beside it', () => {
    const { text, rendered } = swarmFiles();
    const stack = text('swarm/stack.yml');
    expect(stack).not.toMatch(/ipv4_address|extra_hosts|container_name|depends_on|PGHA_DELEGATE_IP|NET_ADMIN/);
    expect(text('pgpool/cluster.conf')).toMatch(/^delegate_ip = ''$/m);
    // With no delegate IP, a postgres node asks these who the watchdog leader is.
    expect((parseYaml(stack) as Stack).services.pg1!.environment.PGHA_PGPOOL_PEERS).toBe('pgpool0,pgpool1,pgpool2');
    expect([...rendered.keys()].filter((p) => p.startsWith('deploy/')).sort()).toEqual(['deploy/pgha/pgpool/cluster.conf', 'deploy/pgha/swarm/init.yml', 'deploy/pgha/swarm/stack.yml']);
  });

  it('runs every node as one task pinned to its host, dnsrr, replaced stop-first one at a time', () => {
    const { stack } = swarmFiles();
    const hostOf: Record<string, string> = { pg0: 'db-a', pg1: 'db-b', pg2: 'db-c', pgpool0: 'db-a', pgpool1: 'db-b', pgpool2: 'db-c', 'pgpool0-metrics': 'db-a', 'pgpool1-metrics': 'db-b', 'pgpool2-metrics': 'db-c' };
    expect(Object.keys(stack.services).sort()).toEqual(Object.keys(hostOf).sort());
    for (const [name, svc] of Object.entries(stack.services)) {
      expect(svc.deploy.placement.constraints, name).toEqual([`node.labels.${PLACEMENT_LABEL} == ${hostOf[name]}`]);
      expect([svc.deploy.replicas, svc.deploy.endpoint_mode], name).toEqual([1, 'dnsrr']);
      for (const c of [svc.deploy.update_config, svc.deploy.rollback_config]) expect([c.order, c.parallelism], name).toEqual(['stop-first', 1]);
    }
    // Under Swarm a failed check replaces the task: it asks only whether the node's processes run.
    expect(stack.services.pg0!.healthcheck!.test.at(-1)).toBe('alive');
    expect(stack.services.pgpool0!.healthcheck!.test.at(-1)).toBe('alive');
  });

  it('lets clients reach pgpool: host-mode ports and the pgpool alias on the clients network, no postgres node there', () => {
    const { stack } = swarmFiles();
    for (const [name, svc] of Object.entries(stack.services)) {
      const onClients = !Array.isArray(svc.networks) && 'clients' in svc.networks;
      expect(onClients, name).toBe(/^pgpool\d$/.test(name));
      if (onClients) expect((svc.networks as Record<string, { aliases?: string[] }>).clients!.aliases).toEqual([CLIENT_ALIAS]);
      expect(svc.ports?.map((p) => `${p.mode}:${p.published}->${p.target}`), name).toEqual(/^pgpool\d$/.test(name) ? ['host:9999->9999'] : undefined);
    }
  });

  it('gives each service only the secrets it reads, each node only its own keys; no secret in the file', () => {
    const { stack } = swarmFiles();
    const sources = (name: string) => stack.services[name]!.secrets.map((s) => s.source).sort();
    expect(sources('pg1')).toEqual(['pcp_password', 'pg1-ssh-host-key', 'pg1-ssh-key', 'pgpool_password', 'postgres_password', 'replication_password', 'tls-server-key']);
    expect(sources('pgpool2')).toEqual(['pcp_password', 'pgpool2-ssh-host-key', 'pgpool2-ssh-key', 'pgpool_password', 'postgres_password', 'tls-server-key', 'wd_authkey']);
    expect(sources('pgpool0-metrics')).toEqual(['pgpool_password']);
    // Every secret, and every config made at run time, is external: named at deploy time, its content never here.
    for (const [key, s] of Object.entries(stack.secrets)) expect([s.external, s.name], key).toEqual([true, `\${${swarmObjectVariable(key)}:?set by pgha for engine: swarm}`]);
    expect(Object.entries(stack.configs).filter(([, c]) => !c.external)).toEqual([['cluster-conf', { name: expect.stringMatching(/^pgha-cluster-conf-[0-9a-f]{12}$/), file: '../pgpool/cluster.conf' }]]);
    // The password files are where the environment says they are.
    const pg1 = stack.services.pg1!;
    for (const s of pg1.secrets.filter((x) => x.target.startsWith('/run/secrets/'))) expect(Object.values(pg1.environment)).toContain(s.target);
  });

  it('names a new cluster.conf config when its content changes (a Swarm config cannot change in place)', () => {
    const a = swarmFiles().stack.configs['cluster-conf']!.name;
    const b = swarmFiles('timings: { srCheckPeriodSeconds: 3 }\n').stack.configs['cluster-conf']!.name;
    expect(a).not.toBe(b);
  });

  it('turns TLS material off with tls.enabled: false', () => {
    const { stack } = swarmFiles('tls: { enabled: false }\n');
    expect(Object.keys(stack.secrets).filter((k) => k.startsWith('tls'))).toEqual([]);
    expect(stack.services.pg0!.environment.PGHA_TLS_CERT_FILE).toBeUndefined();
  });
});

describe('docker stack deploy reads the rendered stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-swarm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hasDocker = spawnSync('docker', ['--version']).status === 0;

  // The CLI checks the file against its compose schema and interpolates it before it asks
  // the engine anything: with no engine to reach, a valid file stops at the connection.
  const deploy = (file: string, env: Record<string, string>) => {
    const r = spawnSync('docker', ['stack', 'deploy', '--compose-file', file, 'pgha'], { env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(dir, 'no-engine.sock')}`, ...env }, encoding: 'utf8', timeout: 30_000 });
    return `${r.stdout}${r.stderr}`;
  };

  it.skipIf(!hasDocker && !process.env.CI)('passes its schema and interpolation with every variable set, and stops without one', () => {
    const { text, stack } = swarmFiles();
    mkdirAndWrite(dir, 'swarm/stack.yml', text('swarm/stack.yml'));
    mkdirAndWrite(dir, 'pgpool/cluster.conf', text('pgpool/cluster.conf'));
    const vars = Object.fromEntries([...Object.keys(stack.secrets), ...Object.keys(stack.configs).filter((k) => k !== 'cluster-conf')].map((k) => [swarmObjectVariable(k), `x-${k}`]));
    expect(deploy(join(dir, 'swarm/stack.yml'), vars)).toMatch(/Cannot connect to the Docker daemon/);
    const { [swarmObjectVariable('wd_authkey')]: _, ...missing } = vars;
    expect(deploy(join(dir, 'swarm/stack.yml'), missing)).toMatch(/required variable PGHA_SWARM_WD_AUTHKEY is missing a value/);
    // The control: a key the schema does not know is refused before any connection.
    mkdirAndWrite(dir, 'bad.yml', text('swarm/stack.yml').replace('endpoint_mode: dnsrr', 'endpoint_mode: dnsrr\n      bogus: 1'));
    expect(deploy(join(dir, 'bad.yml'), vars)).toMatch(/Additional property bogus is not allowed/);
  });
});

function mkdirAndWrite(dir: string, path: string, text: string): void {
  execFileSync('mkdir', ['-p', join(dir, path, '..')]);
  writeFileSync(join(dir, path), text);
}
