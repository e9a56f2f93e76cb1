import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { imagePlans } from '../builder/plan.js';
import { buildAll, formatResults } from '../builder/run.js';
import { connectEngine } from '../docker/engine.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../sources/cache.js';
import { UsageError } from '../errors.js';
import { loadProject } from '../project.js';
import { drift, renderedUnder, writeRendered } from '../render/files.js';
import { render, type Rendered } from '../render/render.js';
import { say } from './say.js';

export interface BuildCommandOptions {
  manifest?: string;
  /** Build against the offline stand-in bases without trying to pull. */
  offline?: boolean;
  /** false: fail when an upstream base cannot be pulled (`--no-fallback`). */
  fallback: boolean;
  only?: string[];
  /** false: do not reuse cached layers (`--no-cache`). */
  cache: boolean;
  /** Write a fresh render of images/ before building, instead of refusing when it differs. */
  regenerate?: boolean;
  /** Print the results as JSON on stdout; progress goes to stderr. */
  json?: boolean;
}

/** The files under images/ that differ from a fresh render, one line each: `pgha build` stops on these. */
export function staleImageFiles(images: Rendered, root: string): string[] {
  const d = drift(images, root);
  const fix = 'run pgha generate, or pgha build --regenerate';
  return [
    ...d.changed.map((p) => `${join(root, p)}: differs from a fresh render of the manifest and templates; ${fix}`),
    ...d.missing.map((p) => `${join(root, p)}: missing; ${fix}`),
    ...d.extra.map((p) => `${join(root, p)}: not generated, but would go into a build context; ${fix}`),
  ];
}

/**
 * `pgha build`: builds the images from the build contexts under images/, once they equal a
 * fresh render (or after writing one, with --regenerate). The check comes before the engine
 * is asked anything. No cluster definition changes images/, so none is read.
 */
export async function buildCommand(root: string, opts: BuildCommandOptions): Promise<void> {
  const project = loadProject(root, { manifest: opts.manifest, cluster: null });
  // Every name --only gives must be an image of the manifest, checked before the engine is asked.
  const known = imagePlans(project.catalog).map((p) => p.name);
  const unknown = (opts.only ?? []).filter((n) => !known.includes(n));
  if (unknown.length) throw new UsageError(unknown.map((n) => `--only: expected one of ${known.join(', ')}, got ${n}`));
  const images = renderedUnder(render(project), 'images');
  if (opts.regenerate) {
    const d = writeRendered(images, root);
    say(`images/ regenerated: ${d.missing.length} new, ${d.changed.length} changed, ${d.extra.length} removed`);
  } else {
    const stale = staleImageFiles(images, root);
    if (stale.length) {
      // Every reason at once: a manifest whose sha256 does not match the tarball also makes
      // the Dockerfiles differ, and the mismatch is what the user must hear about.
      await ensurePgpoolTarball(project.manifest, defaultCacheDir(root)).catch((err: unknown) => stale.push((err as Error).message));
      throw new UsageError(stale);
    }
  }
  const docker = await connectEngine();
  const results = await buildAll(docker, project, {
    projectRoot: root,
    offline: opts.offline,
    noFallback: !opts.fallback,
    only: opts.only,
    noCache: !opts.cache,
    log: say,
  });
  mkdirSync(resolve(root, 'results'), { recursive: true });
  writeFileSync(resolve(root, 'results/last-build.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(opts.json ? JSON.stringify(results, null, 2) : formatResults(results));
}
