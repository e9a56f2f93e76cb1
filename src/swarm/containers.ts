import Docker from 'dockerode';
import type { Cluster } from '../cluster/schema.js';
import { hostOf } from '../cluster/placement.js';
import type { ClusterContainers } from '../deploy/inspect.js';

/** The labels Swarm puts on a task's container: its stack and its service. */
const STACK_LABEL = 'com.docker.stack.namespace';
const SERVICE_LABEL = 'com.docker.swarm.service.name';

/** A pgha node's Swarm service: `docker stack deploy` prefixes each service with the stack's name. */
export const serviceName = (cluster: Cluster, node: string): string => `${cluster.name}_${node}`;

/**
 * The cluster's containers on a swarm, found on the engine of the host each node is placed on
 * by their service label (task containers have generated names). A snapshot: the task that runs
 * now, else the newest; taken again for every status, since a replaced task is a new container.
 * A node whose host's engine does not answer reads as state "host unreachable".
 */
export async function swarmContainers(engines: Map<string, Docker>, cluster: Cluster): Promise<ClusterContainers> {
  const found = new Map<string, { engine: Docker; id: string }>();
  const unreachable = new Set<string>();
  for (const [host, engine] of engines) {
    const list = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`${STACK_LABEL}=${cluster.name}`] }) }).catch(() => null);
    if (!list) {
      unreachable.add(host);
      continue;
    }
    // Running first, then newest: the task that runs now, or the last one that did.
    list.sort((a, b) => Number(b.State === 'running') - Number(a.State === 'running') || b.Created - a.Created);
    for (const c of list) {
      const node = c.Labels[SERVICE_LABEL]?.slice(cluster.name.length + 1);
      // Only on the node's own host (a metrics service is not placed by name: any host).
      const home = node ? hostOf(cluster.hosts, node) : undefined;
      if (node && !found.has(node) && (!home || home === host)) found.set(node, { engine, id: c.Id });
    }
  }
  const state = async (node: string) => {
    const where = found.get(node);
    if (!where) return unreachable.has(hostOf(cluster.hosts, node) ?? '') ? 'host unreachable' : 'missing';
    return (await where.engine.getContainer(where.id).inspect().catch(() => null))?.State.Status ?? 'host unreachable';
  };
  return {
    name: (node) => serviceName(cluster, node),
    get: (node) => {
      const where = found.get(node);
      if (!where) throw new Error(`${serviceName(cluster, node)}: no task container found on its host`);
      return where.engine.getContainer(where.id);
    },
    running: async (node) => (await state(node)) === 'running',
    state,
  };
}
