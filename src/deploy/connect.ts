import { hostOf } from '../cluster/placement.js';
import type { Cluster } from '../cluster/schema.js';
import { clientDatabase, type Topology } from '../cluster/topology.js';
import { PORTS } from '../images/facts.js';

/**
 * The libpq connection strings a client of the cluster uses: the delegate IP (reachable from
 * the Docker host on Linux and from the cluster network), and the published pgpool ports as
 * one multi-host string (every platform): libpq tries the nodes in order and keeps the first
 * that accepts, so a dead pgpool node is skipped. target_session_attrs=read-write also skips a
 * pgpool node that has no primary to send writes to; it needs patch 0006 (pgpool otherwise
 * reports the first backend's in_hot_standby, a standby's after a failover).
 */
export function connectionStrings(cluster: Cluster, topo: Topology, caFile?: string): { delegateIp: string; published: string | null } {
  // With TLS on, the client checks the server's certificate against the dev CA and the name it
  // connected to (the delegate IP, 127.0.0.1: both in the certificate).
  const tls = cluster.tls.enabled && caFile ? ` sslmode=verify-full sslrootcert=${conninfoValue(caFile)}` : '';
  const user = `user=${cluster.postgres.user} dbname=${clientDatabase(cluster)}${tls}`;
  // A port published on every address is reached locally at 127.0.0.1.
  const local = (a: string) => (a === '0.0.0.0' ? '127.0.0.1' : a);
  // On a swarm each pgpool node's port is published on its own host (host mode).
  const where = (p: Topology['published'][number]) => (cluster.engine === 'swarm' ? hostOf(cluster.hosts, p.host)! : local(p.address));
  return {
    delegateIp: `host=${topo.delegateIp} port=${cluster.pgpool.port} ${user}`,
    published: topo.published.length
      ? `host=${topo.published.map(where).join(',')} port=${topo.published.map((p) => p.port).join(',')} ${user} connect_timeout=3 target_session_attrs=read-write`
      : null,
  };
}

/**
 * The Prometheus endpoints of the cluster (cluster network): each pgpool node's metrics
 * service (the same on every pgpool variant), then every postgres node.
 */
export function metricsEndpoints(topo: Topology): string[] {
  return [...topo.pgpoolMetrics, ...topo.postgres].map((n) => `http://${n.address}:${PORTS.metrics}/metrics`);
}

/** A value as libpq's key=value syntax takes it: bare when plain, else single-quoted with ' and \\ escaped. */
export function conninfoValue(v: string): string {
  return /^[A-Za-z0-9_./,:@+-]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}
