import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCluster } from '../../src/cluster/load.js';
import { clusterWarnings } from '../../src/cluster/schema.js';
import { tlsNames, topology } from '../../src/cluster/topology.js';
import { CLUSTER_SECRETS } from '../../src/images/facts.js';
import { parseManifest } from '../../src/manifest/load.js';
import { clusterPorts } from '../../src/render/kubernetes.js';
import { clusterObjectKeys, metricsFiles, nodeFiles, objectSource } from '../../src/render/node-files.js';
import { render } from '../../src/render/render.js';
import { clusterProblems, projectInput, readManifestJson, ROOT, toolMissing } from '../helpers.js';

const manifest = parseManifest(JSON.stringify(readManifestJson()), 'versions.json', ROOT);
const problems = (yaml: string): string[] => clusterProblems(yaml, manifest);

/** The default shape: 2 postgres nodes, 3 pgpool nodes. */
const DEFAULT_SHAPE = 'engine: kubernetes\nnetwork: { subnet: 10.244.0.0/16 }\n';
/** 3 postgres nodes, synchronous, with the volume settings. */
const THREE_POSTGRES = `engine: kubernetes
network: { subnet: 10.42.0.0/16 }
postgres: { nodes: 3, replication: sync }
kubernetes: { volumeSize: 50Gi, storageClass: fast-ssd }
`;

/** The API objects kubernetes-models checks, by apiVersion and kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 StatefulSet': StatefulSet,
  'v1 Service': Service,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1 NetworkPolicy': NetworkPolicy,
  'v1 ConfigMap': ConfigMap,
};

interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** Every object's model check; a kind without a model is a failure of its own. */
function schemaProblems(objects: ApiObject[]): string[] {
  return objects.flatMap((o) => {
    const Model = MODELS[`${o.apiVersion} ${o.kind}`];
    if (!Model) return [`${o.kind} ${o.metadata.name}: no model for ${o.apiVersion} ${o.kind}`];
    try {
      new Model(o as never).validate();
      return [];
    } catch (err) {
      return [`${o.kind} ${o.metadata.name}: ${(err as Error).message}`];
    }
  });
}

const documents = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as ApiObject);

/** The k8s/ files of a definition, rendered as generate does, and the API objects in them. */
function k8sFiles(yaml: string) {
  const cluster = parseCluster(yaml, 'c.yaml', manifest);
  const rendered = render({ ...projectInput(), cluster, clusterSource: 'c.yaml' });
  const prefix = `deploy/${cluster.name}/k8s/`;
  const files = new Map([...rendered].filter(([p]) => p.startsWith(prefix)).map(([p, c]) => [p.slice(prefix.length), c]));
  const objects = [...files].filter(([p]) => p.endsWith('.yaml') && p !== 'kustomization.yaml').flatMap(([, text]) => documents(text));
  const sets = objects.filter((o): o is IStatefulSet & ApiObject => o.kind === 'StatefulSet');
  const set = (name: string) => sets.find((s) => s.metadata.name === name)!;
  return { cluster, topo: topology(cluster), rendered, files, objects, sets, set };
}

const podOf = (set: IStatefulSet): IPodSpec => set.spec!.template.spec!;

/** The Secret and ConfigMap keys a container mounts, each as "secret:key" or "config:key". */
function mountedKeys(pod: IPodSpec, container: IContainer): string[] {
  const mounted = new Set((container.volumeMounts ?? []).map((m) => m.name));
  return (pod.volumes ?? [])
    .filter((v) => mounted.has(v.name) && v.projected)
    .flatMap((v) => v.projected!.sources!.flatMap((s) => [...(s.secret?.items ?? []).map((i) => `secret:${i.key}`), ...(s.configMap?.items ?? []).map((i) => `config:${i.key}`)]))
    .sort();
}

/** Where a container reads each file it mounts. */
function mountedPaths(pod: IPodSpec, container: IContainer): string[] {
  return (container.volumeMounts ?? []).flatMap((m) => {
    // The data claim is no pod volume: it holds no file of the Secret or ConfigMap.
    const volume = pod.volumes!.find((v) => v.name === m.name);
    if (!volume) return [];
    if (m.subPath) return [m.mountPath];
    const items = volume.projected ? volume.projected.sources!.flatMap((s) => s.secret?.items ?? s.configMap?.items ?? []) : [];
    return items.map((i) => `${m.mountPath}/${i.path}`);
  });
}

describe('engine: kubernetes in cluster.yaml', () => {
  it('accepts the default shape with the pods\' address range, and publishes nothing on a host', () => {
    expect(problems(DEFAULT_SHAPE)).toEqual([]);
    expect(problems(THREE_POSTGRES)).toEqual([]);
    const topo = topology(parseCluster(DEFAULT_SHAPE, 'c.yaml', manifest));
    expect([topo.delegateIp, topo.published]).toEqual(['', []]);
    // No fixed address is any pod's; the Service name is how clients reach pgpool.
    expect(tlsNames(topo)).toBe('DNS:pg0,DNS:pg1,DNS:pgpool0,DNS:pgpool1,DNS:pgpool2,DNS:pgpool,DNS:localhost,IP:127.0.0.1');
  });

  it('refuses hosts: with one line naming the field', () => {
    expect(problems(`${DEFAULT_SHAPE}hosts:\n  - { name: a, nodes: [pg0, pgpool0] }\n`)).toEqual([
      'hosts: expected no hosts with engine: kubernetes: Kubernetes places the pods, and required anti-affinity keeps two postgres pods (and two pgpool pods) off one node',
    ]);
  });

  it('needs 3 pgpool nodes and the pod CIDR; refuses a delegate IP, a publish address, init scripts', () => {
    expect(problems(`${DEFAULT_SHAPE}pgpool: { nodes: 2 }\n`)).toEqual([
      'pgpool.nodes: expected at least 3 pgpool nodes with engine: kubernetes (the watchdog keeps its quorum with one node down, and the postgres nodes find its leader by asking them), got 2',
    ]);
    expect(problems('engine: kubernetes\n')).toEqual([
      "network.subnet: expected the pods' address range (the cluster's pod CIDR, e.g. 10.244.0.0/16) with engine: kubernetes: postgres accepts replication, and sshd the nodes' keys, from it only",
    ]);
    expect(problems('engine: kubernetes\nnetwork: { subnet: 10.244.0.0/16, delegateIp: 10.244.0.100 }\npgpool: { publish: { address: 0.0.0.0 } }\npostgres: { initScripts: ./initdb }\n')).toEqual([
      'postgres.initScripts: expected no initScripts with engine: kubernetes: a pod mounts no directory of this machine',
      'network.delegateIp: expected no delegate IP with engine: kubernetes: an address added inside a pod answers nowhere useful; clients use the pgpool Service',
      'pgpool.publish.address: expected no address with engine: kubernetes: nothing is published on a host; clients use the pgpool Service',
    ]);
  });

  it('checks the kubernetes section, and refuses it with another engine', () => {
    expect(problems(`${DEFAULT_SHAPE}kubernetes: { volumeSize: 10GB, storageClass: Fast_SSD }\n`)).toEqual([
      'kubernetes.volumeSize: expected a size like 10Gi (a whole number of Mi, Gi or Ti)',
      "kubernetes.storageClass: expected a StorageClass name (lower-case letters, digits, '-' and '.')",
    ]);
    expect(problems('kubernetes: { volumeSize: 5Gi }\n')).toEqual(['kubernetes: expected no kubernetes settings with engine: compose; set engine: kubernetes to render Kubernetes manifests']);
  });

  it('warns about asynchronous replication across Kubernetes nodes, as on swarm', () => {
    const warnings = (yaml: string) => clusterWarnings(parseCluster(yaml, 'c.yaml', manifest)).map((w) => w.where);
    expect(warnings(DEFAULT_SHAPE)).toEqual(['postgres.replication']);
    expect(warnings(THREE_POSTGRES)).toEqual([]);
  });

  it('is refused by the commands that drive a cluster: one line, exit 2, before anything is touched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-k8s-cli-'));
    try {
      const file = join(dir, 'cluster.yaml');
      writeFileSync(file, DEFAULT_SHAPE);
      for (const args of [['cluster', 'up'], ['chaos']]) {
        const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), ...args, '--cluster', file, '--dir', join(dir, 'nowhere')], { cwd: ROOT, encoding: 'utf8' });
        expect([r.status, r.stdout, r.stderr], args.join(' ')).toEqual([2, '', `pgha: ${file}: engine: kubernetes is rendered only: apply deploy/pgha/k8s with kubectl apply -k (see docs/kubernetes.md)\n`]);
      }
      const validate = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'validate', '--cluster', file], { cwd: ROOT, encoding: 'utf8' });
      expect(validate.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Kubernetes manifests (deploy/<name>/k8s/)', () => {
  it('are the kustomization, one file per node and the shared objects; nothing else under deploy/<name>/', () => {
    const { rendered, files } = k8sFiles(DEFAULT_SHAPE);
    expect([...rendered.keys()].filter((p) => p.startsWith('deploy/')).every((p) => p.startsWith('deploy/pgha/k8s/'))).toBe(true);
    expect([...files.keys()].sort()).toEqual(['cluster.conf', 'init.yml', 'kustomization.yaml', 'networkpolicy.yaml', 'pdb.yaml', 'pg0.yaml', 'pg1.yaml', 'pgpool-service.yaml', 'pgpool0.yaml', 'pgpool1.yaml', 'pgpool2.yaml']);
    for (const [path, text] of files) expect(text.split('\n')[0], path).toMatch(/^# generated (by pgha \(npm run generate\)|from templates\/deploy\/cluster\.conf\.hbs by pgha).*do not edit/);
    const kustomization = documents(files.get('kustomization.yaml')!)[0] as unknown as { resources: string[]; configMapGenerator: { name: string; files: string[] }[]; images: { name: string; newTag: string }[] };
    expect(kustomization.resources.sort()).toEqual([...files.keys()].filter((p) => p.endsWith('.yaml') && p !== 'kustomization.yaml').sort());
    expect(kustomization.configMapGenerator).toMatchObject([{ name: 'pgha-cluster-conf', files: ['cluster.conf'] }]);
    expect(kustomization.images.map((i) => i.name)).toEqual(['pgha/postgres', 'pgha/pgpool']);
    expect(files.get('cluster.conf')).toMatch(/^delegate_ip = ''$/m);
  });

  it.each([
    ['3 pgpool / 2 postgres', DEFAULT_SHAPE],
    ['3 postgres', THREE_POSTGRES],
  ])('every object of the %s cluster passes the kubernetes-models schemas; no Secret among them', (_, yaml) => {
    const { objects } = k8sFiles(yaml);
    expect(schemaProblems(objects)).toEqual([]);
    expect(objects.map((o) => o.kind).filter((k) => k === 'Secret' || k === 'ConfigMap')).toEqual([]);
    // The check can fail.
    const broken = structuredClone(objects.find((o) => o.kind === 'StatefulSet')!) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'one';
    expect(schemaProblems([broken as unknown as ApiObject])).toEqual([expect.stringMatching(/replicas must be integer/)]);
  });

  it('runs each node as a StatefulSet of one replica with a headless Service of its name that publishes not-ready addresses', () => {
    const { objects, sets, topo } = k8sFiles(THREE_POSTGRES);
    const services = objects.filter((o): o is IService & ApiObject => o.kind === 'Service');
    const nodes = [...topo.postgres, ...topo.pgpool].map((n) => n.host);
    expect(sets.map((s) => s.metadata.name).sort()).toEqual([...nodes].sort());
    for (const set of sets) {
      const name = set.metadata.name;
      expect([set.spec!.replicas, set.spec!.serviceName], name).toEqual([1, name]);
      const svc = services.find((s) => s.metadata!.name === name)!;
      expect([svc.spec!.clusterIP, svc.spec!.publishNotReadyAddresses], name).toEqual(['None', true]);
      // The Service and the set select this node's pod, and only it.
      expect(set.spec!.template.metadata!.labels).toMatchObject(svc.spec!.selector!);
      expect(set.spec!.template.metadata!.labels).toMatchObject(set.spec!.selector.matchLabels!);
      expect(svc.spec!.selector!['app.kubernetes.io/instance']).toBe(name);
      // The pods need no API access; no service links in their environment.
      expect([podOf(set).automountServiceAccountToken, podOf(set).enableServiceLinks], name).toEqual([false, false]);
    }
  });

  it('keeps each postgres node\'s data on a claim of its own, at the compose and Swarm volume\'s path', () => {
    const { set } = k8sFiles(THREE_POSTGRES);
    const pg2 = set('pg2');
    expect(pg2.spec!.volumeClaimTemplates).toMatchObject([{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } } }]);
    expect(podOf(pg2).containers[0]!.volumeMounts).toContainEqual({ name: 'data', mountPath: '/var/lib/postgresql' });
    expect(pg2.spec!.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const defaults = k8sFiles(DEFAULT_SHAPE).set('pg0').spec!.volumeClaimTemplates![0]!.spec!;
    expect([defaults.resources!.requests!.storage, defaults.storageClassName]).toEqual(['10Gi', undefined]);
    expect(k8sFiles(DEFAULT_SHAPE).set('pgpool0').spec!.volumeClaimTemplates).toBeUndefined();
  });

  it('keeps two pods of one kind off one Kubernetes node (required anti-affinity)', () => {
    const { sets } = k8sFiles(DEFAULT_SHAPE);
    for (const set of sets) {
      const kind = set.metadata!.labels!['app.kubernetes.io/component'];
      const terms = podOf(set).affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution!;
      expect(terms, set.metadata.name).toEqual([{ labelSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'pgha', 'app.kubernetes.io/component': kind } }, topologyKey: 'kubernetes.io/hostname' }]);
      // Every pod of the kind matches the selector, and no pod of the other kind does.
      for (const other of sets) {
        const labels = other.spec!.template.metadata!.labels!;
        const matches = Object.entries(terms[0]!.labelSelector!.matchLabels!).every(([k, v]) => labels[k] === v);
        expect(matches, `${set.metadata.name} -> ${other.metadata.name}`).toBe(other.metadata!.labels!['app.kubernetes.io/component'] === kind);
      }
    }
  });

  it('probes "alive" for liveness, role health for readiness; the exporter never decides readiness', () => {
    const { set } = k8sFiles(DEFAULT_SHAPE);
    const [pgpool, exporter] = podOf(set('pgpool1')).containers;
    expect(pgpool!.livenessProbe!.exec!.command).toEqual(['/usr/local/bin/entrypoint.sh', 'alive']);
    expect(pgpool!.startupProbe!.exec!.command).toEqual(['/usr/local/bin/entrypoint.sh', 'alive']);
    expect(pgpool!.readinessProbe!.exec!.command).toEqual(['/usr/local/bin/entrypoint.sh', 'health']);
    expect(exporter!.readinessProbe).toBeUndefined();
    const postgres = podOf(set('pg0')).containers[0]!;
    expect([postgres.livenessProbe!.exec!.command, postgres.readinessProbe!.exec!.command]).toEqual([
      ['/usr/local/bin/pgha-node', 'alive'],
      ['/usr/local/bin/pgha-node', 'health'],
    ]);
  });

  it('gives each container only the keys its node reads, and mounts every file its environment names', () => {
    const { cluster, topo, set, sets } = k8sFiles(THREE_POSTGRES);
    const keys = (files: ReturnType<typeof metricsFiles>) => files.map((f) => `${f.secret ? 'secret' : 'config'}:${f.key}`).sort();
    expect(mountedKeys(podOf(set('pg1')), podOf(set('pg1')).containers[0]!)).toEqual(
      ['secret:pcp_password', 'secret:pg1-ssh-host-key', 'secret:pg1-ssh-key', 'secret:pgpool_password', 'secret:postgres_password', 'secret:replication_password', 'secret:tls-server-key', 'config:pg1-authorized-keys', 'config:pg1-known-hosts', 'config:tls-ca-crt', 'config:tls-server-crt'].sort(),
    );
    const pgpool2 = podOf(set('pgpool2'));
    expect(mountedKeys(pgpool2, pgpool2.containers[0]!).filter((k) => k.startsWith('secret:'))).toEqual(['secret:pcp_password', 'secret:pgpool2-ssh-host-key', 'secret:pgpool2-ssh-key', 'secret:pgpool_password', 'secret:postgres_password', 'secret:tls-server-key', 'secret:wd_authkey']);
    expect(mountedKeys(pgpool2, pgpool2.containers[1]!)).toEqual(['config:tls-ca-crt', 'secret:pgpool_password']);
    for (const node of [...topo.postgres, ...topo.pgpool]) {
      const pod = podOf(set(node.host));
      const kind = topo.postgres.includes(node) ? 'postgres' : 'pgpool';
      expect(mountedKeys(pod, pod.containers[0]!), node.host).toEqual(keys(nodeFiles(cluster, node, kind)));
    }
    for (const s of sets) {
      for (const c of podOf(s).containers) {
        const paths = mountedPaths(podOf(s), c);
        for (const e of c.env!.filter((x) => /_FILE$/.test(x.name))) expect(paths, `${s.metadata.name}/${c.name} ${e.name}`).toContain(e.value);
      }
    }
    // The pgpool pods read cluster.conf where compose and Swarm put it, from the generated ConfigMap.
    expect(pgpool2.volumes).toContainEqual(expect.objectContaining({ name: 'cluster-conf', configMap: expect.objectContaining({ name: 'pgha-cluster-conf' }) }));
    expect(mountedPaths(pgpool2, pgpool2.containers[0]!)).toContain('/etc/pgpool-II/cluster.conf');
  });

  it('gives clients the pgpool Service, on pgpool\'s port only', () => {
    const { objects } = k8sFiles(DEFAULT_SHAPE);
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'pgpool') as IService & ApiObject;
    expect(svc.spec).toEqual({ type: 'ClusterIP', selector: { 'app.kubernetes.io/part-of': 'pgha', 'app.kubernetes.io/component': 'pgpool' }, ports: [{ name: 'pgpool', port: 9999, targetPort: 9999, protocol: 'TCP' }] });
  });

  it('budgets one disruption per kind', () => {
    const { objects } = k8sFiles(DEFAULT_SHAPE);
    const pdbs = objects.filter((o): o is IPodDisruptionBudget & ApiObject => o.kind === 'PodDisruptionBudget');
    expect(pdbs.map((p) => [p.metadata.name, p.spec!.maxUnavailable, p.spec!.selector!.matchLabels!['app.kubernetes.io/component']])).toEqual([
      ['pgha-postgres', 1, 'postgres'],
      ['pgha-pgpool', 1, 'pgpool'],
    ]);
  });

  it("limits every cluster port to the cluster's pods and opens pgpool's client port", () => {
    const yaml = `${DEFAULT_SHAPE}postgres: { port: 5433 }\npgpool: { pcpPort: 9899, watchdogPort: 9001, heartbeatPort: 9695 }\n`;
    const { objects, sets } = k8sFiles(yaml);
    const policies = objects.filter((o): o is INetworkPolicy & ApiObject => o.kind === 'NetworkPolicy');
    const cluster = policies.find((p) => p.metadata.name === 'pgha-cluster')!.spec!;
    expect(cluster.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/part-of': 'pgha' } });
    expect(cluster.policyTypes).toEqual(['Ingress']);
    expect(cluster.ingress!.map((r) => r.from)).toEqual([[{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'pgha' } } }]]);
    const allowed = cluster.ingress![0]!.ports!.map((p) => `${p.port}/${p.protocol}`).sort();
    // Every port any container of the cluster listens on is in the policy.
    const listening = [...new Set(sets.flatMap((s) => podOf(s).containers.flatMap((c) => c.ports!.map((p) => `${p.containerPort}/${p.protocol}`))))].sort();
    expect(allowed).toEqual(listening);
    expect(allowed).toEqual(['2222/TCP', '5433/TCP', '9001/TCP', '9187/TCP', '9695/UDP', '9899/TCP', '9999/TCP']);
    expect(clusterPorts(parseCluster(yaml, 'c.yaml', manifest)).map((p) => `${p.port}/${p.protocol}`).sort()).toEqual(allowed);
    const clients = policies.find((p) => p.metadata.name === 'pgha-clients')!.spec!;
    expect(clients).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'pgha', 'app.kubernetes.io/component': 'pgpool' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 9999 }] }] });
  });
});

describe('kubectl builds and the documented commands feed the rendered directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-k8s-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // An empty configuration: no cluster is reached, and kubectl 1.20 warns on a missing file.
  writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
  const kubectlEnv = { PATH: process.env.PATH, HOME: dir, KUBECONFIG: join(dir, 'kubeconfig') };
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const run = (cmd: string, args: string[], cwd = dir) => spawnSync(cmd, args, { cwd, env: kubectlEnv, encoding: 'utf8', timeout: 60_000 });

  it.skipIf(toolMissing('kubectl'))('kubectl kustomize emits every object and points pgpool at the generated ConfigMap; an overlay pins digests', () => {
    const { files, objects } = k8sFiles(DEFAULT_SHAPE);
    for (const [path, text] of files) write(`deploy/pgha/k8s/${path}`, text);
    const r = run('kubectl', ['kustomize', 'deploy/pgha/k8s']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const built = documents(r.stdout);
    const generated = built.find((o) => o.kind === 'ConfigMap')!;
    expect(generated.metadata.name).toMatch(/^pgha-cluster-conf-[a-z0-9]{10}$/);
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([...objects.map((o) => `${o.kind}/${o.metadata.name}`), `ConfigMap/${generated.metadata.name}`].sort());
    expect(schemaProblems(built)).toEqual([]);
    for (const set of built.filter((o): o is IStatefulSet & ApiObject => o.kind === 'StatefulSet' && o.metadata.name.startsWith('pgpool'))) {
      expect(podOf(set).volumes!.find((v) => v.name === 'cluster-conf')!.configMap!.name, set.metadata.name).toBe(generated.metadata.name);
    }
    const digest = `sha256:${'a'.repeat(64)}`;
    // `bases:` as Debian's kubectl 1.20 (kustomize 2) needs for a directory; newer ones take it too, with a warning.
    write('overlay/kustomization.yaml', `bases: [../deploy/pgha/k8s]\nnamespace: db\nimages:\n  - { name: pgha/postgres, newName: reg.example:5000/pgha/postgres, digest: '${digest}' }\n  - { name: pgha/pgpool, newName: reg.example:5000/pgha/pgpool, digest: '${digest}' }\n`);
    const o = run('kubectl', ['kustomize', 'overlay']);
    expect(o.status).toBe(0);
    const images = documents(o.stdout).flatMap((x) => (x.kind === 'StatefulSet' ? podOf(x as unknown as IStatefulSet).containers.map((c) => c.image) : []));
    expect([...new Set(images)].sort()).toEqual([`reg.example:5000/pgha/pgpool@${digest}`, `reg.example:5000/pgha/postgres@${digest}`]);
    expect(documents(o.stdout).every((x) => x.metadata.namespace === 'db')).toBe(true);
  });

  it.skipIf(toolMissing('kubectl'))("docs/kubernetes.md's commands make the Secret and ConfigMap with every key the pods mount; no secret is rendered", () => {
    const { cluster, topo, rendered, sets } = k8sFiles(DEFAULT_SHAPE);
    const keys = clusterObjectKeys(cluster, topo);
    // A fake output of the init step: random content in every file the objects are made from.
    const values = new Map([...keys.secrets, ...keys.configs].map((k) => [k, randomBytes(18).toString('base64url')]));
    for (const [key, value] of values) write(`deploy/pgha/${objectSource(key)}`, `${value}\n`);
    write('deploy/pgha/ca/ca.key', 'the CA key is never mounted\n');
    expect(CLUSTER_SECRETS.every((s) => values.has(s))).toBe(true);
    const doc = readFileSync(join(ROOT, 'docs/kubernetes.md'), 'utf8');
    const snippet = /```bash\n([\s\S]*?kubectl create secret generic[\s\S]*?)```/.exec(doc)![1]!;
    const r = run('bash', ['-c', `set -euo pipefail\nkubectl() { command kubectl "$@" --dry-run=client -o yaml; echo ---; }\n${snippet}`]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const made = documents(r.stdout).filter((x) => x) as unknown as { kind: string; metadata: { name: string }; data: Record<string, string> }[];
    expect(made.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual(['Secret/pgha-secrets', 'ConfigMap/pgha-files']);
    expect(Object.keys(made[0]!.data).sort()).toEqual([...keys.secrets].sort());
    expect(Object.keys(made[1]!.data).sort()).toEqual([...keys.configs].sort());
    expect(Buffer.from(made[0]!.data.wd_authkey!, 'base64').toString()).toBe(`${values.get('wd_authkey')}\n`);
    // Every key a pod mounts is in them.
    const mounted = new Set(sets.flatMap((s) => podOf(s).containers.flatMap((c) => mountedKeys(podOf(s), c))));
    const available = new Set([...keys.secrets.map((k) => `secret:${k}`), ...keys.configs.map((k) => `config:${k}`)]);
    expect([...mounted].filter((k) => !available.has(k))).toEqual([]);
    // No value of the init step's output is in any rendered file.
    for (const [path, text] of rendered) for (const [key, value] of values) expect(text.includes(value), `${path} holds ${key}`).toBe(false);
  });
});
