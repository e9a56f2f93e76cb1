import { derive } from '../manifest/schema.js';
import { loadProject, type ProjectOptions } from '../project.js';
import { render } from '../render/render.js';

/** `pgha validate`: checks the manifest and the cluster definition; every problem is thrown. */
export function validateCommand(root: string, opts: ProjectOptions): void {
  const project = loadProject(root, opts);
  render(project); // rendering also checks every pgpool.conf key it would write
  const { manifest } = project;
  const d = derive(manifest);
  console.log(`ok: ${project.manifestSource} (postgres ${manifest.postgres.version}, pgpool ${manifest.pgpool.version}, ${d.patches.length} patches) and ${project.clusterSource}`);
}
