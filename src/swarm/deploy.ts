import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { hostOf } from '../cluster/placement.js';
import type { Cluster } from '../cluster/schema.js';
import type { Topology } from '../cluster/topology.js';
import { compose } from '../deploy/compose.js';
import { clusterStatus, type ClusterStatus } from '../deploy/inspect.js';
import { waitReady, type WaitProgress } from '../deploy/lifecycle.js';
import { INIT_SERVICE } from '../render/compose.js';
import { PLACEMENT_LABEL, SWARM_IMAGE_VARIABLES, swarmObjectKeys, swarmObjectSource, swarmObjectVariable } from '../render/swarm.js';
import type { Log } from '../log.js';
import { swarmContainers } from './containers.js';

/** The label on every secret and config pgha creates for a cluster: what `cluster down` removes. */
export const CLUSTER_LABEL = 'io.pgha.cluster';
/** Swarm's longest secret or config name. */
const SWARM_NAME_MAX = 64;
/** Where the key that names secrets lives: a name is an HMAC of the content, never a plain hash of a secret. */
const NAMES_KEY_FILE = 'secrets/swarm_names_key';

/** Where `pgha cluster` reaches a swarm: each host's engine, and the manager it deploys through. */
export interface SwarmTarget {
  engines: Map<string, Docker>;
  /** The first host (in cluster.yaml's order) whose engine answers as a Swarm manager: its context deploys. */
  manager: string;
}

/** A secret's or config's name: cluster, key and 12 hex of an HMAC of the content (a rotation is a new name). */
export function objectName(cluster: string, key: string, content: Buffer, namesKey: Buffer): string {
  return `${cluster}_${key}_${createHmac('sha256', namesKey).update(content).digest('hex').slice(0, 12)}`;
}

/** The naming key of the deploy directory, made (0600) on first use. */
function namesKey(dir: string): Buffer {
  const file = join(dir, NAMES_KEY_FILE);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

/** The init step, on the engine this CLI runs against: fills the deploy directory with secrets, SSH and TLS material. */
export async function runInit(dir: string, cluster: Cluster, say: Log): Promise<void> {
  say(`init: secrets, SSH keys and TLS material into ${dir} (swarm/init.yml on the local engine)`);
  const r = await compose(join(dir, 'swarm'), `${cluster.name}-init`, ['run', '--rm', INIT_SERVICE], { all: true, reject: false }, 'init.yml');
  if (r.exitCode !== 0) throw new Error(`the init step failed: ${String(r.all ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.exitCode}`}`);
}

/**
 * Creates the stack's external secrets and configs that do not exist yet, from the init step's
 * files, and returns the deploy-time variables that name them (PGHA_SWARM_<KEY>=<name>).
 */
export async function ensureObjects(manager: Docker, cluster: Cluster, topo: Topology, dir: string): Promise<Record<string, string>> {
  const { secrets, configs } = swarmObjectKeys(cluster, topo);
  const key = namesKey(dir);
  const existing = new Set([...(await manager.listSecrets()).map((s) => s.Spec?.Name), ...(await manager.listConfigs()).map((c) => c.Spec?.Name)]);
  const objects: { kind: 'secret' | 'config'; key: string; name: string; content: Buffer }[] = [];
  for (const [kind, keys] of [['secret', secrets], ['config', configs]] as const) {
    for (const k of keys) {
      const file = join(dir, swarmObjectSource(k));
      if (!existsSync(file)) throw new Error(`${file}: missing; the init step did not make it`);
      const content = readFileSync(file);
      objects.push({ kind, key: k, name: objectName(cluster.name, k, content, key), content });
    }
  }
  // Every name checked before any object is created.
  const longest = objects.reduce((a, b) => (b.name.length > a.name.length ? b : a));
  if (longest.name.length > SWARM_NAME_MAX) {
    throw new Error(`name: ${cluster.name} is too long for engine: swarm: the ${longest.kind} ${longest.name} would have ${longest.name.length} characters, Swarm allows ${SWARM_NAME_MAX}; choose a name of at most ${cluster.name.length - (longest.name.length - SWARM_NAME_MAX)} characters`);
  }
  const vars: Record<string, string> = {};
  for (const o of objects) {
    const spec = { Name: o.name, Labels: { [CLUSTER_LABEL]: cluster.name }, Data: o.content.toString('base64') };
    if (!existing.has(o.name)) await (o.kind === 'secret' ? manager.createSecret(spec) : manager.createConfig(spec));
    vars[swarmObjectVariable(o.key)] = o.name;
  }
  return vars;
}

/** Labels each host's Swarm node with PLACEMENT_LABEL=<host>; a host that is no node of the swarm is a problem line. */
export async function labelHosts(manager: Docker, cluster: Cluster): Promise<string[]> {
  const nodes = await manager.listNodes();
  const problems: string[] = [];
  for (const { name } of cluster.hosts ?? []) {
    // A host that left and joined again leaves a Down node of the same name behind.
    const named = nodes.filter((n) => n.Description?.Hostname === name);
    const ready = named.filter((n) => n.Status?.State === 'ready');
    const node = ready.length === 1 ? ready[0] : undefined;
    if (!node) {
      problems.push(`host ${name}: ${named.length ? `${ready.length} ready nodes of this swarm have that hostname (docker node ls; docker node rm the stale one)` : "no node of this swarm has that hostname (docker node ls on its engine)"}`);
      continue;
    }
    if (node.Spec?.Labels?.[PLACEMENT_LABEL] === name) continue;
    await manager.getNode(node.ID).update({ version: node.Version!.Index, ...node.Spec, Labels: { ...node.Spec?.Labels, [PLACEMENT_LABEL]: name } });
  }
  return problems;
}

/**
 * The images by digest in `registry` (what every host pulls): the local image's RepoDigest
 * under that registry, which `pgha publish` made. A missing one is a problem line.
 */
export async function imagesByDigest(local: Docker, images: { postgres: string; pgpool: string }, registry: string): Promise<{ vars: Record<string, string>; problems: string[] }> {
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  for (const kind of ['postgres', 'pgpool'] as const) {
    const digests = (await local.getImage(images[kind]).inspect().catch(() => null))?.RepoDigests ?? [];
    const ref = digests.find((d) => d.startsWith(`${registry}/`));
    if (ref) vars[SWARM_IMAGE_VARIABLES[kind]] = ref;
    else problems.push(`image ${images[kind]}: not in ${registry}; run pgha publish --registry ${registry}`);
  }
  return { vars, problems };
}

/** `docker stack deploy` through the manager's context, with the variables that name the objects and images. */
export async function stackDeploy(dir: string, cluster: Cluster, manager: string, vars: Record<string, string>): Promise<void> {
  const env = { ...process.env, ...vars };
  delete env.DOCKER_HOST;
  const r = await execa('docker', ['--context', manager, 'stack', 'deploy', '--resolve-image', 'never', '-c', join(dir, 'swarm', 'stack.yml'), cluster.name], { env, all: true, reject: false });
  if (r.exitCode !== 0) throw new Error(`docker stack deploy failed: ${String(r.all ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.exitCode}`}`);
}

/** The cluster's status on a swarm: the task containers on each host's engine. */
export async function swarmStatus(target: SwarmTarget, cluster: Cluster, topo: Topology): Promise<ClusterStatus> {
  return clusterStatus(await swarmContainers(target.engines, cluster), cluster, topo);
}

/** Init, objects, labels, deploy, then wait until the cluster is whole. */
export async function swarmUp(
  local: Docker,
  target: SwarmTarget,
  cluster: Cluster,
  topo: Topology,
  dir: string,
  opts: { say: Log; waitSeconds: number; progress?: WaitProgress; images: { postgres: string; pgpool: string }; registry: string },
): Promise<ClusterStatus> {
  const images = await imagesByDigest(local, opts.images, opts.registry);
  if (images.problems.length) throw new Error(images.problems.join('; '));
  const manager = target.engines.get(target.manager)!;
  const unlabelled = await labelHosts(manager, cluster);
  if (unlabelled.length) throw new Error(unlabelled.join('; '));
  await runInit(dir, cluster, opts.say);
  const objects = await ensureObjects(manager, cluster, topo, dir);
  opts.say(`docker stack deploy ${cluster.name} through ${target.manager}: ${Object.keys(objects).length} secrets and configs, images ${Object.values(images.vars).join(', ')}`);
  await stackDeploy(dir, cluster, target.manager, { ...objects, ...images.vars });
  opts.say(`waiting up to ${opts.waitSeconds} s for one primary, every backend up and every standby streaming, and a watchdog leader`);
  return waitReady(() => swarmStatus(target, cluster, topo), { ...opts, hint: `see docker service logs ${cluster.name}_<node>` });
}

/** `docker stack rm`, then (with `volumes`) each postgres node's volume on its host, and the cluster's secrets and configs. */
export async function swarmDown(target: SwarmTarget, cluster: Cluster, topo: Topology, opts: { volumes: boolean }): Promise<void> {
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  await execa('docker', ['--context', target.manager, 'stack', 'rm', cluster.name], { env, all: true });
  // stack rm returns before the containers are gone; volumes and secrets in use cannot be removed.
  for (const engine of target.engines.values()) {
    for (let i = 0; i < 60; i++) {
      const left = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [`com.docker.stack.namespace=${cluster.name}`] }) }).catch(() => []);
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  if (!opts.volumes) return;
  const failed: string[] = [];
  const note = (what: string) => (err: Error) => {
    if (!/no such/i.test(err.message)) failed.push(`${what}: ${err.message}`);
  };
  for (const node of topo.postgres) {
    const host = hostOf(cluster.hosts, node.host)!;
    const volume = `${cluster.name}-${node.host}-data`;
    await target.engines.get(host)!.getVolume(volume).remove().catch(note(`volume ${volume} on ${host}`));
  }
  const manager = target.engines.get(target.manager)!;
  const filters = JSON.stringify({ label: [`${CLUSTER_LABEL}=${cluster.name}`] });
  for (const s of await manager.listSecrets({ filters })) await manager.getSecret(s.ID).remove().catch(note(`secret ${s.Spec?.Name}`));
  for (const c of await manager.listConfigs({ filters })) await manager.getConfig(c.ID).remove().catch(note(`config ${c.Spec?.Name}`));
  if (failed.length) throw new Error(`the stack is removed, but not all of its data: ${failed.join('; ')}`);
}
