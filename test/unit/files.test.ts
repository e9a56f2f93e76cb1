import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkFiles, writeFileAtomic } from '../../src/fsutil.js';
import { drift, writeRendered } from '../../src/render/files.js';

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
