import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';
import { walkFiles } from '../fsutil.js';

export interface ExtraFile {
  /** Path inside the context. */
  name: string;
  /** File on disk to place there. */
  source: string;
}

function addFile(tar: Pack, name: string, source: string): Promise<void> {
  const st = statSync(source);
  return new Promise((resolve, reject) => {
    // Fixed owner and mtime: the context's bytes depend on the files' contents only, so
    // the engine's layer cache is reused across clones and checkouts.
    // Modes normalised too: a checkout made under umask 077 must not give the images scripts
    // that only root can read; what is executable is what git records (the owner's x bit).
    const entry = tar.entry({ name, size: st.size, mode: st.mode & 0o100 ? 0o755 : 0o644, mtime: new Date(0), uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()));
    createReadStream(source).on('error', reject).pipe(entry);
  });
}

/**
 * A build context as a tar stream: the generated directory plus extra files (the verified
 * pgpool tarball from the source cache), so nothing is copied into the work tree.
 */
export function contextStream(dir: string, extra: ExtraFile[] = []): Readable {
  const tar = pack();
  const files = walkFiles(dir).filter((p) => !p.endsWith('.tar.gz'));
  void (async () => {
    try {
      for (const f of files) await addFile(tar, f, join(dir, f));
      for (const e of extra) await addFile(tar, e.name, e.source);
      tar.finalize();
    } catch (err) {
      tar.destroy(err as Error);
    }
  })();
  // tar-stream produces a streamx stream; the engine client wants a Node stream.
  return Readable.from(tar);
}
