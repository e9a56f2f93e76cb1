import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChangelogEntry } from '../../src/bump/changelog.js';
import { walkFiles } from '../../src/fsutil.js';
import { loadManifestAndPatches } from '../../src/manifest/load.js';
import { downloadPgpoolRelease, ensurePgpoolTarball } from '../../src/sources/cache.js';
import { describeOrigin, type TarballOrigin } from '../../src/sources/origin.js';
import { IN_CI, ROOT, toolMissing } from '../helpers.js';

// `pgha bump` run as a maintainer runs it, on a copy of this project pinned back to pgpool
// 4.6.1, and the result must be this very tree. pgpool.net cannot be reached from here, so a
// local stand-in serves the 4.7.2 tarball at the manifest's URL (the bytes of this tree's pin,
// taken from the Debian archive and checked against that pin). The Debian fallback of a bump
// takes only what Debian's signed metadata lists: 4.7.2 is in no suite's Sources (refused
// below), 4.6.1 is in trixie's (the copy's own starting tarball comes that way). Needs the
// Debian archive (CI has it).

/**
 * pgpool.net's own sha256 of its tarballs, as Homebrew pins them (Homebrew/homebrew-core,
 * Formula/p/pgpool-ii.rb, read through the project's code search): Debian's orig tarball of the
 * same version is byte-identical.
 */
const UPSTREAM_SHA256: Record<string, string> = {
  '4.6.1': '0f8805d93bc40002c8019dc40ae03a71a3d144bd39f3dffe6fa01f7fc19bb8e8',
  '4.7.2': 'e72b9d0ff3620f7da7e33a58dda44b77919d056752dc9bd86b2985c4988d1938',
};

/** The project's files as git sees them (tracked, and new files not ignored). */
function projectFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
}

const FROM = { version: '4.6.1', topDir: 'pgpool-II-4.6.1' };
const committed = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8'));
let copy = '';
let unavailable = '';
let sha461 = '';
let tarball461: Buffer | undefined;
let origin461: TarballOrigin | undefined;
/** This tree as it was copied: the tree may be edited while the test runs. */
const copied = new Map<string, Buffer>();
/** The stand-in for pgpool.net: the 4.7.2 tarball at the manifest's URL, 404 for anything else. */
let standin: Server | undefined;
let standinBase = '';
const standinUrl = (version: string) => `${standinBase}/mediawiki/download.php?f=pgpool-II-${version}.tar.gz`;

/** Runs the copy's own CLI (its PROJECT_ROOT is the copy); resolves with status and output. */
function pgha(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('node', [join(copy, 'bin/pgha.js'), ...args], { cwd: copy, env: { ...process.env, PGHA_CACHE_DIR: join(copy, '.cache/sources'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // Bounded: a hung download must fail the test, not hang it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolveRun({ status, stdout, stderr });
    });
  });
}

/** Every file of the copy (outside node_modules and the source cache) with its sha256. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of walkFiles(copy)) {
    if (f.startsWith('node_modules/') || f.startsWith('.cache/')) continue;
    out.set(f, createHash('sha256').update(readFileSync(join(copy, f))).digest('hex'));
  }
  return out;
}

function writeManifest(m: unknown) {
  writeFileSync(join(copy, 'versions.json'), JSON.stringify(m, null, 2) + '\n');
}

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'pgha-bump-copy-'));
  for (const f of projectFiles()) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(ROOT, f), join(copy, f));
    copied.set(f, readFileSync(join(ROOT, f)));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  let tarball472: Buffer;
  try {
    // 4.7.2 as the build takes it: pinned, from any source, accepted on this tree's sha256.
    const cache = mkdtempSync(join(tmpdir(), 'pgha-bump-cache-'));
    tarball472 = readFileSync((await ensurePgpoolTarball(loadManifestAndPatches(join(ROOT, 'versions.json'), ROOT, 'versions.json').manifest, cache, () => {}, { timeoutMs: 60_000 })).path);
    rmSync(cache, { recursive: true, force: true });
    standin = createServer((req, res) => {
      res.statusCode = req.url === '/mediawiki/download.php?f=pgpool-II-4.7.2.tar.gz' ? 200 : 404;
      res.end(res.statusCode === 200 ? tarball472 : undefined);
    });
    await new Promise<void>((r) => standin!.listen(0, '127.0.0.1', r));
    standinBase = `http://127.0.0.1:${(standin.address() as AddressInfo).port}`;
    // 4.6.1 as a bump takes it with no pin: the stand-in has no 4.6.1, so through Debian's signed chain.
    const old = await downloadPgpoolRelease(FROM.version, standinUrl(FROM.version), () => {}, { timeoutMs: 60_000 });
    sha461 = createHash('sha256').update(old.data).digest('hex');
    tarball461 = old.data;
    origin461 = old.origin;
  } catch (err) {
    if (IN_CI) throw err;
    unavailable = (err as Error).message;
    return;
  }
  // Pinned back to 4.6.1, as a project would have been before the bump. Its generated files
  // are left out: 4.6.1 cannot render them (the templates use 4.7's work_dir), and the bump
  // must write every one of them.
  writeManifest({
    ...committed,
    pgpool: { version: FROM.version, tarball: { url: standinUrl(FROM.version), sha256: sha461, topDir: FROM.topDir } },
    patches: { '4.6': [], ...committed.patches },
  });
  rmSync(join(copy, 'images'), { recursive: true });
});

afterAll(() => {
  standin?.close();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('pgha bump on a copy of the project pinned to pgpool 4.6.1', () => {
  it('refuses a minor with no patch set, a downgrade and a major change without their flags, and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const before = snapshot();
    const noSet = await pgha(['bump', 'pgpool', '4.8.0']);
    expect(noSet.status).toBe(1);
    expect(noSet.stderr).toContain('pgha: pgpool: 4.8.0 has no patch set: port the 4.6 patches to 4.8 under patches/pgpool/4.8/ and list them as patches["4.8"] in versions.json');
    const down = await pgha(['bump', 'alpine', '3.22.0', 'postgres', '16.1']);
    expect(down.status).toBe(1);
    expect(down.stderr.split('\n').filter(Boolean)).toEqual([
      `pgha: postgres: ${committed.postgres.version} -> 16.1 changes the major version (15 -> 16); existing data directories need an upgrade: pass --allow-major to do it anyway`,
      `pgha: alpine: ${committed.alpine.version} -> 3.22.0 is a downgrade; pass --allow-downgrade to do it anyway`,
      'pgha: nothing written',
    ]);
    const usage = await pgha(['bump', 'pgpool']);
    expect(usage.status).toBe(2);
    // With its flag a major change goes through (here as a dry run, with the pgpool bump that
    // makes this copy renderable at all) and says what to plan.
    const major = await pgha(['bump', '--dry-run', '--allow-major', 'postgres', '16.4', 'pgpool', '4.7.2']);
    expect(major.status, major.stderr).toBe(0);
    expect(major.stdout).toContain(`## pgha bump: pgpool 4.6.1 -> 4.7.2, postgres ${committed.postgres.version} -> 16.4`);
    expect(major.stdout).toContain('PostgreSQL 15 -> 16: data directories made by 15 cannot be opened by 16.');
    expect(major.stdout).toContain('dry run: nothing written');
    expect(snapshot()).toEqual(before);
  });

  it('stops at a patch that no longer applies, showing the failing hunk, and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    if (toolMissing('patch')) ctx.skip('patch is not installed');
    const manifestBefore = readFileSync(join(copy, 'versions.json'), 'utf8');
    const spec = committed.patches['4.7'][2];
    const file = join(copy, spec.file);
    const good = readFileSync(file, 'utf8');
    // A context line the release does not have: the hunk cannot apply.
    const broken = good.replace(/^ (\S.*)$/m, ' $1 /* not in the release */');
    expect(broken).not.toBe(good);
    writeFileSync(file, broken);
    const m = JSON.parse(manifestBefore);
    m.patches['4.7'][2].sha256 = createHash('sha256').update(broken).digest('hex');
    writeManifest(m);
    const before = snapshot();
    try {
      const r = await pgha(['bump', 'pgpool', '4.7.2']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`pgha: patch ${spec.name}: ${spec.file} does not apply cleanly to ${spec.target}:`);
      expect(r.stderr).toMatch(/Hunk #1 FAILED/);
      expect(r.stderr).toContain(`pgha: pgpool 4.7.2: 1 of ${committed.patches['4.7'].length} patches do not apply; nothing written`);
      expect(snapshot()).toEqual(before);
    } finally {
      writeFileSync(file, good);
      writeFileSync(join(copy, 'versions.json'), manifestBefore);
    }
  });

  it('stops when the cluster definition uses a key the new release no longer takes, naming it, and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const clusterFile = join(copy, 'cluster.yaml');
    const good = readFileSync(clusterFile, 'utf8');
    // logdir is a 4.6 key; 4.7 renamed it to work_dir and reads the old name only as an alias.
    const withOldKey = good.replace(/^  settings: \{\}/m, '  settings:\n    logdir: /tmp');
    expect(withOldKey).not.toBe(good);
    writeFileSync(clusterFile, withOldKey);
    const before = snapshot();
    try {
      const r = await pgha(['bump', 'pgpool', '4.7.2']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('pgha: the project does not build with pgpool 4.7.2:');
      expect(r.stderr).toMatch(/logdir.*work_dir/);
      expect(r.stderr).toContain('pgha: nothing written');
      expect(snapshot()).toEqual(before);
    } finally {
      writeFileSync(clusterFile, good);
    }
  });

  it('refuses a tarball that is not the release asked for, and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    // A mirror that answers every name with the 4.6.1 tarball.
    const mirror = createServer((_req, res) => res.end(tarball461));
    await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
    const manifestBefore = readFileSync(join(copy, 'versions.json'), 'utf8');
    const m = JSON.parse(manifestBefore);
    m.pgpool.tarball.url = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/pgpool-II-4.6.1.tar.gz`;
    writeManifest(m);
    const before = snapshot();
    try {
      const r = await pgha(['bump', 'pgpool', '4.7.2']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('pgha: the tarball does not unpack to pgpool-II-4.7.2/');
      expect(snapshot()).toEqual(before);
    } finally {
      mirror.close();
      writeFileSync(join(copy, 'versions.json'), manifestBefore);
    }
  });

  it("took the copy's 4.6.1 from Debian only through trixie's signed InRelease and Sources; the bytes are upstream's", (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    console.log(`4.6.1 came from ${describeOrigin(origin461!)}`);
    expect(origin461).toMatchObject({ kind: 'debian', suite: 'trixie', sourceVersion: '4.6.1-2', index: 'main/source/Sources.gz', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' });
    expect((origin461 as { url: string }).url).toMatch(/^https?:\/\/deb\.debian\.org\/debian\/pool\/main\/p\/pgpool2\/pgpool2_4\.6\.1\.orig\.tar\.gz$/);
    expect(sha461).toBe(UPSTREAM_SHA256['4.6.1']);
    expect(committed.pgpool.tarball.sha256).toBe(UPSTREAM_SHA256['4.7.2']);
  });

  it('refuses 4.7.2 when the upstream URL fails: no Debian suite lists it, so nothing vouches for a copy; one line, nothing written', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const manifestBefore = readFileSync(join(copy, 'versions.json'), 'utf8');
    const m = JSON.parse(manifestBefore);
    m.pgpool.tarball.url = `${standinBase}/gone/pgpool-II-4.6.1.tar.gz`;
    writeManifest(m);
    const before = snapshot();
    try {
      const r = await pgha(['bump', 'pgpool', '4.7.2']);
      expect(r.status).toBe(1);
      const refusal = r.stderr.split('\n').filter((l) => l.startsWith('pgha: pgpool 4.7.2: '));
      expect(refusal).toHaveLength(1);
      expect(refusal[0]).toMatch(/^pgha: pgpool 4\.7\.2: no tarball that can be trusted: http:\/\/127\.0\.0\.1:\d+\/gone\/pgpool-II-4\.7\.2\.tar\.gz failed \(HTTP 404 from \S+\), and Debian's copy cannot be verified: pgpool2_4\.7\.2\.orig\.tar\.gz is listed in no Sources index of Debian's archive \(pgpool2 versions there: unstable: [^;]+; testing: [^;]+; trixie: 4\.6\.1-2; bookworm: [^)]+\).*; nothing written$/);
      console.log(refusal[0]);
      expect(snapshot()).toEqual(before);
    } finally {
      writeFileSync(join(copy, 'versions.json'), manifestBefore);
    }
  });

  it('--dry-run prints the whole change and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const before = snapshot();
    const r = await pgha(['bump', '--dry-run', 'pgpool', '4.7.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('## pgha bump: pgpool 4.6.1 -> 4.7.2');
    expect(r.stdout).toContain('dry run: nothing written');
    expect(snapshot()).toEqual(before);
  });

  it('bumps to 4.7.2 from the upstream URL: sha256, patches, parameter diff, regeneration; the result is this tree plus a changelog entry', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const r = await pgha(['bump', '--date', '2026-11-22', 'pgpool', '4.7.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`pgha: fetching ${standinUrl('4.7.2')}`);
    const sha = committed.pgpool.tarball.sha256;
    expect(r.stdout.split('\n').slice(0, 4)).toEqual(['## pgha bump: pgpool 4.6.1 -> 4.7.2', '', `**Tarball origin**: upstream, ${standinUrl('4.7.2')}`, '']);
    expect(r.stdout).toContain(`- tarball: sha256 ${sha}\n`);
    expect(r.stdout).toContain(`- patches: ${committed.patches['4.7'].length} of ${committed.patches['4.7'].length} apply to 4.7.2 without fuzz or offset and leave their markers`);
    expect(r.stdout).toMatch(/- pgpool\.conf parameters: 4\.6\.\d+ -> 4\.7\.2: \d+ added: [^;]*recovery_database[^;]*; 0 removed; 1 renamed: logdir -> work_dir/);
    console.log(r.stdout);

    // Every project file equals this tree's, generated files and the parameter table included;
    // versions.json too but for the tarball's URL (the stand-in's, moved to 4.7.2); the
    // changelog is this tree's with the new entry on top.
    const differing = [...copied].filter(([f, data]) => f !== 'CHANGELOG.md' && f !== 'versions.json' && !(existsSync(join(copy, f)) && data.equals(readFileSync(join(copy, f))))).map(([f]) => f);
    expect(differing).toEqual([]);
    const bumped = readFileSync(join(copy, 'versions.json'), 'utf8');
    expect(bumped).toBe(copied.get('versions.json')!.toString().replace(committed.pgpool.tarball.url, standinUrl('4.7.2')));
    const changelog = readFileSync(join(copy, 'CHANGELOG.md'), 'utf8');
    const entry = /^## \[postgres [^\]]+\] - 2026-11-22\n[\s\S]*?(?=^## |(?![\s\S]))/m.exec(changelog)?.[0] ?? '';
    expect(entry).toContain(`- pgpool 4.6.1 -> 4.7.2 (tarball sha256 ${sha}, fetched from upstream, ${standinUrl('4.7.2')})`);
    expect(changelog).toBe(addChangelogEntry(copied.get('CHANGELOG.md')!.toString(), entry));
    // The verified tarball is in the source cache for the build that follows.
    expect(createHash('sha256').update(readFileSync(join(copy, '.cache/sources/pgpool-II-4.7.2.tar.gz'))).digest('hex')).toBe(sha);
  });
});

describe('pgha bump --check', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    // Stand-ins for pgpool.net's download page and Docker Hub's tag listings.
    server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/downloads')) res.end('<a href="download.php?f=pgpool-II-4.7.3.tar.gz">4.7.3</a> <a href="download.php?f=pgpool-II-4.8.0.tar.gz">4.8.0</a>');
      else if (url.includes('/library/postgres/')) res.end(JSON.stringify({ results: [{ name: '15.20' }, { name: '15.20-bookworm' }, { name: '16.6' }] }));
      else if (url.includes('/library/alpine/')) {
        res.statusCode = 503;
        res.end('unavailable');
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it('lists the newest release of each pinned line and where it looked; a source that fails is named, with exit 3', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const before = snapshot();
    const env = { PGHA_PGPOOL_DOWNLOADS_URL: `${base}/downloads`, PGHA_DOCKER_HUB_URL: base };
    const r = await pgha(['bump', '--check', '--json'], env);
    expect(r.status).toBe(3);
    const report = JSON.parse(r.stdout);
    expect(report.complete).toBe(false);
    const [pgpool, postgres, alpine] = report.components;
    expect(pgpool).toMatchObject({ component: 'pgpool', newest: '4.7.3', newestOverall: '4.8.0', source: `${base}/downloads` });
    expect(postgres).toMatchObject({ component: 'postgres', current: committed.postgres.version, newest: '15.20', newestOverall: '16.6' });
    expect(alpine).toMatchObject({ component: 'alpine', newest: null, error: 'HTTP 503' });
    const text = await pgha(['bump', '--check'], env);
    expect(text.status).toBe(3);
    expect(text.stdout).toContain(`alpine ${committed.alpine.version}: unreachable: ${base}/v2/repositories/library/alpine/tags?page_size=100&name=3. (HTTP 503)`);
    // --latest refuses as a whole when a source cannot be read.
    const latest = await pgha(['bump', '--latest'], env);
    expect(latest.status).toBe(3);
    expect(latest.stderr).toContain('pgha: nothing bumped: a source could not be read');
    expect(snapshot()).toEqual(before);
  });

  it('against the real upstream listings, reports each as found or unreachable, exit 3 exactly when one is unreachable', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const r = await pgha(['bump', '--check', '--json']);
    const report = JSON.parse(r.stdout);
    console.log(`pgha bump --check here (exit ${r.status}):\n${report.components.map((c: { component: string; newest: string | null; source: string; error?: string }) => `  ${c.component}: ${c.newest ?? `unreachable (${c.error})`} from ${c.source}`).join('\n')}`);
    expect(report.components.map((c: { component: string }) => c.component)).toEqual(['pgpool', 'postgres', 'alpine']);
    for (const c of report.components) expect(c.newest !== null || typeof c.error === 'string').toBe(true);
    expect(r.status).toBe(report.complete ? 0 : 3);
  });
});
