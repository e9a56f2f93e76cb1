import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadPgpoolRelease } from '../../src/sources/cache.js';
import { archivesToTry, archiveUrlProblem, DEBIAN_ARCHIVE_HOSTS } from '../../src/sources/debian/archive.js';
import { readGpgvStatus } from '../../src/sources/debian/inrelease.js';
import { verifiedDebianOrig, type DebianVerifyOptions } from '../../src/sources/debian/verify.js';
import { describeOrigin } from '../../src/sources/origin.js';
import { aptDirWith, archiveFiles, FakeArchive, TestKeys, type ArchiveSpec } from '../fake-debian-archive.js';
import { ROOT, toolMissing } from '../helpers.js';

// The chain a fallback copy must pass, against a fake archive on 127.0.0.1 signed by a key made
// here: never the network. Each broken link is refused with one line naming it.

const missing = ['gpg', 'gpgv', 'gpgconf'].find((t) => toolMissing(t));
const keys = new TestKeys();
const archive = new FakeArchive();
const TARBALL = Buffer.from('the release tarball, as the Sources index lists it\n');
const empty = aptDirWith([]);

beforeAll(async () => {
  if (missing) return;
  keys.create();
  await archive.start();
});
afterAll(() => {
  archive.stop();
  rmSync(empty, { recursive: true, force: true });
  if (!missing) keys.remove();
});

/** The options that point the chain at the fake archive; `hosts` lets 127.0.0.1 pass unless a test says otherwise. */
function at(extra: DebianVerifyOptions = {}): DebianVerifyOptions {
  return { keyring: keys.keyring, hosts: ['127.0.0.1'], archives: [{ root: `${archive.base}/debian`, suites: ['unstable'] }], aptDir: empty, timeoutMs: 5_000, totalMs: 20_000, ...extra };
}

function serve(spec: Partial<ArchiveSpec> = {}) {
  archive.files = archiveFiles({ keys, tarball: TARBALL, ...spec });
}

async function refusal(version: string, opts: DebianVerifyOptions): Promise<string> {
  const err = await verifiedDebianOrig(version, () => {}, opts).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err, 'refused').toBeInstanceOf(Error);
  expect(err!.message).not.toContain('\n');
  return err!.message;
}

describe('a Debian copy of a pgpool release, verified through the signed archive', () => {
  it('a correctly signed chain passes: InRelease, Sources.gz, the orig tarball; the origin says which suite and date', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    const { data, origin } = await verifiedDebianOrig('4.7.3', () => {}, at());
    expect(data.equals(TARBALL)).toBe(true);
    expect(origin).toEqual({
      kind: 'debian',
      url: `${archive.base}/debian/pool/main/p/pgpool2/pgpool2_4.7.3.orig.tar.gz`,
      suite: 'unstable',
      codename: 'sid',
      date: 'Fri, 30 Oct 2026 08:08:01 UTC',
      validUntil: 'Fri, 06 Nov 2026 08:08:01 UTC',
      fingerprints: [keys.fingerprint],
      keyring: keys.keyring,
      index: 'main/source/Sources.gz',
      sourceVersion: '4.7.3-1',
    });
    expect(describeOrigin(origin)).toMatch(/^the Debian archive, not upstream: http:\/\/127\.0\.0\.1:\d+\/debian\/pool\/main\/p\/pgpool2\/pgpool2_4\.7\.3\.orig\.tar\.gz; pgpool2 4\.7\.3-1 of unstable \(sid\), InRelease dated Fri, 30 Oct 2026 08:08:01 UTC/);
  });

  it('is what pgha bump takes when the upstream URL fails, and says so', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    const lines: string[] = [];
    const got = await downloadPgpoolRelease('4.7.3', `${archive.base}/upstream/pgpool-II-4.7.3.tar.gz`, (l) => lines.push(l), { timeoutMs: 5_000, debian: at() });
    expect(got.origin.kind).toBe('debian');
    expect(got.data.equals(TARBALL)).toBe(true);
    expect(lines[1]).toBe(`unavailable: ${archive.base}/upstream/pgpool-II-4.7.3.tar.gz (HTTP 404 from ${archive.base}/upstream/pgpool-II-4.7.3.tar.gz); trying Debian's archive, through its signed metadata`);
  });

  it('reads the xz index when the InRelease lists no gzip one', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    if (toolMissing('xz')) ctx.skip('xz is not installed');
    serve({ form: 'xz' });
    const { origin } = await verifiedDebianOrig('4.7.3', () => {}, at());
    expect(origin).toMatchObject({ index: 'main/source/Sources.xz', sourceVersion: '4.7.3-1' });
  });

  it('a suite that is not there is passed over for the next', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    const lines: string[] = [];
    const { origin } = await verifiedDebianOrig('4.7.3', (l) => lines.push(l), at({ archives: [{ root: `${archive.base}/debian`, suites: ['testing', 'unstable'] }] }));
    expect(origin.suite).toBe('unstable');
    expect(lines).toContain(`unavailable: ${archive.base}/debian testing (HTTP 404 from ${archive.base}/debian/dists/testing/InRelease)`);
  });

  it('refuses an InRelease changed after it was signed', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve({ tamper: (t) => t.replace('Date: Fri, 30 Oct', 'Date: Sat, 31 Oct') });
    expect(await refusal('4.7.3', at())).toMatch(new RegExp(`^${archive.base}/debian/dists/unstable/InRelease: bad signature \\(key [0-9A-F]{16}\\)$`));
  });

  it('refuses an InRelease signed by a key that is not in the keyring', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve({ signer: keys.intruderUid });
    expect(await refusal('4.7.3', at())).toMatch(new RegExp(`^${archive.base}/debian/dists/unstable/InRelease: signed only by keys not in ${keys.keyring}: [0-9A-F]{16}$`));
  });

  it("refuses another suite's InRelease served as this one", async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve({ claimedSuite: 'bookworm' });
    expect(await refusal('4.7.3', at())).toBe(`${archive.base}/debian/dists/unstable/InRelease is signed for bookworm (sid), not unstable`);
  });

  it('refuses a Sources index whose sha256 is not the one the InRelease lists', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    const other = archiveFiles({ keys, tarball: Buffer.from('another tarball') }).get('/debian/dists/unstable/main/source/Sources.gz')!;
    serve({ servedSources: other });
    expect(await refusal('4.7.3', at())).toMatch(
      new RegExp(`^${archive.base}/debian/dists/unstable/main/source/Sources\\.gz: sha256 [0-9a-f]{64} \\(\\d+ bytes\\) is not the [0-9a-f]{64} \\(\\d+ bytes\\) its signed InRelease lists$`),
    );
  });

  it('refuses a tarball whose sha256 is not the one the Sources index lists', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve({ served: Buffer.alloc(201, 'x') });
    expect(await refusal('4.7.3', at())).toMatch(
      /pgpool2_4\.7\.3\.orig\.tar\.gz: sha256 [0-9a-f]{64} \(201 bytes\) is not the [0-9a-f]{64} \(\d+ bytes\) that pgpool2 4\.7\.3-1's Checksums-Sha256 lists$/,
    );
  });

  it("refuses a host that is not one of Debian's archive hosts, without asking it", async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    archive.requests = [];
    expect(await refusal('4.7.3', at({ hosts: undefined }))).toBe(`no Debian archive to take it from (127.0.0.1 is not one of Debian's archive hosts (${DEBIAN_ARCHIVE_HOSTS.join(', ')}))`);
    expect(archive.requests).toEqual([]);
  });

  it('refuses a version no Sources index lists, saying which versions are there', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    expect(await refusal('4.7.2', at())).toBe(`pgpool2_4.7.2.orig.tar.gz is listed in no Sources index of Debian's archive (pgpool2 versions there: unstable: 4.7.3-1)`);
  });

  it('says so when a suite lists the version but the pool does not serve it', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    serve();
    const orig = '/debian/pool/main/p/pgpool2/pgpool2_4.7.3.orig.tar.gz';
    archive.files.delete(orig);
    expect(await refusal('4.7.3', at())).toBe(
      `pgpool2_4.7.3.orig.tar.gz is listed, but no archive served it: ${archive.base}/debian: unstable lists pgpool2 4.7.3-1, but its tarball could not be fetched: HTTP 404 from ${archive.base}${orig}`,
    );
  });

  it('gives up within the total time when the archive does not answer', async (ctx) => {
    if (missing) ctx.skip(`${missing} is not installed`);
    const silent = new FakeArchive();
    await silent.start();
    silent.hang = true;
    try {
      const started = Date.now();
      const message = await refusal('4.7.3', at({ archives: [{ root: `${silent.base}/debian`, suites: ['unstable'] }], timeoutMs: 60_000, totalMs: 1_000 }));
      expect(message).toBe('the Debian archive did not answer within 1 s');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.stop();
    }
  });
});

describe("Debian's archive hosts", () => {
  it('accepts only the listed hosts, over http(s), without credentials', () => {
    for (const ok of ['https://deb.debian.org/debian', 'http://ftp.debian.org/debian', 'http://ftp.de.debian.org/debian', 'https://security.debian.org/debian-security']) expect(archiveUrlProblem(ok), ok).toBeUndefined();
    expect(archiveUrlProblem('http://ftp.debian.org.example.com/debian')).toMatch(/^ftp\.debian\.org\.example\.com is not one of Debian's archive hosts/);
    expect(archiveUrlProblem('http://ftp.dex.debian.org/debian')).toMatch(/is not one of Debian's archive hosts/);
    expect(archiveUrlProblem('http://mirror.example/debian')).toMatch(/^mirror\.example is not one of/);
    expect(archiveUrlProblem('http://u:p@deb.debian.org/debian')).toBe('http://u:p@deb.debian.org/debian is not a plain http(s) URL');
    expect(archiveUrlProblem('ftp://deb.debian.org/debian')).toBe('ftp://deb.debian.org/debian is not a plain http(s) URL');
  });

  it("takes the apt configuration's Debian archives first, over https when they are the default's, and skips the rest", () => {
    const apt = aptDirWith(['http://mirror.example/debian', 'http://ftp.de.debian.org/debian', 'http://deb.debian.org/debian']);
    const { archives, skipped } = archivesToTry({ aptDir: apt });
    expect(archives.map((a) => [a.root, a.suites.join(' ')])).toEqual([
      ['http://ftp.de.debian.org/debian', 'unstable testing trixie bookworm'],
      ['https://deb.debian.org/debian', 'unstable testing trixie bookworm'],
      ['https://security.debian.org/debian-security', 'trixie-security bookworm-security'],
    ]);
    expect(skipped).toEqual([`mirror.example is not one of Debian's archive hosts (${DEBIAN_ARCHIVE_HOSTS.join(', ')})`]);
    rmSync(apt, { recursive: true, force: true });
  });

  it('docs/releases.md lists the same hosts as the code', () => {
    const docs = readFileSync(join(ROOT, 'docs/releases.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## The trust chain of the sources'));
    for (const host of DEBIAN_ARCHIVE_HOSTS) expect(section).toContain(`\`${host}\``);
  });

  it("reads gpgv's status: one good signature of two is enough, a missing key is named", () => {
    // What gpgv said here for sid's InRelease with only the bookworm key in the keyring.
    const status = [
      '[GNUPG:] NEWSIG',
      '[GNUPG:] GOODSIG 6ED0E7B82643E131 Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>',
      '[GNUPG:] VALIDSIG 4CB50190207B4758A3F73A796ED0E7B82643E131 2026-10-30 1793347767 0 4 0 1 8 01 B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8',
      '[GNUPG:] NEWSIG',
      '[GNUPG:] ERRSIG 78DBA3BC47EF2265 1 8 01 1793347770 9 B8E5F13176D2A7A75220028078DBA3BC47EF2265',
      '[GNUPG:] NO_PUBKEY 78DBA3BC47EF2265',
    ].join('\n');
    expect(readGpgvStatus(status)).toEqual({ valid: ['4CB50190207B4758A3F73A796ED0E7B82643E131'], bad: [], missing: ['78DBA3BC47EF2265'] });
  });
});
