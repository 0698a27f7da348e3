// Keeps README.md true: its TypeScript usage example runs against the library.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.node.js';
import { gpu } from './helpers/gpu.js';

const rt = await gpu();
const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe.skipIf(!rt)('README', () => {
  it('the usage examples run', async () => {
    const blocks = [...readme.matchAll(/```ts\n([^]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      expect(block).toMatch(/import \* as wg from 'webgrad';/);
      const body = block.replace(/^import .*$/m, '');
      const logged: unknown[] = [];
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...a: string[]) => (...v: unknown[]) => Promise<void>;
      await new AsyncFunction('wg', 'console', body)(wg, { log: (...v: unknown[]) => logged.push(...v) });
      expect(logged.length).toBeGreaterThan(0);
      if (logged[0] instanceof Float32Array) {
        const y = logged[0];
        expect(y.length).toBe(128 * 10);
        // Each softmax row sums to 1.
        for (let r = 0; r < 128; r++) expect(Math.abs(y.slice(r * 10, r * 10 + 10).reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-5);
      } else {
        // The training example: the loss it prints falls.
        const losses = logged.map((l) => Number(/loss (\S+)/.exec(String(l))?.[1]));
        expect(losses.length).toBeGreaterThan(1);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses.at(-1)!).toBeLessThan(losses[0]);
      }
    }
  });
});
