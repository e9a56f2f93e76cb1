import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

function pgha(...args: string[]) {
  return spawnSync('node', [join(ROOT, 'bin/pgha.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('pgha CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-cli-'));
  const manifest = JSON.parse(readFileSync(join(ROOT, 'versions.json'), 'utf8'));
  const badSha = join(dir, 'bad-sha.json');
  writeFileSync(badSha, JSON.stringify({ ...manifest, pgpool: { ...manifest.pgpool, tarball: { ...manifest.pgpool.tarball, sha256: 'abc' } } }));
  const renamedKey = join(dir, 'renamed.yaml');
  writeFileSync(renamedKey, 'pgpool:\n  settings:\n    logdir: /tmp\n');

  it('validate accepts the committed manifest and cluster file', () => {
    const r = pgha('validate');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: versions\.json \(postgres 15\.17, pgpool 4\.7\.2, 2 patches\) and cluster\.yaml/);
  });

  it('validate rejects a malformed sha256 with one line and exit 2', () => {
    const r = pgha('validate', '--manifest', badSha);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${badSha}: pgpool.tarball.sha256: expected a sha256: 64 lowercase hexadecimal characters`);
  });

  it('validate rejects a renamed pgpool key in a cluster file', () => {
    const r = pgha('validate', '--cluster', renamedKey);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${renamedKey}: pgpool.settings.logdir: pgpool 4.7.2 accepts logdir only as a deprecated alias: use work_dir (renamed in 4.7)`);
  });

  it('generate writes nothing when the input is bad', () => {
    for (const args of [['--manifest', badSha], ['--cluster', renamedKey]]) {
      const out = join(dir, `out-${args[0]!.slice(2)}`);
      const r = pgha('generate', '--out', out, ...args);
      expect(r.status).toBe(2);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('every command has --help', () => {
    for (const cmd of [[], ['validate'], ['generate']]) {
      const r = pgha(...cmd, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: pgha/);
    }
  });
});
