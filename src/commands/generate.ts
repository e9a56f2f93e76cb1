import { resolve } from 'node:path';
import { renderDocs } from '../docs/env-reference.js';
import { UsageError } from '../errors.js';
import { loadProject, type ProjectOptions } from '../project.js';
import { drift, writeRendered, writeRenderedTo } from '../render/files.js';
import { render } from '../render/render.js';
import { warnAboutCluster } from './validate.js';

export interface GenerateOptions extends ProjectOptions {
  /**
   * Render under this directory instead of the project root: a new or empty directory, or
   * one an earlier --out wrote (it holds the marker file .pgha-generated).
   */
  out?: string;
  /** Write nothing; report what differs from a fresh render. */
  check?: boolean;
}

/** `pgha generate`: renders images/, deploy/ and, in the project tree, docs/reference/. Returns the exit status: 1 when --check finds a difference. */
export function generateCommand(root: string, opts: GenerateOptions): number {
  // An empty name resolves to the current directory: the project tree, or wherever the shell is.
  if (opts.out === '') throw new UsageError(['--out: expected a directory, got an empty name']);
  const project = loadProject(root, opts);
  warnAboutCluster(project);
  const dest = opts.out !== undefined ? resolve(opts.out) : root;
  // The generated docs pages belong to the project tree, not to a rendering placed elsewhere.
  const rendered = dest === root ? new Map([...render(project), ...renderDocs(project.manifest, project.manifestSource)]) : render(project);
  if (opts.check) {
    const d = drift(rendered, dest);
    const lines = [...d.changed.map((p) => `changed: ${p}`), ...d.missing.map((p) => `missing: ${p}`), ...d.extra.map((p) => `not generated: ${p}`)];
    if (lines.length) {
      console.error(`${lines.join('\n')}\ngenerated files are out of date: run npm run generate and commit the result`);
      return 1;
    }
    console.log(`up to date: ${rendered.size} generated files`);
    return 0;
  }
  // The project tree is updated in place (its other files are the project); a directory of
  // its own is replaced as a whole, so a failure leaves it as it was.
  const d = dest === root ? writeRendered(rendered, dest) : writeRenderedTo(rendered, dest);
  const touched = d.changed.length + d.missing.length + d.extra.length;
  console.log(`${rendered.size} files rendered under ${dest}: ${d.missing.length} new, ${d.changed.length} changed, ${d.extra.length} removed${touched ? '' : ' (no changes)'}`);
  return 0;
}
