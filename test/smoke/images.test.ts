import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { sourceUrl } from '../../src/builder/run.js';
import { imageExists } from '../../src/docker/engine.js';
import { derive } from '../../src/manifest/schema.js';
import { defaultCacheDir, ensurePgpoolTarball } from '../../src/sources/cache.js';
import { ROOT } from '../helpers.js';
import { engineOrSkip, ensureImages, manifest, plans } from './harness.js';

const docker = await engineOrSkip();

/** Secret-looking things in one file of a layer, by name and by content. */
function findings(name: string, body: Buffer): string[] {
  const out: string[] = [];
  const base = name.split('/').pop()!;
  if (/^ssh_host_.*_key$/.test(base) || /^id_(rsa|dsa|ecdsa|ed25519)$/.test(base)) out.push(`${name}: private SSH key file`);
  if (base === '.pgpoolkey') out.push(`${name}: pgpool AES key file`);
  if (base === 'pool_passwd' && body.toString().trim()) out.push(`${name}: non-empty pool_passwd`);
  if (base === 'pgpass' || base === '.pgpass' || base === 'pcppass' || base === '.pcppass') out.push(`${name}: password file`);
  const isElf = body.subarray(0, 4).toString('latin1') === '\x7fELF'; // binaries hold the marker as a string literal
  if (!isElf && body.length < 1_000_000 && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(body.toString('latin1'))) out.push(`${name}: PEM private key`);
  return out;
}

/** Walks every file of every layer of an image, as `docker save` exports it. */
async function scanLayers(ref: string): Promise<{ layers: number; files: number; findings: string[] }> {
  const result = { layers: 0, files: 0, findings: [] as string[] };
  const image = (await docker!.getImage(ref).get()) as unknown as NodeJS.ReadableStream;
  const outer = extract();
  outer.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', async () => {
      if (/layer\.tar$/.test(header.name) || /^blobs\/sha256\//.test(header.name)) {
        const data = Buffer.concat(chunks);
        const inner = extract();
        await new Promise<void>((resolve) => {
          inner.on('entry', (h, s, n) => {
            const body: Buffer[] = [];
            s.on('data', (c: unknown) => body.push(c as Buffer));
            s.on('end', () => {
              if (h.type === 'file') {
                result.files++;
                result.findings.push(...findings(h.name, Buffer.concat(body)));
              }
              n();
            });
          });
          inner.on('finish', resolve);
          inner.on('error', () => resolve()); // not a tar (a manifest or config blob)
          const src = Readable.from([data]);
          (data[0] === 0x1f && data[1] === 0x8b ? src.pipe(createGunzip()) : src).pipe(inner);
        });
        result.layers++;
      }
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    outer.on('finish', resolve);
    outer.on('error', reject);
    image.pipe(outer);
  });
  return result;
}

describe.skipIf(!docker)('built images', () => {
  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm', 'pgpool/bookworm']);
  });

  for (const name of ['postgres/bookworm', 'pgpool/bookworm', 'pgpool/alpine']) {
    it(`${name}: no private key, password or AES key in any layer or in the history`, async (ctx) => {
      const ref = plans[name]!.ref;
      if (!(await imageExists(docker!, ref))) {
        ctx.skip(`${ref} was not built here: ${plans[name]!.noStandinReason ?? 'missing'}`);
      }
      const history = await docker!.getImage(ref).history();
      for (const step of history) {
        expect(step.CreatedBy, 'history').not.toMatch(/PRIVATE KEY|PASSWORD=\S|AUTHKEY=\S|PGPOOL_KEY=\S/);
      }
      const scan = await scanLayers(ref);
      expect(scan.layers).toBeGreaterThan(1);
      expect(scan.files).toBeGreaterThan(1000);
      expect(scan.findings).toEqual([]);
    });
  }

  it('the layer scan does find a key when one is there', () => {
    expect(findings('etc/ssh/ssh_host_ed25519_key', Buffer.from('x'))).toHaveLength(1);
    expect(findings('x/key.pem', Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n'))).toHaveLength(1);
    expect(findings('run/pgha/pgpool/pool_passwd', Buffer.from('postgres:AESxyz\n'))).toHaveLength(1);
  });

  it('carries true labels: the versions it was built from, the PostgreSQL it really runs, when, from which commit, under which licenses', async () => {
    const pg = await docker!.getImage(plans['postgres/bookworm']!.ref).inspect();
    expect(pg.Config.Labels).toMatchObject({ 'io.pgha.pgpool.version': manifest.pgpool.version, 'io.pgha.postgres.pinned': manifest.postgres.version, 'io.pgha.pgpool.sha256': manifest.pgpool.tarball.sha256 });
    const pgpool = await docker!.getImage(plans['pgpool/bookworm']!.ref).inspect();
    expect(pgpool.Config.Labels?.['io.pgha.pgpool.patches']).toBe(derive(manifest).patches.map((p) => p.name).join(','));
    expect(['upstream', 'standin']).toContain(pgpool.Config.Labels?.['io.pgha.bases']);
    // What each image really runs, asked of the image itself, not of the manifest.
    for (const [image, program] of [[plans['postgres/bookworm']!.ref, 'postgres'], [plans['pgpool/bookworm']!.ref, 'psql']] as const) {
      const labels = (await docker!.getImage(image).inspect()).Config.Labels ?? {};
      const out = spawnSync('docker', ['run', '--rm', '--network', 'none', '--entrypoint', program, image, '--version'], { encoding: 'utf8', timeout: 60_000 });
      const real = /\(PostgreSQL\) (\d+(?:\.\d+)*)/.exec(out.stdout)?.[1];
      expect(real, out.stdout + out.stderr).toBeDefined();
      expect(labels['io.pgha.postgres.version'], image).toBe(real);
      expect(labels['org.opencontainers.image.licenses']).toMatch(/^(PostgreSQL AND HPND|HPND AND PostgreSQL)$/);
      expect(labels['org.opencontainers.image.revision']).toMatch(/^([0-9a-f]{40}|unknown)$/);
      // The FROM image, as this engine holds it: a stand-in by its local name and image ID, an
      // upstream base by its registry name and the digest it was pulled by.
      const baseName = labels['org.opencontainers.image.base.name'] ?? '';
      const base = await docker!.getImage(labels['io.pgha.bases'] === 'standin' ? baseName : baseName.replace(/^docker\.io\/(library\/)?/, '')).inspect();
      expect(labels['io.pgha.base-images']!.split(',')).toContain(labels['io.pgha.bases'] === 'standin' ? baseName : baseName.replace(/^docker\.io\/(library\/)?/, ''));
      expect([base.Id, ...(base.RepoDigests ?? []).map((d) => d.slice(d.indexOf('@') + 1))]).toContain(labels['org.opencontainers.image.base.digest']);
      const created = Date.parse(labels['org.opencontainers.image.created'] ?? '');
      expect(created).toBeGreaterThan(Date.parse('2026-01-01'));
      expect(created).toBeLessThanOrEqual(Date.now());
      // Exactly what the build found ($PGHA_IMAGE_SOURCE, else an https git origin), or no label
      // when neither says: never a made-up value.
      expect(labels['org.opencontainers.image.source']).toBe(await sourceUrl(ROOT));
    }
  });

  it('build --json prints the results on stdout and its progress on stderr', () => {
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'build', '--json', '--only', 'postgres/bookworm'], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as { name: string; tag: string; status: string; bases: string }[];
    expect(results).toEqual([expect.objectContaining({ name: 'postgres/bookworm', tag: plans['postgres/bookworm']!.ref, status: 'built' })]);
    expect(r.stderr).toContain('pgha: pgpool tarball');
    expect(r.stderr).toContain('[postgres/bookworm]');
  });

  it('a wrong sha256 in a copy of the manifest stops the build before any image is built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-badsha-'));
    const wrong = '0'.repeat(64);
    const m = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8'));
    m.pgpool.tarball.sha256 = wrong;
    writeFileSync(join(dir, 'versions.json'), JSON.stringify(m));
    // The real tarball in a cache of its own: the manifest, not the file, is wrong.
    const cache = join(dir, 'cache');
    const real = await ensurePgpoolTarball(manifest, defaultCacheDir(ROOT));
    mkdirSync(cache);
    copyFileSync(real.path, join(cache, derive(manifest).tarballFile));
    const before = (await docker!.listImages({ all: true })).map((i) => i.Id).sort();
    const r = spawnSync('node', [join(ROOT, 'bin/pgha.js'), 'build', '--manifest', join(dir, 'versions.json')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PGHA_CACHE_DIR: cache },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`manifest pins ${wrong}, got ${manifest.pgpool.tarball.sha256}`);
    expect(r.stdout + r.stderr).not.toMatch(/Step 1\//);
    const after = (await docker!.listImages({ all: true })).map((i) => i.Id).sort();
    expect(after).toEqual(before);
  });
});
