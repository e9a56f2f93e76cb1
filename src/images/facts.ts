/**
 * Facts about the images that several generated files share: ports, role names and paths
 * inside the containers. Each has its home here; the cluster schema's defaults, the
 * templates and the shell environment file (pgha-env.sh) all read them from here.
 */

/** Default ports. A cluster definition may change the pgpool and postgres ones. */
/** Bound on the whole of one remote step (a command in a node, an SSH session in the background): nothing may hang. */
export const REMOTE_STEP_SECONDS = 15;

/**
 * The lease of a primary (PGHA_ISOLATION_FENCE_SECONDS, cluster.yaml timings.isolationFenceSeconds):
 * a primary that reaches no peer for this long stops itself, and failover.sh waits for that.
 */
export const ISOLATION_FENCE_SECONDS = 3;

/** pgpool's recovery_timeout: how long online recovery waits for a rebuilt node's postgres. */
export const RECOVERY_TIMEOUT_SECONDS = 300;

export const PORTS = {
  ssh: 2222,
  postgres: 5432,
  pgpool: 9999,
  pcp: 9898,
  watchdog: 9000,
  heartbeat: 9694,
  /** Prometheus metrics of every node (Debian's prometheus-postgres-exporter; its own default). */
  metrics: 9187,
} as const;

/**
 * The pgpool image's connection pool: processes per pgpool node, and cached backend connections
 * per process. Each pgpool node may hold children x maxPool connections on every backend.
 */
export const PGPOOL_POOL = { children: 32, maxPool: 2 } as const;

/** Database and pcp roles the images create and use. */
export const ROLES = {
  /** Runs pgpool's health and streaming-replication checks (pg_monitor). */
  pgpool: 'pgpool',
  /** Streaming replication, pg_basebackup and pg_rewind. */
  replication: 'repl',
  /** pcp commands (pcp.conf). */
  pcp: 'pgpool',
  /**
   * The superuser pgha's own scripts use (over the local socket, pgpool's recovery and checks).
   * POSTGRES_USER, when another name, is a second superuser for clients.
   */
  superuser: 'postgres',
} as const;

/** The run-time secrets of a cluster: each a file under deploy/<cluster>/secrets/, made by the init service, never in an image. */
export const CLUSTER_SECRETS = ['postgres_password', 'pgpool_password', 'replication_password', 'pcp_password', 'wd_authkey'] as const;

/** Paths inside the containers. */
export const PATHS = {
  libDir: '/usr/local/lib/pgha',
  nodeCommand: '/usr/local/bin/pgha-node',
  /** The init service's command (postgres image): secrets and SSH material of a deploy directory. */
  initCommand: '/usr/local/bin/pgha-init',
  /** A pgpool node's metrics service (postgres image: Debian's exporter asking that node's pgpool). */
  pgpoolMetricsCommand: '/usr/local/bin/pgha-pgpool-metrics',
  /** Where the init service mounts the deploy directory. */
  deployMount: '/pgha/deploy',
  entrypoint: '/usr/local/bin/entrypoint.sh',
  postgresRun: '/usr/local/bin/postgres-run.sh',
  recoveryDir: '/usr/local/lib/pgha/recovery',
  sshMount: '/etc/pgha/ssh',
  /** Where a pgpool metrics service mounts the deploy directory's metrics/ (the pgpool password, the CA). */
  metricsMount: '/etc/pgha/metrics',
  /** Where a node mounts the deploy directory's secrets/ (compose's own place for secrets). */
  secretsMount: '/run/secrets',
  /** Where a node mounts the deploy directory's tls/: server certificate, key and the dev CA's certificate. */
  tlsMount: '/etc/pgha/tls',
  runDir: '/run/pgha',
  privateDir: '/run/pgha/private',
  /** The pcp pass file pgha's own pcp commands use (pgha-env.sh's PGHA_PCPPASS_FILE default: privateDir/pcppass). */
  pcpPassFile: '/run/pgha/private/pcppass',
  sshHostKey: '/run/pgha/ssh/ssh_host_ed25519_key',
  authorizedKeys: '/run/pgha/ssh/authorized_keys',
  sshdConfig: '/etc/ssh/sshd_config',
  supervisorConf: '/etc/supervisor/supervisord.conf',
  postgresHome: '/var/lib/postgresql',
  /**
   * Not the official image's /var/lib/postgresql/data: that path is a VOLUME of the base, so it
   * would get an anonymous volume of its own beside the node's named volume (mounted at
   * postgresHome) and the data would not survive `docker compose down` / `up`.
   */
  pgdata: '/var/lib/postgresql/pgdata',
  /** The official image's data path, a VOLUME of the base: unused here, covered by a tmpfs so no anonymous volume is made. */
  baseDataVolume: '/var/lib/postgresql/data',
  pgpoolEtc: '/etc/pgpool-II',
  pgpoolRunConf: '/run/pgha/pgpool',
  /** pgpool's pcp users, written at start-up into pgpoolRunConf. */
  pcpConf: '/run/pgha/pgpool/pcp.conf',
  /** The postgres image's socket directory (Debian's build default). */
  postgresSocketDir: '/var/run/postgresql',
  pgpoolSocketDir: '/run/pgpool',
  /** The official image's directory of first-initialisation scripts. */
  initdbDir: '/docker-entrypoint-initdb.d',
  pgpoolWorkDir: '/var/lib/pgpool',
  pgpoolParams: '/usr/local/share/pgha/pgpool-params.txt',
  /** What a pgpool node's metrics service asks that pgpool (SHOW pool_nodes, pool_health_check_stats); in the postgres image. */
  exporterQueries: '/usr/local/share/pgha/exporter-queries.yaml',
  /** The root-owned wrapper sudo allows, and the file it reads the delegate IP from. */
  vipWrapper: '/usr/local/sbin/pgha-vip',
  vipConf: '/run/pgha/vip.conf',
  /** The pgpool image's sudo rules (the vipWrapper only). */
  sudoersFile: '/etc/sudoers.d/pgha',
  sshCommand: '/usr/local/lib/pgha/ssh-command',
} as const;
