import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../fsutil.js';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest/schema.js';
import { derive } from '../manifest/schema.js';
import { debianArchiveRoots, debianOrigPath } from './apt.js';

export function defaultCacheDir(projectRoot: string): string {
  return resolve(process.env.PGHA_CACHE_DIR ?? join(projectRoot, '.cache', 'sources'));
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class ChecksumMismatch extends Error {
  constructor(
    readonly origin: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 mismatch for ${origin}: manifest pins ${expected}, got ${actual}`);
    this.name = 'ChecksumMismatch';
  }
}

export interface TarballResult {
  path: string;
  /** Where it came from this time: 'cache', the manifest URL or a Debian archive URL. */
  origin: string;
}

/** The sha256 of bytes in memory, as the manifest writes it (lowercase hex). */
export function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function download(url: string, timeoutMs: number): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Returns the verified pgpool tarball from the cache, fetching it first when missing:
 * from the manifest URL, else from the Debian archive's orig tarball of the same version
 * (found through this machine's apt configuration). Whatever the origin, the file is
 * accepted only when its sha256 equals the manifest's; a mismatch is a hard error.
 */
export async function ensurePgpoolTarball(
  manifest: Manifest,
  cacheDir: string,
  log: Log = () => {},
  opts: { aptDir?: string; timeoutMs?: number } = {},
): Promise<TarballResult> {
  const expected = manifest.pgpool.tarball.sha256;
  const file = join(cacheDir, derive(manifest).tarballFile);
  mkdirSync(cacheDir, { recursive: true });

  if (existsSync(file)) {
    const actual = await sha256File(file);
    if (actual === expected) return { path: file, origin: 'cache' };
    throw new ChecksumMismatch(`cached ${file}`, expected, actual);
  }

  const { data, origin } = await downloadPgpoolRelease(manifest.pgpool.version, manifest.pgpool.tarball.url, log, opts, (bytes, url) => {
    const actual = sha256Of(bytes);
    if (actual !== expected) throw new ChecksumMismatch(url, expected, actual);
  });
  // Only a verified tarball ever gets the cache's name.
  writeFileAtomic(file, data);
  log(`verified sha256 ${expected}`);
  return { path: file, origin };
}

/**
 * Downloads a pgpool release tarball from its upstream URL, else from the Debian archive's
 * orig tarball of the same version (byte-identical; found through this machine's apt
 * configuration). `verify` may refuse what came: a ChecksumMismatch ends the search (a
 * wrong checksum is never papered over by trying the next source).
 */
export async function downloadPgpoolRelease(
  version: string,
  url: string,
  log: Log,
  opts: { aptDir?: string; timeoutMs?: number },
  verify: (data: Buffer, url: string) => void = () => {},
): Promise<{ data: Buffer; origin: string }> {
  const candidates = [url, ...debianArchiveRoots(opts.aptDir).map((root) => `${root}/${debianOrigPath(version)}`)];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      log(`fetching ${candidate}`);
      const data = await download(candidate, opts.timeoutMs ?? 30_000);
      verify(data, candidate);
      return { data, origin: candidate };
    } catch (err) {
      if (err instanceof ChecksumMismatch) throw err;
      const reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      failures.push(`${candidate}: ${reason}`);
      log(`unavailable: ${candidate} (${reason})`);
    }
  }
  throw new Error(`pgpool ${version} tarball could not be fetched from any source:\n  ${failures.join('\n  ')}`);
}
