import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, type Problem } from '../errors.js';
import { zodProblems } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { checkKey } from '../pgpool/params.js';
import { MANAGED_KEYS } from '../pgpool/conf.js';
import { clusterSchema, type Cluster } from './schema.js';

export const DEFAULT_CLUSTER_FILE = 'cluster.yaml';

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
 * The cluster definition's problems that do not depend on the manifest (YAML and schema),
 * or null: used to report them alongside a broken manifest.
 */
export function checkClusterShape(path: string | undefined): ConfigError | null {
  const file = path ?? (existsSync(DEFAULT_CLUSTER_FILE) ? DEFAULT_CLUSTER_FILE : undefined);
  if (file === undefined) return null;
  if (!existsSync(file)) return new ConfigError(file, [{ where: '(file)', message: 'cluster definition not found' }]);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    return new ConfigError(file, [{ where: '(file)', message: `expected YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const result = clusterSchema.safeParse(raw);
  return result.success ? null : new ConfigError(file, zodProblems(result.error));
}

/** Loads the cluster file when given or present, else the built-in defaults. */
export function loadCluster(path: string | undefined, manifest: Manifest): { cluster: Cluster; source: string } {
  if (path !== undefined) {
    if (!existsSync(path)) throw new ConfigError(path, [{ where: '(file)', message: 'cluster definition not found' }]);
    return { cluster: parseCluster(readFileSync(path, 'utf8'), path, manifest), source: path };
  }
  if (existsSync(DEFAULT_CLUSTER_FILE)) {
    return { cluster: parseCluster(readFileSync(DEFAULT_CLUSTER_FILE, 'utf8'), DEFAULT_CLUSTER_FILE, manifest), source: DEFAULT_CLUSTER_FILE };
  }
  return { cluster: parseCluster('{}', '(built-in defaults)', manifest), source: '(built-in defaults)' };
}
