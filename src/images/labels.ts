import type { Derived, Manifest } from '../manifest/schema.js';
import type { ImageSpec } from './catalog.js';
import { buildStamp, STAMP_LABELS } from './tags.js';

/**
 * The labels of a release image that state the manifest it was built from, as the Dockerfile
 * templates write them (a test compares these with the LABEL lines of the rendered Dockerfiles).
 * `pgha publish` refuses an image whose labels differ: it was built from another manifest.
 */
export function manifestLabels(spec: ImageSpec, m: Manifest, d: Derived): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.version': spec.tag,
    'io.pgha.pgpool.version': m.pgpool.version,
    'io.pgha.pgpool.sha256': m.pgpool.tarball.sha256,
  };
  // The postgres image applies the same patches to the pgpool pieces it compiles, but does not label them.
  if (spec.kind === 'pgpool') labels['io.pgha.pgpool.patches'] = d.patches.map((p) => p.name).join(',');
  return labels;
}

/** What `pgha publish` knows of one built image: its catalog entry and its labels. */
export interface BuiltImage {
  spec: ImageSpec;
  labels: Readonly<Record<string, string>>;
}

/**
 * Why an image must not be published under the current manifest, one line each (none: it may):
 * a label of manifestLabels() missing or different, or no build stamp (created, revision).
 */
export function labelProblems(image: BuiltImage, m: Manifest, d: Derived): string[] {
  const { spec, labels } = image;
  const problems = Object.entries(manifestLabels(spec, m, d)).flatMap(([name, want]) => {
    const got = labels[name];
    if (got === want) return [];
    const what = got === undefined ? 'missing' : JSON.stringify(got);
    return [`${spec.ref}: label ${name} is ${what}, the manifest says ${JSON.stringify(want)}; rebuild it (pgha build)`];
  });
  const stamp = buildStamp(labels);
  if (typeof stamp === 'string') problems.push(`${spec.ref}: ${stamp}`);
  return problems;
}

/**
 * A line when the image was built from another commit than the checkout's `head`: its tags
 * would name a commit whose tree is not the one checked out. Outside a checkout (`head` null)
 * the tree's own check says so; a missing revision label is labelProblems'.
 */
export function revisionProblem(image: BuiltImage, head: string | null): string | null {
  const built = image.labels[STAMP_LABELS.revision];
  if (built === undefined || head === null || built === head) return null;
  return `${image.spec.ref}: built from ${built.slice(0, 12)}, the checkout is at ${head.slice(0, 12)}; rebuild it (pgha build)`;
}
