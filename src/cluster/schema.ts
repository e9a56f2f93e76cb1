import { z } from 'zod';
import { PORTS } from '../images/facts.js';
import { ipv4ToInt, intToIpv4, parseCidr } from './net.js';

const port = z.number().int().min(1).max(65535);
const seconds = (min: number, max: number) => z.number().int().min(min).max(max);
const settingValue = z.union([z.string(), z.number(), z.boolean()]);

export const clusterSchema = z
  .strictObject({
    /** Compose project name and container-name prefix. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'expected a lowercase name (letters, digits, dashes)').default('pgha'),
    network: z
      .strictObject({
        /** The compose network's explicit IPv4 subnet; node addresses are derived from it. */
        subnet: z.string().default('172.30.0.0/24'),
        /** The delegate (virtual) IP the watchdog leader holds; clients connect to it on pgpool.port. */
        delegateIp: z.string().default('172.30.0.100'),
      })
      .prefault({}),
    postgres: z
      .strictObject({
        nodes: z.number().int().min(2).max(9).default(2),
        /** `sync`: the primary waits for a standby to confirm each commit (no acknowledged write is lost on failover). */
        replication: z.enum(['async', 'sync']).default('async'),
        port: port.default(PORTS.postgres),
        /**
         * The node initialised as primary when the cluster is first created. Only the first
         * start uses it: pgpool finds the primary with pg_is_in_recovery() from then on.
         */
        initialPrimary: z.number().int().min(0).default(0),
      })
      .prefault({}),
    pgpool: z
      .strictObject({
        nodes: z.number().int().min(1).max(9).default(3),
        /** Which pgpool image variant the cluster runs. */
        variant: z.enum(['debian', 'alpine']).default('debian'),
        port: port.default(PORTS.pgpool),
        pcpPort: port.default(PORTS.pcp),
        watchdogPort: port.default(PORTS.watchdog),
        heartbeatPort: port.default(PORTS.heartbeat),
        loadBalance: z.boolean().default(true),
        /** Extra pgpool.conf settings; every key is checked against the pinned pgpool version. */
        settings: z.record(z.string(), settingValue).default({}),
      })
      .prefault({}),
    timings: z
      .strictObject({
        healthCheck: z
          .strictObject({
            periodSeconds: seconds(1, 3600).default(2),
            timeoutSeconds: seconds(1, 3600).default(3),
            maxRetries: seconds(0, 100).default(2),
            retryDelaySeconds: seconds(0, 3600).default(1),
          })
          .prefault({}),
        srCheckPeriodSeconds: seconds(1, 3600).default(2),
        watchdog: z
          .strictObject({
            intervalSeconds: seconds(1, 3600).default(2),
            lifePoint: seconds(1, 100).default(3),
            heartbeatIntervalSeconds: seconds(1, 3600).default(1),
            heartbeatDeadtimeSeconds: seconds(1, 3600).default(6),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.postgres.initialPrimary >= c.postgres.nodes) {
      ctx.addIssue({ code: 'custom', path: ['postgres', 'initialPrimary'], message: `expected a node id below postgres.nodes (${c.postgres.nodes}), got ${c.postgres.initialPrimary}` });
    }
    const net = parseCidr(c.network.subnet);
    if (!net) {
      ctx.addIssue({ code: 'custom', path: ['network', 'subnet'], message: `expected an IPv4 CIDR like 172.30.0.0/24, got ${c.network.subnet}` });
      return;
    }
    if (net.prefix > 26) {
      ctx.addIssue({ code: 'custom', path: ['network', 'subnet'], message: `expected a prefix of /26 or wider to fit the nodes, got /${net.prefix}` });
      return;
    }
    const vip = ipv4ToInt(c.network.delegateIp);
    if (vip === null) {
      ctx.addIssue({ code: 'custom', path: ['network', 'delegateIp'], message: `expected an IPv4 address, got ${c.network.delegateIp}` });
      return;
    }
    if (vip <= net.first + 1 || vip >= net.last) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'delegateIp'],
        message: `expected an address inside ${c.network.subnet} other than the network, gateway (${intToIpv4(net.first + 1)}) and broadcast addresses, got ${c.network.delegateIp}`,
      });
      return;
    }
    const taken = [...nodeOffsets('postgres', c.postgres.nodes), ...nodeOffsets('pgpool', c.pgpool.nodes)].map((o) => net.first + o);
    if (taken.includes(vip)) {
      ctx.addIssue({ code: 'custom', path: ['network', 'delegateIp'], message: `${c.network.delegateIp} is a node's address; choose one outside .10-.19 and .20-.29 of the subnet` });
    }
    const ports = { port: c.pgpool.port, pcpPort: c.pgpool.pcpPort, watchdogPort: c.pgpool.watchdogPort, heartbeatPort: c.pgpool.heartbeatPort };
    const seen = new Map<number, string>();
    for (const [k, v] of Object.entries(ports)) {
      const other = seen.get(v);
      if (other) ctx.addIssue({ code: 'custom', path: ['pgpool', k], message: `port ${v} is already pgpool.${other}` });
      seen.set(v, k);
    }
  });

export type ClusterInput = z.input<typeof clusterSchema>;
export type Cluster = z.output<typeof clusterSchema>;

/** Fixed offsets in the subnet: postgres nodes at .10+i (i < 10), pgpool nodes at .20+i. */
export function nodeOffsets(kind: 'postgres' | 'pgpool', count: number): number[] {
  const base = kind === 'postgres' ? 10 : 20;
  return Array.from({ length: count }, (_, i) => base + i);
}
