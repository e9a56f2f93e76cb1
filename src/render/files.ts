import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { walkFiles, writeFileAtomic } from '../fsutil.js';
import type { Rendered } from './render.js';

/** Reads every template under `dir`, keyed by its path relative to `dir`. */
export function readTemplates(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of walkFiles(dir)) if (rel.endsWith('.hbs')) out[rel] = readFileSync(join(dir, rel), 'utf8');
  return out;
}

/**
 * Files under the generated roots that are not generated: build inputs, and what the init
 * service makes in a deploy directory (secrets, SSH keys, the dev CA, the TLS files and the
 * metrics services' CA and password: the same list .gitignore keeps out of the repository).
 */
function isLocalMaterial(rel: string): boolean {
  return /\.tar\.gz$/.test(rel) || /^deploy\/[^/]+\/(secrets|ssh|tls|ca|metrics)\//.test(rel);
}

/** The files under `root`/`sub`, as paths relative to `root`; none when it does not exist. */
function listFiles(root: string, sub: string): string[] {
  const start = join(root, sub);
  if (!existsSync(start)) return [];
  return walkFiles(start).map((rel) => `${sub}/${rel}`);
}

/** A rendered file is executable when it starts with `#!`: mode 0755, else 0644. */
export function renderedMode(content: string): number {
  return content.startsWith('#!') ? 0o755 : 0o644;
}

/** Whether the file's owner may execute it: the one mode bit git records, and the one compared. */
function isExecutable(path: string): boolean {
  return (statSync(path).mode & 0o100) !== 0;
}

/**
 * The directories a rendering owns: images/, deploy/<cluster>/ and docs/reference/ (the rest
 * of docs/ is written by hand, so it is neither drift nor removed).
 */
export function ownedRoots(rendered: Rendered): string[] {
  const roots = new Set<string>();
  for (const path of rendered.keys()) {
    const parts = path.split('/');
    roots.add(parts[0] === 'deploy' || parts[0] === 'docs' ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return [...roots].sort();
}

export interface Drift {
  /** Files whose content, or whether they are executable, differs from the rendering. */
  changed: string[];
  missing: string[];
  extra: string[];
}

/** What differs between the rendering and the files under `root`. */
export function drift(rendered: Rendered, root: string): Drift {
  const d: Drift = { changed: [], missing: [], extra: [] };
  for (const [path, content] of rendered) {
    const p = join(root, path);
    if (!existsSync(p)) d.missing.push(path);
    else if (readFileSync(p, 'utf8') !== content || isExecutable(p) !== (renderedMode(content) === 0o755)) d.changed.push(path);
  }
  for (const sub of ownedRoots(rendered)) {
    for (const rel of listFiles(root, sub)) if (!rendered.has(rel) && !isLocalMaterial(rel)) d.extra.push(rel);
  }
  return d;
}

/**
 * Writes the rendering under `root`: changed and new files (each written atomically, with
 * mode 0755 when it starts with `#!`, else 0644; a file whose content is current but whose
 * mode is not is rewritten too), and removes generated files that the rendering no longer
 * has. Returns what it did.
 */
export function writeRendered(rendered: Rendered, root: string): Drift {
  const d = drift(rendered, root);
  for (const path of [...d.missing, ...d.changed]) {
    const p = join(root, path);
    const content = rendered.get(path)!;
    mkdirSync(dirname(p), { recursive: true });
    writeFileAtomic(p, content, renderedMode(content));
  }
  for (const path of d.extra) rmSync(join(root, path));
  return d;
}

/** The part of a rendering under one top-level directory (`images`), keyed as in the rendering. */
export function renderedUnder(rendered: Rendered, dir: string): Rendered {
  return new Map([...rendered].filter(([p]) => p.startsWith(`${dir}/`)));
}

/** The file `generate --out` leaves in its directory: the list of files it wrote there. */
export const OUT_MARKER = '.pgha-generated';

function markerText(rendered: Rendered): string {
  return [`# written by pgha generate --out: the files it wrote here, which the next run replaces. Do not edit.`, ...rendered.keys(), ''].join('\n');
}

/**
 * What an existing --out directory holds, or a refusal: pgha replaces a directory only when
 * it wrote it (its marker lists the files) and everything else there is local material it
 * keeps (secrets, SSH keys, tarballs).
 */
function outDirContents(dir: string): { exists: boolean; local: string[] } {
  if (!existsSync(dir)) return { exists: false, local: [] };
  if (!statSync(dir).isDirectory()) throw new UsageError([`--out ${dir}: expected a directory, got a file`]);
  if (readdirSync(dir).length === 0) return { exists: true, local: [] };
  const marker = join(dir, OUT_MARKER);
  if (!existsSync(marker)) {
    throw new UsageError([`--out ${dir}: not empty and not written by pgha generate (no ${OUT_MARKER}); choose a new or empty directory`]);
  }
  const written = new Set(readFileSync(marker, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')));
  const local: string[] = [];
  const foreign: string[] = [];
  for (const rel of walkFiles(dir)) {
    if (rel === OUT_MARKER || written.has(rel)) continue;
    (isLocalMaterial(rel) ? local : foreign).push(rel);
  }
  if (foreign.length) {
    const n = foreign.length;
    throw new UsageError([`--out ${dir}: holds ${n} file${n > 1 ? 's' : ''} pgha generate did not write (${foreign.slice(0, 3).join(', ')}${n > 3 ? ', ...' : ''}); move ${n > 1 ? 'them' : 'it'} away or choose another directory`]);
  }
  return { exists: true, local };
}

/**
 * Writes the rendering as the whole of `dir` (`generate --out`): into a new directory beside
 * it, with the local material of the old one copied over (modes kept) and a marker listing
 * the files written, which then takes the old one's place by rename. A failure before the
 * rename leaves `dir` as it was. Refuses (UsageError) a file, a non-empty directory pgha did
 * not write, and one holding files it did not write. Returns what differs from the old `dir`.
 */
export function writeRenderedTo(rendered: Rendered, dir: string): Drift {
  const before = outDirContents(dir);
  const d = before.exists ? drift(rendered, dir) : { changed: [], missing: [...rendered.keys()], extra: [] };
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const sibling = (what: string) => join(parent, `.${basename(dir)}.pgha-${what}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fresh = sibling('new');
  let old: string | undefined;
  mkdirSync(fresh);
  try {
    writeRendered(rendered, fresh);
    for (const rel of before.local) {
      cpSync(join(dir, rel), join(fresh, rel), { preserveTimestamps: true });
      for (let sub = dirname(rel); sub !== '.'; sub = dirname(sub)) chmodSync(join(fresh, sub), statSync(join(dir, sub)).mode & 0o7777);
    }
    writeFileSync(join(fresh, OUT_MARKER), markerText(rendered));
    if (before.exists) {
      old = sibling('old');
      renameSync(dir, old);
    }
    try {
      renameSync(fresh, dir);
    } catch (err) {
      if (old) renameSync(old, dir);
      old = undefined;
      throw err;
    }
  } catch (err) {
    rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
  if (old) rmSync(old, { recursive: true, force: true });
  return d;
}
