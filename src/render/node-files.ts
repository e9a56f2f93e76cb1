import type { Cluster } from '../cluster/schema.js';
import type { Node, Topology } from '../cluster/topology.js';
import { PATHS } from '../images/facts.js';

/**
 * The files of the init step's output each node reads under an orchestrator (Swarm secrets and
 * configs, Kubernetes Secret and ConfigMap keys), and where: one list for every engine that
 * cannot bind the deploy directory, so each node gets only its own. The key names the object
 * (or the key in it); objectSource names the file of the deploy directory it is made from.
 */
export interface NodeFile {
  /** The Swarm secret or config's key; the key in the cluster's Kubernetes Secret or ConfigMap. */
  key: string;
  /** Where the container reads it. */
  target: string;
  /** A secret (passwords, private keys), or public material (authorized_keys, certificates). */
  secret: boolean;
  mode: number;
}

/** Secrets every node of a kind reads (the rest of the five are never given to it). */
export const POSTGRES_SECRETS = ['postgres_password', 'pgpool_password', 'replication_password', 'pcp_password'];
export const PGPOOL_SECRETS = ['postgres_password', 'pgpool_password', 'pcp_password', 'wd_authkey'];

const file = (key: string, target: string, secret: boolean, mode = 0o400): NodeFile => ({ key, target, secret, mode });

/** Where each of `keys` lands: /run/secrets/<key>, the *_FILE paths of the environment. */
const passwordFiles = (keys: string[]) => keys.map((k) => file(k, `${PATHS.secretsMount}/${k}`, true));

/** A node's SSH material where pgha_install_ssh_material looks for it (PGHA_SSH_DIR). */
const sshFiles = (node: Node) => [
  file(`${node.host}-ssh-key`, `${PATHS.sshMount}/id_ed25519`, true),
  file(`${node.host}-ssh-host-key`, `${PATHS.sshMount}/ssh_host_ed25519_key`, true),
  file(`${node.host}-authorized-keys`, `${PATHS.sshMount}/authorized_keys`, false),
  file(`${node.host}-known-hosts`, `${PATHS.sshMount}/known_hosts`, false),
];

/** The server certificate, its key and the CA where PGHA_TLS_*_FILE point (compose's ./tls mount). */
const tlsFiles = (cluster: Cluster) =>
  cluster.tls.enabled
    ? [file('tls-server-key', `${PATHS.tlsMount}/server.key`, true), file('tls-server-crt', `${PATHS.tlsMount}/server.crt`, false, 0o444), file('tls-ca-crt', `${PATHS.tlsMount}/ca.crt`, false, 0o444)]
    : [];

/** What a postgres or pgpool node reads: its kind's passwords, its own SSH keys, the TLS material. */
export function nodeFiles(cluster: Cluster, node: Node, kind: 'postgres' | 'pgpool'): NodeFile[] {
  return [...passwordFiles(kind === 'postgres' ? POSTGRES_SECRETS : PGPOOL_SECRETS), ...sshFiles(node), ...tlsFiles(cluster)];
}

/** What a pgpool node's metrics exporter reads: the pgpool password and, with TLS, the CA. */
export function metricsFiles(cluster: Cluster): NodeFile[] {
  return [file('pgpool_password', `${PATHS.metricsMount}/pgpool_password`, true), ...(cluster.tls.enabled ? [file('tls-ca-crt', `${PATHS.metricsMount}/ca.crt`, false, 0o444)] : [])];
}

const sshSecretKeys = (topo: Topology) => [...topo.postgres, ...topo.pgpool].flatMap((n) => [`${n.host}-ssh-key`, `${n.host}-ssh-host-key`]);
const sshConfigKeys = (topo: Topology) => [...topo.postgres, ...topo.pgpool].flatMap((n) => [`${n.host}-authorized-keys`, `${n.host}-known-hosts`]);

/** Every secret and every piece of public material the cluster's nodes read, by key. */
export function clusterObjectKeys(cluster: Cluster, topo: Topology): { secrets: string[]; configs: string[] } {
  return {
    secrets: [...new Set([...POSTGRES_SECRETS, ...PGPOOL_SECRETS, ...(cluster.tls.enabled ? ['tls-server-key'] : []), ...sshSecretKeys(topo)])],
    configs: [...(cluster.tls.enabled ? ['tls-server-crt', 'tls-ca-crt'] : []), ...sshConfigKeys(topo)],
  };
}

/** The file of the init step's output (in the deploy directory) that the object `key` is made from. */
export function objectSource(key: string): string {
  const tls: Record<string, string> = { 'tls-server-key': 'tls/server.key', 'tls-server-crt': 'tls/server.crt', 'tls-ca-crt': 'tls/ca.crt' };
  if (tls[key]) return tls[key];
  const ssh = /^(.+)-(ssh-key|ssh-host-key|authorized-keys|known-hosts)$/.exec(key);
  if (ssh) return `ssh/${ssh[1]}/${{ 'ssh-key': 'id_ed25519', 'ssh-host-key': 'ssh_host_ed25519_key', 'authorized-keys': 'authorized_keys', 'known-hosts': 'known_hosts' }[ssh[2]!]}`;
  return `secrets/${key}`;
}
