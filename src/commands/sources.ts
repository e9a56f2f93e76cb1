import { copyFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { imagePlans } from '../builder/plan.js';
import { imageCatalog } from '../images/catalog.js';
import { derive } from '../manifest/schema.js';
import { loadProjectManifest } from '../project.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../sources/cache.js';
import { say } from './say.js';

export interface SourcesOptions {
  manifest?: string;
  /** Also copy the tarball into every build context under images/. */
  intoContexts?: boolean;
}

/** `pgha sources`: fetches the pgpool tarball into the source cache and verifies its sha256. */
export async function sourcesCommand(root: string, opts: SourcesOptions): Promise<void> {
  const manifest = loadProjectManifest(root, opts.manifest);
  const tarball = await ensurePgpoolTarball(manifest, defaultCacheDir(root), say);
  console.log(`${tarball.path} (sha256 ${manifest.pgpool.tarball.sha256}, from ${tarball.origin})`);
  if (opts.intoContexts) {
    const derived = derive(manifest);
    for (const plan of imagePlans(imageCatalog(manifest, derived))) {
      const dest = resolve(root, 'images', plan.name, derived.tarballFile);
      copyFileSync(tarball.path, dest);
      console.log(`copied to ${dest}`);
    }
  }
}
