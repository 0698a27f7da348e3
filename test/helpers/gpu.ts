// GPU availability for test files: `const rt = await gpu();` then `describe.skipIf(!rt)(...)`.
// With CI=true a missing adapter throws instead of skipping.
import { init, type Runtime } from '../../src/index.node.js';

let cached: Promise<Runtime | null> | null = null;

export function gpu(): Promise<Runtime | null> {
  cached ??= init().then((rt) => {
    // Projects on another adapter than the global setup's say which one they run on.
    if (process.env.WEBGRAD_PRINT_ADAPTER) console.log(rt.describe());
    return rt;
  }, (e: Error) => {
    if (process.env.CI === 'true') throw e;
    console.warn(`skipping GPU tests: ${e.message}`);
    return null;
  });
  return cached;
}
