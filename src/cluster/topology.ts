import { PGPOOL_POOL } from '../images/facts.js';
import { intToIpv4, parseCidr } from './net.js';
import { hostOf, NODE_PREFIX, type Engine } from './placement.js';
import { delegateIpOf, nodeOffsets, publishAddress, type Cluster } from './schema.js';

export interface Node {
  id: number;
  /** Compose service name, container hostname. */
  host: string;
  /** Its static address on the compose network; on swarm, tasks get theirs from the overlay and this is unused. */
  address: string;
  /** engine: swarm: the host (Swarm node hostname) it is pinned to. */
  placedOn?: string;
}

export interface Topology {
  engine: Engine;
  subnet: string;
  prefix: number;
  gateway: string;
  /** '' when the cluster has none (engine: swarm). */
  delegateIp: string;
  postgres: Node[];
  pgpool: Node[];
  /** Each pgpool node's metrics service, in node order (id: the pgpool node's). */
  pgpoolMetrics: Node[];
  /** Where each pgpool node is published on the host, in node order; empty when not published. */
  published: { host: string; address: string; port: number }[];
}

/** The database clients use: postgres.database, else the user's name (as POSTGRES_DB defaults in the official image). */
export const clientDatabase = (cluster: Cluster): string => cluster.postgres.database ?? cluster.postgres.user;

/** engine: kubernetes: the Service clients reach every ready pgpool node by, in the cluster's namespace. */
export const CLIENT_SERVICE = 'pgpool';

/**
 * The names the dev cluster's server certificate is issued for, as openssl's subjectAltName
 * list: every node by name and address, the delegate IP, and this machine (published ports).
 */
export function tlsNames(topo: Topology): string {
  const nodes = [...topo.postgres, ...topo.pgpool];
  const published = topo.published.map((p) => p.address).filter((a) => a !== '0.0.0.0');
  // On swarm and kubernetes the tasks and pods get their addresses as they start: the names
  // are what identifies them.
  const addresses = topo.engine === 'compose' ? nodes.map((n) => n.address) : [];
  const ips = [...new Set([topo.delegateIp, ...addresses, '127.0.0.1', ...published].filter((a) => a !== ''))];
  // On swarm clients reach a pgpool node at its host's name (host-mode ports); on kubernetes
  // at the pgpool Service.
  const hosts = [...new Set(topo.pgpool.flatMap((n) => (n.placedOn ? [n.placedOn] : [])))];
  const service = topo.engine === 'kubernetes' ? [CLIENT_SERVICE] : [];
  return [...nodes.map((n) => `DNS:${n.host}`), ...hosts.map((h) => `DNS:${h}`), ...service.map((h) => `DNS:${h}`), 'DNS:localhost', ...ips.map((ip) => `IP:${ip}`)].join(',');
}

/** One authorized key: `caller` may log in on `host`, its key forced through ssh-command as `kind`. */
/**
 * A pgpool node's wd_priority: distinct, the lower the id the higher. Two survivors of equal
 * priority that started in the same second both reject each other's stand for leader (pgpool
 * 4.7.2 watchdog.c breaks the tie on startup time, in whole seconds) and wait out a 5 s
 * timeout; distinct priorities let the election finish at the first exchange.
 */
export function watchdogPriority(topo: Topology, node: Node): number {
  return topo.pgpool.length - node.id;
}

/**
 * Every backend's max_connections: what all pgpool nodes' pools may hold on it (nodes x
 * num_init_children x max_pool, the image's or pgpool.settings'), PostgreSQL's 3 slots for
 * superusers, each pgpool node's health and replication checks, and 20 for the exporter,
 * people and scripts. A backend whose slots run out refuses pgpool's health check, and pgpool
 * fails a running primary over (seen: PostgreSQL's default 100 under the bench's load).
 */
export function backendMaxConnections(cluster: Cluster): number {
  const setting = (key: string, fallback: number) => {
    const v = Number(cluster.pgpool.settings[key]);
    return Number.isInteger(v) && v > 0 ? v : fallback;
  };
  const pools = cluster.pgpool.nodes * setting('num_init_children', PGPOOL_POOL.children) * setting('max_pool', PGPOOL_POOL.maxPool);
  return pools + 3 + 2 * cluster.pgpool.nodes + 20;
}

export interface SshGrant {
  host: string;
  caller: string;
  kind: 'postgres' | 'pgpool';
}

/**
 * Who may log in where over SSH, and as what kind of caller: pgpool nodes reach postgres
 * nodes (promote, follow, slots) and the other pgpool nodes (escalation clears the delegate
 * IP); postgres nodes reach the other postgres nodes (online recovery). Nobody reaches a node
 * from itself, and no postgres node reaches a pgpool node. The init service writes each
 * node's authorized_keys from this; `cluster doctor` checks each grant works.
 */
export function sshAccess(topo: Topology): SshGrant[] {
  const grants: SshGrant[] = [];
  for (const host of topo.postgres) {
    for (const c of topo.pgpool) grants.push({ host: host.host, caller: c.host, kind: 'pgpool' });
    for (const c of topo.postgres) if (c.host !== host.host) grants.push({ host: host.host, caller: c.host, kind: 'postgres' });
  }
  for (const host of topo.pgpool) {
    for (const c of topo.pgpool) if (c.host !== host.host) grants.push({ host: host.host, caller: c.host, kind: 'pgpool' });
  }
  return grants;
}

/** Node names and addresses, derived from a validated cluster definition. */
export function topology(cluster: Cluster): Topology {
  const net = parseCidr(cluster.network.subnet);
  if (!net) throw new Error(`unvalidated subnet ${cluster.network.subnet}`);
  const nodes = (kind: Parameters<typeof nodeOffsets>[0], prefix: string, count: number, suffix = ''): Node[] =>
    nodeOffsets(kind, count).map((offset, id) => {
      const placedOn = hostOf(cluster.hosts, `${prefix}${id}`);
      return { id, host: `${prefix}${id}${suffix}`, address: intToIpv4(net.first + offset), ...(placedOn ? { placedOn } : {}) };
    });
  // One pgpool node per host on swarm: every one is published at firstPort of its own host.
  const swarm = cluster.engine === 'swarm';
  return {
    engine: cluster.engine,
    subnet: cluster.network.subnet,
    prefix: net.prefix,
    gateway: intToIpv4(net.first + 1),
    delegateIp: delegateIpOf(cluster),
    postgres: nodes('postgres', NODE_PREFIX.postgres, cluster.postgres.nodes),
    pgpool: nodes('pgpool', NODE_PREFIX.pgpool, cluster.pgpool.nodes),
    pgpoolMetrics: nodes('pgpool-metrics', NODE_PREFIX.pgpool, cluster.pgpool.nodes, '-metrics'),
    // Kubernetes publishes nothing on a host: clients use the pgpool Service.
    published: cluster.pgpool.publish.enabled && cluster.engine !== 'kubernetes'
      ? Array.from({ length: cluster.pgpool.nodes }, (_, id) => ({ host: `${NODE_PREFIX.pgpool}${id}`, address: publishAddress(cluster), port: cluster.pgpool.publish.firstPort + (swarm ? 0 : id) }))
      : [],
  };
}
