import fs from 'node:fs';
import { defineConfig } from 'vitest/config';

// Chromium's SwiftShader Vulkan driver (subgroup size 4) also serves Dawn in Node: the CPU-SIMD
// kernels run a second time there, at the other subgroup size.
const SWIFTSHADER_ICD = process.env.WEBGRAD_SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
const haveSwiftShader = fs.existsSync(SWIFTSHADER_ICD);
if (!haveSwiftShader && process.env.CI === 'true') {
  throw new Error(`CI=true and no SwiftShader ICD at ${SWIFTSHADER_ICD}: run \`bash scripts/setup.sh\` (it installs chromium)`);
}

export default defineConfig({
  test: {
    globalSetup: ['test/global_setup.ts'],
    // Dawn lives in native code: one process per test file (forks), never worker threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // WEBGRAD_TEST_JSON=path also writes vitest's JSON result (.ci/run prints a summary line from it).
    reporters: process.env.WEBGRAD_TEST_JSON ? ['default', ['json', { outputFile: process.env.WEBGRAD_TEST_JSON }]] : ['default'],
    projects: [
      { extends: true as const, test: { name: 'node', include: ['test/**/*.test.ts'] } },
      ...(haveSwiftShader
        ? [{
            extends: true as const,
            test: {
              name: 'swiftshader-sg4',
              include: ['test/ops/matmul.test.ts', 'test/ops/conv2d.test.ts', 'test/ops/attention.test.ts', 'test/ops/contrastive.test.ts'],
              env: { VK_ICD_FILENAMES: SWIFTSHADER_ICD, WEBGRAD_TEST_STRATEGIES: 'cpu-simd', WEBGRAD_PRINT_ADAPTER: '1' },
            },
          }]
        : []),
    ],
  },
});
