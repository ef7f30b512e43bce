import { defineConfig } from 'vitest/config';

// Tests import workspace packages through the "andante-source" export condition, so they run
// against src/ without a build.
export default defineConfig({
  resolve: { conditions: ['andante-source'] },
  ssr: { resolve: { conditions: ['andante-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/src/**/*.test.ts', 'bench/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // In CI a JSON report lets .ci/run print one plain "N passed, N failed" summary line.
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: '.andante-tmp/vitest-results.json' }]] : ['default'],
  },
});
