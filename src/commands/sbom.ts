import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectEngine, imageExists } from '../docker/engine.js';
import { UsageError } from '../errors.js';
import { releaseImages } from '../images/catalog.js';
import { imageSbom, validateSbom } from '../images/sbom.js';
import { sbomInput } from '../images/sbom-input.js';
import { readImageFacts } from '../images/sbom-read.js';
import { loadProject, type Project } from '../project.js';
import type { ImageSpec } from '../images/catalog.js';
import type Docker from 'dockerode';
import { say } from './say.js';

export interface SbomOptions {
  manifest?: string;
  /** Where the documents go (default: results/sbom/, beside results/last-build.json). */
  out?: string;
}

/** The file of an image's SBOM in `dir`: pgpool/bookworm → pgpool-bookworm.cdx.json. */
export function sbomFile(dir: string, imageName: string): string {
  return join(dir, `${imageName.replaceAll('/', '-')}.cdx.json`);
}

/** The package's own name and version: the SBOM's tool. */
export function toolVersion(root: string): { name: string; version: string } {
  return { name: 'pgha', version: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version };
}

/**
 * One built image's SBOM as JSON, read from the image and checked against the schema (a line
 * says so when ajv, a development dependency, is missing); an invalid document is an error.
 */
export async function builtImageSbom(docker: Docker, spec: ImageSpec, project: Project, tool: { name: string; version: string }): Promise<string> {
  const facts = await readImageFacts(docker, spec, project.derived);
  const json = imageSbom(sbomInput(spec, project, facts, tool));
  const invalid = await validateSbom(json);
  if (invalid === undefined) say(`${spec.ref}: the SBOM is not checked against the schema: ajv (a development dependency) is not installed`);
  else if (invalid !== null) throw new Error(`${spec.ref}: the SBOM is not valid CycloneDX 1.5: ${JSON.stringify(invalid).slice(0, 400)}`);
  return json;
}

/**
 * `pgha sbom [--out DIR]`: a CycloneDX 1.5 SBOM of every release image this engine has built,
 * read from the image itself (docs/releases.md), checked against the 1.5 schema and written as
 * <image>.cdx.json; prints each file written. An image not built here is named and left out.
 */
export async function sbomCommand(root: string, opts: SbomOptions): Promise<void> {
  if (opts.out === '') throw new UsageError(['--out: expected a directory, got an empty name']);
  const project = loadProject(root, { manifest: opts.manifest, cluster: null });
  const dir = resolve(opts.out ?? join(root, 'results', 'sbom'));
  const tool = toolVersion(root);
  const docker = await connectEngine();
  let written = 0;
  for (const spec of releaseImages(project.catalog)) {
    if (!(await imageExists(docker, spec.ref))) {
      say(`${spec.ref}: not built here; no SBOM`);
      continue;
    }
    const json = await builtImageSbom(docker, spec, project, tool);
    mkdirSync(dir, { recursive: true });
    const file = sbomFile(dir, spec.name);
    writeFileSync(file, json);
    console.log(file);
    written++;
  }
  if (!written) throw new UsageError(['no release image is built here: run pgha build first']);
}
