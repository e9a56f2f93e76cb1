import { posix } from 'node:path';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { stringify } from 'yaml';
import { DEFAULT_VOLUME_SIZE, type Cluster } from '../cluster/schema.js';
import { CLIENT_SERVICE, type Node, type Topology } from '../cluster/topology.js';
import type { ClusterImages } from '../images/catalog.js';
import { PATHS, PORTS } from '../images/facts.js';
import { metricsEnvironment, pgpoolEnvironment, postgresEnvironment } from './compose.js';
import { metricsFiles, nodeFiles, type NodeFile } from './node-files.js';

/**
 * The Kubernetes manifests of an `engine: kubernetes` cluster (deploy/<name>/k8s/, applied with
 * `kubectl apply -k`), from the same topology as the compose file and the Swarm stack. Rendered
 * and checked (a schema package, `kubectl kustomize`), never run on a cluster here. What
 * differs, and why:
 * - each pgha node is a StatefulSet of one replica named as the node, with a headless Service
 *   of the same name that publishes not-ready addresses: the peers' names (pg0, pgpool1) resolve
 *   in the namespace to the pod itself, before it is ready, as the watchdog and the SSH
 *   dispatcher's caller check need; a StatefulSet never runs two pods of one identity;
 * - no static IP, no delegate IP: clients use the `pgpool` Service, which selects the ready
 *   pgpool pods (readiness: pgpool answers and its watchdog is joined);
 * - liveness asks only `alive`, as Swarm's check: a node held for a rebuild is not restarted;
 * - secrets come from one Secret and the public material from one ConfigMap, both made by the
 *   user from the init step's output and named here only; each container mounts the keys of
 *   its node and nothing else; pgpool's cluster.conf is a ConfigMap kustomize generates (its
 *   name carries a hash of the content, so a change rolls the pgpool pods);
 * - a pgpool node's metrics exporter is a second container of its pod: a pod keeps its
 *   network namespace when a container restarts, which compose could not promise.
 */

/** The manifests' directory under deploy/<name>/: what `kubectl apply -k` reads. */
export const KUBERNETES_DIR = 'k8s';
/** pgpool's cluster.conf, rendered inside the kustomization's directory (kustomize reads no file above it). */
export const KUBERNETES_CLUSTER_CONF = 'cluster.conf';
/** The labels of every object; a pod's instance is its pgha node. */
export const LABEL = { partOf: 'app.kubernetes.io/part-of', component: 'app.kubernetes.io/component', instance: 'app.kubernetes.io/instance' } as const;

/** The Secret the user makes from the init step's output: every secret key of clusterObjectKeys. */
export const kubernetesSecretName = (cluster: Pick<Cluster, 'name'>): string => `${cluster.name}-secrets`;
/** The ConfigMap the user makes from the init step's output: authorized_keys, known_hosts, certificates. */
export const kubernetesConfigMapName = (cluster: Pick<Cluster, 'name'>): string => `${cluster.name}-files`;
/** The ConfigMap kustomize generates from cluster.conf (it appends a hash of the content). */
export const clusterConfMapName = (cluster: Pick<Cluster, 'name'>): string => `${cluster.name}-cluster-conf`;

type Kind = 'postgres' | 'pgpool';

export interface NamedPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

/** The ports a container of a kind listens on, each from its one home (the definition, PORTS). */
export function containerPorts(cluster: Cluster, kind: Kind | 'metrics'): NamedPort[] {
  const tcp = (name: string, port: number): NamedPort => ({ name, port, protocol: 'TCP' });
  switch (kind) {
    case 'postgres':
      return [tcp('postgres', cluster.postgres.port), tcp('ssh', PORTS.ssh), tcp('metrics', PORTS.metrics)];
    case 'pgpool':
      return [tcp('pgpool', cluster.pgpool.port), tcp('pcp', cluster.pgpool.pcpPort), tcp('watchdog', cluster.pgpool.watchdogPort), { name: 'heartbeat', port: cluster.pgpool.heartbeatPort, protocol: 'UDP' }, tcp('ssh', PORTS.ssh)];
    case 'metrics':
      return [tcp('metrics', PORTS.metrics)];
  }
}

/** The ports of a node's pod: a pgpool pod's are its pgpool's and its exporter's. */
const podPorts = (cluster: Cluster, kind: Kind) => (kind === 'pgpool' ? [...containerPorts(cluster, 'pgpool'), ...containerPorts(cluster, 'metrics')] : containerPorts(cluster, 'postgres'));

const labelsOf = (cluster: Cluster, kind: Kind, node?: Node): Record<string, string> => ({
  [LABEL.partOf]: cluster.name,
  [LABEL.component]: kind,
  ...(node ? { [LABEL.instance]: node.host } : {}),
});
/** What selects one node's pod. */
const selectorOf = (cluster: Cluster, node: Node) => ({ [LABEL.partOf]: cluster.name, [LABEL.instance]: node.host });
/** What selects every pod of a kind (anti-affinity, PodDisruptionBudget). */
const kindSelector = (cluster: Cluster, kind: Kind) => ({ [LABEL.partOf]: cluster.name, [LABEL.component]: kind });

/**
 * A container's files as one projected volume per directory it reads them in, each key taken
 * from the cluster's Secret (root-only) or ConfigMap; no other key of either is in the pod.
 */
function projectedFiles(cluster: Cluster, files: NodeFile[]): { volumes: IVolume[]; mounts: IVolumeMount[] } {
  const dirs = [...new Set(files.map((f) => posix.dirname(f.target)))];
  const volumes = dirs.map((dir): IVolume => {
    const items = (secret: boolean) => files.filter((f) => posix.dirname(f.target) === dir && f.secret === secret).map((f) => ({ key: f.key, path: posix.basename(f.target), mode: f.mode }));
    const secrets = items(true);
    const configs = items(false);
    return {
      name: posix.basename(dir),
      projected: {
        defaultMode: 0o400,
        sources: [...(secrets.length ? [{ secret: { name: kubernetesSecretName(cluster), items: secrets } }] : []), ...(configs.length ? [{ configMap: { name: kubernetesConfigMapName(cluster), items: configs } }] : [])],
      },
    };
  });
  return { volumes, mounts: dirs.map((dir) => ({ name: posix.basename(dir), mountPath: dir, readOnly: true })) };
}

const execProbe = (command: string[], failureThreshold = 3): IProbe => ({ exec: { command }, periodSeconds: 10, timeoutSeconds: 8, failureThreshold });

/**
 * Kubernetes restarts a container whose liveness probe fails: as under Swarm, it asks only
 * whether the node's own processes run (`alive`), with the same 120 s to start, so a node held
 * for a rebuild or a pgpool still joining is left alone. Readiness is the image's role health:
 * a pgpool pod leaves the pgpool Service while its watchdog is not joined, and a postgres pod
 * held or down counts against its PodDisruptionBudget.
 */
const probesOf = (command: string): Pick<IContainer, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> => ({
  startupProbe: execProbe([command, 'alive'], 12),
  livenessProbe: execProbe([command, 'alive']),
  readinessProbe: execProbe([command, 'health']),
});

const envOf = (env: Record<string, string>) => Object.entries(env).map(([name, value]) => ({ name, value }));
const portsOf = (ports: NamedPort[]) => ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol }));

/** One pod of a kind: never on a Kubernetes node with another pod of its kind. */
function podSpec(cluster: Cluster, kind: Kind, containers: IContainer[], volumes: IVolume[], graceSeconds: number): IPodSpec {
  return {
    // The nodes ask nothing of the API; and the token, mounted under /var/run/secrets (/run is
    // the same directory in the images), would land inside the nodes' own secrets directory.
    automountServiceAccountToken: false,
    // Service links would add PGPOOL_PORT=tcp://... and the like to every environment.
    enableServiceLinks: false,
    // The images start as root (supervisord, sshd) and need no capability beyond the runtime's
    // defaults without a delegate IP; the seccomp profile is the runtime's, as under Docker.
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    terminationGracePeriodSeconds: graceSeconds,
    affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: kindSelector(cluster, kind) }, topologyKey: 'kubernetes.io/hostname' }] } },
    containers,
    volumes,
  };
}

/** One replica named as the node; `claims` for a postgres node's data volume, kept when the set is deleted or scaled. */
function statefulSet(cluster: Cluster, node: Node, kind: Kind, pod: IPodSpec, claims: IPersistentVolumeClaim[] = []): IStatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: node.host, labels: labelsOf(cluster, kind, node) },
    spec: {
      replicas: 1,
      serviceName: node.host,
      selector: { matchLabels: selectorOf(cluster, node) },
      // One replica: an update deletes the pod, then starts the new one (never two on one volume).
      updateStrategy: { type: 'RollingUpdate' },
      template: { metadata: { labels: labelsOf(cluster, kind, node) }, spec: pod },
      ...(claims.length ? { volumeClaimTemplates: claims, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } } : {}),
    },
  };
}

/** The node's name in the namespace: its pod's address, ready or not (the watchdog and the SSH caller check resolve peers before they are ready). */
function headlessService(cluster: Cluster, node: Node, kind: Kind): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: node.host, labels: labelsOf(cluster, kind, node) },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorOf(cluster, node),
      ports: podPorts(cluster, kind).map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: p.protocol })),
    },
  };
}

/** A postgres node: the initial primary or a standby, its data on a claim of its own. */
function postgresSet(cluster: Cluster, topo: Topology, images: ClusterImages, node: Node): IStatefulSet {
  const files = projectedFiles(cluster, nodeFiles(cluster, node, 'postgres'));
  const storage = cluster.kubernetes ?? { volumeSize: DEFAULT_VOLUME_SIZE, storageClass: undefined };
  const container: IContainer = {
    name: 'postgres',
    image: images.postgres,
    env: envOf(postgresEnvironment(cluster, topo, node)),
    ports: portsOf(containerPorts(cluster, 'postgres')),
    // PGDATA is a directory inside the volume, so a file system's lost+found beside it is no matter.
    volumeMounts: [{ name: 'data', mountPath: PATHS.postgresHome }, ...files.mounts],
    ...probesOf(PATHS.nodeCommand),
  };
  const claim: IPersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', labels: labelsOf(cluster, 'postgres', node) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storage.storageClass ? { storageClassName: storage.storageClass } : {}),
      resources: { requests: { storage: storage.volumeSize } },
    },
  };
  // supervisord stops postgres with a fast shutdown; give it time before SIGKILL.
  return statefulSet(cluster, node, 'postgres', podSpec(cluster, 'postgres', [container], files.volumes, 60), [claim]);
}

/** A pgpool node and, beside it in its pod, its metrics exporter (the postgres image's, as on every engine). */
function pgpoolSet(cluster: Cluster, topo: Topology, images: ClusterImages, node: Node): IStatefulSet {
  const files = projectedFiles(cluster, nodeFiles(cluster, node, 'pgpool'));
  const metrics = topo.pgpoolMetrics[node.id]!;
  const metricsMounts = projectedFiles(cluster, metricsFiles(cluster));
  const clusterConf: IVolume = { name: 'cluster-conf', configMap: { name: clusterConfMapName(cluster), items: [{ key: KUBERNETES_CLUSTER_CONF, path: 'cluster.conf' }], defaultMode: 0o444 } };
  const pgpool: IContainer = {
    name: 'pgpool',
    image: images.pgpool,
    env: envOf(pgpoolEnvironment(cluster, topo, node)),
    ports: portsOf(containerPorts(cluster, 'pgpool')),
    volumeMounts: [{ name: clusterConf.name, mountPath: `${PATHS.pgpoolEtc}/cluster.conf`, subPath: 'cluster.conf', readOnly: true }, ...files.mounts],
    ...probesOf(PATHS.entrypoint),
  };
  const exporter: IContainer = {
    name: 'metrics',
    image: images.postgres,
    command: [PATHS.pgpoolMetricsCommand],
    env: envOf(metricsEnvironment(cluster, topo, metrics)),
    ports: portsOf(containerPorts(cluster, 'metrics')),
    volumeMounts: metricsMounts.mounts,
    // No readiness probe: an exporter that does not answer must not take pgpool out of the Service.
    livenessProbe: { ...execProbe([PATHS.pgpoolMetricsCommand, 'health']), timeoutSeconds: 5 },
  };
  // The entrypoint turns TERM into pgpool's fast shutdown.
  return statefulSet(cluster, node, 'pgpool', podSpec(cluster, 'pgpool', [pgpool, exporter], [clusterConf, ...files.volumes, ...metricsMounts.volumes], 30));
}

/** What clients connect to: every ready pgpool pod, on pgpool's port only. */
function clientService(cluster: Cluster): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: CLIENT_SERVICE, labels: labelsOf(cluster, 'pgpool') },
    spec: {
      type: 'ClusterIP',
      selector: kindSelector(cluster, 'pgpool'),
      ports: [{ name: 'pgpool', port: cluster.pgpool.port, targetPort: cluster.pgpool.port, protocol: 'TCP' }],
    },
  };
}

/** At most one pod of a kind evicted at a time (a drain waits while another is down or not ready). */
const disruptionBudget = (cluster: Cluster, kind: Kind): IPodDisruptionBudget => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: `${cluster.name}-${kind}`, labels: labelsOf(cluster, kind) },
  spec: { maxUnavailable: 1, selector: { matchLabels: kindSelector(cluster, kind) } },
});

/** Every port a pod of the cluster listens on, once each: what only the cluster's own pods may reach. */
export function clusterPorts(cluster: Cluster): NamedPort[] {
  const all = [...podPorts(cluster, 'postgres'), ...podPorts(cluster, 'pgpool')];
  return all.filter((p, i) => all.findIndex((q) => q.port === p.port && q.protocol === p.protocol) === i);
}

/**
 * Ingress only: the cluster's ports from the cluster's pods, and pgpool's client port from
 * anywhere. Egress is left open (DNS, and whatever a policy of the user's own allows).
 */
function networkPolicies(cluster: Cluster): INetworkPolicy[] {
  const partOf = { [LABEL.partOf]: cluster.name };
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${cluster.name}-cluster`, labels: partOf },
      spec: {
        podSelector: { matchLabels: partOf },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: partOf } }], ports: clusterPorts(cluster).map((p) => ({ protocol: p.protocol, port: p.port })) }],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${cluster.name}-clients`, labels: labelsOf(cluster, 'pgpool') },
      spec: {
        podSelector: { matchLabels: kindSelector(cluster, 'pgpool') },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: cluster.pgpool.port }] }],
      },
    },
  ];
}

/** An image reference as kustomize's `images:` names it: the repository, and the tag. */
function imageEntry(ref: string): { name: string; newTag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/')) throw new Error(`expected an image reference with a tag, got ${ref}`);
  return { name: ref.slice(0, colon), newTag: ref.slice(colon + 1) };
}

/** The manifests as YAML documents, by file name under KUBERNETES_DIR (cluster.conf and init.yml are the caller's). */
export function kubernetesModels(images: ClusterImages, cluster: Cluster, topo: Topology): [string, object[]][] {
  const resources: [string, object[]][] = [
    ...topo.postgres.map((n): [string, object[]] => [`${n.host}.yaml`, [postgresSet(cluster, topo, images, n), headlessService(cluster, n, 'postgres')]]),
    ...topo.pgpool.map((n): [string, object[]] => [`${n.host}.yaml`, [pgpoolSet(cluster, topo, images, n), headlessService(cluster, n, 'pgpool')]]),
    ['pgpool-service.yaml', [clientService(cluster)]],
    ['pdb.yaml', [disruptionBudget(cluster, 'postgres'), disruptionBudget(cluster, 'pgpool')]],
    ['networkpolicy.yaml', networkPolicies(cluster)],
  ];
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: resources.map(([file]) => file),
    configMapGenerator: [{ name: clusterConfMapName(cluster), files: [KUBERNETES_CLUSTER_CONF] }],
    // Top-level rather than the generator's own `options`: Debian's kubectl 1.20 (kustomize 2) knows only this.
    generatorOptions: { labels: labelsOf(cluster, 'pgpool') },
    // Pinned by digest in an overlay of the user's (docs/kubernetes.md): newName, digest.
    images: [imageEntry(images.postgres), imageEntry(images.pgpool)],
  };
  return [['kustomization.yaml', [kustomization]], ...resources];
}

/** YAML documents under one header; YAML 1.1 quoting, so `off` and `on` stay strings for kubectl's YAML 1.1 reader. */
export function renderKubernetes(header: string, docs: object[]): string {
  return `${header}\n${docs.map((d) => stringify(d, { lineWidth: 0, version: '1.1' })).join('---\n')}`;
}
