import type { Cluster } from '../cluster/schema.js';
import { derive, type Derived, type Manifest } from '../manifest/schema.js';

/**
 * The images this project builds, one spec each: where the build context is generated, what
 * goes into it, the tag, the tools its scripts call, and the base images it is built on
 * (upstream, and the offline stand-ins). Rendering, building and the compose model all read
 * this list; nothing else names an image.
 */

export const REPOSITORIES = { postgres: 'pgha/postgres', pgpool: 'pgha/pgpool', standin: 'pgha-standin' } as const;

/** The system tools a variant's scripts call through sudo or as the watchdog's ping. */
export interface Tools {
  ip: string;
  arping: string;
  pingDir: string;
}

/** One file of a build context and where it comes from. */
export type ContextFile =
  /** Rendered from templates/<template>. */
  | { out: string; template: string }
  /** Copied byte for byte from the project file <source> (shell/...). */
  | { out: string; source: string }
  /** Made by the renderer itself (the environment file, the parameter table, patches). */
  | { out: string; generated: 'env' | 'pgpool-params' | 'patches' };

export interface ImageSpec {
  /** The build context under images/: "postgres/bookworm", "pgpool/alpine", "standin/postgres". */
  name: string;
  kind: 'postgres' | 'pgpool' | 'standin';
  family: 'debian' | 'alpine';
  description: string;
  /** Repository and tag: the image's one name. */
  ref: string;
  tag: string;
  files: ContextFile[];
  tools: Tools;
  /** Build args that select the base images. */
  upstream: Record<string, string>;
  /** The same args pointing at offline stand-ins, or null when no stand-in can exist here. */
  standin: Record<string, string> | null;
  /** Why there is no stand-in. */
  noStandinReason?: string;
}

/** Local names of the offline stand-ins for the upstream base images. */
export function standinRefs(m: Manifest) {
  return {
    debian: `${REPOSITORIES.standin}/debian:${m.debian.suite}-slim`,
    postgres: `${REPOSITORIES.standin}/postgres:${m.postgres.version}-${m.debian.suite}`,
  };
}

const lib: ContextFile[] = [
  { out: 'pgha-lib.sh', source: 'shell/lib/pgha-lib.sh' },
  { out: 'pgha-secrets.sh', source: 'shell/lib/pgha-secrets.sh' },
  { out: 'pgha-tls.sh', source: 'shell/lib/pgha-tls.sh' },
  { out: 'pgha-ssh.sh', source: 'shell/lib/pgha-ssh.sh' },
  { out: 'pgha-net.sh', source: 'shell/lib/pgha-net.sh' },
  { out: 'pgha-pcp.sh', source: 'shell/lib/pgha-pcp.sh' },
  { out: 'pgha-decide.sh', source: 'shell/lib/pgha-decide.sh' },
  { out: 'pgha-env.sh', generated: 'env' },
  { out: 'apply-patches.sh', source: 'shell/lib/apply-patches.sh' },
  { out: 'patches', generated: 'patches' },
  { out: 'sshd_config', template: 'shared/sshd_config.hbs' },
  { out: 'ssh-command', source: 'shell/lib/ssh-command.sh' },
];

const POSTGRES_FILES: ContextFile[] = [
  { out: 'Dockerfile', template: 'postgres/Dockerfile.hbs' },
  { out: 'entrypoint.sh', source: 'shell/postgres/entrypoint.sh' },
  { out: 'postgres-run.sh', source: 'shell/postgres/postgres-run.sh' },
  { out: 'postgres-setup.sh', source: 'shell/postgres/postgres-setup.sh' },
  { out: 'pgha-node.sh', source: 'shell/postgres/pgha-node.sh' },
  { out: 'node-ops.sh', source: 'shell/postgres/node-ops.sh' },
  { out: 'node-copy.sh', source: 'shell/postgres/node-copy.sh' },
  { out: 'node-rejoin.sh', source: 'shell/postgres/node-rejoin.sh' },
  { out: 'node-watch.sh', source: 'shell/postgres/node-watch.sh' },
  { out: 'pgha-init.sh', source: 'shell/postgres/pgha-init.sh' },
  { out: 'init-ssh.sh', source: 'shell/postgres/init-ssh.sh' },
  { out: 'init-tls.sh', source: 'shell/postgres/init-tls.sh' },
  { out: 'pgpool-metrics.sh', source: 'shell/postgres/pgpool-metrics.sh' },
  { out: 'exporter-queries.yaml', template: 'pgpool/exporter-queries.yaml.hbs' },
  { out: 'recovery_1st_stage', template: 'postgres/recovery_1st_stage.hbs' },
  { out: 'pgpool_remote_start', template: 'postgres/pgpool_remote_start.hbs' },
  { out: 'supervisord.conf', template: 'postgres/supervisord.conf.hbs' },
  ...lib,
];

const pgpoolFiles = (family: 'debian' | 'alpine'): ContextFile[] => [
  { out: 'Dockerfile', template: `pgpool/Dockerfile.${family}.hbs` },
  { out: 'entrypoint.sh', source: 'shell/pgpool/entrypoint.sh' },
  { out: 'pgpool-config.sh', source: 'shell/pgpool/pgpool-config.sh' },
  { out: 'pgpool-supervise.sh', source: 'shell/pgpool/pgpool-supervise.sh' },
  { out: 'pgpool-reconcile.sh', source: 'shell/pgpool/pgpool-reconcile.sh' },
  { out: 'pgpool.conf', template: 'pgpool/pgpool.conf.hbs' },
  { out: 'pool_hba.conf', template: 'pgpool/pool_hba.conf.hbs' },
  { out: 'failover.sh', template: 'pgpool/failover.sh.hbs' },
  { out: 'follow_primary.sh', template: 'pgpool/follow_primary.sh.hbs' },
  { out: 'failback.sh', template: 'pgpool/failback.sh.hbs' },
  { out: 'escalation.sh', source: 'shell/pgpool/escalation.sh' },
  { out: 'vip.sh', source: 'shell/pgpool/vip.sh' },
  { out: 'garp.sh', source: 'shell/pgpool/garp.sh' },
  { out: 'pgha-vip', template: 'pgpool/pgha-vip.hbs' },
  { out: 'sudoers', template: 'pgpool/sudoers.hbs' },
  { out: 'pgpool-params.txt', generated: 'pgpool-params' },
  ...lib,
];

/**
 * Every image the manifest describes, in build order; the stand-in last. A command builds it
 * once (loadProject does) and hands it down; `d` is the manifest's derive() when the caller has it.
 */
export function imageCatalog(m: Manifest, d: Derived = derive(m)): ImageSpec[] {
  const s = standinRefs(m);
  const debianTools: Tools = { ip: '/sbin/ip', arping: '/usr/local/sbin/arping', pingDir: '/bin' };
  return [
    {
      name: `postgres/${m.debian.suite}`,
      kind: 'postgres',
      family: 'debian',
      description: `Debian ${m.debian.suite}`,
      tag: d.tags.postgres,
      ref: `${REPOSITORIES.postgres}:${d.tags.postgres}`,
      files: POSTGRES_FILES,
      tools: { ip: '/usr/sbin/ip', arping: '/usr/sbin/arping', pingDir: '/bin' },
      upstream: { POSTGRES_BASE: d.bases.postgres },
      standin: { POSTGRES_BASE: s.postgres },
    },
    {
      name: `pgpool/${m.debian.suite}`,
      kind: 'pgpool',
      family: 'debian',
      description: `Debian ${m.debian.suite}`,
      tag: d.tags.pgpoolDebian,
      ref: `${REPOSITORIES.pgpool}:${d.tags.pgpoolDebian}`,
      files: pgpoolFiles('debian'),
      tools: debianTools,
      upstream: { DEBIAN_BASE: d.bases.debian },
      standin: { DEBIAN_BASE: s.debian },
    },
    {
      name: 'pgpool/alpine',
      kind: 'pgpool',
      family: 'alpine',
      description: `Alpine ${m.alpine.version}`,
      tag: d.tags.pgpoolAlpine,
      ref: `${REPOSITORIES.pgpool}:${d.tags.pgpoolAlpine}`,
      files: pgpoolFiles('alpine'),
      // Links made by the Dockerfile to wherever apk put iproute2's ip and iputils' arping, so the
      // generated files do not depend on Alpine's /usr merge.
      tools: { ip: '/usr/local/sbin/ip', arping: '/usr/local/sbin/arping', pingDir: '/usr/local/libexec/pgha-ping' },
      upstream: { ALPINE_BASE: d.bases.alpine, POSTGRES_ALPINE_BASE: d.bases.postgresAlpine },
      standin: null,
      noStandinReason: `no offline stand-in for ${d.bases.alpine} and ${d.bases.postgresAlpine}: Alpine packages (apk) come only from the Alpine mirror, which this machine can't reach`,
    },
    {
      name: 'standin/postgres',
      kind: 'standin',
      family: 'debian',
      description: `offline stand-in for ${d.bases.postgres}`,
      tag: s.postgres.slice(s.postgres.indexOf(':') + 1),
      ref: s.postgres,
      files: [{ out: 'Dockerfile', template: 'standin/postgres.Dockerfile.hbs' }],
      tools: debianTools,
      upstream: { DEBIAN_BASE: s.debian },
      standin: { DEBIAN_BASE: s.debian },
    },
  ];
}

/** The images built for a cluster (everything but the stand-ins), from a catalog already built. */
export function releaseImages(catalog: readonly ImageSpec[]): ImageSpec[] {
  return catalog.filter((i) => i.kind !== 'standin');
}

/** The refs of the images a cluster runs. */
export interface ClusterImages {
  postgres: string;
  pgpool: string;
}

/** The images a cluster runs: the postgres image and the pgpool variant it names. */
export function clusterImages(catalog: readonly ImageSpec[], cluster: Cluster): ClusterImages {
  const images = releaseImages(catalog);
  const postgres = images.find((i) => i.kind === 'postgres')!;
  const pgpool = images.find((i) => i.kind === 'pgpool' && i.family === cluster.pgpool.variant)!;
  return { postgres: postgres.ref, pgpool: pgpool.ref };
}
