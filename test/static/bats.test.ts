import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, toolMissing } from '../helpers.js';

// The shell logic that decides something (test/bats/*.bats) runs under bats, Debian's package,
// against the generated scripts of the committed build contexts.
const suites = readdirSync(join(ROOT, 'test/bats')).filter((f) => f.endsWith('.bats')).sort();

describe.skipIf(toolMissing('bats'))('bats', () => {
  it('has suites to run', () => {
    expect(suites.length).toBeGreaterThan(0);
  });

  it('no case asserts with a bare `! command`: bash exempts it from errexit, so it could never fail a case (write `! command || false`)', () => {
    const bare = suites.flatMap((suite) =>
      readFileSync(join(ROOT, 'test/bats', suite), 'utf8')
        .split('\n')
        .map((line, i) => ({ at: `${suite}:${i + 1}`, line }))
        .filter(({ line }) => /^\s*! /.test(line) && !/\|\| false\s*$/.test(line)),
    );
    expect(bare.map(({ at, line }) => `${at}: ${line.trim()}`)).toEqual([]);
  });

  for (const suite of suites) {
    it(`test/bats/${suite} passes every case`, () => {
      const r = spawnSync('bats', ['--tap', join(ROOT, 'test/bats', suite)], { encoding: 'utf8' });
      const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
      expect(failed, r.stdout + r.stderr).toEqual([]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      // A suite that ran no case would pass the two checks above.
      expect(r.stdout).toMatch(/^ok 1 /m);
    });
  }
});
