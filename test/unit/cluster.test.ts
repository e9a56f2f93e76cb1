import { describe, expect, it } from 'vitest';
import { parseCluster } from '../../src/cluster/load.js';
import { topology } from '../../src/cluster/topology.js';
import { ConfigError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';
import { readManifestJson, ROOT } from '../helpers.js';

const manifest = parseManifest(JSON.stringify(readManifestJson()), 'versions.json', ROOT);

function problems(yaml: string): string[] {
  try {
    parseCluster(yaml, 'c.yaml', manifest);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.where}: ${p.message}`);
    throw err;
  }
  return [];
}

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

  it('reports every bad value with its path, one line each', () => {
    expect(
      problems('postgres:\n  nodes: 1\n  replication: maybe\npgpool:\n  port: 70000\n  pcpPort: 9999\nnetwork:\n  subnet: 172.30.0.0/24\n  delegateIp: 172.30.0.10\n'),
    ).toEqual([
      'postgres.nodes: Too small: expected number to be >=2',
      'postgres.replication: Invalid option: expected one of "async"|"sync"',
      'pgpool.port: Too big: expected number to be <=65535',
    ]);
    expect(problems('network:\n  delegateIp: 172.30.0.10\n')).toEqual([
      'network.delegateIp: 172.30.0.10 is a node\'s address; choose one outside .10-.19 and .20-.29 of the subnet',
    ]);
    expect(problems('network:\n  subnet: 172.30.0.5/24\n')).toEqual(['network.subnet: expected an IPv4 CIDR like 172.30.0.0/24, got 172.30.0.5/24']);
    expect(problems('pgpool:\n  pcpPort: 9999\n')).toEqual(['pgpool.pcpPort: port 9999 is already pgpool.port']);
    expect(problems('nodes: 3\n')).toEqual(['(root): Unrecognized key: "nodes"']);
    expect(problems('a: [\n')[0]).toMatch(/^line \d+: expected YAML: /);
  });
});
