import { derive, type Manifest } from '../manifest/schema.js';
import { IMAGE_REPOSITORIES } from '../render/compose.js';
import { standinRefs } from '../docker/bases.js';

export type BaseMode = 'upstream' | 'standin';

export interface ImagePlan {
  /** "postgres/bookworm", "pgpool/alpine", ... : the build context under images/. */
  name: string;
  tag: string;
  /** Build args that select the base images. */
  upstream: Record<string, string>;
  /** The same args pointing at offline stand-ins, or null when no stand-in can exist here. */
  standin: Record<string, string> | null;
  /** Why there is no stand-in. */
  noStandinReason?: string;
}

/** Every image the manifest describes, in build order. */
export function imagePlans(m: Manifest): ImagePlan[] {
  const d = derive(m);
  const s = standinRefs(m);
  return [
    {
      name: `postgres/${m.debian.suite}`,
      tag: `${IMAGE_REPOSITORIES.postgres}:${d.tags.postgres}`,
      upstream: { POSTGRES_BASE: d.bases.postgres },
      standin: { POSTGRES_BASE: s.postgres },
    },
    {
      name: `pgpool/${m.debian.suite}`,
      tag: `${IMAGE_REPOSITORIES.pgpool}:${d.tags.pgpoolDebian}`,
      upstream: { DEBIAN_BASE: d.bases.debian },
      standin: { DEBIAN_BASE: s.debian },
    },
    {
      name: 'pgpool/alpine',
      tag: `${IMAGE_REPOSITORIES.pgpool}:${d.tags.pgpoolAlpine}`,
      upstream: { ALPINE_BASE: d.bases.alpine, POSTGRES_ALPINE_BASE: d.bases.postgresAlpine },
      standin: null,
      noStandinReason: `no offline stand-in for ${d.bases.alpine} and ${d.bases.postgresAlpine}: Alpine packages (apk) come only from the Alpine mirror, which this machine can't reach`,
    },
  ];
}

/** The upstream base images every plan needs, deduplicated. */
export function upstreamBases(plans: ImagePlan[]): string[] {
  return [...new Set(plans.flatMap((p) => Object.values(p.upstream)))];
}
