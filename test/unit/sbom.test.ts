import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { releaseImages } from '../../src/images/catalog.js';
import { manifestLabels } from '../../src/images/labels.js';
import { debianPackages, PackageDbError, parseApkInstalled, parseDebianCopyright, parseDpkgStatus, parseOsRelease } from '../../src/images/packages.js';
import { ALPINE_CLIENT_FILES, imageSbom, validateSbom } from '../../src/images/sbom.js';
import { sbomInput, type ImageFacts, type ImageFiles } from '../../src/images/sbom-input.js';
import { copyrightTexts, tarEntries } from '../../src/images/sbom-read.js';
import { projectInput, renderProject, ROOT } from '../helpers.js';

// Fixtures (test/fixtures/sbom/README.md says where each comes from): a dpkg status excerpt of
// real stanzas, DEP-5 copyright files and an apk installed database written for this test.
const FIXTURES = join(ROOT, 'test/fixtures/sbom');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const project = projectInput();
const { manifest, derived } = project;
const rendered = renderProject();
const specOf = (name: string) => releaseImages(project.catalog).find((s) => s.name === name)!;
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const DEBIAN_DOCS = ['postgresql-client-15', 'openssh-server', 'libssl3', 'libpq5'];

/** What the edge would read from a built image of `name`, made of the fixtures. */
function factsOf(name: string, files: Partial<ImageFiles> = {}): ImageFacts {
  const spec = specOf(name);
  const debian = spec.family === 'debian';
  const base: ImageFiles = debian
    ? { osRelease: fixture('os-release.debian'), dpkgStatus: fixture('dpkg-status'), copyrights: Object.fromEntries(DEBIAN_DOCS.map((p) => [p, fixture(`doc/${p}/copyright`)])) }
    : { osRelease: fixture('os-release.alpine'), apkInstalled: fixture('apk-installed') };
  if (spec.kind === 'pgpool') Object.assign(base, { patchSeries: rendered.get(`images/${name}/patches/series`), patchesSkipped: '\n' });
  const labels = {
    ...manifestLabels(spec, manifest, derived),
    'org.opencontainers.image.created': '2026-12-08T10:11:12.000Z',
    'org.opencontainers.image.revision': REVISION,
    'org.opencontainers.image.source': 'https://github.com/example/pgha',
    'io.pgha.postgres.version': debian ? '15.18' : manifest.postgres.version,
  };
  return { id: `sha256:${'ab'.repeat(32)}`, labels, repoDigests: [], files: { ...base, ...files } };
}

const tool = { name: 'pgha', version: '0.1.0' };

interface Doc {
  specVersion: string;
  metadata: { component: { name: string; version: string; type: string } };
  components: { name: string; version?: string; type: string; purl?: string; hashes?: { alg: string; content: string }[]; licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[]; properties?: { name: string; value: string }[]; pedigree?: { patches: { type: string; diff: { url: string; text: { content: string; encoding: string } } }[] } }[];
}

const sbomOf = (name: string, files?: Partial<ImageFiles>) => imageSbom(sbomInput(specOf(name), project, factsOf(name, files), tool));
const licences = (c: Doc['components'][number]) => (c.licenses ?? []).map((l) => ('expression' in l ? `expr:${l.expression}` : (l.license.id ?? `name:${l.license.name}`)));

describe('package databases', () => {
  it('dpkg status: installed stanzas only, with version, architecture and source package', () => {
    expect(parseDpkgStatus(fixture('dpkg-status'))).toEqual([
      { manager: 'deb', name: 'libpq5', version: '15.18-0+deb12u1', arch: 'amd64', source: 'postgresql-15' },
      { manager: 'deb', name: 'libssl3', version: '3.0.19-1~deb12u2', arch: 'amd64', source: 'openssl' },
      // exim4-config (deinstall ok config-files) and telnet (purge ok not-installed, no Version) are skipped.
      { manager: 'deb', name: 'openssh-server', version: '1:9.2p1-2+deb12u10', arch: 'amd64', source: 'openssh' },
      { manager: 'deb', name: 'postgresql-client-15', version: '15.18-0+deb12u1', arch: 'amd64', source: 'postgresql-15' },
    ]);
  });

  it('dpkg status: an installed stanza without Version, or a line that is no field, is an error naming it', () => {
    const noVersion = 'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\n';
    expect(() => parseDpkgStatus(`${fixture('dpkg-status')}\n${noVersion}`)).toThrow(PackageDbError);
    expect(() => parseDpkgStatus(noVersion)).toThrow('/var/lib/dpkg/status: package libfoo1 (stanza at line 1): installed, but no Version field');
    expect(() => parseDpkgStatus('Package: x\nStatus: install ok\n')).toThrow(/package x \(stanza at line 1\): expected a Status of three words/);
    expect(() => parseDpkgStatus('Package: x\ngarbage\n')).toThrow('/var/lib/dpkg/status: line 2: expected "Field: value", got "garbage"');
  });

  it('DEP-5 copyright: each licence name once, compound names split; free text gives none', () => {
    expect(parseDebianCopyright(fixture('doc/postgresql-client-15/copyright'))).toEqual(['PostgreSQL', 'Custom-regex', 'Tcl', 'BSD-3-clause', 'GPL-2+']);
    expect(parseDebianCopyright(fixture('doc/openssh-server/copyright'))).toEqual(['OpenSSH', 'BSD-3-clause', 'BSD-2-clause', 'public-domain']);
    expect(parseDebianCopyright(fixture('doc/libpq5/copyright'))).toBeNull();
    const packages = debianPackages(fixture('dpkg-status'), (name) => (DEBIAN_DOCS.includes(name) ? fixture(`doc/${name}/copyright`) : undefined));
    expect(packages.map((p) => `${p.name}: ${p.licences.join(', ')}`)).toEqual([
      'libpq5: ',
      'libssl3: Apache-2.0, Artistic, GPL-1+',
      'openssh-server: OpenSSH, BSD-3-clause, BSD-2-clause, public-domain',
      'postgresql-client-15: PostgreSQL, Custom-regex, Tcl, BSD-3-clause, GPL-2+',
    ]);
  });

  it("apk's installed database: P, V, A, L and o of each package; a stanza without V: is an error", () => {
    const packages = parseApkInstalled(fixture('apk-installed'));
    expect(packages.map((p) => `${p.name} ${p.version} ${p.arch} ${p.source} [${p.licences.join('|')}]`)).toEqual([
      'musl 1.2.5-r21 x86_64 musl [MIT]',
      'busybox 1.37.0-r30 x86_64 busybox [GPL-2.0-only]',
      'libpq 18.1-r0 x86_64 postgresql18 [PostgreSQL]',
      'openssh-server 10.2_p1-r0 x86_64 openssh [SSH-OpenSSH]',
      'procps-ng 4.0.5-r0 x86_64 procps-ng [GPL-2.0-or-later AND LGPL-2.0-or-later]',
      'iputils-arping 20250605-r0 x86_64 iputils [BSD-3-Clause GPL-2.0-or-later]',
    ]);
    expect(() => parseApkInstalled('C:Q1x=\nP:foo\nA:x86_64\n\n')).toThrow('/lib/apk/db/installed: package foo (stanza at line 1): no V: field');
  });

  it('os-release: the distribution and its version', () => {
    expect(parseOsRelease(fixture('os-release.debian'))).toEqual({ id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(parseOsRelease(fixture('os-release.alpine'))).toMatchObject({ id: 'alpine', versionId: '3.23.3' });
    expect(() => parseOsRelease('NAME=x\n')).toThrow('/etc/os-release: (file): expected ID= and VERSION_ID=, got no ID and no VERSION_ID');
  });
});

describe('the SBOM of an image (CycloneDX 1.5)', () => {
  it('validates against the 1.5 JSON schema, for each image; and the check can fail', async () => {
    for (const name of ['pgpool/bookworm', 'postgres/bookworm', 'pgpool/alpine']) {
      expect(await validateSbom(sbomOf(name)), name).toBeNull();
    }
    const broken = JSON.parse(sbomOf('pgpool/bookworm')) as Doc;
    broken.components[0]!.type = 'gadget';
    expect(await validateSbom(JSON.stringify(broken))).not.toBeNull();
  });

  it('lists pgpool-II with the tarball of versions.json and every patch of the repository as pedigree', () => {
    const doc = JSON.parse(sbomOf('pgpool/bookworm')) as Doc;
    expect(doc.specVersion).toBe('1.5');
    expect(doc.metadata.component).toMatchObject({ type: 'container', name: 'pgha/pgpool', version: '4.7.2-bookworm' });
    const pgpool = doc.components.find((c) => c.name === 'pgpool-II')!;
    expect(pgpool.version).toBe('4.7.2');
    expect(pgpool.purl).toBe(`pkg:generic/pgpool-II@4.7.2?download_url=${encodeURIComponent(manifest.pgpool.tarball.url)}`);
    expect(pgpool.hashes).toEqual([{ alg: 'SHA-256', content: manifest.pgpool.tarball.sha256 }]);
    const pinned = manifest.patches['4.7']!;
    expect(pinned.length).toBeGreaterThanOrEqual(6);
    expect(pgpool.pedigree!.patches).toHaveLength(pinned.length);
    pgpool.pedigree!.patches.forEach((patch, i) => {
      const file = pinned[i]!.file;
      expect(patch.type).toBe('unofficial');
      expect(patch.diff.url).toBe(`https://github.com/example/pgha/blob/${REVISION}/${file}`);
      const bytes = Buffer.from(patch.diff.text.content, 'base64');
      expect(bytes.equals(readFileSync(join(ROOT, file))), file).toBe(true);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(pinned[i]!.sha256);
    });
    expect(pgpool.properties!.filter((p) => p.name === 'pgha:patch').map((p) => p.value.split(' ')[1])).toEqual(pinned.map((p) => p.name));
  });

  it('lists postgresql-client and openssh-server with versions, purls and licences; skips what is not installed', () => {
    const doc = JSON.parse(sbomOf('pgpool/bookworm')) as Doc;
    const byName = new Map(doc.components.map((c) => [c.name, c]));
    const client = byName.get('postgresql-client-15')!;
    expect(client.version).toBe('15.18-0+deb12u1');
    expect(client.purl).toBe('pkg:deb/debian/postgresql-client-15@15.18-0+deb12u1?arch=amd64&distro=debian-12&upstream=postgresql-15');
    expect(licences(client).sort()).toEqual(['BSD-3-Clause', 'PostgreSQL', 'TCL', 'name:Custom-regex', 'name:GPL-2+']);
    const sshd = byName.get('openssh-server')!;
    expect(sshd.version).toBe('1:9.2p1-2+deb12u10');
    expect(sshd.purl).toBe('pkg:deb/debian/openssh-server@1:9.2p1-2+deb12u10?arch=amd64&distro=debian-12&upstream=openssh');
    expect(licences(sshd).sort()).toEqual(['BSD-2-Clause', 'BSD-3-Clause', 'name:OpenSSH', 'name:public-domain']);
    expect(licences(byName.get('libpq5')!)).toEqual([]);
    expect(byName.has('exim4-config')).toBe(false);
    expect(byName.has('telnet')).toBe(false);
    expect(byName.get('debian')).toMatchObject({ type: 'operating-system', version: '12' });
    // The same image gives the same document.
    expect(sbomOf('pgpool/bookworm')).toBe(JSON.stringify(doc, null, 2) + '\n');
  });

  it('Alpine: apk packages, and the PostgreSQL client files copied from the official image, with their origin', () => {
    const doc = JSON.parse(sbomOf('pgpool/alpine')) as Doc;
    const byName = new Map(doc.components.map((c) => [c.name, c]));
    expect(byName.get('openssh-server')!.purl).toBe('pkg:apk/alpine/openssh-server@10.2_p1-r0?arch=x86_64&distro=alpine-3.23.3&upstream=openssh');
    expect(licences(byName.get('procps-ng')!)).toEqual(['expr:GPL-2.0-or-later AND LGPL-2.0-or-later']);
    expect(licences(byName.get('iputils-arping')!).sort()).toEqual(['BSD-3-Clause', 'GPL-2.0-or-later']);
    const copied = byName.get('postgresql')!;
    expect(copied.version).toBe(manifest.postgres.version);
    expect(copied.properties).toEqual(expect.arrayContaining([{ name: 'pgha:copied-from', value: derived.bases.postgresAlpine }, { name: 'pgha:file', value: '/usr/local/lib/libpq.so.5*' }]));
    expect(licences(copied)).toEqual(['PostgreSQL']);
    expect(JSON.parse(sbomOf('pgpool/bookworm')).components.some((c: { name: string }) => c.name === 'postgresql')).toBe(false);
  });

  it('the copied files are those the Alpine Dockerfile copies from the postgres image', () => {
    const dockerfile = rendered.get('images/pgpool/alpine/Dockerfile')!;
    const copied = [...dockerfile.matchAll(/^COPY --from=postgres-client (.+) \/usr\/local\/(?:lib|bin)\/$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copied).toEqual(ALPINE_CLIENT_FILES);
  });

  it('refuses an image whose patch series is not the manifest\'s, or that left a patch out', () => {
    const first = derived.patches[0]!.name;
    expect(() => sbomOf('pgpool/bookworm', { patchesSkipped: `${first}\n` })).toThrow(`pgha/pgpool:4.7.2-bookworm: built leaving out ${first} (a control image, not a release)`);
    expect(() => sbomOf('pgpool/bookworm', { patchSeries: `# series\n${first}\tx.patch\tt\tm\n` })).toThrow(/built with patches watchdog-ping-rtt, the manifest pins watchdog-ping-rtt,/);
    expect(() => sbomOf('pgpool/bookworm', { dpkgStatus: 'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\n' })).toThrow(/no Version field/);
  });
});

describe('reading an image archive (the edge, without an engine)', () => {
  it('finds each package\'s copyright file, following linked doc directories and linked files', async () => {
    const tar = pack();
    tar.entry({ name: 'doc/', type: 'directory' });
    tar.entry({ name: 'doc/a/copyright' }, 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n');
    tar.entry({ name: 'doc/a/changelog.gz' }, 'not read');
    tar.entry({ name: 'doc/b', type: 'symlink', linkname: 'a' });
    tar.entry({ name: 'doc/c/copyright', type: 'symlink', linkname: '../a/copyright' });
    tar.entry({ name: 'doc/d/copyright', type: 'symlink', linkname: '../nowhere/copyright' });
    tar.finalize();
    const entries = await tarEntries(Readable.from(tar as unknown as AsyncIterable<Buffer>), (n) => /^doc\/[^/]+(\/copyright)?$/.test(n));
    expect([...entries.keys()].sort()).toEqual(['doc/a/copyright', 'doc/b', 'doc/c/copyright', 'doc/d/copyright']);
    const texts = copyrightTexts(entries);
    expect(Object.keys(texts).sort()).toEqual(['a', 'b', 'c']);
    expect(texts.b).toBe(texts.a);
    expect(parseDebianCopyright(texts.c!)).toEqual(['MIT']);
  });
});
