import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The multi-host rig runs as its own phase (vitest.multihost.config.ts), never beside e2e.
    exclude: ['test/multihost/**', 'node_modules/**'],
    // Image builds and clusters are slow; unit tests finish long before this.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ['default'],
    // Smoke files build images and run containers on 2 cores: one file at a time keeps their
    // waits meaningful. Unit files are fast either way.
    fileParallelism: false,
  },
});
