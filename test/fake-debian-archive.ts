import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

// A stand-in for Debian's archive, offline: a throwaway signing key made with gpg at test time,
// a clearsigned InRelease, a Sources index and a pool, served from 127.0.0.1.

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Two throwaway keys: the archive's (exported as the keyring gpgv trusts) and an intruder's. */
export class TestKeys {
  readonly home = mkdtempSync(join(tmpdir(), 'pgha-gpg-'));
  readonly keyring = join(this.home, 'archive-keyring.gpg');
  readonly archiveUid = 'pgha test archive <archive@test.invalid>';
  readonly intruderUid = 'pgha intruder <intruder@test.invalid>';
  fingerprint = '';

  private gpg(args: string[], input?: string): Buffer {
    return execFileSync('gpg', ['--homedir', this.home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  create(): void {
    for (const uid of [this.archiveUid, this.intruderUid]) this.gpg(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
    writeFileSync(this.keyring, this.gpg(['--export', this.archiveUid]));
    const colons = this.gpg(['--with-colons', '--list-keys', this.archiveUid]).toString();
    this.fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  }

  clearsign(text: string, uid = this.archiveUid): Buffer {
    return this.gpg(['--local-user', uid, '--clearsign'], text);
  }

  /** Stops the gpg-agent gpg started for this home, then removes the home. */
  remove(): void {
    try {
      execFileSync('gpgconf', ['--homedir', this.home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    } finally {
      rmSync(this.home, { recursive: true, force: true });
    }
  }
}

export interface ArchiveSpec {
  keys: TestKeys;
  /** The orig tarball the Sources index lists (and the pool serves, unless `served`). */
  tarball: Buffer;
  version?: string;
  suite?: string;
  /** What the pool serves instead of `tarball`. */
  served?: Buffer;
  /** The Sources.gz served instead of the one InRelease lists. */
  servedSources?: Buffer;
  /** Applied to the InRelease after it is signed. */
  tamper?: (signed: string) => string;
  signer?: string;
  /** Suite field written in the InRelease (default: the suite served). */
  claimedSuite?: string;
  /** The compressed form listed: gzip (default) or xz. */
  form?: 'gz' | 'xz';
}

const DATE = 'Fri, 30 Oct 2026 08:08:01 UTC';

/** The files of a one-suite archive under /debian, by path. */
export function archiveFiles(spec: ArchiveSpec): Map<string, Buffer> {
  const version = spec.version ?? '4.7.3';
  const suite = spec.suite ?? 'unstable';
  const orig = `pgpool2_${version}.orig.tar.gz`;
  const sources = [
    'Package: other\nVersion: 1.0-1\nDirectory: pool/main/o/other\nChecksums-Sha256:\n ' + `${'0'.repeat(64)} 10 other_1.0.orig.tar.gz`,
    `Package: pgpool2\nBinary: pgpool2\nVersion: ${version}-1\nFormat: 3.0 (quilt)\nChecksums-Sha256:\n ${'1'.repeat(64)} 2645 pgpool2_${version}-1.dsc\n ${sha256(spec.tarball)} ${spec.tarball.length} ${orig}\nDirectory: pool/main/p/pgpool2`,
  ].join('\n\n') + '\n';
  const form = spec.form ?? 'gz';
  const index = form === 'gz' ? gzipSync(Buffer.from(sources)) : execFileSync('xz', ['--compress', '--stdout'], { input: sources });
  const release = [
    'Origin: Debian',
    'Label: Debian',
    `Suite: ${spec.claimedSuite ?? suite}`,
    `Codename: ${suite === 'unstable' ? 'sid' : suite}`,
    `Date: ${DATE}`,
    'Valid-Until: Fri, 06 Nov 2026 08:08:01 UTC',
    'SHA256:',
    ` ${sha256(Buffer.from(sources))} ${sources.length} main/source/Sources`,
    ` ${sha256(index)} ${index.length} main/source/Sources.${form}`,
    '',
  ].join('\n');
  let inRelease = spec.keys.clearsign(release, spec.signer).toString();
  if (spec.tamper) inRelease = spec.tamper(inRelease);
  return new Map([
    [`/debian/dists/${suite}/InRelease`, Buffer.from(inRelease)],
    [`/debian/dists/${suite}/main/source/Sources.${form}`, spec.servedSources ?? index],
    [`/debian/pool/main/p/pgpool2/${orig}`, spec.served ?? spec.tarball],
  ]);
}

/** An http server on 127.0.0.1 answering from `files` (404 otherwise); counts the requests. */
export class FakeArchive {
  files = new Map<string, Buffer>();
  requests: string[] = [];
  /** Accept every request and never answer it. */
  hang = false;
  private server: Server = createServer((req, res) => {
    this.requests.push(req.url ?? '');
    if (this.hang) return;
    const body = this.files.get(req.url ?? '');
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.end(body);
  });
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** An apt configuration directory whose sources.list names `uris`. */
export function aptDirWith(uris: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-apt-'));
  writeFileSync(join(dir, 'sources.list'), uris.map((u) => `deb ${u} bookworm main\n`).join(''));
  return dir;
}
