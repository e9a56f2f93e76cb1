import { OCI_INDEX, OCI_MANIFEST, SBOM_ARTIFACT_TYPE, describe, referrersIndex, referrersTag, sbomManifest, EMPTY_CONFIG, type Descriptor } from './referrer.js';

/**
 * The few calls of the OCI distribution API that attaching an SBOM needs, anonymous like
 * `pgha publish`'s push, each bounded. Plain HTTP only on loopback (as Docker treats
 * 127.0.0.0/8 as an insecure registry by default); HTTPS everywhere else.
 */

/** Bound on one request: a registry that stops answering must not hang publish. */
export const REGISTRY_REQUEST_MS = 30_000;

const MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

/** The API's base URL for `registry` (host[:port]). */
export function registryBase(registry: string): string {
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return `${loopback ? 'http' : 'https'}://${registry}/v2`;
}

function call(method: string, url: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
  return fetch(url, { method, headers: init.headers, body: init.body ? new Uint8Array(init.body) : undefined, signal: AbortSignal.timeout(REGISTRY_REQUEST_MS), redirect: 'follow' });
}

async function expectStatus(res: Response, ok: number[], what: string): Promise<Response> {
  if (ok.includes(res.status)) return res;
  const text = (await res.text().catch(() => '')).trim().slice(0, 200);
  throw new Error(`${what}: HTTP ${res.status}${text ? ` ${text}` : ''}`);
}

/** The descriptor of a manifest the registry holds (its media type as served, digest and size). */
export async function manifestDescriptor(base: string, repo: string, digest: string): Promise<Descriptor> {
  const res = await expectStatus(await call('GET', `${base}/${repo}/manifests/${digest}`, { headers: { Accept: MANIFEST_TYPES.join(', ') } }), [200], `GET ${repo}@${digest}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { ...describe(res.headers.get('content-type') ?? OCI_MANIFEST, bytes) };
}

/** Uploads `bytes` as a blob unless the registry has it (monolithic upload: POST, then PUT with the digest). */
export async function putBlob(base: string, repo: string, bytes: Buffer): Promise<void> {
  const { digest } = describe('', bytes);
  if ((await call('HEAD', `${base}/${repo}/blobs/${digest}`)).status === 200) return;
  const started = await expectStatus(await call('POST', `${base}/${repo}/blobs/uploads/`), [202], `start a blob upload to ${repo}`);
  const location = started.headers.get('location');
  if (!location) throw new Error(`start a blob upload to ${repo}: the registry named no upload location`);
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  await expectStatus(await call('PUT', url.toString(), { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes }), [201], `upload ${digest} to ${repo}`);
}

/** Puts a manifest under `reference` (a tag or its digest); returns whether the registry took its subject itself (OCI-Subject). */
export async function putManifest(base: string, repo: string, reference: string, mediaType: string, bytes: Buffer): Promise<boolean> {
  const res = await expectStatus(await call('PUT', `${base}/${repo}/manifests/${reference}`, { headers: { 'Content-Type': mediaType }, body: bytes }), [201], `put ${repo}:${reference}`);
  return res.headers.has('oci-subject');
}

/** The referrers index under the fallback tag, or null when there is none yet. */
async function fallbackIndex(base: string, repo: string, tag: string): Promise<{ manifests?: Descriptor[] } | null> {
  const res = await call('GET', `${base}/${repo}/manifests/${tag}`, { headers: { Accept: OCI_INDEX } });
  if (res.status === 404) return null;
  await expectStatus(res, [200], `GET ${repo}:${tag}`);
  return (await res.json()) as { manifests?: Descriptor[] };
}

/**
 * Attaches `sbom` to the manifest `subjectDigest` of `repo`: the blobs, the artifact manifest by
 * its digest, and, when the registry has no referrers API, the fallback index. Returns the
 * artifact's digest. Pushing the same SBOM again changes nothing.
 */
export async function attachSbom(registry: string, repo: string, subjectDigest: string, sbom: Buffer, created: string): Promise<string> {
  const base = registryBase(registry);
  const subject = await manifestDescriptor(base, repo, subjectDigest);
  await putBlob(base, repo, Buffer.from('{}'));
  await putBlob(base, repo, sbom);
  const manifest = sbomManifest(subject, sbom, created);
  const artifact = { ...describe(OCI_MANIFEST, manifest), artifactType: SBOM_ARTIFACT_TYPE };
  const native = await putManifest(base, repo, artifact.digest, OCI_MANIFEST, manifest);
  if (!native) {
    const tag = referrersTag(subjectDigest);
    await putManifest(base, repo, tag, OCI_INDEX, referrersIndex(await fallbackIndex(base, repo, tag), artifact));
  }
  return artifact.digest;
}

/** The SBOM attached to `subjectDigest`, read back as a client does (referrers API, else the fallback tag); null when none. */
export async function readAttachedSbom(registry: string, repo: string, subjectDigest: string): Promise<Buffer | null> {
  const base = registryBase(registry);
  const api = await call('GET', `${base}/${repo}/referrers/${subjectDigest}?artifactType=${encodeURIComponent(SBOM_ARTIFACT_TYPE)}`);
  const index = api.status === 200 ? ((await api.json()) as { manifests?: Descriptor[] }) : await fallbackIndex(base, repo, referrersTag(subjectDigest));
  const entry = index?.manifests?.find((m) => m.artifactType === SBOM_ARTIFACT_TYPE);
  if (!entry) return null;
  const manifest = (await (await expectStatus(await call('GET', `${base}/${repo}/manifests/${entry.digest}`, { headers: { Accept: OCI_MANIFEST } }), [200], `GET ${repo}@${entry.digest}`)).json()) as { layers: Descriptor[]; config: Descriptor };
  if (manifest.config.digest !== EMPTY_CONFIG.digest || !manifest.layers[0]) return null;
  const blob = await expectStatus(await call('GET', `${base}/${repo}/blobs/${manifest.layers[0].digest}`), [200], `GET ${repo} blob ${manifest.layers[0].digest}`);
  return Buffer.from(await blob.arrayBuffer());
}
