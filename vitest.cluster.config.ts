import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cluster`: the suite of more than one machine (network namespaces as hosts, the
 * cluster of scripts/cluster.sh). Needs root; not part of `npm test` (see the README).
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 1_900_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
