import type Docker from 'dockerode';
import { z } from 'zod';
import { connectEngine } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { dirtyTreeProblem, gitTree } from '../git.js';
import { releaseImages } from '../images/catalog.js';
import { labelProblems, revisionProblem, type BuiltImage } from '../images/labels.js';
import { buildStamp, imageTags, repositoryOf, tagSuffixSchema, type BuildStamp } from '../images/tags.js';
import { loadProject, type Project, type ProjectOptions } from '../project.js';
import { attachSbom } from '../images/registry-api.js';
import { parseFlags } from './options.js';
import { builtImageSbom, toolVersion } from './sbom.js';
import { say } from './say.js';

export type PublishOptions = ProjectOptions & { registry: string; json?: boolean; tagSuffix?: string; allowDirty?: boolean };

/** A registry as an image reference names it: host[:port], no scheme and no path. */
export const registrySchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/, 'expected a registry as HOST or HOST:PORT (no scheme, no path), e.g. 127.0.0.1:5000 or ghcr.io');

export interface Published {
  /** The catalog's name of the image: pgpool/bookworm. */
  image: string;
  /** Its local ref, as `pgha build` tagged it. */
  ref: string;
  /** registry/repository. */
  repository: string;
  /** Every tag it was pushed under: immutable, exact, moving (docs/releases.md). */
  tags: string[];
  /** The manifest digest the registry answered with: the reference a deployment pins. */
  digest: string;
  /** repository@digest. */
  reference: string;
  /** The image's CycloneDX SBOM, attached to it in the registry as an OCI referrer. */
  sbom: { digest: string; reference: string };
}

/** Pushes `ref` and returns the digest the registry reported (the push stream's last aux record). */
async function push(docker: Docker, ref: string): Promise<string> {
  // The engine wants an auth header even for a registry without auth. It is empty: the push is
  // anonymous (a registry that needs a login is not supported yet; docker push it instead).
  const stream = (await docker.getImage(ref).push({ authconfig: {} } as never)) as unknown as NodeJS.ReadableStream;
  let digest = '';
  let error = '';
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { aux?: { Digest?: string }; error?: string }) => {
        if (event.aux?.Digest) digest = event.aux.Digest;
        if (event.error) error = event.error;
      },
    ),
  );
  if (error || !digest) throw new Error(`push ${ref}: ${error || 'the registry reported no digest'}`);
  return digest;
}

/** A release image built here, with its labels; undefined when this engine has not built it. */
async function builtImage(docker: Docker, spec: BuiltImage['spec']): Promise<BuiltImage | undefined> {
  const info = await docker.getImage(spec.ref).inspect().catch(() => undefined);
  return info && { spec, labels: info.Config?.Labels ?? {} };
}

/**
 * Every release image this engine has built, and every reason not to publish them, one line
 * each: labels that do not match the manifest, a build from another commit, a dirty tree.
 */
async function checkImages(docker: Docker, project: Project, head: string | null, allowDirty: boolean): Promise<{ images: BuiltImage[]; problems: string[] }> {
  const images: BuiltImage[] = [];
  const problems: string[] = [];
  for (const spec of releaseImages(project.catalog)) {
    const image = await builtImage(docker, spec);
    if (!image) {
      say(`${spec.ref}: not built here; left out`);
      continue;
    }
    images.push(image);
    problems.push(...labelProblems(image, project.manifest, project.derived));
    const moved = revisionProblem(image, head);
    if (moved && allowDirty) say(`--allow-dirty: ${moved}`);
    else if (moved) problems.push(`${moved}, or pass --allow-dirty`);
    if (image.labels['io.pgha.bases'] === 'standin') say(`${spec.ref}: built on the offline stand-in bases (runs PostgreSQL ${image.labels['io.pgha.postgres.version'] ?? '?'}); published as it is`);
  }
  if (!images.length) problems.push('no release image is built here: run pgha build first');
  return { images, problems };
}

/** Tags one image under every tag of the scheme in `registry` and pushes each; one digest for all. */
async function publishImage(docker: Docker, project: Project, image: BuiltImage, registry: string, suffix: string | undefined): Promise<Published> {
  const { spec } = image;
  const tags = Object.values(imageTags(spec, project.manifest, project.derived, buildStamp(image.labels) as BuildStamp, suffix));
  const repository = `${registry}/${repositoryOf(spec)}`;
  const digests = new Set<string>();
  for (const tag of tags) {
    await docker.getImage(spec.ref).tag({ repo: repository, tag });
    digests.add(await push(docker, `${repository}:${tag}`));
  }
  if (digests.size !== 1) throw new Error(`${spec.ref}: the registry answered ${digests.size} digests for one image (${[...digests].join(', ')})`);
  const [digest] = digests as unknown as [string];
  const sbom = Buffer.from(await builtImageSbom(docker, spec, project, toolVersion(project.root)));
  const created = image.labels['org.opencontainers.image.created'] ?? new Date(0).toISOString();
  const sbomDigest = await attachSbom(registry, repositoryOf(spec), digest, sbom, created);
  return { image: spec.name, ref: spec.ref, repository, tags, digest, reference: `${repository}@${digest}`, sbom: { digest: sbomDigest, reference: `${repository}@${sbomDigest}` } };
}

/**
 * `pgha publish --registry HOST[:PORT] [--tag-suffix S] [--allow-dirty]`: every release image
 * this engine has built, pushed under every tag of the scheme (docs/releases.md); per image its
 * name, tags and digest (or JSON). Refuses, before anything is pushed, with every reason at
 * once: an image whose labels do not match the manifest, or a dirty tree unless --allow-dirty.
 * An image not built here (the Alpine variant on a machine that cannot build it) is left out.
 */
export async function publishCommand(root: string, opts: PublishOptions): Promise<void> {
  const project = loadProject(root, opts);
  const flags = parseFlags(
    z.object({ registry: registrySchema, tagSuffix: tagSuffixSchema(project.catalog).optional() }),
    { registry: opts.registry, tagSuffix: opts.tagSuffix },
    { registry: '--registry', tagSuffix: '--tag-suffix' },
  );
  const allowDirty = opts.allowDirty === true;
  const tree = await gitTree(root);
  const dirty = dirtyTreeProblem(tree);
  if (dirty && allowDirty) say(`--allow-dirty: ${dirty.slice(0, dirty.indexOf(';'))}`);
  const docker = await connectEngine();
  const { images, problems } = await checkImages(docker, project, tree.head, allowDirty);
  if (dirty && !allowDirty) problems.unshift(dirty);
  if (problems.length) throw new UsageError(problems);
  const published: Published[] = [];
  for (const image of images) {
    const p = await publishImage(docker, project, image, flags.registry, flags.tagSuffix);
    published.push(p);
    if (!opts.json) console.log(`${p.image}  ${p.reference}\n  tags: ${p.tags.join(', ')}\n  sbom: ${p.sbom.reference}`);
  }
  if (opts.json) console.log(JSON.stringify(published, null, 2));
}
