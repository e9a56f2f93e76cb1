import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/load.js';
import { derive } from '../../src/manifest/schema.js';
import { readManifestJson, ROOT } from '../helpers.js';

function problemsOf(mutate: (m: any) => void, root = ROOT): string[] {
  const m = readManifestJson();
  mutate(m);
  try {
    parseManifest(JSON.stringify(m), 'm.json', root);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.where}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('versions.json', () => {
  it('the committed manifest is valid and pins pgpool 4.7.2 with its published sha256', () => {
    const m = parseManifest(readFileSync(resolve(ROOT, 'versions.json'), 'utf8'), 'versions.json', ROOT);
    expect(m.pgpool.version).toBe('4.7.2');
    expect(m.pgpool.tarball.sha256).toBe('e72b9d0ff3620f7da7e33a58dda44b77919d056752dc9bd86b2985c4988d1938');
    expect(derive(m).patches.map((p) => p.name)).toEqual(['watchdog-ping-rtt', 'pgproto-sys-time-include', 'health-check-timer-interrupts-read', 'sr-check-cycle-bound', 'leader-releases-remote-follow-primary-lock', 'parameter-status-from-primary', 'backend-down-during-connect', 'unresolvable-watchdog-peer', 'pcp-port-check-is-not-an-error']);
  });

  it('derives base images and tags from the versions', () => {
    const m = parseManifest(readFileSync(resolve(ROOT, 'versions.json'), 'utf8'), 'versions.json', ROOT);
    const d = derive(m);
    expect(d.bases).toEqual({
      postgres: 'postgres:15.17-bookworm',
      postgresAlpine: 'postgres:15.17-alpine3.23',
      alpine: 'alpine:3.23.3',
      debian: 'debian:bookworm-slim',
    });
    expect(d.tags).toEqual({ postgres: '15.17-pgpool4.7.2', pgpoolAlpine: '4.7.2-alpine3.23', pgpoolDebian: '4.7.2-bookworm' });
  });

  it('rejects a malformed sha256, naming the JSON path', () => {
    expect(problemsOf((m) => (m.pgpool.tarball.sha256 = 'e72b9d0ff362'))).toEqual([
      'pgpool.tarball.sha256: expected a sha256: 64 lowercase hexadecimal characters',
    ]);
  });

  it('rejects a pgpool version that has no patch set', () => {
    const problems = problemsOf((m) => {
      m.pgpool.version = '4.6.1';
      m.pgpool.tarball.url = 'https://example.invalid/pgpool-II-4.6.1.tar.gz';
    });
    expect(problems).toEqual(['pgpool.version: pgpool 4.6.1 has no patch set: expected patches["4.6"] (known: 4.7)']);
  });

  it('reports every problem of the shape at once', () => {
    const problems = problemsOf((m) => {
      m.pgpool.tarball.sha256 = 'nope';
      m.alpine.version = '3.23';
      m.debian.suite = 'jessie';
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['pgpool.tarball.sha256', 'alpine.version', 'debian.suite']);
  });

  it('checks fields against each other once the shape is right', () => {
    expect(problemsOf((m) => (m.postgres.version = '16.1'))).toEqual([
      'postgres.version: expected a 15.x version to match postgres.major, got 16.1',
    ]);
    expect(problemsOf((m) => (m.pgpool.tarball.url = 'https://example.invalid/pgpool-II-4.7.1.tar.gz'))).toEqual([
      'pgpool.tarball.url: expected the URL of the 4.7.2 tarball, got https://example.invalid/pgpool-II-4.7.1.tar.gz',
    ]);
  });

  it('rejects a patch whose file does not match its pinned sha256', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-manifest-'));
    cpSync(resolve(ROOT, 'patches'), join(root, 'patches'), { recursive: true });
    const file = join(root, 'patches/pgpool/4.7/0002-pgproto-sys-time-include.patch');
    writeFileSync(file, readFileSync(file, 'utf8') + '\n');
    const problems = problemsOf(() => {}, root);
    expect(problems).toHaveLength(1);
    // The pin is read from versions.json, so editing the patch (and its pin) keeps this test meaningful.
    const pinned = JSON.parse(readFileSync(resolve(ROOT, 'versions.json'), 'utf8')).patches['4.7'][1].sha256 as string;
    expect(problems[0]).toMatch(/^patches\["4\.7"\]\[1\]\.sha256: patches\/pgpool\/4\.7\/0002-pgproto-sys-time-include\.patch has sha256 [0-9a-f]{64}, manifest pins /);
    expect(problems[0]?.endsWith(`manifest pins ${pinned}`)).toBe(true);
  });

  it('rejects unknown keys and invalid JSON with one line', () => {
    expect(problemsOf((m) => (m.pgpool.extra = 1))).toEqual(['pgpool: Unrecognized key: "extra"']);
    expect(() => parseManifest('{', 'm.json', ROOT)).toThrow(/^m\.json: \(root\): expected JSON/);
  });

  const TARGET = 'expected the path of the patched source file inside the tarball: segments of letters, digits, ".", "_" and "-" joined by "/", without a leading "/", "." or ".."';
  it.each([
    ['src/watchdog/wd_ping.c\nforged\tpatch.patch\tsrc/x.c\tmarker', TARGET],
    ['src/watchdog/wd ping.c', TARGET],
    ['src/\twd_ping.c', TARGET],
    ['../../etc/passwd', TARGET],
    ['src/../../x.c', TARGET],
    ['/etc/passwd', TARGET],
    ['./src/x.c', TARGET],
    ['src//x.c', TARGET],
    ['', TARGET],
  ])('refuses patches[].target %j with one line', (target, message) => {
    expect(problemsOf((m) => (m.patches['4.7'][0].target = target))).toEqual([`patches["4.7"][0].target: ${message}`]);
  });

  it('refuses a marker with a tab, a line break or another control character, which the tab-separated series file and grep -F cannot carry', () => {
    for (const marker of ['min/avg\tmax', 'strstr(ping_data\n', 'x\u0000yz', 'caf\u00e9 au lait']) {
      expect(problemsOf((m) => (m.patches['4.7'][0].marker = marker)), JSON.stringify(marker)).toEqual([
        'patches["4.7"][0].marker: expected a marker of printable ASCII characters (no tab, line break or other control character)',
      ]);
    }
    expect(problemsOf((m) => (m.patches['4.7'][0].marker = '#include <sys/time.h>'))).toEqual([]);
  });

  it('refuses a patch file name that is not a plain name under patches/pgpool/<minor>/', () => {
    for (const file of ['patches/pgpool/4.7/../../../x.patch', 'patches/pgpool/4.7/a\tb.patch', 'patches/pgpool/4.7/a\nb.patch']) {
      expect(problemsOf((m) => (m.patches['4.7'][0].file = file)), JSON.stringify(file)).toEqual([
        'patches["4.7"][0].file: expected patches/pgpool/<minor>/<name>.patch, the name of letters, digits, ".", "_" and "-"',
      ]);
    }
  });

  it('refuses a tarball topDir that is not a single directory name', () => {
    for (const topDir of ['..', '.', 'a/b', '/tmp', 'pgpool-II-4.7.2\n', 'a\tb']) {
      expect(problemsOf((m) => (m.pgpool.tarball.topDir = topDir)), JSON.stringify(topDir)).toEqual([
        'pgpool.tarball.topDir: expected a single directory name of letters, digits, ".", "_" and "-", not "." or ".."',
      ]);
    }
  });

  it('refuses each bad field in exactly one line: no cross-field check reads a field the schema refused', () => {
    expect(problemsOf((m) => (m.postgres.major = 1e30))).toEqual(['postgres.major: Too big: expected number to be <=18']);
    expect(problemsOf((m) => (m.pgpool.version = 'x'))).toEqual(['pgpool.version: expected a Pgpool-II version like 1.2.3']);
    expect(problemsOf((m) => (m.pgpool.tarball.url = 'ftp://x'))).toEqual(['pgpool.tarball.url: expected an http(s) URL']);
    expect(problemsOf((m) => (m.patches['4.7'][0].file = 'x'))).toEqual([
      'patches["4.7"][0].file: expected patches/pgpool/<minor>/<name>.patch, the name of letters, digits, ".", "_" and "-"',
    ]);
  });
});
