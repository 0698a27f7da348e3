// Gradients of the shape ops (reshape, flatten, permute, transpose, slice with steps and negative
// bounds, expand, squeeze, unsqueeze, concat, stack, pad, contiguous, copy) against finite
// differences, chains of views, and a check that the forward of a view is still a view.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp, type RefArr } from '../helpers/check_op.js';
import { printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { mapRef } from '../reference/core.js';
import { permuteRef } from '../reference/matmul.js';
import { concatRef, expandRef, padRef, sliceRef, stackRef } from '../reference/shape.js';

const rt = await gpu();
afterAll(() => printReport('grad_shape'));

/** The reference of an op that keeps the data and changes the shape. */
const same = (shape: number[]) => (x: RefArr) => ({ data: x.data, shape });
/** A non-linear consumer, so that gradients differ per element. */
const sq = (o: { data: ArrayLike<number>; shape: readonly number[] }) => mapRef([o], (v) => v * v);

describe.skipIf(!rt)('shape-op gradients (finite differences on the float64 reference)', () => {
  it('reshape, flatten, squeeze, unsqueeze', async () => {
    await checkOp('reshape', [[3, 4]], same([2, 6]), (x) => wg.reshape(x, [2, 6]));
    await checkOp('reshape infer', [[2, 3, 5]], same([5, 6]), (x) => wg.reshape(x, [-1, 6]));
    await checkOp('reshape of strided', [[3, 4]], (x) => ({ data: permuteRef(x, [1, 0]).data, shape: [12] }),
      (x) => wg.reshape(wg.transpose(x), [12]));
    await checkOp('flatten', [[2, 3, 5]], same([2, 15]), (x) => wg.flatten(x, 1));
    await checkOp('flatten all', [[2, 3, 5]], same([30]), (x) => wg.flatten(x));
    await checkOp('squeeze', [[3, 1, 4, 1]], same([3, 4]), (x) => wg.squeeze(x));
    await checkOp('squeeze one', [[3, 1, 4, 1]], same([3, 1, 4]), (x) => wg.squeeze(x, -1));
    await checkOp('unsqueeze', [[3, 4]], same([3, 1, 4]), (x) => wg.unsqueeze(x, 1));
    await checkOp('unsqueeze end', [[5]], (x) => sq(same([5, 1])(x)), (x) => wg.square(wg.unsqueeze(x, -1)));
  });

  it('permute and transpose', async () => {
    await checkOp('permute', [[2, 3, 5]], (x) => permuteRef(x, [2, 0, 1]), (x) => wg.permute(x, [2, 0, 1]));
    await checkOp('permute negative', [[2, 3, 5]], (x) => sq(permuteRef(x, [1, 2, 0])), (x) => wg.square(wg.permute(x, [-2, -1, 0])));
    await checkOp('transpose', [[3, 5]], (x) => permuteRef(x, [1, 0]), (x) => wg.transpose(x));
    await checkOp('transpose dims', [[2, 3, 4]], (x) => permuteRef(x, [2, 1, 0]), (x) => wg.transpose(x, 0, 2));
    await checkOp('permute chain', [[2, 3, 4]], (x) => sq(permuteRef(permuteRef(x, [1, 0, 2]), [0, 2, 1])),
      (x) => wg.square(wg.transpose(wg.permute(x, [1, 0, 2]), 1, 2)));
  });

  it('slice with steps and negative bounds', async () => {
    await checkOp('slice', [[5, 4]], (x) => sliceRef(x, 0, 1, 4), (x) => wg.slice(x, 0, 1, 4));
    await checkOp('slice step', [[3, 11]], (x) => sq(sliceRef(x, 1, 1, 10, 3)), (x) => wg.square(wg.slice(x, 1, 1, 10, 3)));
    await checkOp('slice negative', [[2, 7, 3]], (x) => sliceRef(x, 1, -5, -1, 2), (x) => wg.slice(x, 1, -5, -1, 2));
    await checkOp('slice of slice', [[9, 2]], (x) => sliceRef(sliceRef(x, 0, 1, 8, 2), 0, 1), (x) => wg.slice(wg.slice(x, 0, 1, 8, 2), 0, 1));
    await checkOp('slice overlap', [[7]], (x) => {
      const a = sliceRef(x, 0, 0, 5);
      const b = sliceRef(x, 0, 2, 7);
      return mapRef([a, b], (u, v) => u * v);
    }, (x) => wg.mul(wg.slice(x, 0, 0, 5), wg.slice(x, 0, 2, 7)));
  });

  it('expand, contiguous, copy', async () => {
    await checkOp('expand', [[3, 1]], (x) => expandRef(x, [3, 4]), (x) => wg.expand(x, [3, 4]));
    await checkOp('expand lead', [[1, 5]], (x) => sq(expandRef(x, [2, 3, 5])), (x) => wg.square(wg.expand(x, [2, 3, -1])));
    await checkOp('contiguous', [[3, 4]], (x) => sq(permuteRef(x, [1, 0])), (x) => wg.square(wg.contiguous(wg.transpose(x))));
    await checkOp('copy', [[6]], (x) => sq(x), (x) => wg.square(wg.copy(x)));
  });

  it('concat, stack, pad', async () => {
    await checkOp('concat', [[2, 3], [4, 3], [1, 3]], (a, b, c) => concatRef([a, b, c], 0), (a, b, c) => wg.concat([a, b, c]));
    await checkOp('concat axis', [[2, 3, 2], [2, 1, 2]], (a, b) => sq(concatRef([a, b], 1)), (a, b) => wg.square(wg.concat([a, b], -2)));
    await checkOp('concat self', [[3]], (a) => sq(concatRef([a, a], 0)), (a) => wg.square(wg.concat([a, a])));
    await checkOp('stack', [[2, 3], [2, 3]], (a, b) => stackRef([a, b], 0), (a, b) => wg.stack([a, b]));
    await checkOp('stack axis', [[2, 3], [2, 3], [2, 3]], (a, b, c) => sq(stackRef([a, b, c], 2)), (a, b, c) => wg.square(wg.stack([a, b, c], -1)));
    await checkOp('pad', [[3, 4]], (x) => padRef(x, [[1, 2], [0, 3]]), (x) => wg.pad(x, [[1, 2], [0, 3]]));
    await checkOp('pad lead value', [[2, 3, 2]], (x) => sq(padRef(x, [[2, 1]], 0.5)), (x) => wg.square(wg.pad(x, [[2, 1]], 0.5)));
  });
});

describe.skipIf(!rt)('shape ops in forward', () => {
  it('views stay views (share storage) while recording', () => {
    const x = wg.keep(wg.zeros([2, 3, 1]));
    x.requiresGrad = true;
    const views = [
      wg.reshape(x, [6]), wg.flatten(x), wg.permute(x, [2, 0, 1]), wg.transpose(x), wg.slice(x, 1, 0, 3, 2),
      wg.expand(x, [2, 3, 4]), wg.squeeze(x), wg.unsqueeze(x, 0), wg.contiguous(x),
    ];
    for (const v of views) {
      expect(v.storage, `${v.shape}`).toBe(x.storage);
      expect(v.requiresGrad).toBe(true);
      v.dispose();
    }
    const c = wg.concat([x, x]);
    expect(c.storage).not.toBe(x.storage);
    c.dispose();
    x.dispose();
  });

  it('leaf gradients are standalone contiguous tensors even where rules hand on views', async () => {
    const x = wg.keep(wg.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }));
    const z = wg.keep(wg.tensor([7, 8, 9]));
    x.requiresGrad = z.requiresGrad = true;
    wg.scope(() => wg.backward(wg.concat([wg.flatten(wg.transpose(x)), z]), wg.arange(0, 9)));
    for (const [t, want] of [[x, [0, 2, 4, 1, 3, 5]], [z, [6, 7, 8]]] as const) {
      const g = t.grad!;
      expect([g.isContiguous, g.offset, g.storage.length]).toEqual([true, 0, g.size]);
      expect(Array.from(await g.data())).toEqual(want);
      g.dispose();
      t.dispose();
    }
  });

  it('errors name the op and the shapes', () => {
    const x = wg.zeros([2, 3]);
    x.requiresGrad = true;
    expect(() => wg.reshape(x, [4, 2])).toThrow(/^reshape: cannot reshape \[2,3\]/);
    expect(() => wg.concat([])).toThrow(/^concat: no tensors/);
    expect(() => wg.stack([x, wg.zeros([3, 2])])).toThrow(/^stack: shapes \[2,3\], \[3,2\] differ/);
    x.dispose();
  });
});
