import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    expect(r.stdout).toMatch(/^ok: versions\.json \(postgres 15\.17, pgpool 4\.7\.2, 9 patches\) and cluster\.yaml/);
  });

  it('validate --json: the verdict for scripts, every problem with its source, exit 2 on problems', () => {
    const ok = pgha('validate', '--json');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, manifest: 'versions.json', cluster: 'cluster.yaml', versions: { pgpool: manifest.pgpool.version }, problems: [] });
    const bad = pgha('validate', '--json', '--manifest', badSha);
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout)).toEqual({ ok: false, problems: [{ source: badSha, where: 'pgpool.tarball.sha256', message: 'expected a sha256: 64 lowercase hexadecimal characters' }] });
    const renamed = pgha('validate', '--json', '--cluster', renamedKey);
    expect(renamed.status).toBe(2);
    expect(JSON.parse(renamed.stdout).problems).toEqual([{ source: renamedKey, where: 'pgpool.settings.logdir', message: 'pgpool 4.7.2 accepts logdir only as a deprecated alias: use work_dir (renamed in 4.7)' }]);
  });

  it('works from any directory inside the project: the root\'s versions.json and cluster.yaml by default, a relative path from the current directory', () => {
    const sub = join(ROOT, 'deploy', 'pgha');
    const run = (...args: string[]) => spawnSync('node', [join(ROOT, 'bin/pgha.js'), ...args], { cwd: sub, encoding: 'utf8' });
    const fromSub = run('validate', '--json');
    expect(fromSub.status).toBe(0);
    expect(JSON.parse(fromSub.stdout)).toMatchObject({ ok: true, manifest: 'versions.json', cluster: 'cluster.yaml' });
    // ../../cluster.yaml from deploy/pgha is the root's file; the same name alone is not there.
    expect(JSON.parse(run('validate', '--json', '--cluster', '../../cluster.yaml').stdout)).toMatchObject({ ok: true, cluster: '../../cluster.yaml' });
    const missing = run('validate', '--cluster', 'cluster.yaml');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cluster\.yaml/);
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

  it('validate names each refused field in exactly one line (nodes out of range, huge numbers)', () => {
    for (const [yaml, line] of [
      ['postgres:\n  nodes: 0\n', 'postgres.nodes: Too small: expected number to be >=2'],
      ['pgpool:\n  nodes: 100\n', 'pgpool.nodes: Too big: expected number to be <=9'],
      ['pgpool:\n  nodes: 1e30\n', 'pgpool.nodes: Too big: expected number to be <=9'],
      ['postgres:\n  port: 1e30\n', 'postgres.port: Too big: expected number to be <=65535'],
      ['pgpool:\n  settings:\n    num_init_children: lots\n', 'pgpool.settings.num_init_children: pgpool 4.7.2 takes an integer from 1 to 2147483647 for num_init_children, got "lots"'],
    ]) {
      const file = join(dir, 'one-line.yaml');
      writeFileSync(file, yaml!);
      const r = pgha('validate', '--cluster', file);
      expect(r.status, yaml).toBe(2);
      expect(r.stderr, yaml).toBe(`${file}: ${line}\n`);
    }
  });

  it('validate warns on stderr about a public subnet and still succeeds', () => {
    const file = join(dir, 'public.yaml');
    writeFileSync(file, 'network:\n  subnet: 8.8.8.0/24\n  delegateIp: 8.8.8.100\n');
    const r = pgha('validate', '--cluster', file);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^pgha: warning: ${file.replace(/[.]/g, '\\.')}: network\\.subnet: 8\\.8\\.8\\.0/24 is not inside a private range [^\\n]*\\n$`));
  });

  it('refuses a cluster file name with a line break, which generated headers would carry, in one line', () => {
    const sub = mkdtempSync(join(tmpdir(), 'pgha-cli-name-'));
    const file = join(sub, "c.yaml\nuse_watchdog = off\n# x");
    writeFileSync(file, '{}\n');
    const out = join(sub, 'out');
    for (const cmd of ['validate', 'generate']) {
      const r = pgha(cmd, '--cluster', file, ...(cmd === 'generate' ? ['--out', out] : []));
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`pgha: --cluster: expected a file name without line breaks or other control characters, got ${JSON.stringify(file)}\n`);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('generate --out refuses a non-empty directory it did not write, and replaces one it did', () => {
    const mine = mkdtempSync(join(tmpdir(), 'pgha-cli-mine-'));
    writeFileSync(join(mine, 'keep.txt'), 'mine\n');
    const r = pgha('generate', '--out', mine);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`pgha: --out ${mine}: not empty and not written by pgha generate (no .pgha-generated); choose a new or empty directory\n`);
    expect(readdirSync(mine)).toEqual(['keep.txt']);

    const out = join(mkdtempSync(join(tmpdir(), 'pgha-cli-out-')), 'tree');
    const first = pgha('generate', '--out', out);
    expect(first.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['.pgha-generated', 'deploy', 'images']);
    const again = pgha('generate', '--out', out);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/0 new, 0 changed, 0 removed \(no changes\)/);
    mkdirSync(join(out, 'images/extra'));
    writeFileSync(join(out, 'images/extra/notes.txt'), 'mine\n');
    const refused = pgha('generate', '--out', out);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/holds 1 file pgha generate did not write \(images\/extra\/notes\.txt\)/);
  });

  it('--version prints the package version; a usage error is one line and exit 2', () => {
    const v = pgha('--version');
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    for (const [args, line] of [
      [['nope'], "error: unknown command 'nope'"],
      [['build', '--bogus'], "error: unknown option '--bogus'"],
      [['cluster', 'up', '--wait'], "error: option '--wait <seconds>' argument missing"],
      // Checked before the deploy directory or the engine is looked at (the engine is not needed to refuse).
      [['cluster', 'up', '--wait', 'abc'], 'pgha: --wait: expected a whole number from 1 to 86400, got abc'],
      [['cluster', 'up', '--wait', '0'], 'pgha: --wait: expected a whole number from 1 to 86400, got 0'],
      [['build', '--only', 'nope', 'postgres/bookworm'], 'pgha: --only: expected one of postgres/bookworm, pgpool/bookworm, pgpool/alpine, got nope'],
    ] as const) {
      const r = pgha(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([line]);
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
