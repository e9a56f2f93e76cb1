// Issue 26: `pgha sbom` on the images this run built, not on fixtures: the document is read from
// each image's own package database and must name what is really inside.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sbomFile } from '../../src/commands/sbom.js';
import { validateSbom } from '../../src/images/sbom.js';
import { derive } from '../../src/manifest/schema.js';
import { ROOT } from '../helpers.js';
import { engineOrSkip, ensureImages, manifest, plans } from './harness.js';

const docker = await engineOrSkip();

interface Component {
  name: string;
  version?: string;
  purl?: string;
  licenses?: unknown[];
  hashes?: { alg: string; content: string }[];
  pedigree?: { patches?: unknown[] };
}

describe.skipIf(!docker)('pgha sbom on the built Debian images', () => {
  const out = mkdtempSync(join(tmpdir(), 'pgha-sbom-'));
  const docs: Record<string, { text: string; components: Component[] }> = {};

  beforeAll(async () => {
    await ensureImages(docker!, ['postgres/bookworm', 'pgpool/bookworm']);
    const r = await execa('npx', ['tsx', join(ROOT, 'src/cli.ts'), 'sbom', '--out', out], { cwd: ROOT, all: true, reject: false, timeout: 300_000 });
    expect(r.exitCode, r.all).toBe(0);
    for (const name of ['postgres/bookworm', 'pgpool/bookworm']) {
      const text = readFileSync(sbomFile(out, name), 'utf8');
      docs[name] = { text, components: (JSON.parse(text) as { components: Component[] }).components };
    }
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  for (const name of ['postgres/bookworm', 'pgpool/bookworm']) {
    it(`${name}: valid CycloneDX 1.5; pgpool-II ${manifest.pgpool.version} with its tarball's sha256 and every patch; postgresql-client and openssh-server with versions and licences`, async () => {
      const { text, components } = docs[name]!;
      expect(await validateSbom(text)).toBeNull();
      const pgpool = components.find((c) => c.name === 'pgpool-II')!;
      expect(pgpool.version).toBe(manifest.pgpool.version);
      expect(pgpool.hashes).toContainEqual({ alg: 'SHA-256', content: manifest.pgpool.tarball.sha256 });
      expect(pgpool.pedigree?.patches).toHaveLength(derive(manifest).patches.length);
      for (const pkg of ['postgresql-client-15', 'openssh-server']) {
        const c = components.find((x) => x.name === pkg);
        expect(c, `${pkg} in ${name}`).toBeDefined();
        expect(c!.version).toMatch(/\d/);
        expect(c!.purl).toMatch(new RegExp(`^pkg:deb/debian/${pkg}@`));
        expect(c!.licenses?.length, `${pkg} licences`).toBeGreaterThan(0);
      }
      // Read from the image, not from this machine: the count is the image's own dpkg database.
      const inImage = await execa('docker', ['run', '--rm', '--entrypoint', 'dpkg-query', plans[name]!.ref, '-W', '-f', '${db:Status-Abbrev}\\n']);
      const installed = inImage.stdout.split('\n').filter((l) => /^.i/.test(l)).length;
      expect(components.filter((c) => c.purl?.startsWith('pkg:deb/')).length).toBe(installed);
    });
  }
});
