import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkClusterShape, loadCluster } from './cluster/load.js';
import { CombinedError, ConfigError } from './errors.js';
import { somethingAt } from './fsutil.js';
import { imageCatalog, type ImageSpec } from './images/catalog.js';
import { loadManifestAndPatches, parseManifestAndPatches, type ManifestAndPatches } from './manifest/load.js';
import { derive, type Manifest } from './manifest/schema.js';
import { PARAM_TABLES } from './pgpool/params.js';
import { readTemplates } from './render/files.js';
import type { RenderInput } from './render/render.js';

/** The manifest a project root holds, used when none is named. */
export const MANIFEST_FILE = 'versions.json';
/** The cluster definition a project root may hold, used when none is named. */
export const CLUSTER_FILE = 'cluster.yaml';

export interface ProjectOptions {
  /**
   * The manifest; a relative path is taken from the current directory, like any path on a
   * command line. Default: versions.json in the root.
   */
  manifest?: string;
  /**
   * The cluster definition; a relative path is taken from the current directory. Default:
   * cluster.yaml in the root when present, else the built-in defaults. null: the built-in
   * defaults whatever the root holds (for commands that only need images/, which no cluster
   * definition changes).
   */
  cluster?: string | null;
}

/** A project's inputs, read from disk once: everything rendering needs, and where it came from. */
export interface Project extends RenderInput {
  root: string;
  /** The manifest as messages name it: the path given, or versions.json. */
  manifestSource: string;
}

/** The manifest's path and its name in messages: the path given, else the root's versions.json. */
function manifestFile(root: string, given: string | undefined): { path: string; source: string } {
  return given === undefined ? { path: join(root, MANIFEST_FILE), source: MANIFEST_FILE } : { path: given, source: given };
}

/** The cluster definition's path and its name, or undefined for the built-in defaults. */
function clusterFile(root: string, given: string | null | undefined): { path: string; source: string } | undefined {
  if (given === null) return undefined;
  if (given !== undefined) return { path: given, source: given };
  const path = join(root, CLUSTER_FILE);
  return somethingAt(path) ? { path, source: CLUSTER_FILE } : undefined;
}

/** The project files the image catalog copies verbatim into build contexts, each read once. */
function readSources(root: string, catalog: ImageSpec[]): Record<string, string> {
  const paths = new Set(catalog.flatMap((image) => image.files.flatMap((f) => ('source' in f ? [f.source] : []))));
  return Object.fromEntries([...paths].sort().map((p) => [p, readFileSync(join(root, p), 'utf8')]));
}

/**
 * Loads a project's inputs from its root: the manifest (checking the patch files it pins
 * and keeping their text: each is read once), the cluster definition, the templates and the
 * files copied verbatim into the build contexts.
 * Every problem of a broken manifest is reported together with the cluster definition's own
 * (a CombinedError); every error names its input.
 */
export function loadProject(root: string, opts: ProjectOptions = {}): Project {
  const manifestAt = manifestFile(root, opts.manifest);
  return assembleProject(root, () => loadManifestAndPatches(manifestAt.path, root, manifestAt.source), manifestAt.source, opts.cluster);
}

/**
 * A project whose manifest is given as text (`pgha bump` checks the manifest it is about to
 * write), under the name messages give it; everything else comes from the root.
 */
export function loadProjectWithManifest(root: string, manifestText: string, source = MANIFEST_FILE): Project {
  return assembleProject(root, () => parseManifestAndPatches(manifestText, source, root), source, undefined);
}

function assembleProject(root: string, readManifest: () => ManifestAndPatches, manifestSource: string, clusterOption: string | null | undefined): Project {
  const clusterAt = clusterFile(root, clusterOption);
  let loaded;
  try {
    loaded = readManifest();
  } catch (err) {
    const clusterProblems = checkClusterShape(clusterAt?.path, clusterAt?.source);
    if (err instanceof ConfigError && clusterProblems) throw new CombinedError([err, clusterProblems]);
    throw err;
  }
  const { manifest, patches } = loaded;
  const { cluster, source } = loadCluster(clusterAt?.path, manifest, clusterAt?.source);
  // Derived and catalogued once here; the command hands both down (render, build, cluster).
  const derived = derive(manifest);
  const catalog = imageCatalog(manifest, derived);
  return {
    root,
    manifest,
    derived,
    catalog,
    paramTables: PARAM_TABLES,
    manifestSource,
    cluster,
    clusterSource: source,
    templates: readTemplates(join(root, 'templates')),
    sources: readSources(root, catalog),
    patches,
  };
}

/** Only the manifest of a project (for commands that render nothing); `manifest` as in loadProject. */
export function loadProjectManifest(root: string, manifest?: string): Manifest {
  const at = manifestFile(root, manifest);
  return loadManifestAndPatches(at.path, root, at.source).manifest;
}
