import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addChangelogEntry, changelogEntry } from '../../src/bump/changelog.js';
import { newestOf, pgpoolReleasesIn, targetsFrom, versionTagsIn } from '../../src/bump/check.js';
import { describeParamDiff, diffParams } from '../../src/bump/params-diff.js';
import { checkRelease } from '../../src/bump/release.js';
import { parseTargets, planBump } from '../../src/bump/plan.js';
import { compareVersions } from '../../src/manifest/version.js';
import { PARAM_TABLES } from '../../src/pgpool/params.js';
import { projectInput } from '../helpers.js';

const { manifest } = projectInput();

describe('pgha bump: arguments', () => {
  it('reads component/version pairs', () => {
    expect(parseTargets(['pgpool', '4.7.3', 'postgres', '15.20', 'alpine', '3.23.4'])).toEqual({
      targets: { pgpool: '4.7.3', postgres: '15.20', alpine: '3.23.4' },
      problems: [],
    });
  });

  it('collects every problem, each naming the component and what was expected', () => {
    expect(parseTargets(['pgpool', '4.7', 'mysql', '8.0', 'postgres', '15.2.1', 'alpine', '3.23.4', 'alpine', '3.23.5', 'postgres']).problems).toEqual([
      'pgpool 4.7: expected a Pgpool-II version like 1.2.3',
      'mysql: expected a component, one of pgpool, postgres, alpine',
      'postgres 15.2.1: expected a PostgreSQL version like 15.17',
      'alpine: named twice',
      'postgres: expected a version after the component',
    ]);
    expect(parseTargets([]).problems).toEqual(['expected one or more "<component> <version>" pairs, the component one of pgpool, postgres, alpine']);
  });

  it('orders versions numerically', () => {
    expect(compareVersions('4.7.10', '4.7.9')).toBeGreaterThan(0);
    expect(compareVersions('15.9', '15.17')).toBeLessThan(0);
    expect(compareVersions('3.23.3', '3.23.3')).toBe(0);
  });
});

describe('pgha bump: plan', () => {
  it('a patch release within the pinned lines changes the versions, the tarball URL and top directory', () => {
    const { plan, problems } = planBump(manifest, { pgpool: '4.7.9', postgres: '15.99', alpine: '3.23.9' });
    expect(problems).toEqual([]);
    expect(plan.changes.map((c) => `${c.component} ${c.from} -> ${c.to}`)).toEqual([
      `pgpool ${manifest.pgpool.version} -> 4.7.9`,
      `postgres ${manifest.postgres.version} -> 15.99`,
      `alpine ${manifest.alpine.version} -> 3.23.9`,
    ]);
    expect(plan.next.pgpool.tarball.url).toBe(manifest.pgpool.tarball.url.replace(manifest.pgpool.version, '4.7.9'));
    expect(plan.next.pgpool.tarball.topDir).toBe('pgpool-II-4.7.9');
    expect(plan.next.patches).toEqual(manifest.patches);
    // The input is not touched.
    expect(manifest.pgpool.version).not.toBe('4.7.9');
  });

  it('refuses a downgrade, a PostgreSQL major change and a pgpool minor with no patch set, each saying what to do', () => {
    const { problems } = planBump(manifest, { pgpool: '4.8.0', postgres: '16.1', alpine: '3.20.0' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^pgpool: 4\.8\.0 has no patch set: port the 4\.7 patches to 4\.8 under patches\/pgpool\/4\.8\/ and list them as patches\["4\.8"\] in versions\.json: patches\/pgpool\/4\.7\/0001-watchdog-ping-rtt\.patch \(changes src\/watchdog\/wd_ping\.c\), /);
    expect(problems[1]).toBe(`postgres: ${manifest.postgres.version} -> 16.1 changes the major version (15 -> 16); existing data directories need an upgrade: pass --allow-major to do it anyway`);
    expect(problems[2]).toBe(`alpine: ${manifest.alpine.version} -> 3.20.0 is a downgrade; pass --allow-downgrade to do it anyway`);
  });

  it('with the flags, a major change and a downgrade go through', () => {
    const { plan, problems } = planBump(manifest, { postgres: '16.1', alpine: '3.20.0' }, { allowMajor: true, allowDowngrade: true });
    expect(problems).toEqual([]);
    expect(plan.next.postgres).toEqual({ major: 16, version: '16.1' });
    expect(plan.major).toEqual({ from: 15, to: 16 });
    expect(plan.next.alpine.version).toBe('3.20.0');
  });

  it('moves only the release name in the URL and top directory, and refuses a URL without it', () => {
    const elsewhere = structuredClone(manifest);
    elsewhere.pgpool.version = '4.7.1';
    elsewhere.pgpool.tarball.url = 'http://10.4.7.1/mirror/4.7.1/pgpool-II-4.7.1.tar.gz';
    elsewhere.pgpool.tarball.topDir = 'pgpool-II-4.7.1';
    const moved = planBump(elsewhere, { pgpool: '4.7.10' });
    expect(moved.problems).toEqual([]);
    expect(moved.plan.next.pgpool.tarball.url).toBe('http://10.4.7.1/mirror/4.7.1/pgpool-II-4.7.10.tar.gz');
    expect(moved.plan.next.pgpool.tarball.topDir).toBe('pgpool-II-4.7.10');
    const tagged = structuredClone(manifest);
    tagged.pgpool.tarball.url = `https://github.com/pgpool/pgpool2/archive/refs/tags/V4_7_2.tar.gz?v=${manifest.pgpool.version}`;
    const refused = planBump(tagged, { pgpool: '4.7.3' });
    expect(refused.problems).toEqual([`pgpool: pgpool.tarball.url and .topDir must each name pgpool-II-${manifest.pgpool.version} exactly once to be moved to 4.7.3; edit versions.json by hand (url ${tagged.pgpool.tarball.url}, topDir ${manifest.pgpool.tarball.topDir})`]);
    expect(refused.plan.changes).toEqual([]);
  });

  it('a version already pinned is no change', () => {
    const { plan } = planBump(manifest, { pgpool: manifest.pgpool.version });
    expect(plan.changes).toEqual([]);
    expect(plan.unchanged).toEqual(['pgpool']);
  });

  it('moving to another pgpool minor drops the old minor\'s patch set', () => {
    const pinned46 = structuredClone(manifest);
    pinned46.pgpool.version = '4.6.1';
    pinned46.pgpool.tarball.url = manifest.pgpool.tarball.url.replace(manifest.pgpool.version, '4.6.1');
    pinned46.pgpool.tarball.topDir = 'pgpool-II-4.6.1';
    pinned46.patches['4.6'] = [{ ...manifest.patches['4.7']![0]!, file: 'patches/pgpool/4.6/0001-old.patch' }];
    const { plan, problems } = planBump(pinned46, { pgpool: '4.7.2' });
    expect(problems).toEqual([]);
    expect(Object.keys(plan.next.patches)).toEqual(['4.7']);
    expect(plan.dropped.map((p) => p.file)).toEqual(['patches/pgpool/4.6/0001-old.patch']);
  });
});

describe('pgha bump: parameter diff', () => {
  it('4.6 -> 4.7: the real tables show logdir renamed to work_dir and the new keys', () => {
    const d = diffParams(PARAM_TABLES['4.6']!, PARAM_TABLES['4.7']!);
    expect(d.renamed).toEqual([{ from: 'logdir', to: 'work_dir' }]);
    expect(d.added).toContain('recovery_database');
    expect(d.added).not.toContain('work_dir');
    expect(d.removed).not.toContain('logdir');
  });

  it('an indexed name that became an alias is a rename', () => {
    const old = { plain: [], indexed: ['hb_dest'], aliases: {} };
    const next = { plain: [], indexed: ['hb_host'], aliases: { hb_dest: 'hb_host' } };
    expect(diffParams(old, next)).toEqual({ added: [], removed: [], renamed: [{ from: 'hb_dest<N>', to: 'hb_host<N>' }] });
  });

  it('names removed keys, indexed ones with <N>', () => {
    const old = { plain: ['a', 'b'], indexed: ['backend_x'], aliases: {} };
    const next = { plain: ['a', 'c'], indexed: [], aliases: {} };
    expect(describeParamDiff(diffParams(old, next))).toBe('1 added: c; 2 removed: b, backend_x<N>; 0 renamed');
  });
});

describe('pgha bump: changelog', () => {
  const entry = changelogEntry({
    date: '2026-11-22',
    next: manifest,
    changes: [{ component: 'pgpool', from: '4.7.1', to: manifest.pgpool.version }],
    tarball: { sha256: 'ab'.repeat(32), origin: 'http://deb.debian.org/x.orig.tar.gz' },
    patches: '5 of 5 apply',
    params: 'nothing changed',
  });

  it('writes a Keep a Changelog entry named by the versions built after it', () => {
    expect(entry.split('\n')[0]).toBe(`## [postgres ${manifest.postgres.version}, pgpool ${manifest.pgpool.version}, alpine ${manifest.alpine.version}] - 2026-11-22`);
    expect(entry).toContain(`### Changed\n\n- pgpool 4.7.1 -> ${manifest.pgpool.version} (tarball sha256 ${'ab'.repeat(32)}, fetched from http://deb.debian.org/x.orig.tar.gz)\n- patches: 5 of 5 apply\n- pgpool.conf parameters: nothing changed\n`);
  });

  it('puts the newest entry first, under the header; a new file gets the header', () => {
    const fresh = addChangelogEntry(undefined, entry);
    expect(fresh.startsWith('# Changelog\n')).toBe(true);
    expect(fresh.endsWith(entry)).toBe(true);
    const older = '## [postgres 15.16, pgpool 4.7.1, alpine 3.23.2] - 2026-08-01\n\n### Changed\n\n- old\n';
    const both = addChangelogEntry(addChangelogEntry(undefined, older), entry);
    expect(both.indexOf(entry)).toBeLessThan(both.indexOf(older));
    expect(both.indexOf('# Changelog')).toBe(0);
  });
});

describe('pgha bump: changelog placement', () => {
  const entry = '## [postgres 15.18, pgpool 4.7.3, alpine 3.23.4] - 2026-12-01\n\n### Changed\n\n- new\n';
  it('goes after an Unreleased section and ignores headings in fenced blocks', () => {
    const text = '# Changelog\n\n```md\n## not a heading\n```\n\n## [Unreleased]\n\n- pending\n\n## [postgres 15.17] - 2026-11-22\n\n- old\n';
    const out = addChangelogEntry(text, entry);
    expect(out.indexOf('## [Unreleased]')).toBeLessThan(out.indexOf(entry));
    expect(out.indexOf(entry)).toBeLessThan(out.indexOf('## [postgres 15.17]'));
    expect(out.indexOf('## not a heading')).toBeLessThan(out.indexOf('## [Unreleased]'));
  });

  it('an empty file gets the header', () => {
    expect(addChangelogEntry('\n', entry).startsWith('# Changelog\n')).toBe(true);
  });
});

describe('pgha bump --check: reading the listings', () => {
  it('reads pgpool releases from tarball links', () => {
    const html = '<a href="download.php?f=pgpool-II-4.7.3.tar.gz">pgpool-II-4.7.3.tar.gz</a> <a href="download.php?f=pgpool-II-4.6.8.tar.gz">x</a>';
    expect(pgpoolReleasesIn(html)).toEqual(['4.7.3', '4.6.8']);
  });

  it('keeps only plain version tags from a Docker Hub listing, and refuses anything else', () => {
    const json = { results: [{ name: '15.20' }, { name: '15.20-bookworm' }, { name: '15' }, { name: '15.9' }] };
    expect(versionTagsIn(json, /^\d+\.\d+$/)).toEqual(['15.20', '15.9']);
    expect(() => versionTagsIn({ detail: 'rate limited' }, /x/)).toThrow('not a Docker Hub tags listing');
  });

  it('the newest stays in the pinned line, never below the current; a newer line is only reported', () => {
    expect(newestOf('pgpool', '4.7.2', ['4.6.9', '4.7.3', '4.7.10', '4.8.0'])).toEqual({ newest: '4.7.10', newestOverall: '4.8.0' });
    expect(newestOf('postgres', '15.17', ['15.9', '15.20', '16.4'])).toEqual({ newest: '15.20', newestOverall: '16.4' });
    expect(newestOf('alpine', '3.23.3', ['3.23.1'])).toEqual({ newest: '3.23.3' });
    expect(
      targetsFrom([
        { component: 'pgpool', current: '4.7.2', newest: '4.7.3', source: 's' },
        { component: 'alpine', current: '3.23.3', newest: '3.23.3', source: 's' },
        { component: 'postgres', current: '15.17', newest: null, source: 's', error: 'x' },
      ]),
    ).toEqual({ pgpool: '4.7.3' });
  });
});

describe('pgha bump: the release itself', () => {
  it('refuses a tree whose configure names another version than the one asked for', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-fake-release-'));
    mkdirSync(join(dir, 'pgpool-II-4.7.3'));
    writeFileSync(join(dir, 'pgpool-II-4.7.3/configure'), "#!/bin/sh\nPACKAGE_NAME='pgpool-II'\nPACKAGE_VERSION='4.7.2'\n");
    execFileSync('tar', ['-czf', join(dir, 'r.tar.gz'), '-C', dir, 'pgpool-II-4.7.3']);
    expect(() => checkRelease(readFileSync(join(dir, 'r.tar.gz')), 'pgpool-II-4.7.3', '4.7.3', [], () => '')).toThrow('the tarball is not pgpool 4.7.3: its configure says PACKAGE_VERSION=4.7.2');
  });
});
