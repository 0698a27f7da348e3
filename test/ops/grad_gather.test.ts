// Gradients of the gather family against finite differences: indexSelect and gather with repeated
// and out-of-range indices (their gradients accumulate / skip), scatterAdd and indexAdd in both
// the target and the source; oneHot is a plain function.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp } from '../helpers/check_op.js';
import { printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { mapRef } from '../reference/core.js';
import { gatherRef, indexAddRef, indexSelectRef, scatterAddRef } from '../reference/gather.js';

const rt = await gpu();
afterAll(() => printReport('grad_gather'));

const idx = (shape: number[], data: number[]) => ({ shape, data, dtype: 'i32' as const });

describe.skipIf(!rt)('gather-family gradients (finite differences on the float64 reference)', () => {
  it('indexSelect: repeated indices accumulate, out-of-range ones get nothing', async () => {
    await checkOp('indexSelect rows', [[5, 3], idx([6], [4, 0, 4, 2, 1, 4])], (x, i) => indexSelectRef(x, 0, i.data),
      (x, i) => wg.indexSelect(x, 0, i));
    await checkOp('indexSelect middle', [[2, 4, 3], idx([3], [3, 3, 0])], (x, i) => indexSelectRef(x, 1, i.data),
      (x, i) => wg.indexSelect(x, 1, i));
    await checkOp('indexSelect out of range', [[4, 2], idx([3], [-1, 4, 2])], (x, i) => indexSelectRef(x, 0, i.data),
      (x, i) => wg.indexSelect(x, -2, i));
  });

  it('gather along each axis, index smaller than x', async () => {
    await checkOp('gather last', [[3, 5], idx([3, 4], [0, 4, 4, 1, 2, 2, 2, 2, 3, 0, 1, 4])], (x, i) => gatherRef(x, 1, i),
      (x, i) => wg.gather(x, 1, i));
    await checkOp('gather first', [[4, 3], idx([2, 2], [3, 0, 3, 3])], (x, i) => gatherRef(x, 0, i), (x, i) => wg.gather(x, 0, i));
    await checkOp('gather squared', [[2, 3, 4], idx([2, 2, 2], [0, 3, 1, 1, 2, 2, 3, 0])],
      (x, i) => mapRef([gatherRef(x, 2, i)], (v) => v * v), (x, i) => wg.square(wg.gather(x, -1, i)));
  });

  it('scatterAdd and indexAdd in target and source', async () => {
    await checkOp('scatterAdd', [[4, 3], idx([2, 3], [3, 0, 3, 3, 1, 0]), [3, 3]], (t, i, s) => scatterAddRef(t, 0, i, s),
      (t, i, s) => wg.scatterAdd(t, 0, i, s));
    await checkOp('scatterAdd last', [[2, 4], idx([2, 2], [1, 1, 3, 0]), [2, 2]],
      (t, i, s) => mapRef([scatterAddRef(t, 1, i, s)], (v) => v * v), (t, i, s) => wg.square(wg.scatterAdd(t, 1, i, s)));
    await checkOp('indexAdd', [[5, 2], idx([3], [1, 1, 4]), [3, 2]], (t, i, s) => indexAddRef(t, 0, i.data, s),
      (t, i, s) => wg.indexAdd(t, 0, i, s));
    await checkOp('indexAdd last', [[2, 3], idx([4], [2, 0, 2, 5]), [2, 4]],
      (t, i, s) => mapRef([indexAddRef(t, 1, i.data, s)], (v) => v * v), (t, i, s) => wg.square(wg.indexAdd(t, 1, i, s)));
  });
});

describe.skipIf(!rt)('non-differentiable gather ops', () => {
  it('oneHot gives f32 rows and records nothing', async () => {
    const y = wg.oneHot(wg.tensor([2, 0, 5], { dtype: 'i32' }), 3);
    expect(y.requiresGrad).toBe(false);
    expect(Array.from(await y.data())).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 0]);
    y.dispose();
  });
});
