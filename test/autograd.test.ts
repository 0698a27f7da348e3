// The tape: gradients through broadcasting, reuse of a tensor, accumulation over calls, noGrad,
// detach, errors, and no leaked buffers across repeated steps.
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.node.js';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';

const rt = await gpu();

const leaf = (data: number[], shape: number[]) => {
  const t = wg.keep(wg.tensor(data, { shape }));
  t.requiresGrad = true;
  return t;
};

describe.skipIf(!rt)('autograd tape', () => {
  it('broadcast gradients are summed back; a reused tensor accumulates', async () => {
    const x = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
    const w = leaf([0.5, -1, 2], [3]);
    const g = wg.tensor([1, 1, 1, 2, 2, 2], { shape: [2, 3] });
    wg.scope(() => {
      const y = wg.mul(wg.add(x, w), x); // (x + w) x
      wg.backward(y, g);
    });
    // dy/dx = 2x + w, dy/dw = x (summed over the broadcast row dim)
    expectClose('grad x', await x.grad!.data(), [2.5, 3, 8, 2 * 8.5, 2 * 9, 2 * 14]);
    expectClose('grad w', await w.grad!.data(), [1 + 8, 2 + 10, 3 + 12]);
    // A second backward accumulates into .grad.
    wg.scope(() => wg.backward(wg.mul(w, 2), wg.ones([3])));
    expectClose('grad w', await w.grad!.data(), [11, 14, 17]);
  });

  it('scalar losses need no upstream gradient; non-scalar ones do', async () => {
    const x = leaf([3], []);
    wg.scope(() => wg.backward(wg.mul(wg.exp(x), x)));
    expectClose('grad', await x.grad!.data(), [Math.exp(3) * 4], { rtol: 1e-6 });
    const v = leaf([1, 2], [2]);
    expect(() => wg.backward(wg.exp(v))).toThrow(/loss has shape \[2\]; pass the upstream gradient/);
    expect(() => wg.backward(wg.ones([1]))).toThrow(/does not require grad/);
  });

  it('noGrad and detach cut the graph; backward twice needs retainGraph', () => {
    const x = leaf([1, 2], [2]);
    const y = wg.noGrad(() => wg.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(wg.detach(wg.mul(x, 2)).requiresGrad).toBe(false);
    const z = wg.mul(x, x);
    wg.backward(z, wg.ones([2]), { retainGraph: true });
    wg.backward(z, wg.ones([2]));
    expect(() => wg.backward(z, wg.ones([2]))).toThrow(/already differentiated/);
  });

  it('a training-like step leaks no buffers', async () => {
    const w = leaf(Array.from({ length: 64 }, (_, i) => i / 64), [8, 8]);
    const x = wg.keep(wg.tensor(Array.from({ length: 64 }, (_, i) => Math.sin(i)), { shape: [8, 8] }));
    const step = () =>
      wg.scope(() => {
        const h = wg.tanh(wg.mul(wg.sub(x, w), wg.sigmoid(w)));
        wg.backward(wg.relu(h), wg.onesLike(h));
        w.grad?.dispose();
        w.grad = null;
      });
    await expectNoLeak(step, { steps: 50 });
  });
});

describe.skipIf(!rt)('autograd pass-through gradients', () => {
  it('add(x, x) and add(x, y) give each leaf its own gradient tensor', async () => {
    const x = leaf([1, 2], [2]);
    const y = leaf([3, 4], [2]);
    wg.scope(() => wg.backward(wg.add(wg.add(x, y), x), wg.ones([2])));
    expect(x.grad).not.toBe(y.grad);
    expectClose('grad x', await x.grad!.data(), [2, 2]);
    x.grad!.dispose();
    expectClose('grad y', await y.grad!.data(), [1, 1]);
  });
});
