import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { walkFiles, writeFileAtomic } from '../../src/fsutil.js';
import { drift, OUT_MARKER, writeRendered, writeRenderedTo } from '../../src/render/files.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('writing a rendering', () => {
  // Sorted by path, as render() returns it.
  const rendered = new Map([
    ['images/x/Dockerfile', 'FROM scratch\n'],
    ['images/x/run.sh', '#!/bin/sh\necho run\n'],
  ]);

  it('makes a file that starts with #! executable (0755) and any other 0644', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-files-'));
    expect(writeRendered(rendered, root).missing).toEqual(['images/x/Dockerfile', 'images/x/run.sh']);
    expect(mode(join(root, 'images/x/run.sh'))).toBe(0o755);
    expect(mode(join(root, 'images/x/Dockerfile'))).toBe(0o644);
    expect(drift(rendered, root)).toEqual({ changed: [], missing: [], extra: [] });
  });

  it('reports a file whose executable bit differs as changed, and fixes it though its content is current', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-files-'));
    writeRendered(rendered, root);
    chmodSync(join(root, 'images/x/run.sh'), 0o644);
    chmodSync(join(root, 'images/x/Dockerfile'), 0o755);
    expect(drift(rendered, root)).toEqual({ changed: ['images/x/Dockerfile', 'images/x/run.sh'], missing: [], extra: [] });
    expect(writeRendered(rendered, root).changed).toEqual(['images/x/Dockerfile', 'images/x/run.sh']);
    expect(mode(join(root, 'images/x/run.sh'))).toBe(0o755);
    expect(mode(join(root, 'images/x/Dockerfile'))).toBe(0o644);
    expect(readFileSync(join(root, 'images/x/run.sh'), 'utf8')).toBe(rendered.get('images/x/run.sh'));
    expect(drift(rendered, root)).toEqual({ changed: [], missing: [], extra: [] });
  });

  it('removes generated files the rendering no longer has, and keeps local material', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-files-'));
    writeRendered(rendered, root);
    writeFileSync(join(root, 'images/x/old.sh'), '#!/bin/sh\n');
    writeFileSync(join(root, 'images/x/pgpool-II-4.7.2.tar.gz'), '');
    expect(writeRendered(rendered, root).extra).toEqual(['images/x/old.sh']);
    expect(walkFiles(join(root, 'images'))).toEqual(['x/Dockerfile', 'x/pgpool-II-4.7.2.tar.gz', 'x/run.sh']);
  });
});

describe('writeFileAtomic', () => {
  it('gives the file exactly the mode asked, whatever the umask, and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-atomic-'));
    writeFileAtomic(join(dir, 'secret'), 'a\n', 0o600);
    writeFileAtomic(join(dir, 'secret'), 'b\n', 0o600);
    expect(readFileSync(join(dir, 'secret'), 'utf8')).toBe('b\n');
    expect(mode(join(dir, 'secret'))).toBe(0o600);
    expect(walkFiles(dir)).toEqual(['secret']);
  });
});

describe('what a deploy directory holds that is not generated', () => {
  it("the init service's secrets, SSH keys, dev CA, TLS files and metrics material are local, not drift; anything else is", () => {
    const rendered = new Map([['deploy/c/docker-compose.yml', 'services: {}\n']]);
    const root = mkdtempSync(join(tmpdir(), 'pgha-files-'));
    writeRendered(rendered, root);
    for (const f of ['secrets/pw', 'ssh/pg0/id_ed25519', 'tls/server.crt', 'ca/ca.key', 'metrics/pgpool_password', 'notes.txt']) {
      mkdirSync(join(root, 'deploy/c', f, '..'), { recursive: true });
      writeFileSync(join(root, 'deploy/c', f), 'x\n');
    }
    expect(drift(rendered, root)).toEqual({ changed: [], missing: [], extra: ['deploy/c/notes.txt'] });
  });
});

describe('writing a rendering to a directory of its own (generate --out)', () => {
  const rendered = new Map([
    ['deploy/c/pgpool/cluster.conf', 'port = 9999\n'],
    ['images/x/Dockerfile', 'FROM scratch\n'],
    ['images/x/run.sh', '#!/bin/sh\necho run\n'],
  ]);
  const tree = (dir: string) => Object.fromEntries(walkFiles(dir).map((p) => [p, readFileSync(join(dir, p), 'utf8')]));
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof UsageError) return err.reasons;
      throw err;
    }
    return [];
  };

  it('writes a new directory with the files and a marker listing them', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pgha-out-')), 'a', 'out');
    expect(writeRenderedTo(rendered, dir).missing).toEqual([...rendered.keys()]);
    expect(walkFiles(dir)).toEqual([OUT_MARKER, ...rendered.keys()]);
    expect(readFileSync(join(dir, OUT_MARKER), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([...rendered.keys()]);
    expect(mode(join(dir, 'images/x/run.sh'))).toBe(0o755);
    expect(readdirSync(join(dir, '..'))).toEqual(['out']); // no temporary directory left beside it
  });

  it('refuses a non-empty directory pgha did not write, and a file, touching nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-out-'));
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    expect(refusal(() => writeRenderedTo(rendered, dir))).toEqual([
      `--out ${dir}: not empty and not written by pgha generate (no ${OUT_MARKER}); choose a new or empty directory`,
    ]);
    expect(tree(dir)).toEqual({ 'notes.txt': 'mine\n' });
    expect(refusal(() => writeRenderedTo(rendered, join(dir, 'notes.txt')))).toEqual([`--out ${join(dir, 'notes.txt')}: expected a directory, got a file`]);
  });

  it('writes into an empty directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-out-'));
    writeRenderedTo(rendered, dir);
    expect(walkFiles(dir)).toEqual([OUT_MARKER, ...rendered.keys()]);
  });

  it('replaces a directory it wrote: drops files no longer rendered, keeps local material, refuses files it did not write', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pgha-out-')), 'out');
    writeRenderedTo(new Map([...rendered, ['images/x/old.sh', '#!/bin/sh\n']]), dir);
    mkdirSync(join(dir, 'deploy/c/secrets'), { mode: 0o700 });
    chmodSync(join(dir, 'deploy/c/secrets'), 0o700);
    writeFileSync(join(dir, 'deploy/c/secrets/pw'), 's3cret\n', { mode: 0o600 });
    writeFileSync(join(dir, 'images/x/pgpool-II-4.7.2.tar.gz'), 'tar');
    const d = writeRenderedTo(rendered, dir);
    expect(d).toEqual({ changed: [], missing: [], extra: ['images/x/old.sh'] });
    expect(walkFiles(dir)).toEqual([OUT_MARKER, 'deploy/c/pgpool/cluster.conf', 'deploy/c/secrets/pw', 'images/x/Dockerfile', 'images/x/pgpool-II-4.7.2.tar.gz', 'images/x/run.sh']);
    expect(mode(join(dir, 'deploy/c/secrets'))).toBe(0o700);
    expect(mode(join(dir, 'deploy/c/secrets/pw'))).toBe(0o600);
    expect(readFileSync(join(dir, 'deploy/c/secrets/pw'), 'utf8')).toBe('s3cret\n');

    writeFileSync(join(dir, 'images/x/mine.txt'), 'mine\n');
    const before = tree(dir);
    expect(refusal(() => writeRenderedTo(rendered, dir))).toEqual([
      `--out ${dir}: holds 1 file pgha generate did not write (images/x/mine.txt); move it away or choose another directory`,
    ]);
    expect(tree(dir)).toEqual(before);
  });

  it('leaves the directory as it was, and nothing beside it, when writing fails half-way', () => {
    const parent = mkdtempSync(join(tmpdir(), 'pgha-out-'));
    const dir = join(parent, 'out');
    writeRenderedTo(rendered, dir);
    const before = tree(dir);
    // A path that is both a file and a directory: the second write fails.
    const colliding = new Map([...rendered, ['images/x/run.sh/inner', 'x\n']]);
    expect(() => writeRenderedTo(colliding, dir)).toThrow();
    expect(tree(dir)).toEqual(before);
    expect(readdirSync(parent)).toEqual(['out']);
    expect(() => writeRenderedTo(colliding, join(parent, 'new'))).toThrow();
    expect(existsSync(join(parent, 'new'))).toBe(false);
    expect(readdirSync(parent)).toEqual(['out']);
  });
});
