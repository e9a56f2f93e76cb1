import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { drift } from '../../src/render/files.js';
import { renderProject, ROOT, toolMissing } from '../helpers.js';

const rendered = renderProject();
const scripts = [...rendered.entries()].filter(([, c]) => c.startsWith('#!/usr/bin/env bash') || c.startsWith('#!/bin/sh'));
const dockerfiles = [...rendered.entries()].filter(([p]) => p.endsWith('/Dockerfile'));

describe('generated files', () => {
  it('are current: the committed images/ and deploy/ equal a fresh render', () => {
    const d = drift(rendered, ROOT);
    expect(d, 'run `npm run generate` and commit the result').toEqual({ changed: [], missing: [], extra: [] });
  });

  it('include every shell script the images need', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(20);
  });

  it.skipIf(toolMissing('shellcheck'))('every generated shell script passes shellcheck with zero findings', () => {
    // Check from a copy of each context, so `source` directives resolve to the generated lib.
    const dir = mkdtempSync(join(tmpdir(), 'pgha-shellcheck-'));
    const findings: string[] = [];
    for (const [path, content] of scripts) {
      const ctx = join(dir, path.split('/').slice(0, -1).join('_'));
      execFileSync('mkdir', ['-p', ctx]);
      writeFileSync(join(ctx, path.split('/').pop()!), content);
      writeFileSync(join(ctx, 'pgha-lib.sh'), rendered.get(`${path.split('/').slice(0, -1).join('/')}/pgha-lib.sh`) ?? '');
    }
    for (const [path] of scripts) {
      const ctx = join(dir, path.split('/').slice(0, -1).join('_'));
      try {
        execFileSync('shellcheck', ['-x', '-P', ctx, '-s', 'bash', '-f', 'gcc', join(ctx, path.split('/').pop()!)], { encoding: 'utf8' });
      } catch (err) {
        findings.push(`${path}:\n${(err as { stdout: string }).stdout}`);
      }
    }
    expect(findings).toEqual([]);
  });

  it.skipIf(toolMissing('shellcheck'))('shellcheck is not a check that cannot fail', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'pgha-sc-')), 'bad.sh');
    writeFileSync(bad, '#!/usr/bin/env bash\nrm -rf $1/*\n');
    expect(() => execFileSync('shellcheck', [bad], { stdio: 'pipe' })).toThrow();
  });

  it('every generated Dockerfile passes the dockerfile-utils linter', () => {
    expect(dockerfiles.map(([p]) => p).sort()).toEqual(['images/pgpool/alpine/Dockerfile', 'images/pgpool/bookworm/Dockerfile', 'images/postgres/bookworm/Dockerfile', 'images/standin/postgres/Dockerfile']);
    for (const [path, content] of dockerfiles) {
      expect(validate(content).map((d) => `${path}:${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    }
    // The linter does report problems when there are some.
    expect(validate('FROM\nEXPOSE abc\n').length).toBeGreaterThan(0);
  });

  it('every file a Dockerfile COPYs from its context is generated (or is the tarball pgha build places)', () => {
    for (const [path, content] of dockerfiles) {
      const dir = path.replace(/\/Dockerfile$/, '');
      for (const m of content.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
        for (const src of m[1]!.split(/\s+/)) {
          if (src.endsWith('.tar.gz')) continue;
          const name = src.replace(/\/$/, '');
          const found = [...rendered.keys()].some((k) => k === `${dir}/${name}` || k.startsWith(`${dir}/${name}/`));
          expect(found, `${path} copies ${src}`).toBe(true);
        }
      }
    }
  });

  it('npm run generate twice gives byte-identical output', () => {
    const out = mkdtempSync(join(tmpdir(), 'pgha-gen-'));
    const run = () => execFileSync('npx', ['tsx', 'src/cli.ts', 'generate', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    run();
    const first = [...rendered.keys()].map((k) => readFileSync(join(out, k), 'utf8'));
    expect(run()).toMatch(/0 new, 0 changed, 0 removed/);
    expect([...rendered.keys()].map((k) => readFileSync(join(out, k), 'utf8'))).toEqual(first);
  });
});
