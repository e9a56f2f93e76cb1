import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Manifest } from '../manifest/schema.js';
import type { Rendered } from './render.js';

/** Reads every template under `dir`, keyed by its path relative to `dir`. */
export function readTemplates(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.hbs')) out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

export function readPatches(manifest: Manifest, root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const set of Object.values(manifest.patches)) for (const p of set) out[p.file] = readFileSync(join(root, p.file), 'utf8');
  return out;
}

/** Files under the generated roots that are not generated: build inputs and local secrets. */
function isLocalMaterial(rel: string): boolean {
  return /\.tar\.gz$/.test(rel) || /^deploy\/[^/]+\/(secrets|ssh)\//.test(rel);
}

function listFiles(root: string, sub: string): string[] {
  const start = join(root, sub);
  if (!existsSync(start)) return [];
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else found.push(relative(root, p));
    }
  };
  walk(start);
  return found;
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
    else if (readFileSync(p, 'utf8') !== content) d.changed.push(path);
  }
  for (const sub of ownedRoots(rendered)) {
    for (const rel of listFiles(root, sub)) if (!rendered.has(rel) && !isLocalMaterial(rel)) d.extra.push(rel);
  }
  return d;
}

/**
 * Writes the rendering under `root`: changed and new files (each written to a temporary
 * name and renamed, so no file is ever half-written), and removes generated files that
 * the rendering no longer has. Returns what it did.
 */
export function writeRendered(rendered: Rendered, root: string): Drift {
  const d = drift(rendered, root);
  for (const path of [...d.missing, ...d.changed]) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    const tmp = `${p}.pgha-tmp`;
    writeFileSync(tmp, rendered.get(path)!);
    renameSync(tmp, p);
  }
  for (const path of d.extra) rmSync(join(root, path));
  return d;
}
