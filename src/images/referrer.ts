import { sha256Of } from '../sources/cache.js';

/**
 * An image's SBOM attached to it in a registry as an OCI 1.1 referrer: an artifact manifest
 * whose `subject` is the image's manifest, with the CycloneDX document as its one layer.
 * Registries without the referrers API (Distribution 2.x, Debian's docker-registry) are
 * served by the fallback the spec defines: an image index tagged `sha256-<hex of the subject>`
 * listing the referrers, which any client (oras, cosign, regctl) reads the same way.
 */

export const SBOM_ARTIFACT_TYPE = 'application/vnd.cyclonedx+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** The empty config an artifact without one carries (the spec's `{}` blob). */
export const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 } as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export const sha256 = (bytes: Buffer | string): string => `sha256:${sha256Of(Buffer.from(bytes))}`;

/** A blob's descriptor. */
export const describe = (mediaType: string, bytes: Buffer): Descriptor => ({ mediaType, digest: sha256(bytes), size: bytes.length });

/** The artifact manifest that carries `sbom` and points at `subject`; `created` is the build's date, so a re-push is byte-identical. */
export function sbomManifest(subject: Descriptor, sbom: Buffer, created: string): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SBOM_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers: [{ ...describe(SBOM_ARTIFACT_TYPE, sbom), annotations: { 'org.opencontainers.image.title': 'sbom.cdx.json' } }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': created },
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** The fallback tag of `subject`'s referrers: `sha256-<hex>`. */
export const referrersTag = (subjectDigest: string): string => subjectDigest.replace(':', '-');

/**
 * The referrers index with `referrer` in it: the existing one (if any) keeps every other entry;
 * an entry of the same artifact type that was ours before (an earlier SBOM of this image) is
 * replaced, so a re-push leaves one SBOM, not a growing list.
 */
export function referrersIndex(existing: { manifests?: Descriptor[] } | null, referrer: Descriptor): Buffer {
  const others = (existing?.manifests ?? []).filter((m) => m.digest !== referrer.digest && m.artifactType !== referrer.artifactType);
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...others, referrer] }));
}
