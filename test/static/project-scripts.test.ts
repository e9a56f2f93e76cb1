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
