import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, type Problem } from '../errors.js';
import { zodProblems } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { checkKey } from '../pgpool/params.js';
import { MANAGED_KEYS } from '../pgpool/conf.js';
import { clusterSchema, type Cluster } from './schema.js';

/** Validates a cluster definition's YAML text against the schema and the pinned pgpool version. */
export function parseCluster(text: string, source: string, manifest: Manifest): Cluster {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '(file)';
    throw new ConfigError(source, [{ where, message: `expected YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const result = clusterSchema.safeParse(raw);
  const settings = result.success ? result.data.pgpool.settings : rawSettings(raw);
  const problems = [...(result.success ? [] : zodProblems(result.error)), ...settingsProblems(settings, manifest)];
  if (problems.length || !result.success) throw new ConfigError(source, problems);
  return result.data;
}

/** pgpool.settings of a definition that failed the schema elsewhere, so its keys are checked too. */
function rawSettings(raw: unknown): Record<string, unknown> {
  const settings = (raw as { pgpool?: { settings?: unknown } } | null)?.pgpool?.settings;
  return settings && typeof settings === 'object' && !Array.isArray(settings) ? (settings as Record<string, unknown>) : {};
}

export function settingsProblems(settings: Record<string, unknown>, manifest: Manifest): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(settings)) {
    const where = `pgpool.settings.${key}`;
    const unknown = checkKey(key, manifest.pgpool.version);
    if (unknown) {
      problems.push({ where, message: unknown });
      continue;
    }
    const managedBy = MANAGED_KEYS.find((m) => m.pattern.test(key));
    if (managedBy) problems.push({ where, message: `${key} is set from ${managedBy.field}; change it there` });
  }
  return problems;
}

/**
 * The problems of the cluster definition at `path` that do not depend on the manifest (YAML
 * and schema), or null: used to report them alongside a broken manifest. No path: the
 * built-in defaults, which have none. `source` names the file in messages (default: the path).
 */
export function checkClusterShape(path: string | undefined, source = path): ConfigError | null {
  if (path === undefined || source === undefined) return null;
  if (!existsSync(path)) return new ConfigError(source, [{ where: '(file)', message: 'cluster definition not found' }]);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    return new ConfigError(source, [{ where: '(file)', message: `expected YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const result = clusterSchema.safeParse(raw);
  return result.success ? null : new ConfigError(source, zodProblems(result.error));
}

export const BUILT_IN_DEFAULTS = '(built-in defaults)';

/**
 * Loads the cluster definition at `path`, or the built-in defaults when there is no path.
 * `source` names the file in messages and generated headers (default: the path).
 */
export function loadCluster(path: string | undefined, manifest: Manifest, source = path): { cluster: Cluster; source: string } {
  if (path === undefined || source === undefined) return { cluster: parseCluster('{}', BUILT_IN_DEFAULTS, manifest), source: BUILT_IN_DEFAULTS };
  if (!existsSync(path)) throw new ConfigError(source, [{ where: '(file)', message: 'cluster definition not found' }]);
  return { cluster: parseCluster(readFileSync(path, 'utf8'), source, manifest), source };
}
