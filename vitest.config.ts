import { availableParallelism } from 'node:os';
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
    // Two files at a time even on 2 cores (vitest's default there is one): the multi-process files
    // spend most of their time waiting on child processes, heartbeats and flush periods, so a second
    // file nearly halves the suite (828 s -> ~600 s here) and also runs every file beside another,
    // as a loaded CI machine would. Ports never collide: each worker takes its own slice
    // (packages/ring/src/testing/ports.ts).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // In CI a JSON report lets .ci/run print one plain "N passed, N failed" summary line.
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: '.andante-tmp/vitest-results.json' }]] : ['default'],
  },
});
