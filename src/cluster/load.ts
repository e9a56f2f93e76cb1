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
  if (!result.success) throw new ConfigError(source, zodProblems(result.error));
  const problems = settingsProblems(result.data, manifest);
  if (problems.length) throw new ConfigError(source, problems);
  return result.data;
}

export function settingsProblems(cluster: Cluster, manifest: Manifest): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(cluster.pgpool.settings)) {
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
