import { hostNames } from '../cluster/placement.js';
import type { Cluster } from '../cluster/schema.js';
import { UsageError } from '../errors.js';
import { answering, hostEngines } from './engines.js';
import type { SwarmTarget } from './deploy.js';

/**
 * Each host's engine (from its Docker context) and the manager to deploy through: the first
 * host, in cluster.yaml's order, whose engine answers and is a Swarm manager. One line per
 * host without a context; the hosts that do not answer are named when no manager is left.
 */
export async function swarmTarget(cluster: Cluster): Promise<SwarmTarget> {
  const { engines, problems } = await hostEngines(hostNames(cluster));
  if (problems.length) throw new UsageError(problems);
  const up = await answering(engines);
  for (const host of hostNames(cluster)) {
    if (!up.includes(host)) continue;
    const info = (await engines.get(host)!.info().catch(() => null)) as { Swarm?: { ControlAvailable?: boolean } } | null;
    if (info?.Swarm?.ControlAvailable) return { engines, manager: host };
  }
  const down = hostNames(cluster).filter((h) => !up.includes(h));
  throw new UsageError([`no host of ${cluster.name} answers as a Swarm manager${down.length ? ` (no answer from ${down.join(', ')})` : ''}: docker swarm init on one host, docker swarm join --token <manager token> on the others`]);
}
