import { clusterWarnings } from '../cluster/schema.js';
import { derive } from '../manifest/schema.js';
import { loadProject, type Project, type ProjectOptions } from '../project.js';
import { render } from '../render/render.js';

/** What the cluster definition allows but probably did not mean, on stderr, one line each. */
export function warnAboutCluster(project: Project): void {
  for (const w of clusterWarnings(project.cluster)) console.error(`pgha: warning: ${project.clusterSource}: ${w.where}: ${w.message}`);
}

/** `pgha validate`: checks the manifest and the cluster definition; every problem is thrown. */
export function validateCommand(root: string, opts: ProjectOptions): void {
  const project = loadProject(root, opts);
  warnAboutCluster(project);
  render(project); // rendering also checks every pgpool.conf key it would write
  const { manifest } = project;
  const d = derive(manifest);
  console.log(`ok: ${project.manifestSource} (postgres ${manifest.postgres.version}, pgpool ${manifest.pgpool.version}, ${d.patches.length} patches) and ${project.clusterSource}`);
}
