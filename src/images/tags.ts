import { z } from 'zod';
import { derive, type Derived, type Manifest } from '../manifest/schema.js';
import { imageCatalog, releaseImages, type ImageSpec } from './catalog.js';

/**
 * The tag scheme of the published images, derived from the manifest and an image's catalog entry
 * (docs/releases.md shows it; a test keeps that table equal to tagSchemeTable()):
 * - exact: the catalog's tag, what `pgha build` tags locally (15.17-pgpool4.7.2, 4.7.2-bookworm,
 *   4.7.2-alpine3.23); a rebuild of the same versions moves it;
 * - immutable: the exact tag and the build's stamp, its UTC date and short git revision
 *   (15.17-pgpool4.7.2-20261208-1a2b3c4), never pushed twice for two builds;
 * - moving: one per minor, following every release of the line (15-pgpool4.7, 4.7-bookworm,
 *   4.7-alpine).
 * A --tag-suffix is appended to every tag ("-rc1"), so a suffixed push moves no unsuffixed tag.
 * The digest the registry answers is the reference a deployment pins.
 */

/** Docker's tag grammar: a word character first, then word characters, "." and "-"; 128 at most. */
export const TAG_GRAMMAR = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Hexadecimal digits of the git revision in an immutable tag (git's own short default). */
export const SHORT_REVISION_LENGTH = 7;

/** When and from which commit an image was built, as its immutable tag names it. */
export interface BuildStamp {
  /** UTC date of the build, YYYYMMDD. */
  date: string;
  /** The first SHORT_REVISION_LENGTH hex digits of the commit it was built from. */
  revision: string;
}

/** Labels `pgha build` sets that the stamp is read from. */
export const STAMP_LABELS = { created: 'org.opencontainers.image.created', revision: 'org.opencontainers.image.revision' } as const;

/**
 * The stamp of a built image, from its created and revision labels; a line saying what is wrong
 * when one is missing or malformed (an image not built by `pgha build`, or outside a git checkout).
 */
export function buildStamp(labels: Readonly<Record<string, string>>): BuildStamp | string {
  const created = labels[STAMP_LABELS.created];
  const revision = labels[STAMP_LABELS.revision];
  const at = created === undefined ? NaN : Date.parse(created);
  if (Number.isNaN(at)) return `label ${STAMP_LABELS.created} is ${created === undefined ? 'missing' : JSON.stringify(created)}: expected the build's time (pgha build sets it)`;
  if (revision === undefined || !/^[0-9a-f]{40}$/.test(revision)) {
    return `label ${STAMP_LABELS.revision} is ${revision === undefined ? 'missing' : JSON.stringify(revision)}: expected the 40-digit git commit it was built from (build in a git checkout)`;
  }
  return { date: new Date(at).toISOString().slice(0, 10).replaceAll('-', ''), revision: revision.slice(0, SHORT_REVISION_LENGTH) };
}

/** The tag that follows every release of an image's minor line: 15-pgpool4.7, 4.7-bookworm, 4.7-alpine. */
export function movingTag(spec: ImageSpec, m: Manifest, d: Derived): string {
  if (spec.kind === 'postgres') return `${m.postgres.major}-pgpool${d.pgpoolMinor}`;
  if (spec.kind === 'pgpool') return spec.family === 'alpine' ? `${d.pgpoolMinor}-alpine` : `${d.pgpoolMinor}-${m.debian.suite}`;
  throw new Error(`${spec.name}: a stand-in base is never published`);
}

/** The tag of one build of an image: the exact tag and the build's stamp. */
export function immutableTag(spec: ImageSpec, stamp: BuildStamp): string {
  return `${spec.tag}-${stamp.date}-${stamp.revision}`;
}

/** The tags of one image. */
export interface ImageTags {
  immutable: string;
  exact: string;
  moving: string;
}

/** Every tag an image is pushed under, each with the suffix when one is given. */
export function imageTags(spec: ImageSpec, m: Manifest, d: Derived, stamp: BuildStamp, suffix?: string): ImageTags {
  const add = (tag: string) => (suffix ? `${tag}-${suffix}` : tag);
  const tags = { immutable: add(immutableTag(spec, stamp)), exact: add(spec.tag), moving: add(movingTag(spec, m, d)) };
  const bad = Object.values(tags).filter((t) => !TAG_GRAMMAR.test(t));
  if (bad.length) throw new Error(`${spec.name}: not a Docker tag: ${bad.join(', ')}`);
  return tags;
}

/** The repository of an image, its ref without the tag: pgha/pgpool. */
export function repositoryOf(spec: ImageSpec): string {
  return spec.ref.slice(0, spec.ref.lastIndexOf(':'));
}

/** The longest a --tag-suffix may be: the longest immutable tag of the release images, "-" and the suffix fit in 128. */
export function longestSuffix(catalog: readonly ImageSpec[]): number {
  const stamp = { date: 'YYYYMMDD', revision: 'r'.repeat(SHORT_REVISION_LENGTH) };
  return 128 - 1 - Math.max(...releaseImages(catalog).map((spec) => immutableTag(spec, stamp).length));
}

/** A --tag-suffix: a tag of its own (Docker's grammar), short enough for every tag it ends. */
export function tagSuffixSchema(catalog: readonly ImageSpec[]) {
  const max = longestSuffix(catalog);
  const expected = `expected letters, digits, "_", "." and "-", not starting with "." or "-", at most ${max} characters (every tag it ends stays within Docker's 128)`;
  return z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, expected).max(max, expected);
}

/**
 * A manifest whose versions are names (N.n, P.Q.R, A.B.C, SUITE): the scheme rendered from it
 * shows where each part of a tag comes from, whatever versions.json pins today.
 */
const SYMBOLIC = {
  postgres: { major: 'N', version: 'N.n' },
  pgpool: { version: 'P.Q.R' },
  alpine: { version: 'A.B.C' },
  debian: { suite: 'SUITE' },
  patches: {},
} as unknown as Manifest;

/** The tag scheme as a Markdown table (docs/releases.md holds it; a test compares the two). */
export function tagSchemeTable(): string {
  const d = derive(SYMBOLIC);
  const stamp = { date: 'YYYYMMDD', revision: 'REV' };
  const rows = releaseImages(imageCatalog(SYMBOLIC, d)).map((spec) => {
    const t = imageTags(spec, SYMBOLIC, d, stamp);
    return `| \`${spec.name}\` | \`${repositoryOf(spec)}\` | \`${t.immutable}\` | \`${t.exact}\` | \`${t.moving}\` |`;
  });
  return ['| image | repository | immutable (one build) | exact (moves with a rebuild) | moving (the minor line) |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/**
 * The LABEL instructions of a rendered Dockerfile, name to value (the templates write every value
 * in double quotes).
 */
export function dockerfileLabels(dockerfile: string): Record<string, string> {
  const blocks = [...dockerfile.matchAll(/^LABEL ((?:.*\\\n)*.*)$/gm)].map((b) => b[1]!);
  return Object.fromEntries(blocks.flatMap((b) => [...b.matchAll(/([\w.-]+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!])));
}

/** What the last stage's FROM names, as written (`${POSTGRES_BASE}`, `debian:12`), or undefined. */
function lastFrom(dockerfile: string): string | undefined {
  return [...dockerfile.matchAll(/^FROM\s+(?:--\S+\s+)*(\S+)/gm)].at(-1)?.[1];
}

/** The build arg the last stage's FROM names (`FROM ${POSTGRES_BASE}`), or undefined for a literal FROM. */
export function finalBaseArg(dockerfile: string): string | undefined {
  const from = lastFrom(dockerfile);
  return from === undefined ? undefined : /^\$\{?(\w+)\}?$/.exec(from)?.[1];
}

/** The last stage's FROM image as the build resolves it (its build arg, else the ARG default), unnormalised: the name the local engine knows it by. */
export function finalBaseRef(dockerfile: string, args: Readonly<Record<string, string>>): string {
  const from = lastFrom(dockerfile);
  if (from === undefined) throw new Error('no FROM in the Dockerfile');
  const arg = finalBaseArg(dockerfile);
  const ref = arg === undefined ? from : (args[arg] ?? new RegExp(`^ARG ${arg}=(\\S+)$`, 'm').exec(dockerfile)?.[1]);
  if (ref === undefined) throw new Error(`FROM ${from}: no build arg and no default for ${arg}`);
  return ref;
}

/**
 * The image the last stage of a Dockerfile is built FROM, as a registry names it
 * (docker.io/library/alpine:3.23.3): a `${ARG}` is read from the build args, else the ARG's default.
 */
export function finalBase(dockerfile: string, args: Readonly<Record<string, string>>): string {
  const ref = finalBaseRef(dockerfile, args);
  const first = ref.split('/')[0]!;
  if (!ref.includes('/')) return `docker.io/library/${ref}`;
  return first.includes('.') || first.includes(':') || first === 'localhost' ? ref : `docker.io/${ref}`;
}

/** What the images workflow pushes for one build context. */
export interface WorkflowPush {
  /** The repository under the registry's namespace, lower case: ghcr.io/owner/pgha/pgpool. */
  image: string;
  /** The image's three tags (imageTags). */
  tags: string[];
  /** The Buildx registry cache of this context, one per context (two contexts share pgha/pgpool). */
  cache: string;
  /** Labels of the image, and its annotations on the image manifests and the index. */
  labels: Record<string, string>;
  /**
   * The last stage's base as its registry names it, and the build arg that names it: the
   * workflow resolves its digest, builds FROM it by that digest and adds the base.digest label.
   */
  base: { name: string; arg: string };
}

/**
 * What .github/workflows/images.yml pushes for one release image: its repository under
 * `namespace`, the tags of the scheme above for a build at `created` of commit `revision`, and
 * the labels. The labels are the Dockerfile's own (docker/metadata-action would otherwise put the
 * GitHub repository's title, description and licence over them) with the build stamp, the base
 * image and the bases' args as `pgha build` labels them; `pgha publish`'s label checks accept them.
 */
export function workflowPush(
  spec: ImageSpec,
  m: Manifest,
  d: Derived,
  dockerfile: string,
  at: { namespace: string; created: string; revision: string; suffix?: string },
): WorkflowPush {
  if (spec.kind === 'standin') throw new Error(`${spec.name}: a stand-in base is never published`);
  const labels: Record<string, string> = {
    ...dockerfileLabels(dockerfile),
    [STAMP_LABELS.created]: at.created,
    [STAMP_LABELS.revision]: at.revision,
    'org.opencontainers.image.base.name': finalBase(dockerfile, spec.upstream),
    'io.pgha.bases': 'upstream',
    'io.pgha.base-images': Object.values(spec.upstream).join(','),
  };
  const stamp = buildStamp(labels);
  if (typeof stamp === 'string') throw new Error(`${spec.name}: ${stamp}`);
  // The workflow hands these over as list inputs: one item a line, "#" starts a comment.
  const bad = Object.entries(labels).filter(([k, v]) => /[\n#]/.test(k + v));
  if (bad.length) throw new Error(`${spec.name}: labels with a newline or "#": ${bad.map(([k]) => k).join(', ')}`);
  const image = `${at.namespace}/${repositoryOf(spec)}`.toLowerCase();
  const arg = finalBaseArg(dockerfile);
  if (arg === undefined) throw new Error(`${spec.name}: the last FROM names no build arg, so its base cannot be pinned by digest`);
  return {
    base: { name: labels['org.opencontainers.image.base.name']!, arg },
    image,
    tags: Object.values(imageTags(spec, m, d, stamp, at.suffix || undefined)),
    cache: `${image}:buildcache-${spec.name.slice(spec.name.indexOf('/') + 1)}`,
    labels,
  };
}

/**
 * A WorkflowPush as step outputs ($GITHUB_OUTPUT): image and cache, tags as docker/metadata-action's
 * `type=raw,value=` lines, labels as `name=value` lines.
 */
export function workflowOutputs(push: WorkflowPush): string {
  const multi = (name: string, lines: string[]) => [`${name}<<PGHA_EOF`, ...lines, 'PGHA_EOF'];
  return [
    `image=${push.image}`,
    `cache=${push.cache}`,
    `base=${push.base.name}`,
    `base_arg=${push.base.arg}`,
    ...multi('tags', push.tags.map((t) => `type=raw,value=${t}`)),
    ...multi('labels', Object.entries(push.labels).map(([k, v]) => `${k}=${v}`)),
    '',
  ].join('\n');
}
