import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError, jsonPath, UsageError, type Problem } from '../errors.js';
import { CONTROL_CHARACTERS } from '../pgpool/conf.js';
import { manifestSchema, type Manifest } from './schema.js';

export function zodProblems(error: z.ZodError, pathFormat: (p: ReadonlyArray<PropertyKey>) => string = jsonPath): Problem[] {
  return error.issues.map((i) => ({ where: pathFormat(i.path), message: i.message }));
}

/** A validated manifest and the text of every patch file it names, keyed by its manifest path. */
export interface ManifestAndPatches {
  manifest: Manifest;
  patches: Record<string, string>;
}

/**
 * Validates a manifest's text. Pure except for reading the patch files it names
 * (relative to `projectRoot`) to check their sha256; each is read once, and its text is
 * returned for rendering.
 */
export function parseManifestAndPatches(text: string, source: string, projectRoot: string): ManifestAndPatches {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(source, [{ where: '(root)', message: `expected JSON: ${(err as Error).message}` }]);
  }
  const result = manifestSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, zodProblems(result.error));
  const manifest = result.data;
  const problems: Problem[] = [];
  const patches: Record<string, string> = {};

  for (const [minorKey, set] of Object.entries(manifest.patches)) {
    set.forEach((patch, i) => {
      const where = jsonPath(['patches', minorKey, i, 'sha256']);
      const file = join(projectRoot, patch.file);
      if (!existsSync(file)) {
        problems.push({ where: jsonPath(['patches', minorKey, i, 'file']), message: `no such file: ${patch.file}` });
        return;
      }
      const bytes = readFileSync(file);
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== patch.sha256) {
        problems.push({ where, message: `${patch.file} has sha256 ${actual}, manifest pins ${patch.sha256}` });
      }
      patches[patch.file] = bytes.toString('utf8');
    });
  }
  if (problems.length) throw new ConfigError(source, problems);
  return { manifest, patches };
}

export function parseManifest(text: string, source: string, projectRoot: string): Manifest {
  return parseManifestAndPatches(text, source, projectRoot).manifest;
}

/**
 * Refuses an input file name that messages and generated headers cannot carry on one line
 * (a line break in it would start a line of its own in cluster.conf or the compose file).
 */
export function checkSourceName(option: string, source: string): void {
  if (CONTROL_CHARACTERS.test(source)) {
    throw new UsageError([`${option}: expected a file name without line breaks or other control characters, got ${JSON.stringify(source)}`]);
  }
}

/** Reads and validates the manifest at `path`; `source` names it in messages (default: the path). */
export function loadManifestAndPatches(path: string, projectRoot: string, source = path): ManifestAndPatches {
  checkSourceName('--manifest', source);
  if (!existsSync(path)) throw new ConfigError(source, [{ where: '(file)', message: 'manifest not found' }]);
  return parseManifestAndPatches(readFileSync(path, 'utf8'), source, projectRoot);
}
