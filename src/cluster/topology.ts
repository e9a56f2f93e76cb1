import { intToIpv4, parseCidr } from './net.js';
import { nodeOffsets, type Cluster } from './schema.js';

export interface Node {
  id: number;
  /** Compose service name, container hostname. */
  host: string;
  address: string;
}

export interface Topology {
  subnet: string;
  prefix: number;
  gateway: string;
  delegateIp: string;
  postgres: Node[];
  pgpool: Node[];
  /** Where each pgpool node is published on the host, in node order; empty when not published. */
  published: { host: string; address: string; port: number }[];
}

/** Node names and addresses, derived from a validated cluster definition. */
export function topology(cluster: Cluster): Topology {
  const net = parseCidr(cluster.network.subnet);
  if (!net) throw new Error(`unvalidated subnet ${cluster.network.subnet}`);
  const nodes = (kind: 'postgres' | 'pgpool', prefix: string, count: number): Node[] =>
    nodeOffsets(kind, count).map((offset, id) => ({ id, host: `${prefix}${id}`, address: intToIpv4(net.first + offset) }));
  return {
    subnet: cluster.network.subnet,
    prefix: net.prefix,
    gateway: intToIpv4(net.first + 1),
    delegateIp: cluster.network.delegateIp,
    postgres: nodes('postgres', 'pg', cluster.postgres.nodes),
    pgpool: nodes('pgpool', 'pgpool', cluster.pgpool.nodes),
    published: cluster.pgpool.publish.enabled
      ? Array.from({ length: cluster.pgpool.nodes }, (_, id) => ({ host: `pgpool${id}`, address: cluster.pgpool.publish.address, port: cluster.pgpool.publish.firstPort + id }))
      : [],
  };
}
