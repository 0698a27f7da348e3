// Gradients of crossEntropy against finite differences: every reduction, with and without label
// smoothing, odd batch and class counts, a batch of one, large logits; and its one-line errors.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp } from '../helpers/check_op.js';
import { printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { integers } from '../helpers/rand.js';
import { crossEntropyRef } from '../reference/losses.js';
import { expectNoLeak } from '../helpers/leak.js';

const rt = await gpu();
afterAll(() => printReport('grad_losses'));

const labels = (n: number, c: number, seed: number) => ({ shape: [n], data: Array.from(integers(n, seed, 0, c)), dtype: 'i32' as const });

describe.skipIf(!rt)('crossEntropy gradients (finite differences on the float64 reference)', () => {
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`reduction ${reduction}, label smoothing 0 and 0.1`, async () => {
      for (const labelSmoothing of [0, 0.1]) {
        for (const [n, c] of [[7, 5], [1, 3], [4, 11]]) {
          const name = `crossEntropy ${reduction} ε=${labelSmoothing} [${n},${c}]`;
          await checkOp(name, [{ shape: [n, c], lo: -3, hi: 3 }, labels(n, c, n * c)],
            (x, y) => crossEntropyRef(x, y.data, reduction, labelSmoothing),
            (x, y) => wg.crossEntropy(x, y, { reduction, labelSmoothing }));
        }
      }
    });
  }

  it('large logits and the default options', async () => {
    await checkOp('crossEntropy large logits', [{ shape: [5, 6], lo: -80, hi: 80 }, labels(5, 6, 9)],
      (x, y) => crossEntropyRef(x, y.data, 'mean', 0.2), (x, y) => wg.crossEntropy(x, y, { labelSmoothing: 0.2 }));
    await checkOp('crossEntropy default', [[6, 4], labels(6, 4, 3)], (x, y) => crossEntropyRef(x, y.data), (x, y) => wg.crossEntropy(x, y));
  });
});

describe.skipIf(!rt)('a training-like step', () => {
  it('through matmul, gelu, shape ops, gather, reductions and crossEntropy leaks no buffers', async () => {
    const param = (shape: number[], seed: number) => {
      const t = wg.keep(wg.tensor(Array.from(integers(shape.reduce((a, b) => a * b), seed, -9, 10), (v) => v / 10), { shape }));
      t.requiresGrad = true;
      return t;
    };
    const params = [param([6, 5], 1), param([5], 2), param([3, 5], 3), param([4, 3], 4)];
    const [w1, b1, w2, emb] = params;
    const x = wg.keep(wg.tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i)), { shape: [4, 6] }));
    const y = wg.keep(wg.tensor([0, 2, 1, 2], { dtype: 'i32' }));
    const step = () =>
      wg.scope(() => {
        const h = wg.matmul(x, w1, { bias: b1, activation: 'gelu' });
        const z = wg.add(wg.matmul(wg.slice(wg.pad(h, [[1, 0]]), 0, 1), w2, { transB: true }), wg.indexSelect(emb, 0, y));
        const r = wg.mean(wg.max(wg.softmax(wg.concat([z, wg.transpose(wg.reshape(z, [3, 4]))], 0), 1), 0));
        wg.backward(wg.add(wg.crossEntropy(z, y, { labelSmoothing: 0.1 }), r));
        for (const p of params) {
          p.grad?.dispose();
          p.grad = null;
        }
      });
    await expectNoLeak(step, { steps: 20 });
    for (const t of [...params, x, y]) t.dispose();
  });
});

describe.skipIf(!rt)('crossEntropy errors', () => {
  it('name the op and the shapes', () => {
    const x = wg.zeros([3, 4]);
    const y = wg.tensor([0, 1, 2], { dtype: 'i32' });
    expect(() => wg.crossEntropy(x, wg.tensor([0, 1], { dtype: 'i32' }))).toThrow(/^crossEntropy: expects logits f32 \[N, C\] and labels i32 \[N\], got logits f32 \[3,4\], labels i32 \[2\]$/);
    expect(() => wg.crossEntropy(x, wg.tensor([0, 1, 2]))).toThrow(/labels f32 \[3\]/);
    expect(() => wg.crossEntropy(x, y, { labelSmoothing: 1.5 })).toThrow(/^crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/);
    expect(() => wg.crossEntropy(x, y, { reduction: 'avg' as 'mean' })).toThrow(/^crossEntropy: unknown reduction 'avg'/);
  });
});
