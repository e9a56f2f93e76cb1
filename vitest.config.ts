import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Image builds and clusters are slow; unit tests finish long before this.
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ['default'],
  },
});
