import type { Derived, Manifest } from '../manifest/schema.js';
import type { ImageSpec } from './catalog.js';
import { debianPackages, parseApkInstalled, parseOsRelease, type OsPackage } from './packages.js';
import { copiedPostgresClient, pgpoolFacts, type SbomInput } from './sbom.js';
import { repositoryOf } from './tags.js';

/** The files of a built image the SBOM is made from (sbom-read.ts reads them; absent: not there). */
export interface ImageFiles {
  /** /usr/lib/os-release, else /etc/os-release. */
  osRelease: string;
  /** Debian: /var/lib/dpkg/status. */
  dpkgStatus?: string;
  /** Debian: /usr/share/doc/<package>/copyright, keyed by package name. */
  copyrights?: Readonly<Record<string, string>>;
  /** Alpine: /lib/apk/db/installed. */
  apkInstalled?: string;
  /** pgpool images: the applied patch series and the names left out (/usr/local/share/pgha/patches/). */
  patchSeries?: string;
  patchesSkipped?: string;
}

/** What the engine says of a built image, and the files read from it. */
export interface ImageFacts {
  id: string;
  labels: Readonly<Record<string, string>>;
  /** registry/repository@sha256:..., one per registry it was pushed to. */
  repoDigests: readonly string[];
  files: ImageFiles;
  /** The digest of the image the copied client files came from, when the engine has it. */
  originDigest?: string;
}

/** What loadProject read that the SBOM needs. */
export type SbomProject = { manifest: Manifest; derived: Derived; patches: Readonly<Record<string, string>> };

/**
 * A line when a pgpool image's recorded patch series is not the manifest's set, or a patch was
 * left out (the RTT smoke test's control image): its SBOM would list patches it does not have.
 */
export function appliedPatchesProblem(spec: ImageSpec, d: Derived, files: ImageFiles): string | null {
  if (spec.kind !== 'pgpool') return null;
  if (files.patchSeries === undefined) return `${spec.ref}: no /usr/local/share/pgha/patches/series in the image`;
  const applied = files.patchSeries
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split('\t')[0]);
  const pinned = d.patches.map((p) => p.name);
  if (applied.join(',') !== pinned.join(',')) return `${spec.ref}: built with patches ${applied.join(',') || 'none'}, the manifest pins ${pinned.join(',')}; rebuild it (pgha build)`;
  const skipped = files.patchesSkipped?.trim() ?? '';
  return skipped ? `${spec.ref}: built leaving out ${skipped} (a control image, not a release)` : null;
}

function osPackages(spec: ImageSpec, files: ImageFiles): OsPackage[] {
  if (spec.family === 'debian') {
    if (files.dpkgStatus === undefined) throw new Error(`${spec.ref}: no /var/lib/dpkg/status in the image`);
    return debianPackages(files.dpkgStatus, (name) => files.copyrights?.[name]);
  }
  if (files.apkInstalled === undefined) throw new Error(`${spec.ref}: no /lib/apk/db/installed in the image`);
  return parseApkInstalled(files.apkInstalled);
}

/** The SBOM's input for one image, from its catalog entry, the project and what was read from it. */
export function sbomInput(spec: ImageSpec, project: SbomProject, facts: ImageFacts, tool: SbomInput['tool']): SbomInput {
  const { manifest: m, derived: d } = project;
  const wrong = appliedPatchesProblem(spec, d, facts.files);
  if (wrong) throw new Error(wrong);
  const pushed = [...facts.repoDigests].sort()[0];
  const at = pushed?.lastIndexOf('@') ?? -1;
  return {
    image: {
      name: spec.name,
      repository: repositoryOf(spec),
      tag: spec.tag,
      id: facts.id,
      ...(pushed && at > 0 ? { digest: pushed.slice(at + 1), pushedAs: pushed.slice(0, at) } : {}),
      labels: facts.labels,
    },
    os: parseOsRelease(facts.files.osRelease),
    packages: osPackages(spec, facts.files),
    pgpool: pgpoolFacts(m, d, project.patches),
    copied: copiedPostgresClient(spec, m, d, facts.labels, facts.originDigest),
    tool,
  };
}
