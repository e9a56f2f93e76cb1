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
import { downloadPgpoolRelease } from '../../src/sources/cache.js';
import { IN_CI, ROOT, toolMissing } from '../helpers.js';

// `pgha bump` run as a maintainer runs it, on a copy of this project pinned back to pgpool
// 4.6.1: the tarball of 4.7.2 comes through the offline fallback (the Debian archive's orig
// tarball), and the result must be this very tree. Needs the Debian archive (CI has it).

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
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  try {
    const old = await downloadPgpoolRelease(FROM.version, `https://www.pgpool.net/mediawiki/download.php?f=pgpool-II-${FROM.version}.tar.gz`, () => {}, { timeoutMs: 60_000 });
    sha461 = createHash('sha256').update(old.data).digest('hex');
    tarball461 = old.data;
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
    pgpool: { version: FROM.version, tarball: { url: committed.pgpool.tarball.url.replace(committed.pgpool.version, FROM.version), sha256: sha461, topDir: FROM.topDir } },
    patches: { '4.6': [], ...committed.patches },
  });
  rmSync(join(copy, 'images'), { recursive: true });
});

afterAll(() => {
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

  it('--dry-run prints the whole change and writes nothing', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const before = snapshot();
    const r = await pgha(['bump', '--dry-run', 'pgpool', '4.7.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('## pgha bump: pgpool 4.6.1 -> 4.7.2');
    expect(r.stdout).toContain('dry run: nothing written');
    expect(snapshot()).toEqual(before);
  });

  it('bumps to 4.7.2 through the offline fallback: sha256, patches, parameter diff, regeneration; the result is this tree plus a changelog entry', async (ctx) => {
    if (unavailable) ctx.skip(`Debian archive unavailable: ${unavailable}`);
    const r = await pgha(['bump', '--date', '2026-11-22', 'pgpool', '4.7.2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/pgha: fetching http:\/\/\S+\/pool\/main\/p\/pgpool2\/pgpool2_4\.7\.2\.orig\.tar\.gz/);
    const sha = committed.pgpool.tarball.sha256;
    expect(r.stdout).toContain(`- tarball: sha256 ${sha}, fetched from http`);
    expect(r.stdout).toContain(`- patches: ${committed.patches['4.7'].length} of ${committed.patches['4.7'].length} apply to 4.7.2 without fuzz or offset and leave their markers`);
    expect(r.stdout).toMatch(/- pgpool\.conf parameters: 4\.6\.\d+ -> 4\.7\.2: \d+ added: [^;]*recovery_database[^;]*; 0 removed; 1 renamed: logdir -> work_dir/);
    console.log(r.stdout);

    // Every project file equals this tree's, generated files and the parameter table included;
    // the changelog is this tree's with the new entry on top.
    const differing = projectFiles().filter((f) => f !== 'CHANGELOG.md' && !readFileSync(join(ROOT, f)).equals(readFileSync(join(copy, f))));
    expect(differing).toEqual([]);
    const changelog = readFileSync(join(copy, 'CHANGELOG.md'), 'utf8');
    const entry = /^## \[postgres [^\]]+\] - 2026-11-22\n[\s\S]*?(?=^## |(?![\s\S]))/m.exec(changelog)?.[0] ?? '';
    expect(entry).toContain(`- pgpool 4.6.1 -> 4.7.2 (tarball sha256 ${sha}, fetched from http`);
    expect(changelog).toBe(addChangelogEntry(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'), entry));
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
