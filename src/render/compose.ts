import { stringify } from 'yaml';
import type { Cluster } from '../cluster/schema.js';
import { backendMaxConnections, clientDatabase, sshAccess, tlsNames, watchdogPriority, type Node, type Topology } from '../cluster/topology.js';
import type { ClusterImages } from '../images/catalog.js';
import { CLUSTER_SECRETS, PATHS, PORTS } from '../images/facts.js';
import { VIP_DEVICE } from '../shell/env.js';

/** The compose service that makes the secrets and SSH material before any node starts. */
export const INIT_SERVICE = 'init';

/** A node's TLS environment and mount, when the cluster has TLS on (the CA's key stays in ca/, never mounted). */
export const tlsOf = (cluster: Cluster): { env: Record<string, string>; volumes: string[] } =>
  cluster.tls.enabled
    ? {
        env: { PGHA_TLS_CERT_FILE: `${PATHS.tlsMount}/server.crt`, PGHA_TLS_KEY_FILE: `${PATHS.tlsMount}/server.key`, PGHA_TLS_CA_FILE: `${PATHS.tlsMount}/ca.crt` },
        volumes: [`./tls:${PATHS.tlsMount}:ro`],
      }
    : { env: {}, volumes: [] };

/** depends_on in compose's long form: the init service has completed, and each of `started` has started. */
const dependsOn = (started: string[]) => ({
  [INIT_SERVICE]: { condition: 'service_completed_successfully' },
  ...Object.fromEntries(started.map((s) => [s, { condition: 'service_started' }])),
});

export const secretEnv = (name: string) => ({ [`${name.toUpperCase()}_FILE`]: `${PATHS.secretsMount}/${name}` });

/**
 * The deploy directory's secrets/, bound whole into every node. Not compose's file `secrets:`:
 * compose v2 creates every container before it starts the init service, and the engine
 * refuses to create one whose secret file does not exist yet, so a fresh `docker compose up`
 * failed ("bind source path does not exist"). A directory is resolved when the container
 * starts, after the init service has filled it.
 */
const SECRETS_VOLUME = `./secrets:${PATHS.secretsMount}:ro`;

/** What every service of the compose file is made from. */
interface ComposeContext {
  cluster: Cluster;
  topo: Topology;
  images: ClusterImages;
  /** The cluster's compose network (named after the cluster). */
  network: string;
}

/**
 * The compose file that runs only the init service, for a swarm cluster: it fills the deploy
 * directory (one level up, `..`) on the machine that deploys, before any secret is created.
 */
export function initComposeModel(images: ClusterImages, cluster: Cluster, topo: Topology): object {
  const init = initService({ cluster, topo, images, network: cluster.name }) as { volumes: string[] };
  return { services: { [INIT_SERVICE]: { ...init, volumes: [`..:${PATHS.deployMount}`] } } };
}

/** The compose file of the dev cluster, as an object; `docker compose up` (v2) and docker-compose 1.29 both read it. */
export function composeModel(images: ClusterImages, cluster: Cluster, topo: Topology): object {
  const ctx: ComposeContext = { cluster, topo, images, network: cluster.name };
  const services: Record<string, object> = { [INIT_SERVICE]: initService(ctx) };
  for (const node of topo.postgres) services[node.host] = postgresService(ctx, node);
  for (const node of topo.pgpool) services[node.host] = pgpoolService(ctx, node);
  for (const metrics of topo.pgpoolMetrics) services[metrics.host] = metricsService(ctx, metrics);
  // No top-level `name:` or `version:`: docker-compose 1.29 and `docker compose` v2 both accept this shape.
  return {
    services,
    networks: {
      [ctx.network]: { driver: 'bridge', ipam: { config: [{ subnet: topo.subnet, gateway: topo.gateway }] } },
    },
    volumes: Object.fromEntries(topo.postgres.map((n) => [`${n.host}-data`, {}])),
  };
}

/**
 * Every node's name in every container's /etc/hosts: Docker's DNS forgets a stopped
 * container's name, and pgpool's heartbeat sender dies on a failed lookup, taking the
 * surviving pgpool nodes down with it when the leader's container is killed.
 * A node's own name is left out: Docker writes it already (from `hostname`), and a second
 * line for it makes pgpool 4.7's watchdog bind its receive socket twice; the second bind
 * fails ("Address already in use"), and a watchdog was seen spinning at 90% CPU, its pcp
 * answers hanging, after such a start.
 */
const extraHosts = (topo: Topology, self: string) => [...topo.postgres, ...topo.pgpool].filter((n) => n.host !== self).map((n) => `${n.host}:${n.address}`);

/**
 * One-shot, from the postgres image: secrets and per-node SSH keys into the deploy directory
 * on first start, authorized_keys and known_hosts rewritten from them every start.
 */
function initService({ cluster, topo, images }: ComposeContext): object {
  return {
    image: images.postgres,
    container_name: `${cluster.name}-${INIT_SERVICE}`,
    entrypoint: [PATHS.initCommand],
    environment: {
      PGHA_NODE: INIT_SERVICE,
      PGHA_POSTGRES_PEERS: topo.postgres.map((n) => n.host).join(','),
      PGHA_PGPOOL_PEERS: topo.pgpool.map((n) => n.host).join(','),
      PGHA_CLUSTER_SUBNET: topo.subnet,
      PGHA_SSH_PORT: String(PORTS.ssh),
      PGHA_INIT_SECRETS: CLUSTER_SECRETS.join(','),
      PGHA_SSH_ACCESS: sshAccess(topo).map((g) => `${g.host}:${g.caller}:${g.kind}`).join(' '),
      PGHA_INIT_TLS: cluster.tls.enabled ? 'on' : 'off',
      PGHA_INIT_METRICS: 'on',
      ...(cluster.tls.enabled ? { PGHA_TLS_SAN: tlsNames(topo) } : {}),
    },
    volumes: [`.:${PATHS.deployMount}`],
    // The image declares its data paths VOLUMEs; without these each init run would leave two
    // anonymous volumes behind (compose down keeps them unless given -v).
    tmpfs: [PATHS.postgresHome, PATHS.baseDataVolume],
    network_mode: 'none',
    // The image's HEALTHCHECK is a node's; this container is done in a second.
    healthcheck: { disable: true },
    restart: 'no',
  };
}

/** The node initialised as primary at the cluster's first start. */
export const initialPrimary = (cluster: Cluster, topo: Topology): Node => topo.postgres[cluster.postgres.initialPrimary]!;

/** A postgres node's environment on any engine; the secrets' *_FILE paths are where the engine mounts them. */
export function postgresEnvironment(cluster: Cluster, topo: Topology, node: Node): Record<string, string> {
  const primary = initialPrimary(cluster, topo);
  const isPrimary = node.id === primary.id;
  return {
    PGHA_NODE: node.host,
    PGHA_NODE_ID: String(node.id),
    PGHA_ROLE: isPrimary ? 'primary' : 'standby',
    ...(isPrimary ? {} : { PGHA_PRIMARY_HOST: primary.host, PGHA_PRIMARY_PORT: String(cluster.postgres.port) }),
    PGPORT: String(cluster.postgres.port),
    PGHA_SYNCHRONOUS: cluster.postgres.replication === 'sync' ? 'on' : 'off',
    PGHA_DURABILITY: cluster.postgres.durability,
    // The lease: the guard here and failover.sh on the pgpool nodes must agree on it.
    PGHA_ISOLATION_FENCE_SECONDS: String(cluster.timings.isolationFenceSeconds),
    PGHA_MAX_CONNECTIONS: String(backendMaxConnections(cluster)),
    // Replication is accepted from the cluster network only.
    PGHA_CLUSTER_SUBNET: topo.subnet,
    // A returning node asks pgpool, through the delegate IP, who the primary is now.
    ...(topo.delegateIp ? { PGHA_DELEGATE_IP: topo.delegateIp } : {}),
    PGHA_PGPOOL_PORT: String(cluster.pgpool.port),
    PGHA_PCP_PORT: String(cluster.pgpool.pcpPort),
    // When pgpool does not answer, a returning node asks these whether one runs as primary.
    PGHA_POSTGRES_PEERS: topo.postgres.map((n) => n.host).join(','),
    // Without a delegate IP, a node asks these who the watchdog leader is, and runs pcp there.
    PGHA_PGPOOL_PEERS: topo.pgpool.map((n) => n.host).join(','),
    POSTGRES_USER: cluster.postgres.user,
    POSTGRES_DB: clientDatabase(cluster),
    ...tlsOf(cluster).env,
    ...secretEnv('postgres_password'),
    ...secretEnv('pgpool_password'),
    ...secretEnv('replication_password'),
    ...secretEnv('pcp_password'),
  };
}

/** A postgres node: the initial primary, or a standby that clones it on its first start. */
function postgresService({ cluster, topo, images, network }: ComposeContext, node: Node): object {
  const primary = initialPrimary(cluster, topo);
  const isPrimary = node.id === primary.id;
  return {
    image: images.postgres,
    hostname: node.host,
    container_name: `${cluster.name}-${node.host}`,
    environment: postgresEnvironment(cluster, topo, node),
    // supervisord stops postgres with a fast shutdown; give it time before SIGKILL.
    stop_grace_period: '60s',
    volumes: [
      `${node.host}-data:${PATHS.postgresHome}`,
      SECRETS_VOLUME,
      `./ssh/${node.host}:${PATHS.sshMount}:ro`,
      ...tlsOf(cluster).volumes,
      // Every node gets them; only a first initialisation of the primary runs them.
      ...(cluster.postgres.initScripts ? [`${cluster.postgres.initScripts}:${PATHS.initdbDir}:ro`] : []),
    ],
    // The base's VOLUME at the official data path (unused: PGDATA is under the named volume)
    // would otherwise be an anonymous volume per node, left behind by every compose down.
    tmpfs: [PATHS.baseDataVolume],
    networks: { [network]: { ipv4_address: node.address } },
    extra_hosts: extraHosts(topo, node.host),
    // pgpool exits when it loses the network or its watchdog; a node that dies on its own
    // comes back. `docker kill` / `docker stop` are not undone (Docker's rule), so tests stay in control.
    restart: 'unless-stopped',
    depends_on: dependsOn(isPrimary ? [] : [primary.host]),
  };
}

/** A pgpool node's environment on any engine. */
export function pgpoolEnvironment(cluster: Cluster, topo: Topology, node: Node): Record<string, string> {
  return {
    PGHA_NODE: node.host,
    PGPOOL_NODE_ID: String(node.id),
    PGHA_WD_PRIORITY: String(watchdogPriority(topo, node)),
    ...(topo.delegateIp ? { PGHA_DELEGATE_IP: topo.delegateIp, PGHA_VIP_PREFIX: String(topo.prefix), PGHA_VIP_DEVICE: VIP_DEVICE } : {}),
    PGHA_PGPOOL_PEERS: topo.pgpool.map((n) => n.host).join(','),
    // Without a delegate IP, pcp, the watchdog and sshd answer on this network only.
    PGHA_CLUSTER_SUBNET: topo.subnet,
    PGHA_DURABILITY: cluster.postgres.durability,
    PGHA_ISOLATION_FENCE_SECONDS: String(cluster.timings.isolationFenceSeconds),
    // The health check reaches pgpool on the port cluster.conf gives it.
    PGHA_PGPOOL_PORT: String(cluster.pgpool.port),
    PGHA_PCP_PORT: String(cluster.pgpool.pcpPort),
    // pool_passwd gets an entry for the clients' superuser too.
    POSTGRES_USER: cluster.postgres.user,
    ...tlsOf(cluster).env,
    ...secretEnv('postgres_password'),
    ...secretEnv('pgpool_password'),
    ...secretEnv('pcp_password'),
    ...secretEnv('wd_authkey'),
  };
}

/** A pgpool node: a watchdog member that may hold the delegate IP. */
function pgpoolService({ cluster, topo, images, network }: ComposeContext, node: Node): object {
  const published = topo.published.find((x) => x.host === node.host);
  return {
    image: images.pgpool,
    hostname: node.host,
    container_name: `${cluster.name}-${node.host}`,
    // The delegate IP is added and announced from inside the container.
    cap_add: ['NET_ADMIN', 'NET_RAW'],
    environment: pgpoolEnvironment(cluster, topo, node),
    volumes: [`./pgpool/cluster.conf:${PATHS.pgpoolEtc}/cluster.conf:ro`, SECRETS_VOLUME, `./ssh/${node.host}:${PATHS.sshMount}:ro`, ...tlsOf(cluster).volumes],
    // Reachable from the host where the delegate IP is not (Docker Desktop, another machine).
    ...(published ? { ports: [`${published.address}:${published.port}:${cluster.pgpool.port}`] } : {}),
    networks: { [network]: { ipv4_address: node.address } },
    extra_hosts: extraHosts(topo, node.host),
    // docker stop is pgpool's fast shutdown (the entrypoint turns TERM into SIGINT): clients
    // are cut, the delegate IP released. The engine's 10 s default is short when the host is busy.
    stop_grace_period: '30s',
    restart: 'unless-stopped',
    depends_on: dependsOn(topo.postgres.map((n) => n.host)),
  };
}

/** A pgpool node's metrics service's environment on any engine: its pgpool, the password and CA under metricsMount. */
export function metricsEnvironment(cluster: Cluster, topo: Topology, metrics: Node): Record<string, string> {
  return {
    PGHA_NODE: metrics.host,
    PGHA_METRICS_PGPOOL: topo.pgpool[metrics.id]!.host,
    PGHA_PGPOOL_PORT: String(cluster.pgpool.port),
    ...(cluster.tls.enabled ? { PGHA_TLS_CA_FILE: `${PATHS.metricsMount}/ca.crt` } : {}),
    PGPOOL_PASSWORD_FILE: `${PATHS.metricsMount}/pgpool_password`,
  };
}

/**
 * A pgpool node's metrics endpoint, a service of its own from the postgres image: the
 * exporter is Debian's package, which the Alpine pgpool image cannot carry, so every variant
 * gets the same. It asks its pgpool over the network (a shared network namespace would be
 * lost each time the pgpool container restarts). It mounts only metrics/, where the init
 * service copies the pgpool password and, with TLS, the CA that checks pgpool's certificate:
 * no other secret and no private key.
 */
function metricsService({ cluster, topo, images, network }: ComposeContext, metrics: Node): object {
  const target = topo.pgpool[metrics.id]!;
  return {
    image: images.postgres,
    hostname: metrics.host,
    container_name: `${cluster.name}-${metrics.host}`,
    entrypoint: [PATHS.pgpoolMetricsCommand],
    environment: metricsEnvironment(cluster, topo, metrics),
    volumes: [`./metrics:${PATHS.metricsMount}:ro`],
    // The image's VOLUMEs, unused here: no anonymous volume per run.
    tmpfs: [PATHS.postgresHome, PATHS.baseDataVolume],
    networks: { [network]: { ipv4_address: metrics.address } },
    extra_hosts: [`${target.host}:${target.address}`],
    healthcheck: { test: ['CMD', PATHS.pgpoolMetricsCommand, 'health'], interval: '10s', timeout: '5s', retries: 3 },
    restart: 'unless-stopped',
    depends_on: dependsOn([]),
  };
}

export function renderCompose(header: string, model: object): string {
  // YAML 1.1 quoting: docker-compose 1.29 reads `off` unquoted as a boolean.
  return `${header}\n${stringify(model, { lineWidth: 0, version: '1.1' })}`;
}
