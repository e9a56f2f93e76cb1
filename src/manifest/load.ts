import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { z } from 'zod';
import { ConfigError, jsonPath, UsageError, type Problem } from '../errors.js';
import { InputFileError, readInputBytes, readInputText } from '../fsutil.js';
import { CONTROL_CHARACTERS } from '../pgpool/conf.js';
import { manifestSchema, type Manifest } from './schema.js';

export function zodProblems(error: z.ZodError, pathFormat: (p: ReadonlyArray<PropertyKey>) => string = jsonPath): Problem[] {
  return error.issues.map((i) => ({ where: pathFormat(i.path), message: i.code === 'unrecognized_keys' ? unrecognizedKeys(i.keys) : i.message }));
}

/** zod's line for unknown keys, each key JSON-quoted (zod puts it between quotes as it is, line breaks and all). */
function unrecognizedKeys(keys: string[]): string {
  return `Unrecognized key${keys.length > 1 ? 's' : ''}: ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
}

/**
 * The path of every key that an object of the JSON `text` (already parsed: it is valid)
 * holds more than once, each path once: JSON.parse keeps the last silently, so a second
 * sha256 would hide the first. One pass, without recursion (any nesting JSON.parse took).
 */
export function duplicateJsonKeys(text: string): PropertyKey[][] {
  const found = new Map<string, PropertyKey[]>();
  // One frame per open object or array: where it is now (the key last read, or the index).
  const stack: { keys?: Set<string>; key?: string; index: number }[] = [];
  const at = (f: (typeof stack)[number]): PropertyKey => (f.keys ? f.key! : f.index);
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (!expectKey) continue;
      const top = stack.at(-1)!;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (top.keys!.has(key)) {
        const path = [...stack.slice(0, -1).map(at), key];
        found.set(jsonPath(path), path);
      }
      top.keys!.add(key);
      top.key = key;
      expectKey = false;
    } else if (c === '{' || c === '[') {
      stack.push(c === '{' ? { keys: new Set(), index: 0 } : { index: 0 });
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      const top = stack.at(-1)!;
      top.index++;
      expectKey = top.keys !== undefined;
    }
  }
  return [...found.values()];
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
  const duplicates = duplicateJsonKeys(text);
  if (duplicates.length) throw new ConfigError(source, duplicates.map((path) => ({ where: jsonPath(path), message: 'expected each key once in its object, got it again (JSON readers keep only the last)' })));
  const result = manifestSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, zodProblems(result.error));
  const manifest = result.data;
  const problems: Problem[] = [];
  const patches: Record<string, string> = {};

  for (const [minorKey, set] of Object.entries(manifest.patches)) {
    set.forEach((patch, i) => {
      const where = jsonPath(['patches', minorKey, i, 'sha256']);
      let bytes: Buffer;
      try {
        bytes = readInputBytes(join(projectRoot, patch.file), PATCH_LIMIT_BYTES);
      } catch (err) {
        if (!(err instanceof InputFileError)) throw err;
        problems.push({ where: jsonPath(['patches', minorKey, i, 'file']), message: err.missing ? `no such file: ${patch.file}` : `${patch.file}: ${err.message}` });
        return;
      }
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

/** The largest patch file read: pgpool's own largest source files are a few hundred KiB. */
const PATCH_LIMIT_BYTES = 16 * 1024 * 1024;

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
  let text: string;
  try {
    text = readInputText(path);
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    throw new ConfigError(source, [{ where: '(file)', message: err.missing ? 'manifest not found' : err.message }]);
  }
  return parseManifestAndPatches(text, source, projectRoot);
}
