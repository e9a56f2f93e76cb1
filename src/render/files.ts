import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { walkFiles, writeFileAtomic } from '../fsutil.js';
import type { Rendered } from './render.js';

/** Reads every template under `dir`, keyed by its path relative to `dir`. */
export function readTemplates(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of walkFiles(dir)) if (rel.endsWith('.hbs')) out[rel] = readFileSync(join(dir, rel), 'utf8');
  return out;
}

/** Files under the generated roots that are not generated: build inputs and local secrets. */
function isLocalMaterial(rel: string): boolean {
  return /\.tar\.gz$/.test(rel) || /^deploy\/[^/]+\/(secrets|ssh)\//.test(rel);
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

/** The top-level directories a rendering owns: images/ and deploy/<cluster>/. */
export function ownedRoots(rendered: Rendered): string[] {
  const roots = new Set<string>();
  for (const path of rendered.keys()) {
    const parts = path.split('/');
    roots.add(parts[0] === 'deploy' ? `deploy/${parts[1]}` : parts[0]!);
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
