import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../fsutil.js';
import type { Log } from '../log.js';
import type { Manifest } from '../manifest/schema.js';
import { derive } from '../manifest/schema.js';
import { debianArchiveRoots, debianOrigPath } from './apt.js';
import { verifiedDebianOrig, type DebianVerifyOptions } from './debian/verify.js';
import type { TarballOrigin } from './origin.js';

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
 * (found through this machine's apt configuration, any mirror). Whatever the origin, the file
 * is accepted only when its sha256 equals the manifest's pin; a mismatch is a hard error.
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

  const { data, origin } = await fetchPinned(manifest.pgpool.version, manifest.pgpool.tarball.url, expected, log, opts);
  // Only a verified tarball ever gets the cache's name.
  writeFileAtomic(file, data);
  log(`verified sha256 ${expected}`);
  return { path: file, origin };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
}

/**
 * A tarball whose sha256 is pinned already: any mirror will do, since the pin decides (the
 * manifest URL, else the orig tarball on each archive of the apt configuration). A
 * ChecksumMismatch ends the search: a wrong checksum is never papered over by the next source.
 */
async function fetchPinned(version: string, url: string, expected: string, log: Log, opts: { aptDir?: string; timeoutMs?: number }): Promise<{ data: Buffer; origin: string }> {
  const candidates = [url, ...debianArchiveRoots(opts.aptDir).map((root) => `${root}/${debianOrigPath(version)}`)];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      log(`fetching ${candidate}`);
      const data = await download(candidate, opts.timeoutMs ?? 30_000);
      const actual = sha256Of(data);
      if (actual !== expected) throw new ChecksumMismatch(candidate, expected, actual);
      return { data, origin: candidate };
    } catch (err) {
      if (err instanceof ChecksumMismatch) throw err;
      failures.push(`${candidate}: ${reasonOf(err)}`);
      log(`unavailable: ${candidate} (${reasonOf(err)})`);
    }
  }
  throw new Error(`pgpool ${version} tarball could not be fetched from any source:\n  ${failures.join('\n  ')}`);
}

/**
 * A new release's tarball for `pgha bump`, which has no pin yet and makes one from what it gets:
 * from its upstream URL (the manifest's, moved to the new version), else only a copy from
 * Debian's archive that Debian's signed metadata vouches for (src/sources/debian/verify.ts).
 * Never from an arbitrary mirror. Throws one line naming the version and why.
 */
export async function downloadPgpoolRelease(
  version: string,
  url: string,
  log: Log,
  opts: { timeoutMs?: number; aptDir?: string; debian?: DebianVerifyOptions },
): Promise<{ data: Buffer; origin: TarballOrigin }> {
  let upstreamFailure: string;
  try {
    log(`fetching ${url}`);
    return { data: await download(url, opts.timeoutMs ?? 30_000), origin: { kind: 'upstream', url } };
  } catch (err) {
    upstreamFailure = reasonOf(err);
    log(`unavailable: ${url} (${upstreamFailure}); trying Debian's archive, through its signed metadata`);
  }
  try {
    return await verifiedDebianOrig(version, log, { aptDir: opts.aptDir, timeoutMs: opts.timeoutMs, ...opts.debian });
  } catch (err) {
    throw new Error(`pgpool ${version}: no tarball that can be trusted: ${url} failed (${upstreamFailure}), and Debian's copy cannot be verified: ${reasonOf(err)}`);
  }
}
