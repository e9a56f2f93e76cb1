import { resolve } from 'node:path';
import { ensureStandins } from '../docker/bases.js';
import { connectEngine } from '../docker/engine.js';
import { loadProjectManifest } from '../project.js';
import { say } from './say.js';

export interface BasesOptions {
  manifest?: string;
  /** Rebuild the stand-ins even when present. */
  rebuild?: boolean;
}

/** `pgha bases`: builds the offline stand-ins for the upstream base images. */
export async function basesCommand(root: string, opts: BasesOptions): Promise<void> {
  const manifest = loadProjectManifest(root, opts.manifest);
  const docker = await connectEngine();
  const refs = await ensureStandins(docker, manifest, { projectRoot: root, logDir: resolve(root, 'results/logs'), rebuild: opts.rebuild, log: say });
  console.log(`stand-in bases: ${refs.debian}, ${refs.postgres}`);
}
