import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // CI is a 2-core machine: keep workers to what it has.
    maxWorkers: 2,
  },
});
