import { clusterWarnings } from '../cluster/schema.js';
import { CombinedError, ConfigError, oneLineText } from '../errors.js';
import { derive } from '../manifest/schema.js';
import { loadProject, type Project, type ProjectOptions } from '../project.js';
import { render } from '../render/render.js';

/** What the cluster definition allows but probably did not mean, on stderr, one line each. */
export function warnAboutCluster(project: Project): void {
  for (const w of clusterWarnings(project.cluster)) console.error(`pgha: warning: ${project.clusterSource}: ${w.where}: ${w.message}`);
}

export interface ValidateOptions extends ProjectOptions {
  /** Print the verdict as JSON on stdout: {ok, problems: [{source, where, message}], ...}. */
  json?: boolean;
}

/**
 * `pgha validate`: checks the manifest and the cluster definition; every problem is thrown
 * (with --json: printed as JSON, exit 2). Returns the exit status.
 */
export function validateCommand(root: string, opts: ValidateOptions): number {
  let project: Project;
  try {
    project = loadProject(root, opts);
    if (!opts.json) warnAboutCluster(project);
    render(project); // rendering also checks every pgpool.conf key it would write
  } catch (err) {
    const errors = err instanceof CombinedError ? err.errors : err instanceof ConfigError ? [err] : undefined;
    if (!opts.json || !errors) throw err;
    // As the text lines show them: nothing in a problem acts on a terminal that prints the JSON.
    const problems = errors.flatMap((e) => e.problems.map((p) => ({ source: e.source, where: oneLineText(p.where), message: oneLineText(p.message) })));
    console.log(JSON.stringify({ ok: false, problems }, null, 2));
    return 2;
  }
  const { manifest } = project;
  const d = derive(manifest);
  if (opts.json) {
    const warnings = clusterWarnings(project.cluster).map((w) => ({ source: project.clusterSource, where: w.where, message: w.message }));
    const versions = { postgres: manifest.postgres.version, pgpool: manifest.pgpool.version, alpine: manifest.alpine.version };
    console.log(JSON.stringify({ ok: true, manifest: project.manifestSource, cluster: project.clusterSource, versions, patches: d.patches.map((p) => p.name), problems: [], warnings }, null, 2));
    return 0;
  }
  console.log(`ok: ${project.manifestSource} (postgres ${manifest.postgres.version}, pgpool ${manifest.pgpool.version}, ${d.patches.length} patches) and ${project.clusterSource}`);
  return 0;
}
