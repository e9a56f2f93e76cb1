import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { intToIpv4, ipv4ToInt } from '../cluster/net.js';
import type { Endpoint, Target } from './plan.js';

/**
 * Where the bench's containers sit on the cluster's network: pgbench alone in one, each proxy
 * in its own, all on the same bridge as the nodes, so every target is one bridge hop from
 * pgbench and one from the backends (pgbouncer and HAProxy no longer share pgbench's loopback).
 * After the pgpool nodes (.20-.29), before the metrics services (.40-.49).
 */
export const BENCH_OFFSETS = { pgbench: 30, 'pgpool-sample': 31, pgpool: 32, pgbouncer: 33, 'pgbouncer-session': 34, haproxy: 35 } as const;
export type BenchSide = keyof typeof BENCH_OFFSETS;
/** The targets that are a proxy, each with a container of its own. */
export type ProxyTarget = Exclude<Target, 'direct'>;

export const BENCH_PORTS = { pgbouncer: 6432, 'pgbouncer-session': 6432, haproxy: 5433, 'pgpool-sample': 9999 } as const;

/** The address of one of the bench's containers: its offset from the subnet's network address. */
export function benchAddress(topo: Topology, offset: number): string {
  const address = intToIpv4(ipv4ToInt(topo.gateway)! - 1 + offset);
  if (address === topo.delegateIp) throw new Error(`the bench needs ${address} for its own container, and it is the cluster's delegate IP: choose network.delegateIp elsewhere to run the bench`);
  return address;
}

export const benchContainerName = (cluster: Pick<Cluster, 'name'>, side: BenchSide) => (side === 'pgbench' ? `${cluster.name}-bench` : `${cluster.name}-bench-${side}`);

/** Where pgbench connects for a target: the primary for direct, else the proxy's own container. */
export function targetEndpoint(target: Target, cluster: Cluster, topo: Topology, primaryIp: string): Endpoint {
  switch (target) {
    case 'direct':
      return { host: primaryIp, port: cluster.postgres.port };
    case 'pgpool':
      // The cluster's own pgpool.conf sets the port.
      return { host: benchAddress(topo, BENCH_OFFSETS.pgpool), port: cluster.pgpool.port };
    default:
      return { host: benchAddress(topo, BENCH_OFFSETS[target]), port: BENCH_PORTS[target] };
  }
}

/** Every postgres node by name, for /etc/hosts of the bench's containers (the cluster's pgpool.conf names its backends). */
export const nodeHosts = (topo: Topology) => topo.postgres.map((n) => `${n.host}:${n.address}`);

/**
 * The address postgres sees the benchmark's sessions come from: pgbench's own for direct,
 * else the proxy's container (HAProxy too: it opens its own connection to relay).
 */
export const sessionSource = (target: Target, topo: Topology) => benchAddress(topo, BENCH_OFFSETS[target === 'direct' ? 'pgbench' : target]);
