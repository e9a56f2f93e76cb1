import type Docker from 'dockerode';
import { hostOf } from '../cluster/placement.js';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import type { Check } from '../deploy/doctor.js';
import { sh } from '../docker/exec.js';
import { serviceName, swarmContainers } from './containers.js';
import { CLUSTER_LABEL } from './deploy.js';

/** A running task container as a host's engine reports it. */
export interface TaskSeen {
  node: string;
  /** The host whose engine runs it. */
  host: string;
  /** The image id it runs (the same bytes have the same id on every host). */
  imageId: string;
}

/**
 * What only a swarm can get wrong, from the tasks every host's engine reports: each node's task
 * runs on the host the definition places it on and nowhere else, and every task of a kind runs
 * the same image (a host that pulled another digest, or kept an old tag, runs other bytes).
 */
export function placementChecks(cluster: Cluster, topo: Topology, tasks: TaskSeen[]): Check[] {
  const checks: Check[] = [];
  for (const n of [...topo.postgres, ...topo.pgpool]) {
    const where = tasks.filter((t) => t.node === n.host).map((t) => t.host);
    const home = hostOf(cluster.hosts, n.host);
    const ok = where.length === 1 && where[0] === home;
    checks.push({ name: `${n.host} runs on ${home} only`, ok, detail: ok ? '' : `running on ${where.join(', ') || 'no host'}: docker service ps ${serviceName(cluster, n.host)}` });
  }
  for (const [kind, nodes] of [['postgres', topo.postgres], ['pgpool', topo.pgpool]] as const) {
    const ids = new Map<string, string[]>();
    for (const t of tasks.filter((t) => nodes.some((n) => n.host === t.node))) ids.set(t.imageId, [...(ids.get(t.imageId) ?? []), t.node]);
    checks.push({
      name: `every ${kind} node runs the same image`,
      ok: ids.size <= 1,
      detail: ids.size <= 1 ? '' : [...ids].map(([id, ns]) => `${ns.join(', ')}: ${id.slice(7, 19)}`).join('; '),
    });
  }
  return checks;
}

/** The running tasks of the cluster on every host's engine that answers. */
export async function tasksSeen(engines: Map<string, Docker>, cluster: Cluster): Promise<TaskSeen[]> {
  const seen: TaskSeen[] = [];
  for (const [host, engine] of engines) {
    const list = await engine.listContainers({ filters: JSON.stringify({ label: [`com.docker.stack.namespace=${cluster.name}`] }) }).catch(() => []);
    for (const c of list) {
      const node = c.Labels['com.docker.swarm.service.name']?.slice(cluster.name.length + 1);
      if (node) seen.push({ node, host, imageId: c.ImageID });
    }
  }
  return seen;
}

/**
 * The swarm's own checks: placement and images, the cluster's secrets and configs present on the
 * manager, and how long a pgpool node takes to look up each peer's name (Docker's DNS; a slow
 * answer delays every connect pgpool makes by name).
 */
export async function swarmDoctor(engines: Map<string, Docker>, manager: Docker, cluster: Cluster, topo: Topology): Promise<Check[]> {
  const checks = placementChecks(cluster, topo, await tasksSeen(engines, cluster));
  const filters = JSON.stringify({ label: [`${CLUSTER_LABEL}=${cluster.name}`] });
  const objects = (await manager.listSecrets({ filters })).length + (await manager.listConfigs({ filters })).length;
  checks.push({ name: 'the cluster\'s secrets and configs exist', ok: objects > 0, detail: objects ? '' : `none labelled ${CLUSTER_LABEL}=${cluster.name}: pgha cluster up creates them` });
  const containers = await swarmContainers(engines, cluster);
  const from = topo.pgpool[0]!.host;
  if (await containers.running(from)) {
    const names = [...topo.postgres, ...topo.pgpool].map((n) => n.host).filter((h) => h !== from);
    const script = names.map((n) => `s=$(date +%s%N); getent hosts ${n} >/dev/null && r=ok || r=missing; echo "${n} $r $(( ($(date +%s%N) - s) / 1000000 ))"`).join('; ');
    const out = (await sh(containers.get(from), script)).stdout.trim().split('\n');
    const slow = out.filter((l) => l.split(' ')[1] !== 'ok' || Number(l.split(' ')[2]) > 1000);
    checks.push({ name: `${from} looks up every peer's name within 1 s`, ok: slow.length === 0, detail: slow.length ? slow.map((l) => `${l.split(' ')[0]} ${l.split(' ')[1]} after ${l.split(' ')[2]} ms`).join('; ') : '' });
  }
  return checks;
}
