import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadPgpoolRelease } from '../../src/sources/cache.js';
import { aptDirWith, FakeArchive } from '../fake-debian-archive.js';

// Issue 26, as reported: pgpool.net fails, the machine's apt configuration names a local
// "mirror", and `pgha bump` took the 201 bytes it served as pgpool's tarball and pinned their
// sha256. What bump pins is what downloadPgpoolRelease returns (src/commands/bump.ts).

const mirror = new FakeArchive();
// pgpool.net down: every name answers 404.
const upstream = new FakeArchive();
// Any bytes will do: nothing but their origin decided whether they were taken.
const FAKE = Buffer.alloc(201, 'x');

beforeAll(async () => {
  await mirror.start();
  await upstream.start();
  mirror.files.set('/debian/pool/main/p/pgpool2/pgpool2_4.7.3.orig.tar.gz', FAKE);
});
afterAll(() => {
  mirror.stop();
  upstream.stop();
});

describe('pgha bump: the source of a new pin (issue 26)', () => {
  it('a 201-byte tarball from a mirror of the apt configuration is not taken when the upstream URL fails', async () => {
    const aptDir = aptDirWith([`${mirror.base}/debian`]);
    const lines: string[] = [];
    // No Debian archive beyond the configured one: the test stays offline.
    const url = `${upstream.base}/pgpool-II-4.7.3.tar.gz`;
    const got = downloadPgpoolRelease('4.7.3', url, (l) => lines.push(l), { timeoutMs: 5_000, aptDir, debian: { archives: [] } });
    await expect(got).rejects.toThrow(
      `pgpool 4.7.3: no tarball that can be trusted: ${url} failed (HTTP 404 from ${url}), and Debian's copy cannot be verified: no Debian archive to take it from (127.0.0.1 is not one of Debian's archive hosts (deb.debian.org, ftp.debian.org, ftp.<cc>.debian.org, security.debian.org))`,
    );
    // The mirror was not even asked.
    expect(mirror.requests).toEqual([]);
    expect(lines).toContain(`not used for sources: 127.0.0.1 is not one of Debian's archive hosts (deb.debian.org, ftp.debian.org, ftp.<cc>.debian.org, security.debian.org)`);
    rmSync(aptDir, { recursive: true, force: true });
  });
});
