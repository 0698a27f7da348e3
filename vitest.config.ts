import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global_setup.ts'],
    // Dawn lives in native code: one process per test file (forks), never worker threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // WEBGRAD_TEST_JSON=path also writes vitest's JSON result (.ci/run prints a summary line from it).
    reporters: process.env.WEBGRAD_TEST_JSON ? ['default', ['json', { outputFile: process.env.WEBGRAD_TEST_JSON }]] : ['default'],
  },
});
