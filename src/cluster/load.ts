import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError, jsonPath, type Problem } from '../errors.js';
import { InputFileError, readInputText } from '../fsutil.js';
import { checkSourceName, zodProblems } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { checkKey, kindProblem } from '../pgpool/params.js';
import { indexProblem, KEY_PATTERN, managedBy, valueProblem } from '../pgpool/conf.js';
import { engineProblems } from './placement.js';
import { clusterSchema, type Cluster } from './schema.js';
import { backendMaxConnections } from './topology.js';

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
  // The settings keys are checked as written, even when the schema failed elsewhere (the
  // parsed record has no __proto__ key: assigning one sets the prototype); a value the
  // schema refused already has its line.
  const refused = new Set(result.error?.issues.filter((i) => i.path[0] === 'pgpool' && i.path[1] === 'settings').map((i) => String(i.path[2])));
  const settings = Object.fromEntries(Object.entries(rawSettings(raw)).filter(([key]) => !refused.has(key)));
  const problems = [...(result.error ? zodProblems(result.error) : []), ...settingsProblems(settings, manifest)];
  // The placement is checked whatever the settings say: both are reported in one run.
  if (result.success) problems.push(...engineProblems(result.data, { subnet: writtenSubnet(raw) }));
  if (result.success && !problems.length) problems.push(...poolProblems(result.data));
  if (problems.length) throw new ConfigError(source, problems);
  return result.data!;
}

/**
 * The largest max_connections a postgres node starts with: PostgreSQL's MAX_BACKENDS
 * (262143) less the other server processes PostgreSQL 15 counts against it with
 * max_connections (check_maxconnections: autovacuum_max_workers 3, the autovacuum launcher,
 * max_worker_processes 8, postgres-setup.sh's max_wal_senders 10). The entrypoint takes up to
 * 999999999, so this is the bound that holds.
 */
export const MAX_BACKEND_CONNECTIONS = 262143 - (3 + 1 + 8 + 10);

/** The backends' max_connections all pgpool nodes' pools need (backendMaxConnections), if PostgreSQL cannot start with it. */
function poolProblems(cluster: Cluster): Problem[] {
  const needed = backendMaxConnections(cluster);
  if (needed <= MAX_BACKEND_CONNECTIONS) return [];
  const key = ['num_init_children', 'max_pool'].find((k) => k in cluster.pgpool.settings);
  const where = key ? jsonPath(['pgpool', 'settings', key]) : 'pgpool.nodes';
  return [{ where, message: `expected pgpool.nodes x num_init_children x max_pool to fit the postgres nodes' max_connections (at most ${MAX_BACKEND_CONNECTIONS}), got pools that need ${needed}` }];
}

/** Whether the definition gives network.subnet itself (engine: kubernetes has no default range). */
function writtenSubnet(raw: unknown): boolean {
  return (raw as { network?: { subnet?: unknown } } | null)?.network?.subnet !== undefined;
}

/** pgpool.settings of a definition that failed the schema elsewhere, so its keys are checked too. */
function rawSettings(raw: unknown): Record<string, unknown> {
  const settings = (raw as { pgpool?: { settings?: unknown } } | null)?.pgpool?.settings;
  return settings && typeof settings === 'object' && !Array.isArray(settings) ? (settings as Record<string, unknown>) : {};
}

/**
 * One problem per bad key of pgpool.settings: a name pgpool does not know, a key pgha sets
 * itself, a value pgpool.conf cannot hold (a line break, a control character, a quote pgpool
 * would read with its backslash) or that does not fit the parameter's kind.
 */
export function settingsProblems(settings: Record<string, unknown>, manifest: Manifest): Problem[] {
  const problems: Problem[] = [];
  const version = manifest.pgpool.version;
  for (const [key, value] of Object.entries(settings)) {
    const where = jsonPath(['pgpool', 'settings', key]);
    if (!KEY_PATTERN.test(key)) {
      problems.push({ where, message: 'expected a pgpool.conf parameter name (letters, digits and _)' });
      continue;
    }
    // A name every JavaScript object has (constructor, toString, __proto__) is no parameter,
    // whatever a lookup in a plain object would find.
    const unknown = Object.hasOwn(Object.prototype, key) ? `pgpool ${version} has no parameter ${key}` : (checkKey(key, version) ?? indexProblem(key, version));
    if (unknown) {
      problems.push({ where, message: unknown });
      continue;
    }
    const managed = managedBy(key);
    if (managed) {
      problems.push({ where, message: `${key} is set from ${managed.field}; change it there` });
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue; // the schema's line
    const bad = valueProblem(value) ?? kindProblem(key, value, version);
    if (bad) problems.push({ where, message: bad });
  }
  return problems;
}

/** The text of the cluster definition at `path`, or a ConfigError naming `source` with one line saying why not. */
function readClusterFile(path: string, source: string): string {
  try {
    return readInputText(path);
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    throw new ConfigError(source, [{ where: '(file)', message: err.missing ? 'cluster definition not found' : err.message }]);
  }
}

/**
 * The problems of the cluster definition at `path` that do not depend on the manifest (YAML
 * and schema), or null: used to report them alongside a broken manifest. No path: the
 * built-in defaults, which have none. `source` names the file in messages (default: the path).
 */
export function checkClusterShape(path: string | undefined, source = path): ConfigError | null {
  if (path === undefined || source === undefined) return null;
  checkSourceName('--cluster', source);
  let raw: unknown;
  try {
    raw = parseYaml(readClusterFile(path, source)) ?? {};
  } catch (err) {
    if (err instanceof ConfigError) return err;
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
  checkSourceName('--cluster', source);
  return { cluster: parseCluster(readClusterFile(path, source), source, manifest), source };
}
