import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError, jsonPath, type Problem } from '../errors.js';
import { manifestSchema, type Manifest } from './schema.js';

export function zodProblems(error: z.ZodError, pathFormat: (p: ReadonlyArray<PropertyKey>) => string = jsonPath): Problem[] {
  return error.issues.map((i) => ({ where: pathFormat(i.path), message: i.message }));
}

/**
 * Validates a manifest's text. Pure except for reading the patch files it names
 * (relative to `projectRoot`) to check their sha256.
 */
export function parseManifest(text: string, source: string, projectRoot: string): Manifest {
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

  for (const [minorKey, set] of Object.entries(manifest.patches)) {
    set.forEach((patch, i) => {
      const where = jsonPath(['patches', minorKey, i, 'sha256']);
      const file = join(projectRoot, patch.file);
      if (!existsSync(file)) {
        problems.push({ where: jsonPath(['patches', minorKey, i, 'file']), message: `no such file: ${patch.file}` });
        return;
      }
      const actual = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (actual !== patch.sha256) {
        problems.push({ where, message: `${patch.file} has sha256 ${actual}, manifest pins ${patch.sha256}` });
      }
    });
  }
  if (problems.length) throw new ConfigError(source, problems);
  return manifest;
}

export function loadManifest(path: string, projectRoot: string): Manifest {
  if (!existsSync(path)) throw new ConfigError(path, [{ where: '(file)', message: 'manifest not found' }]);
  return parseManifest(readFileSync(path, 'utf8'), path, projectRoot);
}
