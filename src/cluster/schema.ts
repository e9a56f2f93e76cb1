import { z } from 'zod';
import { ISOLATION_FENCE_SECONDS, PORTS, ROLES } from '../images/facts.js';
import { shown, UNPRINTABLE, type Problem } from '../errors.js';
import { integer as int } from '../manifest/schema.js';
import { ENGINES, engineWarnings } from './placement.js';
import { hasLeadingZero, ipv4ToInt, intToIpv4, parseCidr, subnetWarning } from './net.js';

const port = int(1, 65535);
/** The data volume each postgres pod of an engine: kubernetes cluster claims, when the definition names no size. */
/** A host's name: a Swarm node label's value in a placement constraint (no spaces, no operators), and safe as a command argument. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const DEFAULT_VOLUME_SIZE = '10Gi';
/** Role names CREATE ROLE refuses as reserved (pgha-lib.sh's pgha_check_superuser says the same). */
const RESERVED_ROLE = /^(pg_.*|public|none)$/;
const seconds = int;
const settingValue = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, a finite number or a boolean' });

export const clusterSchema = z
  .strictObject({
    /** Compose project name and container-name prefix. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'expected a lowercase name (letters, digits, dashes)').default('pgha'),
    /**
     * `compose`: every node on one Docker engine (the dev cluster). `swarm`: nodes placed on
     * several hosts of a Docker Swarm (`hosts`). `kubernetes`: manifests rendered under
     * deploy/<name>/k8s/ for `kubectl apply -k` (no pgha command drives such a cluster).
     */
    engine: z.enum(ENGINES).default('compose'),
    /** With engine: swarm, each host (its Swarm node's hostname) and the pgha nodes placed on it, e.g. `{ name: db-a, nodes: [pg0, pgpool0] }`. */
    hosts: z
      .array(
        z.strictObject({
          // A Swarm node label's value in a placement constraint: no spaces, no operators.
          name: z.string().regex(HOST_NAME, "expected a host name of letters, digits, '.', '_' and '-' (the Swarm node's hostname)"),
          nodes: z.array(z.string()).min(1, 'expected at least one node, e.g. [pg0, pgpool0]'),
        }),
      )
      .optional(),
    network: z
      .strictObject({
        /**
         * The compose network's explicit IPv4 subnet; node addresses are derived from it. With
         * engine: kubernetes (where it must be given): the pods' address range, the only one
         * replication and the nodes' SSH keys are accepted from.
         */
        subnet: z.string().default('172.30.0.0/24'),
        /**
         * The delegate (virtual) IP the watchdog leader holds; clients connect to it on
         * pgpool.port. engine: compose only (default DEFAULT_DELEGATE_IP).
         */
        delegateIp: z.string().optional(),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        nodes: int(2, 9).default(2),
        /** `sync`: the primary waits for a standby to confirm each commit (no acknowledged write is lost on failover). */
        replication: z.enum(['async', 'sync']).default('async'),
        /**
         * With sync replication, what a failure may cost. `available`: commits go on without a
         * standby (synchronous replication suspended until one is back) and a failover promotes
         * the most advanced standby that answers. `strict`: commits wait for a standby, and a
         * failover promotes only when every standby attached at the time answered with its WAL
         * position (so the most advanced one provably has every acknowledged commit); else no
         * primary until a person decides.
         */
        durability: z.enum(['available', 'strict']).default('available'),
        port: port.default(PORTS.postgres),
        /**
         * The superuser clients log in as, with the postgres password (POSTGRES_USER of the
         * images, made at the first initialisation). pgha's own scripts keep the postgres role.
         */
        user: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, "expected a role name of at most 63 lower-case letters, digits and '_', not starting with a digit")
          .refine((u) => u !== ROLES.pgpool && u !== ROLES.replication, `expected a role of your own: ${ROLES.pgpool} and ${ROLES.replication} are pgha's`)
          .refine((u) => !RESERVED_ROLE.test(u), "expected a role name PostgreSQL allows: 'pg_' names, public and none are reserved")
          .default(ROLES.superuser),
        /** The database made at the first initialisation, owned by `user` (POSTGRES_DB); default: the user's name, as the official image. */
        database: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, "expected a database name of at most 63 letters, digits, '_' and '-', not starting with a digit or '-'")
          .refine((d) => d !== 'template0' && d !== 'template1', 'expected a database of your own: template0 and template1 exist in every cluster')
          .optional(),
        /**
         * The node initialised as primary when the cluster is first created. Only the first
         * start uses it: pgpool finds the primary with pg_is_in_recovery() from then on.
         */
        initialPrimary: int(0, 8).default(0),
        /**
         * A directory of *.sh, *.sql, *.sql.gz the primary runs at its first initialisation
         * (mounted read-only at /docker-entrypoint-initdb.d, as the official image reads it);
         * absolute, or relative (./, ../) to the deploy directory that holds docker-compose.yml.
         */
        initScripts: z
          .string()
          // Compose reads a bare name as a named volume, and host:container at a colon.
          .regex(/^(\/|\.\.?\/)[^:\n\r\0]*$/, 'expected a directory path starting with /, ./ or ../, without a colon or a line break')
          // Compose substitutes variables at a `$` in it; a tab or a line separator makes the
          // compose file unreadable, and a C1 character (NEL) can end up naming another path.
          .refine((p) => !p.includes('$') && !UNPRINTABLE.test(p), {
            error: (i) => `expected a path without '$' (compose substitutes variables), tabs or other control characters, got ${shown(i.input)}`,
            when: (payload) => payload.issues.length === 0,
          })
          .optional(),
      })
      .prefault({}),
    pgpool: z
      .strictObject({
        nodes: int(1, 9).default(3),
        /** Which pgpool image variant the cluster runs. */
        variant: z.enum(['debian', 'alpine']).default('debian'),
        port: port.default(PORTS.pgpool),
        pcpPort: port.default(PORTS.pcp),
        watchdogPort: port.default(PORTS.watchdog),
        heartbeatPort: port.default(PORTS.heartbeat),
        loadBalance: z.boolean().default(true),
        /** Extra pgpool.conf settings; every key is checked against the pinned pgpool version. */
        settings: z.record(z.string(), settingValue).default({}),
        /**
         * Each pgpool node's port published on the host (node i at firstPort + i), so the
         * cluster is reachable where the delegate IP is not (Docker Desktop, another host).
         */
        publish: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** The host address the ports listen on: 127.0.0.1 (the default) keeps them local; 0.0.0.0 opens them to the network. engine: compose only. */
            address: z.string().optional(),
            firstPort: port.default(PORTS.pgpool),
          })
          .prefault({}),
      })
      .prefault({}),
    /** With engine: kubernetes: each postgres node's data volume (its StatefulSet's volumeClaimTemplate). */
    kubernetes: z
      .strictObject({
        /** The storage each postgres pod's claim requests: a whole number of Mi, Gi or Ti. */
        volumeSize: z.string().regex(/^[1-9][0-9]{0,5}(Mi|Gi|Ti)$/, 'expected a size like 10Gi (a whole number of Mi, Gi or Ti)').default(DEFAULT_VOLUME_SIZE),
        /** The claims' StorageClass; the Kubernetes cluster's default class when not given. */
        storageClass: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "expected a StorageClass name (lower-case letters, digits, '-' and '.')")
          .optional(),
      })
      .optional(),
    timings: z
      .strictObject({
        healthCheck: z
          .strictObject({
            // A dead backend's address does not answer at all, so each attempt ends at the
            // connect bound (connectTimeoutMs, the smaller): detection is about period +
            // (retries + 1) x connect bound. A live backend on a saturated host answers the
            // connect at once (the kernel does) and then gets timeoutSeconds for fork, TLS,
            // SCRAM and the query. See docs/failure-modes.md, "Failover timings".
            periodSeconds: seconds(1, 3600).default(1),
            timeoutSeconds: seconds(1, 3600).default(10),
            maxRetries: seconds(0, 100).default(1),
            retryDelaySeconds: seconds(0, 3600).default(0),
          })
          .prefault({}),
        srCheckPeriodSeconds: seconds(1, 3600).default(2),
        /** pgpool's connect_timeout: bounds every TCP connect to a backend (health checks, sessions, streaming-replication check, primary search). */
        connectTimeoutMs: seconds(100, 3_600_000).default(1000),
        /** How long pgpool looks for a primary after a failover before giving up (search_primary_node_timeout). */
        searchPrimarySeconds: seconds(1, 3600).default(10),
        /**
         * The lease of a primary (PGHA_ISOLATION_FENCE_SECONDS on every node): its isolation
         * guard stops it after this long without a peer, and failover.sh waits this long plus
         * the guard's lateness for one that does not answer. 0 turns both off.
         */
        isolationFenceSeconds: seconds(0, 3600).default(ISOLATION_FENCE_SECONDS),
        watchdog: z
          .strictObject({
            intervalSeconds: seconds(1, 3600).default(1),
            lifePoint: seconds(1, 100).default(3),
            heartbeatIntervalSeconds: seconds(1, 3600).default(1),
            heartbeatDeadtimeSeconds: seconds(1, 3600).default(3),
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * TLS for clients (to pgpool and to PostgreSQL) and from pgpool to the backends: the init
     * service makes a dev CA and a server certificate for every node name, the delegate IP and
     * 127.0.0.1; the nodes serve it with ssl = on.
     */
    tls: z
      .strictObject({
        enabled: z.boolean().default(true),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    // A field the schema refused (a range, a type) holds the raw input here: a check that
    // reads it would add a second, misleading line for the same mistake.
    const refused = (...path: string[]) => ctx.issues.some((i) => path.every((p, k) => i.path?.[k] === p));
    if (!refused('postgres', 'nodes') && !refused('postgres', 'initialPrimary') && c.postgres.initialPrimary >= c.postgres.nodes) {
      ctx.addIssue({ code: 'custom', path: ['postgres', 'initialPrimary'], message: `expected a node id below postgres.nodes (${c.postgres.nodes}), got ${c.postgres.initialPrimary}` });
    }
    if (c.postgres.durability === 'strict' && c.postgres.replication !== 'sync' && !refused('postgres', 'replication')) {
      ctx.addIssue({ code: 'custom', path: ['postgres', 'durability'], message: 'expected available with asynchronous replication (strict needs postgres.replication: sync), got strict' });
    }
    // sshd and the metrics exporter listen inside the containers too: a postgres node runs
    // both, a pgpool node sshd (the heartbeat is UDP, which they do not use).
    const refuseBusyPort = (at: string[], port: number, others: [number, string][]) => {
      const other = others.find(([p]) => p === port);
      if (other) ctx.addIssue({ code: 'custom', path: at, message: `expected a port other than ${others.map(([p, what]) => `${p} (${what})`).join(' and ')}, which the container also listens on, got ${port}` });
    };
    const sshd: [number, string] = [PORTS.ssh, 'sshd'];
    if (!refused('postgres', 'port')) refuseBusyPort(['postgres', 'port'], c.postgres.port, [sshd, [PORTS.metrics, 'the metrics exporter']]);
    for (const k of ['port', 'pcpPort', 'watchdogPort'] as const) if (!refused('pgpool', k)) refuseBusyPort(['pgpool', k], c.pgpool[k], [sshd]);
    const ports = (['port', 'pcpPort', 'watchdogPort', 'heartbeatPort'] as const).filter((k) => !refused('pgpool', k));
    const seen = new Map<number, string>();
    for (const k of ports) {
      const v = c.pgpool[k];
      const other = seen.get(v);
      if (other) ctx.addIssue({ code: 'custom', path: ['pgpool', k], message: `port ${v} is already pgpool.${other}` });
      seen.set(v, k);
    }
    if (!refused('pgpool', 'publish') && !refused('pgpool', 'nodes')) {
      const { firstPort } = c.pgpool.publish;
      const address = publishAddress(c);
      if (ipv4ToInt(address) === null) {
        const why = hasLeadingZero(address) ? ' without leading zeros' : '';
        ctx.addIssue({ code: 'custom', path: ['pgpool', 'publish', 'address'], message: `expected an IPv4 address of the host such as 127.0.0.1${why}, got ${shown(address)}` });
      }
      if (firstPort + c.pgpool.nodes - 1 > 65535) {
        ctx.addIssue({ code: 'custom', path: ['pgpool', 'publish', 'firstPort'], message: `expected a port at most ${65536 - c.pgpool.nodes} (one per pgpool node from it), got ${firstPort}` });
      }
    }
    if (refused('network')) return;
    const net = parseCidr(c.network.subnet);
    if (!net) {
      const address = c.network.subnet.split('/')[0]!;
      const why = hasLeadingZero(address) ? ' without leading zeros (iproute2 reads 030 as octal)' : '';
      ctx.addIssue({ code: 'custom', path: ['network', 'subnet'], message: `expected an IPv4 CIDR like 172.30.0.0/24${why}, got ${shown(c.network.subnet)}` });
      return;
    }
    if (net.prefix > 26) {
      ctx.addIssue({ code: 'custom', path: ['network', 'subnet'], message: `expected a prefix of /26 or wider to fit the nodes, got /${net.prefix}` });
      return;
    }
    // Swarm and Kubernetes have no delegate IP (engineProblems refuses one); on compose '' is no address.
    if (c.engine !== 'compose') return;
    const delegateIp = delegateIpOf(c);
    const vip = ipv4ToInt(delegateIp);
    if (vip === null) {
      const why = hasLeadingZero(delegateIp) ? ' without leading zeros (iproute2 reads 030 as octal)' : '';
      ctx.addIssue({ code: 'custom', path: ['network', 'delegateIp'], message: `expected an IPv4 address${why}, got ${shown(delegateIp)}` });
      return;
    }
    if (vip <= net.first + 1 || vip >= net.last) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'delegateIp'],
        message: `expected an address inside ${c.network.subnet} other than the network, gateway (${intToIpv4(net.first + 1)}) and broadcast addresses, got ${shown(delegateIp)}`,
      });
      return;
    }
    if (refused('postgres', 'nodes') || refused('pgpool', 'nodes')) return;
    const taken = [...nodeOffsets('postgres', c.postgres.nodes), ...nodeOffsets('pgpool', c.pgpool.nodes), ...nodeOffsets('pgpool-metrics', c.pgpool.nodes)].map((o) => net.first + o);
    if (taken.includes(vip)) {
      const ranges = Object.values(NODE_BASES).map((b) => `.${b}-.${b + 9}`);
      ctx.addIssue({ code: 'custom', path: ['network', 'delegateIp'], message: `${delegateIp} is a node's address; choose one outside ${ranges.slice(0, -1).join(', ')} and ${ranges.at(-1)} of the subnet` });
    }
  });

export type ClusterInput = z.input<typeof clusterSchema>;
export type Cluster = z.output<typeof clusterSchema>;

/** The delegate IP of a compose cluster that names none. */
export const DEFAULT_DELEGATE_IP = '172.30.0.100';
/** Where a compose cluster publishes its pgpool ports when the definition names no address. */
export const DEFAULT_PUBLISH_ADDRESS = '127.0.0.1';

/** The cluster's delegate IP, or '' when it has none (swarm, kubernetes: the nodes find the watchdog leader by asking). */
export const delegateIpOf = (c: Pick<Cluster, 'engine' | 'network'>): string => (c.engine === 'compose' ? (c.network.delegateIp ?? DEFAULT_DELEGATE_IP) : '');

/** The host address pgpool's ports are published on; on swarm, host-mode ports listen on every address. */
export const publishAddress = (c: Pick<Cluster, 'engine' | 'pgpool'>): string => (c.engine === 'swarm' ? '0.0.0.0' : (c.pgpool.publish.address ?? DEFAULT_PUBLISH_ADDRESS));

/** Where each kind of container starts in the subnet: postgres nodes at .10+i (i < 10), pgpool nodes at .20+i, each pgpool node's metrics service at .40+i. */
const NODE_BASES = { postgres: 10, pgpool: 20, 'pgpool-metrics': 40 } as const;

/** The fixed offsets in the subnet of `count` containers of a kind. */
export function nodeOffsets(kind: keyof typeof NODE_BASES, count: number): number[] {
  return Array.from({ length: count }, (_, i) => NODE_BASES[kind] + i);
}

/**
 * What is allowed but probably a mistake in a valid cluster definition, one line each, named
 * like a problem: a subnet outside the private ranges (public, loopback, multicast),
 * asynchronous replication across hosts.
 */
export function clusterWarnings(cluster: Cluster): Problem[] {
  const subnet = subnetWarning(cluster.network.subnet);
  return [...(subnet ? [{ where: 'network.subnet', message: subnet }] : []), ...engineWarnings(cluster)];
}
