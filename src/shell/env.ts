import type { Manifest } from '../manifest/schema.js';
import { CLUSTER_SECRETS, ISOLATION_FENCE_SECONDS, PATHS, PORTS, RECOVERY_TIMEOUT_SECONDS, REMOTE_STEP_SECONDS, ROLES } from '../images/facts.js';

/** The interface that carries the delegate IP: a container's one network interface, as Docker names it. */
export const VIP_DEVICE = 'eth0';

/** One variable of pgha-env.sh. */
export interface EnvVar {
  name: string;
  /** Its default, as shell text inside double quotes: may use $(...) or an earlier variable. */
  value: string;
  doc: string;
}

const v = (name: string, value: string | number, doc: string): EnvVar => ({ name, value: String(value), doc });

/**
 * Every variable the pgha scripts read, with its single default, in the order they are
 * declared (a default may use an earlier variable). Rendered into pgha-env.sh, which
 * pgha-lib.sh sources; the container's environment overrides any of them. The groups below
 * are plain lists in that order, split only to keep each one short.
 */
export function shellEnvironment(m: Manifest): EnvVar[] {
  return [
    ...imageVariables(m),
    ...portAndRoleVariables(),
    ...pathVariables(),
    ...tlsVariables(),
    ...nodeVariables(),
    ...firstInitVariables(),
    ...waitVariables(),
    ...initServiceVariables(),
  ];
}

/** The image: its versions and programs. */
function imageVariables(m: Manifest): EnvVar[] {
  return [
    v('PGHA_NODE', '$(hostname)', 'this node\'s name (compose service name)'),
    v('PGHA_PGPOOL_VERSION', m.pgpool.version, 'pgpool version the image was built with'),
    v('PGHA_POSTGRES_MAJOR', m.postgres.major, 'PostgreSQL major version'),
    v('PGHA_POSTGRES_BIN', `/usr/lib/postgresql/${m.postgres.major}/bin`, 'PostgreSQL server binaries'),
    v('PGHA_LIB_DIR', PATHS.libDir, 'pgha scripts and this library'),
    v('PGHA_NODE_CMD', PATHS.nodeCommand, 'pgha-node, the node-side operations'),
    v('PGHA_RECOVERY_DIR', PATHS.recoveryDir, 'online recovery scripts, copied into the data directory'),
    v('PGHA_SSHD_CONFIG', PATHS.sshdConfig, 'sshd configuration'),
    v('PGHA_SUPERVISOR_CONF', PATHS.supervisorConf, 'supervisord configuration (postgres image)'),
  ];
}

/** Ports and roles. */
function portAndRoleVariables(): EnvVar[] {
  return [
    v('PGHA_SSH_PORT', PORTS.ssh, 'sshd port of every node'),
    v('PGPORT', PORTS.postgres, 'this postgres node\'s port'),
    v('PGHA_PRIMARY_PORT', PORTS.postgres, 'the primary\'s port, for a standby\'s first clone'),
    v('PGHA_BACKEND_PORT', PORTS.postgres, 'backend port when PGHA_BACKENDS names none'),
    v('PGHA_PGPOOL_PORT', PORTS.pgpool, 'pgpool\'s client port'),
    v('PGHA_PCP_PORT', PORTS.pcp, 'pgpool\'s pcp port'),
    v('PGHA_PGPOOL_USER', ROLES.pgpool, 'role of pgpool\'s health and replication checks'),
    v('PGHA_REPLICATION_USER', ROLES.replication, 'replication role'),
    v('PGHA_PCP_USER', ROLES.pcp, 'pcp user'),
    v('PGHA_SUPERUSER', ROLES.superuser, 'the superuser pgha\'s own scripts use'),
  ];
}

/** Paths inside the containers, and the files under them. */
function pathVariables(): EnvVar[] {
  return [
    v('PGHA_HOME', PATHS.postgresHome, 'postgres\'s home: the data volume'),
    v('PGDATA', PATHS.pgdata, 'the data directory'),
    v('PGHA_BACKEND_PGDATA', PATHS.pgdata, 'the backends\' data directory, as pgpool.conf names it'),
    v('PGHA_ROLE_FILE', '${PGHA_HOME}/.node_role', 'MASTER or BACKUP: what this node was last'),
    v('PGHA_HOLD_MARKER', '${PGHA_HOME}/.do_not_start', 'while it exists, supervisor keeps postgres down'),
    v('PGHA_INIT_MARKER', '${PGHA_HOME}/.pgha-initialising', 'present while a first initialisation runs: found at a start, that one did not finish and the data directory is made again'),
    v('PGHA_SSH_DIR', PATHS.sshMount, 'mounted SSH material: host key, client key, authorized_keys, known_hosts'),
    v('PGHA_RUN_DIR', PATHS.runDir, 'run-time files, root-owned'),
    v('PGHA_DURABILITY_FILE', '${PGHA_RUN_DIR}/durability', 'PGHA_DURABILITY as the container was started with (root-owned): SSH sessions do not inherit the container\'s environment'),
    v('PGHA_PEERS_FILE', '${PGHA_RUN_DIR}/postgres-peers', 'the cluster\'s postgres nodes, one a line (root-owned): the only hosts a node copies from'),
    v('PGHA_CLUSTER_SUBNET', 'samenet', 'the cluster network (CIDR): replication is accepted from it only (postgres image); a pgpool node without a delegate IP binds pcp, the watchdog and sshd to its address in it; samenet: the node\'s own subnets, and no binding'),
    v('PGHA_PRIVATE_DIR', PATHS.privateDir, 'run-time secrets of the postgres account (0700)'),
    v('PGHA_SSH_HOST_KEY', PATHS.sshHostKey, 'sshd\'s host key'),
    v('PGHA_AUTHORIZED_KEYS', PATHS.authorizedKeys, 'keys allowed to log in as postgres'),
    v('PGHA_SSH_KEY', '${PGHA_PRIVATE_DIR}/id_ed25519', 'client key for SSH to the other nodes'),
    v('PGHA_KNOWN_HOSTS', '${PGHA_PRIVATE_DIR}/known_hosts', 'pinned host keys of the other nodes'),
    v('PGHA_PGPOOL_LEADER_FILE', '${PGHA_PRIVATE_DIR}/pgpool-leader', 'the watchdog leader last found by asking the pgpool peers (no delegate IP); asked again when it does not answer'),
    v('PGHA_PGPASS_FILE', '${PGHA_PRIVATE_DIR}/pgpass', 'libpq pass file with the replication password'),
    v('PGHA_PCPPASS_FILE', '${PGHA_PRIVATE_DIR}/pcppass', 'pcp pass file'),
    v('PGHA_PGPOOLKEY_FILE', '${PGHA_PRIVATE_DIR}/.pgpoolkey', 'AES key of pool_passwd'),
    v('PGHA_REJOIN_REQUEST', '${PGHA_PRIVATE_DIR}/rejoin-requested', 'present while this node waits to be rebuilt'),
    v('PGHA_COPY_LOCK', '${PGHA_PRIVATE_DIR}/copy.lock', 'held (flock) while a follow or a rebuild replaces this node\'s data: one at a time'),
    v('PGHA_REBUILD_LOCK', '${PGHA_PRIVATE_DIR}/rebuild.lock', 'held (flock) while this node stops itself to be rebuilt (a fence): the watch loop and the thaw guard never both do it'),
    v('PGHA_REJOIN_LOCK', '${PGHA_PRIVATE_DIR}/rejoin.lock', 'held (flock) while a process of this node asks pgpool to rebuild it: one asks at a time'),
    v('PGHA_HELD_WHY_FILE', '${PGHA_PRIVATE_DIR}/held-why', 'why a node waiting to be rebuilt is still held: the last failure of its rebuild request (the health check shows it)'),
    v('PGHA_DISK_FULL_MARKER', '${PGHA_PRIVATE_DIR}/held-disk-full', 'present while this node is held because its data volume ran full (outside the volume, which may have no room for it)'),
    v('PGHA_IMAGE_CONF', `${PATHS.pgpoolEtc}/pgpool.conf`, 'the image\'s pgpool.conf defaults'),
    v('PGHA_IMAGE_POOL_HBA', `${PATHS.pgpoolEtc}/pool_hba.conf`, 'the image\'s pool_hba.conf'),
    v('PGHA_DEFAULT_CLUSTER_CONF', `${PATHS.pgpoolEtc}/cluster.conf`, 'where a cluster mounts its pgpool settings'),
    v('PGHA_CLUSTER_CONF', '${PGHA_DEFAULT_CLUSTER_CONF}', 'the cluster\'s pgpool settings, merged over the image\'s'),
    v('PGHA_PGPOOL_PARAMS', PATHS.pgpoolParams, 'pgpool.conf keys the built pgpool knows'),
    v('PGHA_METRICS_PORT', PORTS.metrics, 'the Prometheus metrics endpoint of the node (prometheus-postgres-exporter)'),
    v('PGHA_EXPORTER_QUERIES', PATHS.exporterQueries, 'what a pgpool node\'s metrics service asks that pgpool'),
    v('PGHA_METRICS_PGPOOL', '', 'the pgpool node a metrics service (pgha-pgpool-metrics, postgres image) asks'),
    v('PGHA_METRICS_PASS_FILE', '${PGHA_PRIVATE_DIR}/pgpool-password', 'a metrics service\'s copy of the pgpool password, which the exporter (as postgres) reads: the mounted file is readable by root only'),
    v('PGHA_METRICS_CA_FILE', '${PGHA_PRIVATE_DIR}/ca.crt', 'a metrics service\'s copy of PGHA_TLS_CA_FILE, named in the exporter\'s connection URI (a plain absolute path)'),
    v('PGHA_PGPOOL_CONF_DIR', PATHS.pgpoolRunConf, 'pgpool\'s run-time configuration'),
    v('PGHA_POSTGRES_SOCKET_DIR', PATHS.postgresSocketDir, 'postgres\'s socket directory'),
    v('PGHA_PGPOOL_SOCKET_DIR', PATHS.pgpoolSocketDir, 'pgpool\'s sockets and pid file'),
    v('PGHA_PGPOOL_WORK_DIR', PATHS.pgpoolWorkDir, 'pgpool\'s work_dir and home'),
    v('PGHA_VIP_BIN', PATHS.vipWrapper, 'the root-owned wrapper that adds, removes and announces the delegate IP (sudo)'),
    v('PGHA_VIP_CONF', PATHS.vipConf, 'the delegate IP, prefix and device pgha-vip acts on (root-owned)'),
    v('PGHA_SSH_COMMAND', PATHS.sshCommand, 'the forced command of every authorized key'),
    v('PGHA_TLS_DIR', '${PGHA_RUN_DIR}/tls', 'the TLS files as the server reads them (root-owned; the key owned by the server\'s account)'),
  ];
}

/** TLS: on when a certificate and its key are given. */
function tlsVariables(): EnvVar[] {
  return [
    v('PGHA_TLS_CERT_FILE', '', 'the server certificate (PEM; a mounted file): with PGHA_TLS_KEY_FILE, ssl = on'),
    v('PGHA_TLS_KEY_FILE', '', 'the server certificate\'s private key (PEM; a mounted file)'),
    v('PGHA_TLS_CA_FILE', '', 'optional: the CA (PEM) that signed the cluster\'s certificates; pgpool checks the backends against it'),
  ];
}

/** The node and its cluster. */
function nodeVariables(): EnvVar[] {
  return [
    v('PGHA_NODE_ID', '', 'this postgres node\'s backend id'),
    v('PGPOOL_NODE_ID', '', 'this pgpool node\'s watchdog id'),
    v('PGHA_WD_PRIORITY', '', 'this pgpool node\'s wd_priority (distinct per node: an election between equal priorities can stall for 5 s); empty: pgpool\'s default'),
    v('PGHA_ROLE', 'primary', 'primary or standby: how an empty node initialises'),
  ];
}

/** The official image's conventions for a first initialisation (the primary's; standbys clone it), then the cluster's shape. */
function firstInitVariables(): EnvVar[] {
  return [
    v('POSTGRES_USER', ROLES.superuser, `the superuser clients log in as, with POSTGRES_PASSWORD, made at the first initialisation (as the official image); pgha's own scripts keep using the ${ROLES.superuser} role`),
    v('POSTGRES_DB', '${POSTGRES_USER}', 'database created at the first initialisation, owned by POSTGRES_USER (as the official image: POSTGRES_USER by default)'),
    v('POSTGRES_INITDB_ARGS', '', 'extra initdb arguments, split on blanks (as the official image)'),
    v('PGHA_INITDB_DIR', PATHS.initdbDir, '*.sh, *.sql, *.sql.gz run in name order at the first initialisation'),
    v('PGHA_PRIMARY_HOST', '', 'the primary a standby clones on its first start'),
    v('PGHA_SYNCHRONOUS', 'off', 'on: the primary waits for a standby to confirm each commit'),
    v('PGHA_MAX_CONNECTIONS', 100, 'max_connections of every postgres node (the same on all: a standby needs at least the primary\'s); a cluster sets it to what all pgpool nodes\' pools may hold, so full slots never fail a health check'),
    v('PGHA_DELEGATE_IP', '', 'the delegate (virtual) IP of the pgpool watchdog'),
    v('PGHA_VIP_DEVICE', VIP_DEVICE, 'interface that carries the delegate IP'),
    v('PGHA_VIP_PREFIX', 24, 'prefix length of the delegate IP'),
    v('PGHA_POSTGRES_PEERS', '', 'every postgres node, comma-separated, asked when pgpool is silent'),
    v('PGHA_PGPOOL_PEERS', '', 'every pgpool node, comma-separated: cleared of the delegate IP on escalation (pgpool); asked who the watchdog leader is when there is no delegate IP (postgres)'),
    v('PGHA_BACKENDS', '', 'host[:port],... backends of a single pgpool without a cluster file'),
  ];
}

/** Waits and retries. */
function waitVariables(): EnvVar[] {
  return [
    v('PGHA_CONNECT_TIMEOUT', 3, 'seconds a psql to another node may take to connect'),
    v('PGHA_SSH_CONNECT_TIMEOUT', 5, 'seconds an SSH connection may take to connect'),
    v('PGHA_ESCALATION_SSH_TIMEOUT', 1, 'seconds escalation.sh waits to reach a peer pgpool node to clear the delegate IP'),
    v('PGHA_REMOTE_STEP_SECONDS', REMOTE_STEP_SECONDS, 'bound on the whole of one remote step run in the background (SSH connect, banner and command)'),
    v('PGHA_LEASE_LOG_SECONDS', 10, 'how often a container waiting for the lease on its data volume (another container of the node still holds it) says so'),
    v('PGHA_PCP_PEER_SECONDS', 3, 'bound on asking one pgpool peer who the watchdog leader is (pcp_watchdog_info), when there is no delegate IP'),
    v('PGHA_PG_CTL_TIMEOUT', 60, 'seconds pg_ctl waits for a stop or a promotion'),
    v('PGHA_PRIMARY_WAIT_SECONDS', 60, 'seconds a starting node waits for a primary'),
    v('PGHA_RECOVERY_WAIT_SECONDS', RECOVERY_TIMEOUT_SECONDS + 60, `bound on one pcp_recovery_node: pgpool's recovery_timeout (${RECOVERY_TIMEOUT_SECONDS} s) and a minute for the copy to start`),
    v('PGHA_LSN_QUERY_SECONDS', 3, 'bound on asking one standby its received WAL position during a failover'),
    v('PGHA_WATCH_INTERVAL_SECONDS', 2, 'how often a node checks its role against pgpool\'s view: a primary that pgpool no longer routes to stops, a streaming standby that pgpool has down is attached'),
    v('PGHA_DURABILITY', 'available', 'available: commits go on without a standby, failover promotes the most advanced standby that answers; strict: commits wait for a standby, failover only when every attached standby answered'),
    v('PGHA_DISK_RESERVE_MB', 128, 'a primary with less free space than this on its data volume (as postgres sees it) hands over to a standby that has all its WAL'),
    v('PGHA_DISK_TICKS', 3, 'watch checks in a row below the reserve before a primary hands over (a burst of temporary files passes)'),
    v('PGHA_PGPOOL_SETTLE_SECONDS', 10, 'a first pgpool run that ends sooner is a start failure: the container exits instead of restarting it'),
    v('PGHA_RECONCILE_INTERVAL_SECONDS', 10, 'how often a pgpool standby compares its backend states with the leader\'s'),
    v('PGHA_VIP_CHECK_SECONDS', 2, 'how often a pgpool node compares where the watchdog says the delegate IP is with its interface: a leader that escalated but lost the address gets it back, a standby that holds it lets it go (after two checks in a row)'),
    v('PGHA_RECONCILE_TICKS', 3, 'checks in a row that disagree before a pgpool standby restarts to take the leader\'s states'),
    v('PGHA_PGPOOL_RESTART_MAX_DELAY', 8, 'longest wait before pgpool is started again after it exited (1, 2, 4, ... s)'),
    v('PGHA_REJOIN_TRIES', 30, 'quick pcp_recovery_node attempts of a node that asks to be rebuilt; it then goes on asking, more slowly, until it is rebuilt'),
    v('PGHA_REJOIN_RETRY_SECONDS', 10, 'seconds between the quick attempts'),
    v('PGHA_REJOIN_SLOW_RETRY_SECONDS', 60, 'seconds between the attempts after the quick ones'),
    v('PGHA_ISOLATION_FENCE_SECONDS', ISOLATION_FENCE_SECONDS, 'the lease of a primary, on every node alike (cluster.yaml: timings.isolationFenceSeconds). The isolation guard of a primary that for this long reaches neither the pgpool nodes\' side (the delegate IP, or most pgpool nodes) nor another postgres node (after one answered since its start) stops postgres and rejoins through pgpool once it answers; failover.sh promotes another node only when the old primary stopped on its request (pgha-node step-down) or this long plus 3 s after it asked (killed, cut off or frozen: it has fenced itself by then). 0 turns both off (a cut-off primary then takes writes beside the promoted node until it reaches pgpool again)'),
    v('PGHA_THAW_CHECK_SECONDS', 3, 'a primary that stood still this long (frozen: docker pause, a stalled VM) is held (SIGSTOP) from its thaw until pgpool says whether another node took over (at most 3 x PGHA_THAW_ASK_SECONDS while a failover is under way), then fenced or let go on; 0 turns this off. Far below pgpool\'s failover detection of a frozen node (health_check_timeout times retries), so no freeze a failover can follow goes unchecked'),
    v('PGHA_THAW_ASK_SECONDS', 5, 'bound on each question the thaw guard asks (pgpool\'s view, then the named primary) while it holds postgres'),
    v('PGHA_REPLICATION_TIMEOUT_SECONDS', 10, 'a standby whose stream is silent this long drops it and connects again (wal_receiver_timeout, and its TCP user timeout and keepalives; the primary\'s wal_sender_timeout is three times this): a stream stalled by a cut resumes within it, not after minutes of TCP back-off. A standby configured before this setting existed gets the TCP bounds at its next follow or rebuild'),
    v('PGHA_REPOINT_GRACE_SECONDS', 30, 'how long a failover may still be on its way: seconds a standby stays down in pgpool without streaming from pgpool\'s primary (a failover passed it by while it was frozen or cut off) before it asks to be rebuilt from that primary; and seconds pgpool must have had no primary before a held node whose data is a primary\'s may start again as the primary (every other node answered, none newer)'),
  ];
}

/** The init service (pgha-init). */
function initServiceVariables(): EnvVar[] {
  return [
    v('PGHA_INIT_DIR', PATHS.deployMount, 'the deploy directory the init service fills with secrets and SSH material'),
    v('PGHA_INIT_SECRETS', CLUSTER_SECRETS.join(','), 'the secrets the init service makes, comma-separated: one file each under secrets/'),
    v('PGHA_INIT_TLS', 'off', 'on: the init service makes a dev CA (ca/) and the server certificate every node serves (tls/)'),
    v('PGHA_INIT_METRICS', 'off', 'on: the init service copies the pgpool password and the CA certificate into metrics/, all the pgpool metrics services mount'),
    v('PGHA_TLS_SAN', '', 'the names of that certificate: DNS:name,IP:address,... (the node names, the delegate IP, 127.0.0.1)'),
    v('PGHA_SSH_ACCESS', '', 'who may log in where: NODE:CALLER:pgpool|postgres entries separated by blanks (the init service writes authorized_keys from it)'),
    v('PGHA_FORCE_BASEBACKUP', '', '1: follow the new primary with pg_basebackup, never pg_rewind (tests)'),
  ];
}

/** pgha-env.sh: each variable with its default, kept when the environment already sets it. */
export function renderShellEnvironment(header: string, vars: EnvVar[]): string {
  const seen = new Set<string>();
  const lines = ['#!/usr/bin/env bash', header, '# Every variable the pgha scripts read, with its default. Sourced by pgha-lib.sh; the', '# container\'s environment overrides any of them.', ''];
  for (const { name, value, doc } of vars) {
    if (seen.has(name)) throw new Error(`pgha-env.sh: ${name} declared twice`);
    if (/["`\\}]/.test(value.replace(/\$\{[A-Z_]+\}/g, ''))) throw new Error(`pgha-env.sh: ${name}: the default ${value} cannot be written inside double quotes`);
    seen.add(name);
    lines.push(`# ${doc}`, `: "\${${name}:=${value}}"`);
  }
  lines.push('', '# Read by libpq, pg_ctl and postgres themselves.', 'export PGDATA PGPORT', '');
  return lines.join('\n');
}
