import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: integration tests spawn servers, workers and agents; keep the fan-out small.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
