import { createHash } from 'node:crypto';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import type { Derived, Manifest } from '../manifest/schema.js';
import type { ImageSpec } from './catalog.js';
import type { OsPackage, OsRelease } from './packages.js';

/**
 * The SBOM of one built image: CycloneDX 1.5 JSON (docs/releases.md says why), made by a pure
 * function from what sbom-read.ts reads out of the image and what the manifest pins. The
 * document model and its JSON form come from @cyclonedx/cyclonedx-library; the one thing its
 * model lacks, a component's pedigree (pgpool's patches), is added to the JSON it writes.
 */

export const SBOM_SPEC = CDX.Spec.Spec1dot5;

/** pgpool-II's own licence (its COPYING: the historical permission notice, SPDX HPND). */
export const PGPOOL_LICENCE = 'HPND';

/** What the manifest pins of pgpool-II, and each patch applied to it, in order. */
export interface PgpoolFacts {
  version: string;
  url: string;
  sha256: string;
  patches: { name: string; file: string; sha256: string; text: string }[];
}

/** Files copied into an image from another image: which, from where, at which version. */
export interface CopiedFiles {
  name: string;
  version: string;
  description: string;
  licence: string;
  /** Paths in the image, as the Dockerfile's COPY names them (a glob where it uses one). */
  files: string[];
  /** The image they were copied from, and its digest when the engine knows it. */
  origin: { image: string; digest?: string };
}

export interface SbomInput {
  image: {
    /** The catalog's name: pgpool/bookworm. */
    name: string;
    /** pgha/pgpool. */
    repository: string;
    /** The exact tag: 4.7.2-bookworm. */
    tag: string;
    /** The engine's image id (sha256:...). */
    id: string;
    /** The registry's manifest digest, once pushed. */
    digest?: string;
    /** Where it was pushed (registry/repository), with the digest. */
    pushedAs?: string;
    labels: Readonly<Record<string, string>>;
  };
  os: OsRelease;
  packages: OsPackage[];
  pgpool: PgpoolFacts;
  copied: CopiedFiles[];
  tool: { name: string; version: string };
}

/** pgpool's facts from the manifest and the patch texts loadProject read (keyed by manifest path). */
export function pgpoolFacts(m: Manifest, d: Derived, patchTexts: Readonly<Record<string, string>>): PgpoolFacts {
  const patches = d.patches.map((p) => {
    const text = patchTexts[p.file];
    if (text === undefined) throw new Error(`${p.file}: the patch text was not read`);
    return { name: p.name, file: p.file, sha256: p.sha256, text };
  });
  return { version: m.pgpool.version, url: m.pgpool.tarball.url, sha256: m.pgpool.tarball.sha256, patches };
}

/** What the Alpine pgpool Dockerfile copies from the official postgres image (a test compares them). */
export const ALPINE_CLIENT_FILES = [
  '/usr/local/lib/libpq.so.5*',
  ...['psql', 'pg_isready', 'pg_basebackup', 'pg_dump', 'pg_dumpall', 'pg_restore'].map((p) => `/usr/local/bin/${p}`),
];

/**
 * The PostgreSQL client files an image holds that no package database lists: the Alpine
 * variant's libpq and client programs, copied from the official Alpine postgres image. Debian's
 * come from packages (libpq5, postgresql-client-N), so the dpkg database lists them.
 */
export function copiedPostgresClient(spec: ImageSpec, m: Manifest, d: Derived, labels: Readonly<Record<string, string>>, originDigest?: string): CopiedFiles[] {
  if (spec.kind !== 'pgpool' || spec.family !== 'alpine') return [];
  return [
    {
      name: 'postgresql',
      // What `pgha build` measured in the built image (psql --version), else what the manifest pins.
      version: labels['io.pgha.postgres.version'] ?? m.postgres.version,
      description: `libpq and the PostgreSQL client programs, copied from ${d.bases.postgresAlpine}`,
      licence: 'PostgreSQL',
      files: ALPINE_CLIENT_FILES,
      origin: { image: d.bases.postgresAlpine, ...(originDigest ? { digest: originDigest } : {}) },
    },
  ];
}

/** One licence name as CycloneDX holds it: an SPDX id where it is one, else a name. */
function licenceOf(name: string): CDX.Models.DisjunctiveLicense {
  let single: string | undefined;
  try {
    const node = parseSpdx(name);
    if ('license' in node && !node.plus && !node.exception) single = node.license;
  } catch {
    // Not SPDX syntax (Debian's "GPL-2+", "BSD-3-clause", "public-domain"): matched case-insensitively below.
  }
  const id = CDX.SPDX.fixupSpdxId(single ?? name);
  return id ? new CDX.Models.SpdxLicense(id) : new CDX.Models.NamedLicense(name);
}

/**
 * A package's licences: DEP-5 names each as licenceOf() makes it; apk's L: as one SPDX id or
 * expression when it is valid SPDX, else each blank-separated word (older packages list them so).
 */
export function packageLicences(pkg: OsPackage): CDX.Models.LicenseRepository {
  const repo = new CDX.Models.LicenseRepository();
  const [first] = pkg.licences;
  if (pkg.manager === 'apk' && first !== undefined) {
    let expression = false;
    try {
      expression = !('license' in parseSpdx(first));
    } catch {
      // Not one SPDX expression: its words, each on its own.
    }
    if (expression) repo.add(new CDX.Models.LicenseExpression(first));
    else for (const word of first.split(/\s+/).filter((w) => w && !/^(AND|OR|WITH)$/i.test(w))) repo.add(licenceOf(word));
    return repo;
  }
  for (const name of pkg.licences) repo.add(licenceOf(name));
  return repo;
}

function purlOf(type: string, namespace: string | undefined, name: string, version: string, qualifiers: Record<string, string>): string {
  return new PackageURL(type, namespace, name, version, qualifiers, undefined).toString();
}

/** An OS package: pkg:deb/debian/<name>@<version>?arch=..&distro=debian-12 (pkg:apk/alpine/... on Alpine). */
function packageComponent(pkg: OsPackage, os: OsRelease): CDX.Models.Component {
  const qualifiers: Record<string, string> = { arch: pkg.arch, distro: `${os.id}-${os.versionId}` };
  if (pkg.source && pkg.source !== pkg.name) qualifiers.upstream = pkg.source;
  const purl = purlOf(pkg.manager, os.id, pkg.name, pkg.version, qualifiers);
  return new CDX.Models.Component(CDX.Enums.ComponentType.Library, pkg.name, { bomRef: purl, version: pkg.version, purl, licenses: packageLicences(pkg) });
}

const sha256Hash = (hex: string) => new CDX.Models.HashDictionary([[CDX.Enums.HashAlgorithm['SHA-256'], hex]]);

/** The bom-ref of the pgpool-II component, where its pedigree is added. */
const PGPOOL_REF = 'pgpool-II';

/** pgpool-II, compiled from its tarball: purl with the download URL, the tarball's SHA-256, each patch's name and sha256. */
function pgpoolComponent(p: PgpoolFacts): CDX.Models.Component {
  const purl = purlOf('generic', undefined, 'pgpool-II', p.version, { download_url: p.url });
  const refs = new CDX.Models.ExternalReferenceRepository([new CDX.Models.ExternalReference(p.url, CDX.Enums.ExternalReferenceType.Distribution, { hashes: sha256Hash(p.sha256), comment: 'the source tarball it was compiled from' })]);
  const properties = new CDX.Models.PropertyRepository(p.patches.map((patch, i) => new CDX.Models.Property('pgha:patch', `${String(i + 1).padStart(2, '0')} ${patch.name} sha256:${patch.sha256}`)));
  const licenses = new CDX.Models.LicenseRepository([new CDX.Models.SpdxLicense(PGPOOL_LICENCE)]);
  const description = `compiled from its source tarball with ${p.patches.length} patches applied (pedigree.patches)`;
  return new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'pgpool-II', { bomRef: PGPOOL_REF, version: p.version, purl, hashes: sha256Hash(p.sha256), externalReferences: refs, properties, licenses, description });
}

/** Files copied from another image: a component with the origin image and the paths as properties. */
function copiedComponent(c: CopiedFiles): CDX.Models.Component {
  const purl = purlOf('generic', undefined, c.name, c.version, {});
  const from = c.origin.digest ? `${c.origin.image}@${c.origin.digest}` : c.origin.image;
  const properties = new CDX.Models.PropertyRepository([new CDX.Models.Property('pgha:copied-from', from), ...c.files.map((f) => new CDX.Models.Property('pgha:file', f))]);
  const licenses = new CDX.Models.LicenseRepository([licenceOf(c.licence)]);
  return new CDX.Models.Component(CDX.Enums.ComponentType.Library, c.name, { bomRef: `copied:${c.name}`, version: c.version, purl, description: c.description, properties, licenses });
}

/** The image itself (metadata.component): a container, its labels as properties; pkg:oci once it has a digest. */
function imageComponent(image: SbomInput['image']): CDX.Models.Component {
  const name = image.repository.slice(image.repository.lastIndexOf('/') + 1);
  const purl = image.digest ? purlOf('oci', undefined, name, image.digest, { repository_url: image.pushedAs ?? image.repository, tag: image.tag }) : undefined;
  const labels = Object.entries(image.labels).sort(([a], [b]) => a.localeCompare(b));
  const properties = new CDX.Models.PropertyRepository([new CDX.Models.Property('pgha:image-id', image.id), ...labels.map(([k, v]) => new CDX.Models.Property(k, v))]);
  return new CDX.Models.Component(CDX.Enums.ComponentType.Container, image.repository, { bomRef: `${image.repository}:${image.tag}`, version: image.tag, purl, properties, description: image.labels['org.opencontainers.image.description'] });
}

/** A serial number that is the same for the same image (and digest): urn:uuid with a version-5-shaped UUID. */
function serialNumber(image: SbomInput['image']): string {
  const h = createHash('sha256').update(`${image.id} ${image.digest ?? ''}`).digest('hex');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The URL of a patch file at the commit the image was built from (GitHub sources), else its path in the project. */
function patchUrl(file: string, labels: Readonly<Record<string, string>>): string {
  const source = labels['org.opencontainers.image.source'];
  const revision = labels['org.opencontainers.image.revision'];
  return source && revision && /^https:\/\/github\.com\/[^/]+\/[^/]+$/.test(source) ? `${source}/blob/${revision}/${file}` : file;
}

/** CycloneDX's pedigree of pgpool-II: each patch as an unofficial patch with its diff (URL and the text itself). */
function pgpoolPedigree(p: PgpoolFacts, labels: Readonly<Record<string, string>>) {
  return {
    patches: p.patches.map((patch) => ({
      type: 'unofficial',
      diff: { url: patchUrl(patch.file, labels), text: { contentType: 'text/x-diff', encoding: 'base64', content: Buffer.from(patch.text, 'utf8').toString('base64') } },
    })),
    notes: `pgpool-II ${p.version} from ${p.url} (sha256 ${p.sha256}), patched by pgha in this order with patch -p1: ${p.patches.map((x) => x.name).join(', ')}`,
  };
}

/** The bom model of one image (everything but pgpool's pedigree, which the model cannot hold). */
function bomOf(input: SbomInput): CDX.Models.Bom {
  const created = Date.parse(input.image.labels['org.opencontainers.image.created'] ?? '');
  const tool = new CDX.Models.Component(CDX.Enums.ComponentType.Application, input.tool.name, { version: input.tool.version });
  const metadata = new CDX.Models.Metadata({
    timestamp: Number.isNaN(created) ? undefined : new Date(created),
    tools: new CDX.Models.Tools({ components: new CDX.Models.ComponentRepository([tool]) }),
    component: imageComponent(input.image),
  });
  const os = new CDX.Models.Component(CDX.Enums.ComponentType.OperatingSystem, input.os.id, { bomRef: `os:${input.os.id}-${input.os.versionId}`, version: input.os.versionId, description: input.os.prettyName });
  const components = new CDX.Models.ComponentRepository([os, ...input.packages.map((p) => packageComponent(p, input.os)), pgpoolComponent(input.pgpool), ...input.copied.map(copiedComponent)]);
  return new CDX.Models.Bom({ metadata, components, serialNumber: serialNumber(input.image) });
}

/**
 * The SBOM of one image as CycloneDX 1.5 JSON text: the image (its labels), its OS, every
 * installed OS package (purl, version, licences), pgpool-II with its tarball and its patches as
 * pedigree, and the PostgreSQL client files copied from another image. The same input gives the
 * same text (lists sorted; the timestamp is the image's created label).
 */
export function imageSbom(input: SbomInput): string {
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(SBOM_SPEC));
  const doc = JSON.parse(serializer.serialize(bomOf(input), { sortLists: true })) as { components?: { 'bom-ref'?: string; pedigree?: unknown }[] };
  const pgpool = doc.components?.find((c) => c['bom-ref'] === PGPOOL_REF);
  if (!pgpool) throw new Error('the SBOM lost its pgpool-II component');
  pgpool.pedigree = pgpoolPedigree(input.pgpool, input.image.labels);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Checks a document against the CycloneDX 1.5 JSON schema (strict: no unknown fields), offline:
 * the library ships the schema; its validator needs ajv, a development dependency. Resolves to
 * null when valid, the validator's errors when not, undefined when ajv is not installed.
 */
export async function validateSbom(json: string): Promise<unknown> {
  try {
    return await new CDX.Validation.JsonStrictValidator(SBOM_SPEC.version).validate(json);
  } catch (err) {
    if (err instanceof CDX.Validation.MissingOptionalDependencyError) return undefined;
    throw err;
  }
}
