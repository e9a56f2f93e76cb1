import { createHash } from 'node:crypto';
import type { Cluster } from '../cluster/schema.js';
import type { Node, Topology } from '../cluster/topology.js';
import type { ClusterImages } from '../images/catalog.js';
import { PATHS } from '../images/facts.js';
import { metricsEnvironment, pgpoolEnvironment, postgresEnvironment } from './compose.js';
import { clusterObjectKeys, metricsFiles, nodeFiles, objectSource, type NodeFile } from './node-files.js';

/**
 * The Swarm stack of an `engine: swarm` cluster (deploy/<name>/swarm/stack.yml), from the same
 * topology as the compose file. What differs, and why:
 * - no static IP, no extra_hosts, no delegate IP: Swarm ignores ipv4_address, and an address
 *   added inside a container on an overlay answers only on its own host;
 * - every service is one pgha node (`replicas: 1`, `endpoint_mode: dnsrr`: its name resolves
 *   to the task itself, as the SSH dispatcher's caller check needs), pinned to its host by
 *   the node label PLACEMENT_LABEL, updated stop-first (never two postgres on one volume);
 * - secrets and the init step's SSH and TLS material are Swarm secrets and configs, each
 *   service given only its own; their names come from the environment of `docker stack
 *   deploy` (SWARM_OBJECT_PREFIX + key), so a rotation is a new name and no secret, and no
 *   hash of one, is in this file.
 */

/** The Swarm node label that pins a service to its host: `docker node update --label-add pgha.host=<host>`. */
export const PLACEMENT_LABEL = 'pgha.host';
/** The variables that name each external secret or config when the stack is deployed. */
export const SWARM_OBJECT_PREFIX = 'PGHA_SWARM_';
/** The variables that name the images (by digest, once pushed); the local tags otherwise. */
export const SWARM_IMAGE_VARIABLES = { postgres: 'PGHA_POSTGRES_IMAGE', pgpool: 'PGHA_PGPOOL_IMAGE' } as const;
/** The network alias applications use on the clients network: every pgpool node. */
export const CLIENT_ALIAS = 'pgpool';

/** The deploy-time variable that names the external secret or config `key`. */
export const swarmObjectVariable = (key: string): string => `${SWARM_OBJECT_PREFIX}${key.toUpperCase().replace(/-/g, '_')}`;

/** An external secret or config whose real name `docker stack deploy` reads from the environment (deploy stops when unset). */
const external = (key: string) => ({ external: true, name: `\${${swarmObjectVariable(key)}:?set by pgha for engine: swarm}` });

/** A secret or config mounted at `target`, root-only unless `mode` says otherwise. */
const mount = (source: string, target: string, mode = 0o400) => ({ source, target, uid: '0', gid: '0', mode });

interface StackContext {
  cluster: Cluster;
  topo: Topology;
  images: ClusterImages;
  /** The cluster.conf config's name: the cluster's, with a hash of the content (a config cannot change in place). */
  clusterConfName: string;
}

/** The stack file as an object; `clusterConf` is deploy/<name>/pgpool/cluster.conf's text, which the stack ships as a config. */
export function stackModel(images: ClusterImages, cluster: Cluster, topo: Topology, clusterConf: string): object {
  const hash = createHash('sha256').update(clusterConf).digest('hex').slice(0, 12);
  const ctx: StackContext = { cluster, topo, images, clusterConfName: `${cluster.name}-cluster-conf-${hash}` };
  const services: Record<string, object> = {};
  for (const node of topo.postgres) services[node.host] = postgresService(ctx, node);
  for (const node of topo.pgpool) services[node.host] = pgpoolService(ctx, node);
  for (const metrics of topo.pgpoolMetrics) services[metrics.host] = metricsService(ctx, metrics);
  const { secrets: secretKeys, configs: configKeys } = swarmObjectKeys(cluster, topo);
  return {
    version: '3.8',
    services,
    networks: {
      cluster: { name: cluster.name, driver: 'overlay', ipam: { config: [{ subnet: topo.subnet }] } },
      // Applications attach here and find pgpool by its alias; postgres nodes are not on it.
      // pgpool nodes bind pcp, the watchdog and sshd to the cluster network (no delegate IP here).
      clients: { name: `${cluster.name}-clients`, driver: 'overlay', attachable: true },
    },
    volumes: Object.fromEntries(topo.postgres.map((n) => [`${n.host}-data`, { name: `${cluster.name}-${n.host}-data` }])),
    secrets: Object.fromEntries(secretKeys.map((k) => [k, external(k)])),
    configs: {
      'cluster-conf': { name: ctx.clusterConfName, file: '../pgpool/cluster.conf' },
      ...Object.fromEntries(configKeys.map((k) => [k, external(k)])),
    },
  };
}

/** The external secrets and configs the stack names, by key: what `pgha cluster up` creates before deploying. */
export const swarmObjectKeys = (cluster: Cluster, topo: Topology): { secrets: string[]; configs: string[] } => clusterObjectKeys(cluster, topo);

/** The file of the init step's output (in the deploy directory) that the secret or config `key` is made from. */
export const swarmObjectSource = (key: string): string => objectSource(key);

/** A node's files as the service's secrets and configs, each mounted where the node reads it. */
const mountsOf = (files: NodeFile[]) => ({
  secrets: files.filter((f) => f.secret).map((f) => mount(f.key, f.target, f.mode)),
  configs: files.filter((f) => !f.secret).map((f) => mount(f.key, f.target, f.mode)),
});

/**
 * Swarm replaces a task whose health check fails: under it the check says only whether the
 * node's own processes run (`alive`), so a node held for a rebuild or a pgpool still joining
 * is left alone. Role health stays in `pgha cluster status` and the image's `health`.
 */
const aliveCheck = (command: string) => ({ test: ['CMD', command, 'alive'], interval: '10s', timeout: '8s', retries: 3, start_period: '120s' });

/**
 * One replica pinned to its host, replaced stop-first one at a time: a postgres node's
 * volume is local to its host, and two containers on it would be two postmasters on one
 * data directory. `any`: a node that exits comes back, as `restart: unless-stopped` in compose.
 */
function deployOf(node: Node): object {
  const update = { parallelism: 1, order: 'stop-first' };
  return {
    mode: 'replicated',
    replicas: 1,
    endpoint_mode: 'dnsrr',
    placement: { constraints: [`node.labels.${PLACEMENT_LABEL} == ${node.placedOn}`] },
    update_config: { ...update, failure_action: 'rollback' },
    rollback_config: update,
    restart_policy: { condition: 'any', delay: '5s' },
  };
}

/** The image a service runs: the deploy-time variable (a digest in a registry), else the local tag. */
const imageOf = (kind: keyof typeof SWARM_IMAGE_VARIABLES, tag: string) => `\${${SWARM_IMAGE_VARIABLES[kind]}:-${tag}}`;

function postgresService({ cluster, topo, images }: StackContext, node: Node): object {
  const files = mountsOf(nodeFiles(cluster, node, 'postgres'));
  return {
    image: imageOf('postgres', images.postgres),
    hostname: node.host,
    environment: postgresEnvironment(cluster, topo, node),
    // The image's VOLUME at the official data path stays unused (PGDATA is under the named volume).
    volumes: [
      { type: 'volume', source: `${node.host}-data`, target: PATHS.postgresHome },
      { type: 'tmpfs', target: PATHS.baseDataVolume },
    ],
    secrets: files.secrets,
    configs: files.configs,
    networks: ['cluster'],
    healthcheck: aliveCheck(PATHS.nodeCommand),
    // supervisord stops postgres with a fast shutdown; give it time before SIGKILL.
    stop_grace_period: '60s',
    deploy: deployOf(node),
  };
}

function pgpoolService({ cluster, topo, images }: StackContext, node: Node): object {
  const files = mountsOf(nodeFiles(cluster, node, 'pgpool'));
  const published = topo.published.find((p) => p.host === node.host);
  return {
    image: imageOf('pgpool', images.pgpool),
    hostname: node.host,
    environment: pgpoolEnvironment(cluster, topo, node),
    secrets: files.secrets,
    configs: [mount('cluster-conf', `${PATHS.pgpoolEtc}/cluster.conf`, 0o444), ...files.configs],
    networks: { cluster: {}, clients: { aliases: [CLIENT_ALIAS] } },
    // Host mode: the port is this host's own (no routing mesh, which needs IPVS); a client's
    // multi-host string lists every host.
    ...(published ? { ports: [{ target: cluster.pgpool.port, published: published.port, protocol: 'tcp', mode: 'host' }] } : {}),
    healthcheck: aliveCheck(PATHS.entrypoint),
    // docker stop is pgpool's fast shutdown (the entrypoint turns TERM into SIGINT).
    stop_grace_period: '30s',
    deploy: deployOf(node),
  };
}

/** A pgpool node's metrics endpoint beside it on its host, with only the pgpool password and the CA. */
function metricsService({ cluster, topo, images }: StackContext, metrics: Node): object {
  const files = mountsOf(metricsFiles(cluster));
  return {
    image: imageOf('postgres', images.postgres),
    hostname: metrics.host,
    entrypoint: [PATHS.pgpoolMetricsCommand],
    environment: metricsEnvironment(cluster, topo, metrics),
    secrets: files.secrets,
    configs: files.configs,
    volumes: [
      { type: 'tmpfs', target: PATHS.postgresHome },
      { type: 'tmpfs', target: PATHS.baseDataVolume },
    ],
    networks: ['cluster'],
    healthcheck: { test: ['CMD', PATHS.pgpoolMetricsCommand, 'health'], interval: '10s', timeout: '5s', retries: 3 },
    deploy: deployOf(metrics),
  };
}
