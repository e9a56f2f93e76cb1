import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The bats suites first: they are one file of about three minutes, run one suite after the
 * other. Started last (the default order puts small files last), they ran alone at the end,
 * with the second core idle; started first, the other files share the second core meanwhile.
 */
class BatsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => (f.moduleId.endsWith('/test/static/bats.test.ts') ? 0 : 1);
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

// Two groups, one after the other. The files that need no engine (unit, static, patch, bump)
// run two at a time: they are CPU-bound subprocesses and this machine has 2 cores. The files
// that build images and run clusters run one at a time after them, on an otherwise idle
// machine, so their waits mean what they say. The multi-host rig is a phase of its own
// (vitest.multihost.config.ts), never beside either group.
export default defineConfig({
  test: {
    exclude: ['test/multihost/**', 'node_modules/**'],
    // Image builds and clusters are slow; unit tests finish long before this.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ['default'],
    // The sequencer is read from the root config only; a project's own is ignored.
    sequence: { sequencer: BatsFirst },
    projects: [
      {
        extends: true,
        test: {
          name: 'no-engine',
          include: ['test/{unit,static,patches,bump}/**/*.test.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'engine',
          include: ['test/{smoke,e2e}/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
