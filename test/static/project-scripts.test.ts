import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, toolMissing } from '../helpers.js';

// The project's own scripts (not copied into an image): the newcomer's ./dev, the CI entry and
// the helpers under scripts/. The generated ones are checked in generated.test.ts.
const scripts = ['dev', '.ci/run', ...readdirSync(join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/${f}`)];

describe.skipIf(toolMissing('shellcheck'))('project scripts', () => {
  it('include ./dev, .ci/run and scripts/*.sh', () => {
    expect(scripts).toEqual(expect.arrayContaining(['dev', '.ci/run', 'scripts/docker-engine.sh', 'scripts/compose-v2.sh']));
  });

  for (const script of scripts) {
    it(`${script} passes shellcheck with zero findings`, () => {
      const r = (() => {
        try {
          return execFileSync('shellcheck', ['-s', 'bash', '-f', 'gcc', join(ROOT, script)], { encoding: 'utf8' });
        } catch (err) {
          return (err as { stdout: string }).stdout;
        }
      })();
      expect(r).toBe('');
    });
  }

  it('.ci/run runs the README\'s test command, ./dev test, and nothing else', () => {
    const lines = execFileSync('grep', ['-v', '^\\s*#', join(ROOT, '.ci/run')], { encoding: 'utf8' }).split('\n').filter((l) => l.trim());
    expect(lines.at(-1)).toBe('exec bash ./dev test');
  });
});

describe('vitest groups', () => {
  // A test directory that no group includes would never run, and nothing would say so.
  it('every directory holding test files is run by exactly one group: no-engine, engine or the multi-host phase', async () => {
    const { default: config } = await import('../../vitest.config.js');
    const { default: multihost } = await import('../../vitest.multihost.config.js');
    const projects = (config.test!.projects as { test: { name: string; include: string[] } }[]).map((p) => p.test);
    const groups = [...projects, { name: 'multihost', include: multihost.test!.include! }];
    const dirsOf = (glob: string) => /^test\/\{([^}]+)\}\//.exec(glob)?.[1]!.split(',') ?? [/^test\/([^/*]+)\//.exec(glob)![1]!];
    const owners = new Map<string, string[]>();
    for (const g of groups) for (const glob of g.include) for (const dir of dirsOf(glob)) owners.set(dir, [...(owners.get(dir) ?? []), g.name]);
    const testDirs = readdirSync(join(ROOT, 'test'), { withFileTypes: true })
      .filter((e) => e.isDirectory() && readdirSync(join(ROOT, 'test', e.name), { recursive: true }).some((f) => String(f).endsWith('.test.ts')))
      .map((e) => e.name);
    expect(testDirs.length).toBeGreaterThan(5);
    expect(testDirs.filter((d) => owners.get(d)?.length !== 1).map((d) => `${d}: ${owners.get(d)?.join(', ') ?? 'no group'}`)).toEqual([]);
  });
});
