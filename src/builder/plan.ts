import { releaseImages, type ImageSpec } from '../images/catalog.js';
import type { Manifest } from '../manifest/schema.js';

export type BaseMode = 'upstream' | 'standin';

/** An image `pgha build` builds: a catalog entry. */
export type ImagePlan = ImageSpec;

/** Every image the manifest describes, in build order (the stand-in bases are built by `pgha bases`). */
export function imagePlans(m: Manifest): ImagePlan[] {
  return releaseImages(m);
}

/** The upstream base images every plan needs, deduplicated. */
export function upstreamBases(plans: ImagePlan[]): string[] {
  return [...new Set(plans.flatMap((p) => Object.values(p.upstream)))];
}
