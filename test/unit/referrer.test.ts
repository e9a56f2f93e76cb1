import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachSbom, readAttachedSbom, registryBase } from '../../src/images/registry-api.js';
import { EMPTY_CONFIG, referrersIndex, referrersTag, sbomManifest, sha256, type Descriptor } from '../../src/images/referrer.js';

const subject: Descriptor = { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256('image manifest'), size: 14 };
const sbom = Buffer.from('{"bomFormat":"CycloneDX","specVersion":"1.5"}');

describe('the SBOM as an OCI referrer', () => {
  it('an artifact manifest: the empty config, the SBOM as its one layer, the image as its subject; the same input gives the same bytes', () => {
    const m = JSON.parse(sbomManifest(subject, sbom, '2026-12-07T00:00:00Z').toString());
    expect(m).toMatchObject({ artifactType: 'application/vnd.cyclonedx+json', config: EMPTY_CONFIG, subject, layers: [{ digest: sha256(sbom), size: sbom.length }] });
    expect(sha256('{}')).toBe(EMPTY_CONFIG.digest);
    expect(sbomManifest(subject, sbom, 'x').equals(sbomManifest(subject, sbom, 'x'))).toBe(true);
  });

  it('the fallback index keeps other referrers and replaces an earlier SBOM', () => {
    const signature = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('sig'), size: 3, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' };
    const old = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('old'), size: 3, artifactType: 'application/vnd.cyclonedx+json' };
    const fresh = { ...old, digest: sha256('new') };
    expect(JSON.parse(referrersIndex({ manifests: [signature, old] }, fresh).toString()).manifests).toEqual([signature, fresh]);
    expect(referrersTag(subject.digest)).toBe(subject.digest.replace('sha256:', 'sha256-'));
  });

  it('plain HTTP only on loopback', () => {
    expect(registryBase('127.0.0.1:5000')).toBe('http://127.0.0.1:5000/v2');
    expect(registryBase('ghcr.io')).toBe('https://ghcr.io/v2');
  });
});

/**
 * A registry without the referrers API, as Distribution 2.x is: blobs, manifests by tag and
 * digest, 404 on /referrers. Enough to show the fallback tag is written and read back.
 */
function fakeRegistry() {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { type: string; body: Buffer }>();
  manifests.set(`img/${subject.digest}`, { type: subject.mediaType, body: Buffer.from('image manifest') });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url!, 'http://x');
    const m = /^\/v2\/(.+)\/(blobs|manifests|referrers)\/(.+)$/.exec(url.pathname);
    if (req.method === 'POST' && url.pathname.endsWith('/blobs/uploads/')) return res.writeHead(202, { Location: '/upload/1' }).end();
    if (req.method === 'PUT' && url.pathname === '/upload/1') return (blobs.set(url.searchParams.get('digest')!, body), res.writeHead(201).end());
    if (!m) return res.writeHead(404).end();
    const [, repo, kind, ref] = m;
    if (kind === 'referrers') return res.writeHead(404).end();
    if (kind === 'blobs') return blobs.has(ref!) ? res.writeHead(200).end(req.method === 'HEAD' ? undefined : blobs.get(ref!)) : res.writeHead(404).end();
    if (req.method === 'PUT') return (manifests.set(`${repo}/${ref}`, { type: req.headers['content-type']!, body }), res.writeHead(201).end());
    const found = manifests.get(`${repo}/${ref}`);
    return found ? res.writeHead(200, { 'Content-Type': found.type }).end(found.body) : res.writeHead(404).end();
  };
  return { server: createServer((req, res) => void handle(req, res)), manifests };
}

describe('attaching to a registry without the referrers API', () => {
  const fake = fakeRegistry();
  let registry = '';
  beforeAll(async () => {
    await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
    registry = `127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  });
  afterAll(() => fake.server.close());

  it('writes the artifact and the fallback index; a client reads the SBOM back; attaching again changes nothing', async () => {
    expect(await readAttachedSbom(registry, 'img', subject.digest)).toBeNull();
    const digest = await attachSbom(registry, 'img', subject.digest, sbom, '2026-12-07T00:00:00Z');
    expect(fake.manifests.has(`img/${digest}`)).toBe(true);
    const index = JSON.parse(fake.manifests.get(`img/${referrersTag(subject.digest)}`)!.body.toString());
    expect(index.manifests).toEqual([expect.objectContaining({ digest, artifactType: 'application/vnd.cyclonedx+json' })]);
    expect((await readAttachedSbom(registry, 'img', subject.digest))?.equals(sbom)).toBe(true);
    expect(await attachSbom(registry, 'img', subject.digest, sbom, '2026-12-07T00:00:00Z')).toBe(digest);
    expect(JSON.parse(fake.manifests.get(`img/${referrersTag(subject.digest)}`)!.body.toString()).manifests).toHaveLength(1);
  });
});
