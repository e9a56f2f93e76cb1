import { releaseImages, type ImageSpec } from '../images/catalog.js';

export type BaseMode = 'upstream' | 'standin';

/** An image `pgha build` builds: a catalog entry. */
export type ImagePlan = ImageSpec;

/** Every image of the catalog, in build order (the stand-in bases are built by `pgha bases`). */
export function imagePlans(catalog: readonly ImageSpec[]): ImagePlan[] {
  return releaseImages(catalog);
}

/** The upstream base images every plan needs, deduplicated. */
export function upstreamBases(plans: ImagePlan[]): string[] {
  return [...new Set(plans.flatMap((p) => Object.values(p.upstream)))];
}
