import { sha256Of } from '../cache.js';
import type { Log } from '../../log.js';
import type { DebianOrigin } from '../origin.js';
import { archivesToTry, archiveUrlProblem, DEBIAN_ARCHIVE_HOSTS, DEBIAN_KEYRING, type Archive } from './archive.js';
import { NotVerified, parseInRelease, verifyClearsigned, type InRelease, type SignedText } from './inrelease.js';
import { decompressIndex, findOrig, sourcesIndexOf, type OrigEntry } from './sources-index.js';

export interface DebianVerifyOptions {
  /** gpgv's keyring; Debian's own by default (a test passes a throwaway one). */
  keyring?: string;
  /** The hosts accepted; DEBIAN_ARCHIVE_HOSTS by default. */
  hosts?: readonly string[];
  /** The archives tried after the apt configuration's; DEFAULT_ARCHIVES by default. */
  archives?: readonly Archive[];
  /** The apt configuration read for archives (default /etc/apt). */
  aptDir?: string;
  /** Each request, and each gpgv or xz run. */
  timeoutMs?: number;
  /** The whole chain, every suite tried. */
  totalMs?: number;
}

/** The Debian source package pgpool-II is shipped as. */
const PACKAGE = 'pgpool2';

/** An HTTP answer that is not the file: the next suite or archive may have it. */
class Unavailable extends Error {}

/** A suite whose verified index lists the tarball, which its pool did not serve. */
class ListedButUnavailable extends Unavailable {}

function reasonOf(err: unknown): string {
  return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
}

interface Ctx {
  hosts: readonly string[];
  keyring: string;
  timeoutMs: number;
  deadline: AbortSignal;
  log: Log;
}

async function fetchArchiveFile(url: string, ctx: Ctx): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.any([AbortSignal.timeout(ctx.timeoutMs), ctx.deadline]), redirect: 'follow' });
  // A redirect may not lead off Debian's hosts: the bytes must come from the archive named.
  const landed = res.url && res.url !== url ? archiveUrlProblem(res.url, ctx.hosts) : undefined;
  if (landed) throw new NotVerified(`${url} redirected off Debian's archive: ${landed}`);
  if (!res.ok) throw new Unavailable(`HTTP ${res.status} from ${url}`);
  return Buffer.from(await res.arrayBuffer());
}


/** The suite's InRelease, its signature checked and its Suite or Codename the one asked for. */
async function signedRelease(root: string, suite: string, ctx: Ctx): Promise<{ release: InRelease; fingerprints: string[] }> {
  const url = `${root}/dists/${suite}/InRelease`;
  const data = await fetchArchiveFile(url, ctx);
  let signed: SignedText;
  let release: InRelease;
  try {
    signed = verifyClearsigned(data, ctx.keyring, ctx.timeoutMs);
    release = parseInRelease(signed.text);
  } catch (err) {
    throw err instanceof NotVerified ? new NotVerified(`${url}: ${err.message}`) : err;
  }
  // A mirror may not pass another suite's (older, still validly signed) InRelease off as this one.
  if (release.suite !== suite && release.codename !== suite) throw new NotVerified(`${url} is signed for ${release.suite} (${release.codename ?? 'no codename'}), not ${suite}`);
  return { release, fingerprints: signed.fingerprints };
}

/** The suite's Sources index, accepted only with the size and sha256 its InRelease lists. */
async function verifiedSources(root: string, suite: string, release: InRelease, ctx: Ctx): Promise<{ text: string; index: string }> {
  const entry = sourcesIndexOf(release);
  const url = `${root}/dists/${suite}/${entry.path}`;
  const data = await fetchArchiveFile(url, ctx);
  const actual = sha256Of(data);
  if (actual !== entry.sha256 || data.length !== entry.size) {
    throw new NotVerified(`${url}: sha256 ${actual} (${data.length} bytes) is not the ${entry.sha256} (${entry.size} bytes) its signed InRelease lists`);
  }
  return { text: decompressIndex(data, entry.form, ctx.timeoutMs), index: entry.path };
}

/** The orig tarball, accepted only with the size and sha256 the verified Sources lists. */
async function verifiedOrig(root: string, version: string, entry: OrigEntry, ctx: Ctx): Promise<{ data: Buffer; url: string }> {
  const url = `${root}/${entry.directory}/${PACKAGE}_${version}.orig.tar.gz`;
  ctx.log(`fetching ${url}`);
  const data = await fetchArchiveFile(url, ctx);
  const actual = sha256Of(data);
  if (actual !== entry.sha256 || data.length !== entry.size) {
    throw new NotVerified(`${url}: sha256 ${actual} (${data.length} bytes) is not the ${entry.sha256} (${entry.size} bytes) that ${PACKAGE} ${entry.sourceVersion}'s Checksums-Sha256 lists`);
  }
  return { data, url };
}

/** One suite of one archive: the verified copy, or the source versions it lists instead. */
async function trySuite(root: string, suite: string, version: string, ctx: Ctx): Promise<{ data: Buffer; origin: DebianOrigin } | { versions: string[] }> {
  ctx.log(`checking ${root}/dists/${suite}/InRelease`);
  const { release, fingerprints } = await signedRelease(root, suite, ctx);
  const sources = await verifiedSources(root, suite, release, ctx);
  const { entry, versions } = findOrig(sources.text, PACKAGE, version);
  if (!entry) return { versions };
  const { data, url } = await verifiedOrig(root, version, entry, ctx).catch((err: unknown) => {
    if (err instanceof NotVerified) throw err;
    throw new ListedButUnavailable(`${suite} lists ${PACKAGE} ${entry.sourceVersion}, but its tarball could not be fetched: ${reasonOf(err)}`);
  });
  const { codename, date, validUntil } = release;
  return { data, origin: { kind: 'debian', url, suite, codename, date, validUntil, fingerprints, keyring: ctx.keyring, index: sources.index, sourceVersion: entry.sourceVersion } };
}

/**
 * pgpool's release tarball as Debian ships it (`pgpool2_<version>.orig.tar.gz`, byte-identical
 * to pgpool.net's), accepted only through Debian's signed chain: gpgv on the suite's InRelease,
 * the Sources index against the sha256 listed there, the tarball against the Checksums-Sha256 of
 * the pgpool2 stanza. Only Debian's own hosts are asked. A check that fails ends the search
 * (NotVerified): it is never papered over by trying elsewhere. Throws one line on failure.
 */
export async function verifiedDebianOrig(version: string, log: Log, opts: DebianVerifyOptions = {}): Promise<{ data: Buffer; origin: DebianOrigin }> {
  const hosts = opts.hosts ?? DEBIAN_ARCHIVE_HOSTS;
  const totalMs = opts.totalMs ?? 300_000;
  const ctx: Ctx = { hosts, keyring: opts.keyring ?? DEBIAN_KEYRING, timeoutMs: opts.timeoutMs ?? 60_000, deadline: AbortSignal.timeout(totalMs), log };
  const { archives, skipped } = archivesToTry({ aptDir: opts.aptDir, hosts, defaults: opts.archives });
  for (const s of skipped) log(`not used for sources: ${s}`);
  if (archives.length === 0) throw new NotVerified(`no Debian archive to take it from (${skipped.join('; ')})`);
  const listed: string[] = [];
  const listedMissing: string[] = [];
  const unavailable: string[] = [];
  for (const archive of archives) {
    for (const suite of archive.suites) {
      try {
        const found = await trySuite(archive.root, suite, version, ctx);
        if ('origin' in found) return found;
        listed.push(`${suite}: ${found.versions.join(', ') || 'none'}`);
      } catch (err) {
        if (err instanceof NotVerified) throw err;
        if (ctx.deadline.aborted) throw new Error(`the Debian archive did not answer within ${totalMs / 1000} s`);
        const reason = reasonOf(err);
        if (err instanceof ListedButUnavailable) listedMissing.push(`${archive.root}: ${reason}`);
        else unavailable.push(`${archive.root} ${suite}: ${reason}`);
        log(`unavailable: ${archive.root} ${suite} (${reason})`);
        // The archive itself does not answer: its other suites will not either.
        if (!(err instanceof Unavailable)) break;
      }
    }
  }
  if (listedMissing.length) throw new Unavailable(`${PACKAGE}_${version}.orig.tar.gz is listed, but no archive served it: ${listedMissing.join('; ')}`);
  // The same suite read from two hosts (deb.debian.org and security.debian.org) is said once.
  const where = listed.length ? `pgpool2 versions there: ${[...new Set(listed)].join('; ')}` : 'no suite could be read';
  throw new NotVerified(`${PACKAGE}_${version}.orig.tar.gz is listed in no Sources index of Debian's archive (${where})${unavailable.length ? `; unavailable: ${unavailable.join('; ')}` : ''}`);
}
