import { shown, type Problem } from '../errors.js';
import type { Cluster } from './schema.js';

/**
 * Where the cluster's containers run: one Docker engine (compose), a Docker Swarm of several
 * hosts, or Kubernetes (manifests rendered only: no pgha command drives such a cluster).
 */
export const ENGINES = ['compose', 'swarm', 'kubernetes'] as const;
export type Engine = (typeof ENGINES)[number];

/**
 * The fewest hosts a swarm cluster runs on: with one host down, the watchdog keeps a quorum
 * of pgpool nodes and Swarm's Raft a majority of managers only with three or more.
 */
export const MIN_SWARM_HOSTS = 3;

/**
 * The fewest pgpool nodes without a delegate IP (swarm, kubernetes): the watchdog keeps a
 * quorum with one of them lost, and the postgres nodes find its leader by asking them.
 */
export const MIN_WATCHDOG_NODES = 3;

/** A host of a swarm cluster: its Swarm node's hostname (`docker node ls`) and the pgha nodes placed on it. */
export interface HostPlacement {
  name: string;
  nodes: string[];
}

/** What the placement rules need of a cluster definition (already past its schema). */
export interface PlacementInput {
  engine: Engine;
  hosts?: HostPlacement[];
  postgresNodes: number;
  pgpoolNodes: number;
  replication: 'async' | 'sync';
}

/** How a node is named: the prefix of its kind, then its id (pg0, pgpool2). */
export const NODE_PREFIX = { postgres: 'pg', pgpool: 'pgpool' } as const;

/** The pgha node names a cluster of this size has, in the order the definition's docs list them. */
export function nodeNames(postgresNodes: number, pgpoolNodes: number): { postgres: string[]; pgpool: string[] } {
  return {
    postgres: Array.from({ length: postgresNodes }, (_, i) => `${NODE_PREFIX.postgres}${i}`),
    pgpool: Array.from({ length: pgpoolNodes }, (_, i) => `${NODE_PREFIX.pgpool}${i}`),
  };
}

const range = (names: string[]) => (names.length > 1 ? `${names[0]}-${names.at(-1)}` : names[0]!);

/**
 * One problem per mistake in `hosts`: hosts given to compose or missing for swarm, fewer than
 * MIN_SWARM_HOSTS, a host named twice, a node that is not the cluster's, placed twice or not
 * at all, two postgres nodes or two pgpool nodes on one host (the loss of that host would
 * take both: a standby and its primary, or the watchdog's majority).
 */
export function placementProblems(input: PlacementInput): Problem[] {
  const { engine, hosts } = input;
  if (engine === 'compose') {
    return hosts === undefined ? [] : [{ where: 'hosts', message: 'expected no hosts with engine: compose (one Docker engine runs every node); set engine: swarm to place nodes on several hosts' }];
  }
  if (engine === 'kubernetes') {
    return hosts === undefined ? [] : [{ where: 'hosts', message: 'expected no hosts with engine: kubernetes: Kubernetes places the pods, and required anti-affinity keeps two postgres pods (and two pgpool pods) off one node' }];
  }
  const names = nodeNames(input.postgresNodes, input.pgpoolNodes);
  if (hosts === undefined || hosts.length < MIN_SWARM_HOSTS) {
    const got = hosts === undefined ? 'none' : String(hosts.length);
    return [{ where: 'hosts', message: `expected at least ${MIN_SWARM_HOSTS} hosts with engine: swarm (with one host down, the watchdog's quorum and Swarm's Raft each need a majority), got ${got}` }];
  }
  const problems: Problem[] = [];
  const placedOn = new Map<string, string>();
  const hostSeen = new Set<string>();
  hosts.forEach((host, h) => {
    if (hostSeen.has(host.name)) problems.push({ where: `hosts[${h}].name`, message: `host ${host.name} is already listed; list each host once with all its nodes` });
    hostSeen.add(host.name);
    host.nodes.forEach((node, n) => {
      const where = `hosts[${h}].nodes[${n}]`;
      if (!names.postgres.includes(node) && !names.pgpool.includes(node)) {
        problems.push({ where, message: `expected a node of this cluster (${range(names.postgres)}, ${range(names.pgpool)}), got ${shown(node)}` });
      } else if (placedOn.has(node)) {
        problems.push({ where, message: `${node} is already placed on ${placedOn.get(node)}; place each node on one host` });
      } else placedOn.set(node, host.name);
    });
    for (const [kind, list] of [['postgres', names.postgres], ['pgpool', names.pgpool]] as const) {
      const here = [...new Set(host.nodes.filter((n) => list.includes(n)))];
      if (here.length > 1) problems.push({ where: `hosts[${h}].nodes`, message: `expected at most one ${kind} node per host (losing the host would take all of them), got ${here.join(', ')}` });
    }
  });
  const unplaced = [...names.postgres, ...names.pgpool].filter((n) => !placedOn.has(n));
  if (unplaced.length) problems.push({ where: 'hosts', message: `expected every node placed on a host, got none for ${unplaced.join(', ')}` });
  return problems;
}

/** What is allowed but risky in a placement: asynchronous replication across hosts (swarm, kubernetes). */
export function placementWarnings(input: PlacementInput): Problem[] {
  if (input.engine === 'compose' || input.replication !== 'async') return [];
  return [{ where: 'postgres.replication', message: 'async across several hosts: a failover after a host or network loss can lose acknowledged writes the old primary had not sent yet; postgres.replication: sync avoids it' }];
}

/** The placement rules' view of a cluster definition. */
const placementInput = (c: Cluster): PlacementInput => ({ engine: c.engine, hosts: c.hosts, postgresNodes: c.postgres.nodes, pgpoolNodes: c.pgpool.nodes, replication: c.postgres.replication });

/** What a cluster definition said itself, where the schema's default would hide it. */
export interface WrittenFields {
  /** network.subnet was given (not the compose network's default). */
  subnet: boolean;
}

/**
 * The problems of a cluster definition (past its schema) that depend on its engine: the
 * placement, the settings that only one host can honour, and what a Kubernetes pod cannot
 * have. `written` says which defaulted fields the definition gave itself.
 */
export function engineProblems(cluster: Cluster, written: WrittenFields = { subnet: true }): Problem[] {
  const problems = placementProblems(placementInput(cluster));
  const { engine } = cluster;
  if (cluster.kubernetes !== undefined && engine !== 'kubernetes') {
    problems.push({ where: 'kubernetes', message: `expected no kubernetes settings with engine: ${engine}; set engine: kubernetes to render Kubernetes manifests` });
  }
  if (engine === 'compose') return problems;
  if (engine === 'kubernetes') problems.push(...kubernetesProblems(cluster, written));
  // Postgres nodes find the primary and ask for rebuilds through the watchdog leader (no
  // delegate IP): without a watchdog, or with one that loses its quorum with a host, they cannot.
  const unit = engine === 'swarm' ? 'host' : 'node';
  if (cluster.pgpool.nodes < MIN_WATCHDOG_NODES) {
    problems.push({ where: 'pgpool.nodes', message: `expected at least ${MIN_WATCHDOG_NODES} pgpool nodes with engine: ${engine} (the watchdog keeps its quorum with one ${unit} down, and the postgres nodes find its leader by asking them), got ${cluster.pgpool.nodes}` });
  }
  if (cluster.network.delegateIp !== undefined) {
    const why = engine === 'swarm' ? 'an address added inside a container on an overlay network answers only on its own host' : 'an address added inside a pod answers nowhere useful; clients use the pgpool Service';
    problems.push({ where: 'network.delegateIp', message: `expected no delegate IP with engine: ${engine}: ${why}` });
  }
  if (cluster.pgpool.publish.address !== undefined) {
    const why = engine === 'swarm' ? "a port published in host mode listens on every address of its host (limit it with the host's firewall)" : 'nothing is published on a host; clients use the pgpool Service';
    problems.push({ where: 'pgpool.publish.address', message: `expected no address with engine: ${engine}: ${why}` });
  }
  return problems;
}

/** What only engine: kubernetes refuses: the pods' address range left at the compose default, a directory of this machine. */
function kubernetesProblems(cluster: Cluster, written: WrittenFields): Problem[] {
  const problems: Problem[] = [];
  if (!written.subnet) {
    problems.push({ where: 'network.subnet', message: "expected the pods' address range (the cluster's pod CIDR, e.g. 10.244.0.0/16) with engine: kubernetes: postgres accepts replication, and sshd the nodes' keys, from it only" });
  }
  if (cluster.postgres.initScripts !== undefined) {
    problems.push({ where: 'postgres.initScripts', message: 'expected no initScripts with engine: kubernetes: a pod mounts no directory of this machine' });
  }
  return problems;
}

/** What is allowed but risky in a valid definition's placement. */
export const engineWarnings = (cluster: Cluster): Problem[] => placementWarnings(placementInput(cluster));

/** The host a node is placed on (a valid swarm placement), or undefined for compose. */
export function hostOf(hosts: HostPlacement[] | undefined, node: string): string | undefined {
  return hosts?.find((h) => h.nodes.includes(node))?.name;
}

/** The hosts of a swarm cluster, in the definition's order (none for compose). */
export const hostNames = (cluster: Cluster): string[] => (cluster.hosts ?? []).map((h) => h.name);
