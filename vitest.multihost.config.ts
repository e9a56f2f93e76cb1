import { defineConfig } from 'vitest/config';

/** The multi-host phase: three simulated hosts and a swarm (`./dev test` runs it after the suite). */
export default defineConfig({
  test: {
    include: ['test/multihost/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 1_500_000,
    reporters: ['default'],
    fileParallelism: false,
  },
});
