import { describe, expect, it } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import { clusterWarnings } from '../../src/cluster/schema.js';
import { topology } from '../../src/cluster/topology.js';
import { connectionStrings, metricsEndpoints } from '../../src/deploy/connect.js';
import { pgpoolEnvironment, postgresEnvironment } from '../../src/render/compose.js';
import { tlsNames } from '../../src/cluster/topology.js';
import { parseManifest } from '../../src/manifest/load.js';
import { clusterProblems, projectInput, readManifestJson, ROOT } from '../helpers.js';

const manifest = parseManifest(JSON.stringify(readManifestJson()), 'versions.json', ROOT);

const problems = (yaml: string): string[] => clusterProblems(yaml, manifest);

describe('cluster definition', () => {
  it('has built-in defaults: 2 postgres nodes, 3 pgpool nodes, a VIP in the subnet', () => {
    const c = parseCluster('', 'c.yaml', manifest);
    const t = topology(c);
    expect(t.postgres.map((n) => `${n.host}=${n.address}`)).toEqual(['pg0=172.30.0.10', 'pg1=172.30.0.11']);
    expect(t.pgpool.map((n) => `${n.host}=${n.address}`)).toEqual(['pgpool0=172.30.0.20', 'pgpool1=172.30.0.21', 'pgpool2=172.30.0.22']);
    expect(t.delegateIp).toBe('172.30.0.100');
    expect(t.gateway).toBe('172.30.0.1');
    expect(c.postgres.replication).toBe('async');
  });

  it('a third postgres node is one setting away', () => {
    const t = topology(parseCluster('postgres:\n  nodes: 3\n', 'c.yaml', manifest));
    expect(t.postgres.map((n) => n.host)).toEqual(['pg0', 'pg1', 'pg2']);
  });

  it('rejects a renamed pgpool key with the YAML path, the pinned version and the replacement', () => {
    expect(problems('pgpool:\n  settings:\n    delegate_IP: 172.30.0.99\n    follow_master_command: x\n')).toEqual([
      'pgpool.settings.delegate_IP: pgpool 4.7.2 accepts delegate_IP only as a deprecated alias: use delegate_ip (renamed in 4.4)',
      'pgpool.settings.follow_master_command: pgpool 4.7.2 does not know follow_master_command: renamed to follow_primary_command in 4.2',
    ]);
  });

  it('accepts valid overrides and refuses keys it manages itself', () => {
    expect(problems('pgpool:\n  settings:\n    num_init_children: 16\n    log_min_messages: debug1\n')).toEqual([]);
    expect(problems('pgpool:\n  settings:\n    backend_hostname0: x\n    wd_authkey: secret\n')).toEqual([
      'pgpool.settings.backend_hostname0: backend_hostname0 is set from postgres.nodes and postgres.port; change it there',
      'pgpool.settings.wd_authkey: wd_authkey is set from the WD_AUTHKEY secret at run time (never a file); change it there',
    ]);
  });

  it('postgres.initScripts: mounted read-only at /docker-entrypoint-initdb.d on every postgres node; a bare name or a colon is refused', async () => {
    const { composeModel } = await import('../../src/render/compose.js');
    const { clusterImages, imageCatalog } = await import('../../src/images/catalog.js');
    const c = parseCluster('postgres:\n  initScripts: ../../initdb\n', 'c.yaml', manifest);
    const services = (composeModel(clusterImages(imageCatalog(manifest), c), c, topology(c)) as { services: Record<string, { volumes?: string[] }> }).services;
    expect(services.pg0!.volumes).toContain('../../initdb:/docker-entrypoint-initdb.d:ro');
    expect(services.pg1!.volumes).toContain('../../initdb:/docker-entrypoint-initdb.d:ro');
    expect(services.pgpool0!.volumes ?? []).not.toContain('../../initdb:/docker-entrypoint-initdb.d:ro');
    const why = 'expected a directory path starting with /, ./ or ../, without a colon or a line break';
    expect(problems('postgres:\n  initScripts: initdb\n')).toEqual([`postgres.initScripts: ${why}`]);
    expect(problems('postgres:\n  initScripts: /srv/a:b\n')).toEqual([`postgres.initScripts: ${why}`]);
  });

  it('reports every bad value with its path, one line each', () => {
    expect(
      problems('postgres:\n  nodes: 1\n  replication: maybe\npgpool:\n  port: 70000\n  pcpPort: 9999\nnetwork:\n  subnet: 172.30.0.0/24\n  delegateIp: 172.30.0.10\n'),
    ).toEqual([
      'postgres.nodes: Too small: expected number to be >=2',
      'postgres.replication: Invalid option: expected one of "async"|"sync"',
      'pgpool.port: Too big: expected number to be <=65535',
    ]);
    expect(problems('network:\n  delegateIp: 172.30.0.10\n')).toEqual([
      'network.delegateIp: 172.30.0.10 is a node\'s address; choose one outside .10-.19, .20-.29 and .40-.49 of the subnet',
    ]);
    expect(problems('network:\n  subnet: 172.30.0.5/24\n')).toEqual(['network.subnet: expected an IPv4 CIDR like 172.30.0.0/24, got 172.30.0.5/24']);
    expect(problems('pgpool:\n  pcpPort: 9999\n')).toEqual(['pgpool.pcpPort: port 9999 is already pgpool.port']);
    expect(problems('nodes: 3\n')).toEqual(['(root): Unrecognized key: "nodes"']);
    expect(problems('a: [\n')[0]).toMatch(/^line \d+: expected YAML: /);
  });

  it.each([
    ['postgres:\n  nodes: 0\n', 'postgres.nodes: Too small: expected number to be >=2'],
    ['pgpool:\n  nodes: 100\n', 'pgpool.nodes: Too big: expected number to be <=9'],
    ['pgpool:\n  nodes: 0\n', 'pgpool.nodes: Too small: expected number to be >=1'],
    ['postgres:\n  nodes: 1e30\n', 'postgres.nodes: Too big: expected number to be <=9'],
    ['pgpool:\n  nodes: 1e30\n', 'pgpool.nodes: Too big: expected number to be <=9'],
    ['pgpool:\n  nodes: -1e30\n', 'pgpool.nodes: Too small: expected number to be >=1'],
    ['postgres:\n  port: 1e30\n', 'postgres.port: Too big: expected number to be <=65535'],
    ['postgres:\n  initialPrimary: 1e30\n', 'postgres.initialPrimary: Too big: expected number to be <=8'],
    ['timings:\n  healthCheck:\n    periodSeconds: 1e30\n', 'timings.healthCheck.periodSeconds: Too big: expected number to be <=3600'],
    ['pgpool:\n  nodes: 2.5\n', 'pgpool.nodes: expected an integer'],
    ['timings:\n  isolationFenceSeconds: -1\n', 'timings.isolationFenceSeconds: Too small: expected number to be >=0'],
    ['pgpool:\n  port: 1e30\n  pcpPort: 9999\n', 'pgpool.port: Too big: expected number to be <=65535'],
    ['pgpool:\n  settings:\n    num_init_children: .nan\n', 'pgpool.settings.num_init_children: expected a string, a finite number or a boolean'],
  ])('refuses %j with exactly one line naming the field', (yaml, line) => {
    expect(problems(yaml)).toEqual([line]);
  });

  it('the lease reaches every postgres and every pgpool node alike (the guard and failover.sh must agree)', () => {
    for (const [yaml, lease] of [['', '3'], ['timings:\n  isolationFenceSeconds: 0\n', '0'], ['timings:\n  isolationFenceSeconds: 8\n', '8']] as const) {
      const c = parseCluster(`postgres:\n  nodes: 3\n${yaml}`, 'c.yaml', manifest);
      const topo = topology(c);
      const envs = [...topo.postgres.map((n) => postgresEnvironment(c, topo, n)), ...topo.pgpool.map((n) => pgpoolEnvironment(c, topo, n))];
      expect(envs).toHaveLength(6);
      expect(envs.map((e) => e.PGHA_ISOLATION_FENCE_SECONDS)).toEqual(Array(6).fill(lease));
    }
  });

  it('still reports an unrelated second problem', () => {
    expect(problems('postgres:\n  nodes: 0\npgpool:\n  pcpPort: 9999\n')).toEqual([
      'postgres.nodes: Too small: expected number to be >=2',
      'pgpool.pcpPort: port 9999 is already pgpool.port',
    ]);
  });

  it('TLS (on by default): the certificate names every node by name and address, the delegate IP and 127.0.0.1; clients verify it fully against the dev CA', () => {
    const c = parseCluster('postgres:\n  user: app\npgpool:\n  nodes: 1\n', 'c.yaml', manifest);
    const t = topology(c);
    expect(c.tls.enabled).toBe(true);
    expect(tlsNames(t)).toBe('DNS:pg0,DNS:pg1,DNS:pgpool0,DNS:localhost,IP:172.30.0.100,IP:172.30.0.10,IP:172.30.0.11,IP:172.30.0.20,IP:127.0.0.1');
    expect(connectionStrings(c, t, '/home/me/deploy/pgha/tls/ca.crt').delegateIp).toBe('host=172.30.0.100 port=9999 user=app dbname=app sslmode=verify-full sslrootcert=/home/me/deploy/pgha/tls/ca.crt');
    expect(connectionStrings(c, t, "/tmp/it's here/ca.crt").published).toBe("host=127.0.0.1 port=9999 user=app dbname=app sslmode=verify-full sslrootcert='/tmp/it\\'s here/ca.crt' connect_timeout=3 target_session_attrs=read-write");
    const off = parseCluster('tls:\n  enabled: false\n', 'c.yaml', manifest);
    expect(connectionStrings(off, topology(off), '/x/ca.crt').delegateIp).toBe('host=172.30.0.100 port=9999 user=postgres dbname=postgres');
  });

  it('metrics endpoints: each pgpool node\'s metrics service at .40+i on every variant, then every postgres node', () => {
    for (const variant of ['debian', 'alpine']) {
      const c = parseCluster(`pgpool:\n  nodes: 2\n  variant: ${variant}\n`, 'c.yaml', manifest);
      expect(metricsEndpoints(topology(c))).toEqual(['http://172.30.0.40:9187/metrics', 'http://172.30.0.41:9187/metrics', 'http://172.30.0.10:9187/metrics', 'http://172.30.0.11:9187/metrics']);
    }
  });

  it('refuses a delegate IP on a metrics service\'s address', () => {
    expect(problems('network:\n  delegateIp: 172.30.0.41\npgpool:\n  nodes: 2\n').join('\n')).toMatch(/network\.delegateIp: 172\.30\.0\.41 is a node's address/);
    expect(problems('network:\n  delegateIp: 172.30.0.42\npgpool:\n  nodes: 2\n')).toEqual([]);
  });

  it('publishes each pgpool node on 127.0.0.1 from 9999 and gives a multi-host string that skips a dead node; off when asked', () => {
    const c = parseCluster('', 'c.yaml', manifest);
    const t = topology(c);
    expect(t.published).toEqual([
      { host: 'pgpool0', address: '127.0.0.1', port: 9999 },
      { host: 'pgpool1', address: '127.0.0.1', port: 10000 },
      { host: 'pgpool2', address: '127.0.0.1', port: 10001 },
    ]);
    expect(connectionStrings(c, t)).toEqual({
      delegateIp: 'host=172.30.0.100 port=9999 user=postgres dbname=postgres',
      published: 'host=127.0.0.1,127.0.0.1,127.0.0.1 port=9999,10000,10001 user=postgres dbname=postgres connect_timeout=3 target_session_attrs=read-write',
    });
    const open = parseCluster('pgpool:\n  nodes: 1\n  publish:\n    address: 0.0.0.0\n    firstPort: 6432\n', 'c.yaml', manifest);
    expect(connectionStrings(open, topology(open)).published).toBe('host=127.0.0.1 port=6432 user=postgres dbname=postgres connect_timeout=3 target_session_attrs=read-write');
    const off = parseCluster('pgpool:\n  publish:\n    enabled: false\n', 'c.yaml', manifest);
    expect(topology(off).published).toEqual([]);
    expect(connectionStrings(off, topology(off)).published).toBeNull();
    expect(problems('pgpool:\n  publish:\n    address: localhost\n    firstPort: 65534\n')).toEqual([
      'pgpool.publish.address: expected an IPv4 address of the host such as 127.0.0.1, got localhost',
      'pgpool.publish.firstPort: expected a port at most 65533 (one per pgpool node from it), got 65534',
    ]);
  });

  it('durability strict needs synchronous replication; available is the default', () => {
    expect(parseCluster('', 'c.yaml', manifest).postgres.durability).toBe('available');
    expect(problems('postgres:\n  durability: strict\n')).toEqual(['postgres.durability: expected available with asynchronous replication (strict needs postgres.replication: sync), got strict']);
    expect(problems('postgres:\n  replication: sync\n  durability: strict\n')).toEqual([]);
  });

  it('refuses an IPv4 octet with a leading zero, which iproute2 reads as octal', () => {
    expect(problems('network:\n  subnet: 172.030.000.0/24\n  delegateIp: 172.030.000.100\n')).toEqual([
      'network.subnet: expected an IPv4 CIDR like 172.30.0.0/24 without leading zeros (iproute2 reads 030 as octal), got 172.030.000.0/24',
    ]);
    expect(problems('network:\n  delegateIp: 172.30.0.0100\n')).toEqual(['network.delegateIp: expected an IPv4 address, got 172.30.0.0100']);
    expect(problems('network:\n  delegateIp: 172.030.000.100\n')).toEqual([
      'network.delegateIp: expected an IPv4 address without leading zeros (iproute2 reads 030 as octal), got 172.030.000.100',
    ]);
    expect(problems('network:\n  subnet: 172.30.0.0/024\n')).toEqual(['network.subnet: expected an IPv4 CIDR like 172.30.0.0/24, got 172.30.0.0/024']);
    expect(problems('network:\n  subnet: 10.0.0.0/16\n  delegateIp: 10.0.0.100\n')).toEqual([]);
  });

  it('warns, without refusing, about a public, loopback or multicast subnet', () => {
    const warnings = (yaml: string) => clusterWarnings(parseCluster(yaml, 'c.yaml', manifest)).map((w) => `${w.where}: ${w.message}`);
    expect(warnings('')).toEqual([]);
    expect(warnings('network:\n  subnet: 192.168.7.0/24\n  delegateIp: 192.168.7.100\n')).toEqual([]);
    expect(warnings('network:\n  subnet: 8.8.8.0/24\n  delegateIp: 8.8.8.100\n')).toEqual([
      'network.subnet: 8.8.8.0/24 is not inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): its addresses may belong to hosts elsewhere, which the cluster could then not reach',
    ]);
    expect(warnings('network:\n  subnet: 172.0.0.0/8\n  delegateIp: 172.0.0.100\n')[0]).toMatch(/is not inside a private range/);
    expect(warnings('network:\n  subnet: 127.0.0.0/24\n  delegateIp: 127.0.0.100\n')).toEqual([
      'network.subnet: 127.0.0.0/24 overlaps the loopback range 127.0.0.0/8; expected a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
    ]);
    expect(warnings('network:\n  subnet: 239.1.0.0/24\n  delegateIp: 239.1.0.100\n')[0]).toMatch(/^network\.subnet: 239\.1\.0\.0\/24 overlaps the multicast range 224\.0\.0\.0\/4/);
  });

  it("type-checks pgpool.settings values against the parameter's kind in pgpool's table", () => {
    expect(problems('pgpool:\n  settings:\n    num_init_children: lots\n')).toEqual([
      'pgpool.settings.num_init_children: pgpool 4.7.2 takes an integer from 1 to 2147483647 for num_init_children, got "lots"',
    ]);
    expect(
      problems(
        'pgpool:\n  settings:\n    num_init_children: 0\n    child_life_time: 1.5\n    log_connections: maybe\n    log_min_messages: chatty\n    health_check_period1: -5\n    unix_socket_permissions: 777\n',
      ),
    ).toEqual([
      'pgpool.settings.num_init_children: pgpool 4.7.2 takes an integer from 1 to 2147483647 for num_init_children, got 0',
      'pgpool.settings.child_life_time: pgpool 4.7.2 takes an integer from 0 to 2147483647 for child_life_time, got 1.5',
      'pgpool.settings.log_connections: pgpool 4.7.2 takes a boolean (on/off, true/false, yes/no, 1/0) for log_connections, got "maybe"',
      'pgpool.settings.log_min_messages: pgpool 4.7.2 takes one of debug, debug5, debug4, debug3, debug2, debug1, info, notice, warning, error, log, fatal, panic for log_min_messages, got "chatty"',
      'pgpool.settings.health_check_period1: pgpool 4.7.2 takes an integer from 0 to 2147483647 for health_check_period1, got -5',
      'pgpool.settings.unix_socket_permissions: pgpool 4.7.2 takes an integer from 0 to 511 for unix_socket_permissions, got 777',
    ]);
    expect(
      problems(
        'pgpool:\n  settings:\n    num_init_children: 32\n    log_connections: "on"\n    log_disconnections: true\n    log_hostname: "Y"\n    log_min_messages: WARNING\n    check_temp_table: off\n    disable_load_balance_on_write: false\n    unix_socket_permissions: 0o770\n    listen_addresses: "*"\n    primary_routing_query_pattern_list: "SELECT \'x\';.*nextval"\n',
      ),
    ).toEqual([]);
  });
});

describe('pgpool.settings cannot replace what the image owns', () => {
  it("refuses the image's hook commands, paths and roles, one line each", () => {
    const input = projectInput();
    const bad = ['failover_command: /bin/true', "wd_escalation_command: ''", "if_up_cmd: 'ip addr add $_IP_$/24 dev eth0'", 'pid_file_name: /tmp/p', "recovery_1st_stage_command: '../../../../tmp/evil'", 'health_check_user: postgres'];
    let err: unknown;
    try {
      parseCluster(`pgpool:\n  settings:\n${bad.map((l) => `    ${l}`).join('\n')}\n`, 'c.yaml', input.manifest);
    } catch (e) {
      err = e;
    }
    const lines = (err as Error).message.split('\n');
    expect(lines).toHaveLength(bad.length);
    expect(lines[0]).toBe("c.yaml: pgpool.settings.failover_command: failover_command is set from the image's hook scripts (templates/pgpool/pgpool.conf.hbs); change it there");
    expect(lines[3]).toMatch(/pid_file_name is set from the image's layout and roles/);
  });
});
