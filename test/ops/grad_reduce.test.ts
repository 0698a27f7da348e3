// Gradients of the reductions (sum, mean, max, min, variance, logsumexp) over one, several,
// negative, all and no axes with keepdim on and off, and of softmax / log-softmax along every
// axis: forward against float64 and backward against finite differences (checkOp). Ties of
// max/min are checked exactly (the gradient is split evenly, as torch.amax/amin).
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import type { Axes } from '../../src/kernels/reduce.js';
import { checkOp, type RefArr } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { permuteRef } from '../reference/matmul.js';
import { axesRef, reduceRef, softmaxRef, type ReduceRefOp } from '../reference/reduce.js';

const rt = await gpu();
afterAll(() => printReport('grad_reduce'));

const red = (op: ReduceRefOp, axes: Axes, keepdim = false, correction?: number) => (x: RefArr) =>
  reduceRef(op, x.data, x.shape, axesRef(axes, x.shape.length), { keepdim, correction });

/** Axis sets every reduction is checked over: [shape, axes, keepdim]. */
const CASES: [number[], Axes, boolean][] = [
  [[3, 5], undefined, false],
  [[3, 5], 1, false],
  [[3, 5], 0, true],
  [[2, 3, 4], [0, 2], false],
  [[2, 3, 4], [-1, -2], true],
  [[7], -1, false],
  [[2, 3], [], false],
];
const label = (shape: number[], axes: Axes, keepdim: boolean) => `[${shape}] axes ${JSON.stringify(axes)}${keepdim ? ' keepdim' : ''}`;

describe.skipIf(!rt)('reduction gradients (finite differences on the float64 reference)', () => {
  for (const op of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) {
    it(`${op} over single, several, negative, all and no axes`, async () => {
      for (const [shape, axes, keepdim] of CASES) {
        if (op === 'logsumexp' && Array.isArray(axes) && axes.length === 0) continue; // torch rejects dim=()
        const dom = op === 'logsumexp' ? { lo: -4, hi: 4 } : {};
        await checkOp(`${op} ${label(shape, axes, keepdim)}`, [{ shape, ...dom }], red(op, axes, keepdim), (x) => wg[op](x, axes, keepdim));
      }
    });
  }

  it('variance with corrections 0, 1 and 2', async () => {
    for (const [shape, axes, keepdim] of CASES.slice(0, 5)) {
      for (const correction of [0, 1, 2]) {
        const name = `variance ${label(shape, axes, keepdim)} correction ${correction}`;
        await checkOp(name, [shape], red('var', axes, keepdim, correction), (x) => wg.variance(x, axes, { correction, keepdim }));
      }
    }
    await checkOp('variance default', [[4, 3]], red('var', 0), (x) => wg.variance(x, 0));
  });

  it('reductions of a strided view', async () => {
    const tr = (x: RefArr) => permuteRef(x, [2, 0, 1]);
    await checkOp('sum permuted', [[2, 3, 5]], (x) => { const p = tr(x); return reduceRef('sum', p.data, p.shape, [1]); },
      (x) => wg.sum(wg.permute(x, [2, 0, 1]), 1));
    await checkOp('max permuted', [[2, 3, 5]], (x) => { const p = tr(x); return reduceRef('max', p.data, p.shape, [0, 2]); },
      (x) => wg.max(wg.permute(x, [2, 0, 1]), [0, 2]));
  });
});

describe.skipIf(!rt)('softmax and log-softmax gradients', () => {
  for (const log of [false, true]) {
    const op = log ? 'logSoftmax' : 'softmax';
    it(`${op} along every axis`, async () => {
      const cases: [number[], number][] = [[[3, 7], -1], [[4, 3], 0], [[2, 5, 3], 1], [[2, 5, 3], 2], [[9], 0]];
      for (const [shape, axis] of cases) {
        const ref = (x: RefArr) => ({ data: softmaxRef(x.data, shape, axis < 0 ? axis + shape.length : axis, log), shape });
        await checkOp(`${op} [${shape}] axis ${axis}`, [{ shape, lo: -3, hi: 3 }], ref, (x) => wg[op](x, axis));
      }
      const big = (x: RefArr) => ({ data: softmaxRef(x.data, [3, 6], 1, log), shape: [3, 6] });
      await checkOp(`${op} large logits`, [{ shape: [3, 6], lo: -60, hi: 60 }], big, (x) => wg[op](x));
    });
  }
});

describe.skipIf(!rt)('ties and non-differentiable reductions', () => {
  it('max and min split the gradient evenly between tied extrema', async () => {
    const x = wg.keep(wg.tensor([1, 3, 3, 2, 5, 5, 5, 0, -1, 4, 2, -1], { shape: [3, 4] }));
    x.requiresGrad = true;
    const g = [1, 2, 3];
    const cases = [
      [wg.max, [0, 0.5, 0.5, 0, 2 / 3, 2 / 3, 2 / 3, 0, 0, 3, 0, 0]],
      [wg.min, [1, 0, 0, 0, 0, 0, 0, 2, 1.5, 0, 0, 1.5]],
    ] as const;
    for (const [op, want] of cases) {
      wg.scope(() => wg.backward(op(x, 1), wg.tensor(g)));
      expectClose(`${op.name} ties`, await x.grad!.data(), want, { rtol: 1e-6, atol: 1e-7 });
      x.grad!.dispose();
      x.grad = null;
    }
    // Over all elements: the three 5s share the gradient.
    wg.scope(() => wg.backward(wg.max(x)));
    expectClose('max all ties', await x.grad!.data(), [0, 0, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0], { rtol: 1e-6, atol: 1e-7 });
    x.grad!.dispose();
    x.dispose();
  });

  it('argmax and argmin give i32 indices and record nothing', async () => {
    const x = wg.tensor([1, 4, 2, 7, 0, 3], { shape: [2, 3] });
    x.requiresGrad = true;
    const i = wg.argmax(x, 1);
    const j = wg.argmin(x, 1);
    expect(i.dtype).toBe('i32');
    expect(i.requiresGrad || j.requiresGrad).toBe(false);
    expect(Array.from(await i.data())).toEqual([1, 0]);
    expect(Array.from(await j.data())).toEqual([0, 1]);
    for (const t of [x, i, j]) t.dispose();
  });
});
