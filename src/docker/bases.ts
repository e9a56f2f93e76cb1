import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import type { Log } from '../log.js';
import { imageCatalog, standinRefs } from '../images/catalog.js';
import type { Manifest } from '../manifest/schema.js';
import { debianArchiveRoots } from '../sources/apt.js';
import { buildImage } from './build.js';
import { imageExists } from './engine.js';

export interface BasesOptions {
  projectRoot: string;
  logDir: string;
  rebuild?: boolean;
  log: Log;
}

/**
 * Debian root from debootstrap (minbase), imported into the engine. The archive is the one
 * this machine's apt uses, so the root's own apt reaches it too.
 */
async function importDebianRoot(docker: Docker, m: Manifest, ref: string, opts: BasesOptions): Promise<void> {
  const mirror = debianArchiveRoots()[0];
  if (!mirror) throw new Error('no Debian archive in this machine\'s apt configuration (/etc/apt/sources.list*); debootstrap needs one');
  const root = mkdtempSync(join(tmpdir(), 'pgha-rootfs-'));
  try {
    opts.log(`debootstrap --variant=minbase ${m.debian.suite} from ${mirror}`);
    await execa('debootstrap', ['--variant=minbase', m.debian.suite, root, mirror], { stdio: ['ignore', 'ignore', 'pipe'] }).catch((err) => {
      throw new Error(`debootstrap failed (is it installed, and are we root?): ${String(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' ')}`);
    });
    // Like the slim image: no apt lists or caches in the base.
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    const [repo, tag] = ref.split(':') as [string, string];
    opts.log(`importing the root as ${ref}`);
    const tar = execa('tar', ['-C', root, '--numeric-owner', '-c', '.'], { buffer: false, stdout: 'pipe' });
    const stream = (await docker.importImage(tar.stdout!, { repo, tag, changes: ['CMD ["bash"]'] } as never)) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
    await tar;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Makes sure both stand-ins exist (or rebuilds them); returns their references. */
export async function ensureStandins(docker: Docker, m: Manifest, opts: BasesOptions) {
  const refs = standinRefs(m);
  if (opts.rebuild || !(await imageExists(docker, refs.debian))) await importDebianRoot(docker, m, refs.debian, opts);
  else opts.log(`${refs.debian} present`);
  // Rebuilt when its generated Dockerfile changed since it was built.
  const spec = imageCatalog(m).find((i) => i.kind === 'standin')!;
  const contextDir = join(opts.projectRoot, 'images', spec.name);
  const recipe = createHash('sha256').update(readFileSync(join(contextDir, 'Dockerfile'))).digest('hex');
  const current = (await imageExists(docker, refs.postgres)) ? (await docker.getImage(refs.postgres).inspect()).Config.Labels?.['io.pgha.standin.recipe'] : undefined;
  if (opts.rebuild || current !== recipe) {
    await buildImage(docker, {
      name: spec.name,
      contextDir,
      tags: [refs.postgres],
      buildargs: { DEBIAN_BASE: refs.debian },
      labels: { 'io.pgha.standin.recipe': recipe },
      logFile: join(opts.logDir, 'standin-postgres.log'),
    });
  } else opts.log(`${refs.postgres} present and current`);
  return refs;
}
