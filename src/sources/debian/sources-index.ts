import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { deb822Fields, NotVerified, type InRelease } from './inrelease.js';

/** The compressed forms of a suite's Sources index this chain reads, best first. */
const FORMS = [
  { suffix: '.gz', name: 'gzip' },
  { suffix: '.xz', name: 'xz' },
] as const;

export interface IndexEntry {
  /** The index's path under dists/<suite>/ (main/source/Sources.gz). */
  path: string;
  sha256: string;
  size: number;
  form: (typeof FORMS)[number]['name'];
}

/**
 * The main component's Sources index as the signed InRelease lists it: gzip when listed (Node's
 * zlib reads it), else xz (the `xz` command). Pure.
 */
export function sourcesIndexOf(release: InRelease): IndexEntry {
  for (const form of FORMS) {
    const entry = release.sha256.find((e) => e.path === `main/source/Sources${form.suffix}`);
    if (entry) return { path: entry.path, sha256: entry.sha256, size: entry.size, form: form.name };
  }
  throw new NotVerified(`the InRelease of ${release.suite} lists no main/source/Sources.gz or Sources.xz`);
}

/** The index's text, decompressed; `xz` runs bounded by `timeoutMs`. */
export function decompressIndex(data: Buffer, form: IndexEntry['form'], timeoutMs: number): string {
  if (form === 'gzip') return gunzipSync(data).toString('utf8');
  const run = spawnSync('xz', ['--decompress', '--stdout'], { input: data, timeout: timeoutMs, maxBuffer: 1 << 30 });
  if (run.error || run.status !== 0) throw new Error(`xz could not decompress the Sources index: ${run.error?.message ?? run.stderr.toString().trim()}`);
  return run.stdout.toString('utf8');
}

const origEntry = z.object({
  sourceVersion: z.string().regex(/^[\w.+~:-]+$/, 'expected a Debian version'),
  // Signed data, yet only a path below pool/ is followed.
  directory: z.string().regex(/^pool\/[\w.+-]+(\/[\w.+-]+)*$/, 'expected a path under pool/'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  size: z.coerce.number().int().positive(),
});

/** Where a source package's orig tarball is, as a Sources stanza lists it. */
export type OrigEntry = z.infer<typeof origEntry>;

/**
 * Looks up `<pkg>_<version>.orig.tar.gz` in a Sources index: the stanza of `pkg` whose
 * Checksums-Sha256 names it. `versions` are the source versions of `pkg` the index holds, for a
 * refusal that says what is there instead. Pure.
 */
export function findOrig(sources: string, pkg: string, version: string): { entry?: OrigEntry; versions: string[] } {
  const file = `${pkg}_${version}.orig.tar.gz`;
  const versions: string[] = [];
  for (const paragraph of sources.split(/\n[ \t]*\n/)) {
    // Cheap test first: the whole index is some 70 MB of paragraphs.
    if (!paragraph.startsWith(`Package: ${pkg}\n`) && !paragraph.includes(`\nPackage: ${pkg}\n`)) continue;
    const f = deb822Fields(paragraph);
    if (f.get('package') !== pkg) continue;
    versions.push(f.get('version') ?? '(no version)');
    const line = (f.get('checksums-sha256') ?? '').split('\n').map((l) => l.trim().split(/\s+/)).find((parts) => parts[2] === file);
    if (!line) continue;
    const parsed = origEntry.safeParse({ sourceVersion: f.get('version'), directory: f.get('directory'), sha256: line[0], size: line[1] });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new NotVerified(`Sources: ${pkg} ${f.get('version')}: ${issue.path.join('.')}: ${issue.message}`);
    }
    return { entry: parsed.data, versions };
  }
  return { versions };
}
