import type Docker from 'dockerode';
import type { Endpoint } from '../bench/plan.js';
import { hostOf } from '../cluster/placement.js';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { clusterContainers, type ClusterContainers } from '../deploy/inspect.js';
import { UsageError } from '../errors.js';
import { swarmContainers } from '../swarm/containers.js';
import { answering, contextHost, dockerConfigDir } from '../swarm/engines.js';
import { swarmTarget } from '../swarm/target.js';

/** How `pgha chaos` reaches a cluster: its containers now, and where clients connect. */
export interface ChaosReach {
  containers: () => Promise<ClusterContainers>;
  targets: Endpoint[];
}

/** Bound on the ping that tells a host's engine is there before its containers are listed. */
const ENGINE_PING_MS = 2000;

/** --connect: host:port entries separated by commas; the problem line when one is not. */
export function parseConnect(value: string): Endpoint[] | { problem: string } {
  const entries = value.split(',').map((e) => e.trim());
  const out: Endpoint[] = [];
  for (const e of entries) {
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(e);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) return { problem: `--connect: expected host:port[,host:port...], got ${JSON.stringify(e)}` };
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** --connect when given, parsed, or the usage error naming it. */
function connectTargets(connect: string | undefined): Endpoint[] | undefined {
  if (connect === undefined) return undefined;
  const parsed = parseConnect(connect);
  if ('problem' in parsed) throw new UsageError([parsed.problem]);
  return parsed;
}

/** One host: the containers on this machine's engine; clients through the delegate IP. */
export function composeReach(docker: Docker, cluster: Cluster, topo: Topology, connect?: string): ChaosReach {
  const targets = connectTargets(connect) ?? [{ host: topo.delegateIp, port: cluster.pgpool.port }];
  return { containers: async () => clusterContainers(docker, cluster), targets };
}

/**
 * A swarm: the task containers on the engines that answer now (a host powered off is left out
 * rather than waited for); clients through every pgpool node's published port on its host, in
 * node order, as the multi-host string does. A host's address is its Docker context's tcp://
 * address; with unix:// contexts, --connect names them.
 */
export async function swarmReach(cluster: Cluster, topo: Topology, connect?: string): Promise<ChaosReach> {
  const { engines } = await swarmTarget(cluster);
  const containers = async () => {
    const up = new Set(await answering(engines, ENGINE_PING_MS));
    return swarmContainers(new Map([...engines].filter(([h]) => up.has(h))), cluster);
  };
  const given = connectTargets(connect);
  if (given) return { containers, targets: given };
  const targets: Endpoint[] = [];
  for (const p of topo.published) {
    const host = hostOf(cluster.hosts, p.host)!;
    const ctx = contextHost(dockerConfigDir(), host);
    const url = 'host' in ctx ? new URL(ctx.host) : null;
    if (!url || url.protocol !== 'tcp:') throw new UsageError([`--connect: expected where clients reach the pgpool nodes (host:port,...): the Docker context of ${host} is not tcp://, so its address is unknown`]);
    targets.push({ host: url.hostname, port: p.port });
  }
  if (!targets.length) throw new UsageError([`--connect: expected where clients reach the pgpool nodes (host:port,...): ${cluster.name} publishes no pgpool port`]);
  return { containers, targets };
}
