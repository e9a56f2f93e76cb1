import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCluster } from '../src/cluster/load.js';
import { ConfigError } from '../src/errors.js';
import type { Manifest } from '../src/manifest/schema.js';
import { loadProject, type Project } from '../src/project.js';
import { render } from '../src/render/render.js';

export const ROOT = resolve(import.meta.dirname, '..');
export const IN_CI = process.env.CI === 'true';

/** The project's own inputs (versions.json, cluster.yaml, templates, ...), loaded as the CLI loads them. */
export function projectInput(): Project {
  return loadProject(ROOT);
}

export function renderProject() {
  return render(projectInput());
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A test that needs an external tool runs when it is there; without it the test is
 * skipped locally (and reported as skipped) but fails under CI=true, where .ci/run
 * installs everything.
 */
export function toolMissing(cmd: string): boolean {
  if (hasCommand(cmd)) return false;
  if (IN_CI) throw new Error(`${cmd} is required under CI=true but is not installed`);
  return true;
}

export function readManifestJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(resolve(ROOT, 'versions.json'), 'utf8'));
}

/** The problems of a cluster definition's YAML, one "where: message" line each; none for a valid one. */
export function clusterProblems(yaml: string, manifest: Manifest): string[] {
  try {
    parseCluster(yaml, 'c.yaml', manifest);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.where}: ${p.message}`);
    throw err;
  }
  return [];
}
