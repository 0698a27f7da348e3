// The gather family against the float64 references: indexSelect, gather, scatterAdd, indexAdd and
// oneHot over several axes and odd sizes, duplicate indices (heavy contention on a few slots),
// strided views as inputs, f32 and i32, out-of-range indices (read 0 / skipped) and the errors.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gather, indexAdd, indexSelect, oneHot, scatterAdd } from '../../src/kernels/gather.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { integers, uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { gatherRef, indexAddRef, indexSelectRef, oneHotRef, scatterAddRef } from '../reference/gather.js';
import { permuteRef, type Arr } from '../reference/matmul.js';

const rt = await gpu();
afterAll(() => printReport('gather'));

let seed = 500;
const rand = (shape: number[]): Arr => ({ data: uniform(size(shape), seed++), shape });
const up = (x: Arr): wg.Tensor => wg.tensor(Float32Array.from(x.data), { shape: x.shape });
const idx = (data: Int32Array, shape: number[] = [data.length]): wg.Tensor => wg.tensor(data, { shape, dtype: 'i32' });
const exact = { rtol: 0, atol: 0 };

describe.skipIf(!rt)('indexSelect', () => {
  it('every axis of a [5, 7, 3] tensor, with duplicates, odd lengths and an empty index', async () => {
    const X = rand([5, 7, 3]);
    const x = up(X);
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      for (const len of [1, 3, 17, 0]) {
        const I = integers(len, seed++, 0, X.shape[a]);
        const out = indexSelect(x, axis, idx(I));
        const want = indexSelectRef(X, a, I);
        expect(out.shape).toEqual(want.shape);
        expectClose('indexSelect', await out.data(), want.data, exact, want.shape);
      }
    }
  });

  it('reads permuted x and a strided index; i32 values; 4099 rows', async () => {
    const X = rand([4, 6, 5]);
    const xp = wg.permute(up(X), [2, 0, 1]); // [5, 4, 6]
    const Xp = permuteRef(X, [2, 0, 1]);
    const I = integers(34, seed++, 0, 6);
    const every2 = wg.slice(idx(I), 0, 0, 34, 2); // 17 entries, stride 2
    const I2 = I.filter((_, i) => i % 2 === 0);
    expectClose('indexSelect', await indexSelect(xp, 2, every2).data(), indexSelectRef(Xp, 2, I2).data, exact);
    const V = integers(4099 * 3, seed++, -1000, 1000);
    const v = wg.tensor(V, { shape: [4099, 3], dtype: 'i32' });
    const J = integers(4099, seed++, 0, 4099);
    const got = await indexSelect(v, 0, idx(J)).data();
    expect(got).toBeInstanceOf(Int32Array);
    expectClose('indexSelect', got, indexSelectRef({ data: V, shape: [4099, 3] }, 0, J).data, exact);
  });
});

describe.skipIf(!rt)('gather', () => {
  it('every axis, index smaller than x off the axis, duplicates', async () => {
    const X = rand([6, 5, 4]);
    const x = up(X);
    for (const axis of [0, 1, 2]) {
      const shape = [3, 4, 3];
      shape[axis] = 11; // longer than x along the axis: indices repeat
      const I = integers(size(shape), seed++, 0, X.shape[axis]);
      const out = gather(x, axis, idx(I, shape));
      const want = gatherRef(X, axis, { data: I, shape });
      expect(out.shape).toEqual(shape);
      expectClose('gather', await out.data(), want.data, exact, shape);
    }
  });

  it('reads a transposed x and 1000 x 17 rows', async () => {
    const X = rand([17, 1000]);
    const xt = wg.transpose(up(X)); // [1000, 17]
    const Xt = permuteRef(X, [1, 0]);
    const I = integers(1000 * 5, seed++, 0, 17);
    const out = gather(xt, 1, idx(I, [1000, 5]));
    expectClose('gather', await out.data(), gatherRef(Xt, 1, { data: I, shape: [1000, 5] }).data, exact);
  });
});

describe.skipIf(!rt)('scatterAdd and indexAdd', () => {
  it('scatterAdd on every axis with many duplicates, src larger than index, target unchanged', async () => {
    const T = rand([3, 5, 4]);
    const t = up(T);
    for (const axis of [0, 1, 2]) {
      const ishape = [3, 4, 2];
      ishape[axis] = 17;
      const sshape = ishape.map((d) => d + 1);
      const S = rand(sshape);
      const I = integers(size(ishape), seed++, 0, T.shape[axis]);
      const out = scatterAdd(t, axis, idx(I, ishape), up(S));
      const want = scatterAddRef(T, axis, { data: I, shape: ishape }, S);
      expect(out.shape).toEqual(T.shape);
      expectClose('scatterAdd', await out.data(), want.data, { rtol: 1e-5, atol: 1e-6 }, T.shape);
    }
    expectClose('scatterAdd', await t.data(), T.data, exact); // the target is not modified
  });

  it('scatterAdd: 4099 values into 3 slots (contention on the compare-exchange loop), and i32', async () => {
    const T: Arr = { data: new Float32Array(3), shape: [3] };
    const S = rand([4099]);
    const I = integers(4099, seed++, 0, 3);
    const out = scatterAdd(up(T), 0, idx(I), up(S));
    // Sums of ~1366 terms in any order: float32 error grows with sqrt(count).
    expectClose('scatterAdd', await out.data(), scatterAddRef(T, 0, { data: I, shape: [4099] }, S).data, { rtol: 1e-5, atol: 4e-6 * Math.sqrt(1366) });
    const Ti = integers(12, seed++, -50, 50);
    const Si = integers(4099 * 2, seed++, -1000, 1000);
    const Ii = integers(4099 * 2, seed++, 0, 6);
    const ti = wg.tensor(Ti, { shape: [6, 2], dtype: 'i32' });
    const outi = scatterAdd(ti, 0, idx(Ii, [4099, 2]), wg.tensor(Si, { shape: [4099, 2], dtype: 'i32' }));
    const want = scatterAddRef({ data: Ti, shape: [6, 2] }, 0, { data: Ii, shape: [4099, 2] }, { data: Si, shape: [4099, 2] });
    expect(Array.from(await outi.data())).toEqual(Array.from(want.data));
  });

  it('indexAdd on every axis with duplicates, strided src, f32 and i32', async () => {
    const T = rand([4, 3, 5]);
    const t = up(T);
    for (const axis of [0, 1, 2]) {
      const I = integers(17, seed++, 0, T.shape[axis]);
      const sshape = T.shape.map((d, i) => (i === axis ? 17 : d));
      const S = rand([sshape[2], sshape[0], sshape[1]]);
      const src = wg.permute(up(S), [1, 2, 0]); // strided view of shape sshape
      const out = indexAdd(t, axis, idx(I), src);
      const want = indexAddRef(T, axis, I, permuteRef(S, [1, 2, 0]));
      expectClose('indexAdd', await out.data(), want.data, { rtol: 1e-5, atol: 1e-6 }, T.shape);
    }
    const Ti = integers(7 * 3, seed++, -9, 9);
    const Si = integers(1000 * 3, seed++, -9, 9);
    const I = integers(1000, seed++, 0, 7);
    const out = indexAdd(wg.tensor(Ti, { shape: [7, 3], dtype: 'i32' }), 0, idx(I), wg.tensor(Si, { shape: [1000, 3], dtype: 'i32' }));
    const want = indexAddRef({ data: Ti, shape: [7, 3] }, 0, I, { data: Si, shape: [1000, 3] });
    expect(Array.from(await out.data())).toEqual(Array.from(want.data));
  });
});

describe.skipIf(!rt)('oneHot', () => {
  it('odd class counts, batched labels, a scalar label', async () => {
    for (const [shape, C] of [[[4099], 3], [[3, 17], 10], [[], 5], [[1], 1], [[2, 0], 4]] as [number[], number][]) {
      const L = integers(size(shape), seed++, 0, C);
      const out = oneHot(idx(L, shape), C);
      const want = oneHotRef({ data: L, shape }, C);
      expect(out.shape).toEqual(want.shape);
      expect(out.dtype).toBe('f32');
      expectClose('oneHot', await out.data(), want.data, exact, want.shape);
    }
  });
});

describe.skipIf(!rt)('out-of-range indices and errors', () => {
  it('reads give 0, writes are skipped', async () => {
    const X = rand([4, 3]);
    const x = up(X);
    const bad = Int32Array.from([0, -1, 3, 4, 100, -7]);
    expectClose('indexSelect', await indexSelect(x, 0, idx(bad)).data(), indexSelectRef(X, 0, bad).data, exact);
    const G = Int32Array.from([1, 3, -1, 0, 4, 2]);
    expectClose('gather', await gather(x, 0, idx(G, [2, 3])).data(), gatherRef(X, 0, { data: G, shape: [2, 3] }).data, exact);
    const S = rand([2, 3]);
    const want = scatterAddRef(X, 0, { data: G, shape: [2, 3] }, S);
    expectClose('scatterAdd', await scatterAdd(x, 0, idx(G, [2, 3]), up(S)).data(), want.data, { rtol: 1e-6, atol: 1e-7 });
    const S2 = rand([6, 3]);
    expectClose('indexAdd', await indexAdd(x, 0, idx(bad), up(S2)).data(), indexAddRef(X, 0, bad, S2).data, { rtol: 1e-6, atol: 1e-7 });
    const L = Int32Array.from([2, -1, 5, 0]);
    expectClose('oneHot', await oneHot(idx(L), 5).data(), oneHotRef({ data: L, shape: [4] }, 5).data, exact);
    expectClose('oneHot', await oneHot(idx(L), 3).data(), oneHotRef({ data: L, shape: [4] }, 3).data, exact);
  });

  it('dtype and shape errors are one line naming the op and the shapes', () => {
    const x = wg.zeros([4, 3]);
    const fi = wg.zeros([2]);
    expect(() => indexSelect(x, 0, fi)).toThrow('indexSelect: index must be a 1-D i32 tensor, got f32 [2]');
    expect(() => indexSelect(x, 2, idx(Int32Array.from([0])))).toThrow('indexSelect: axis 2 is out of range for shape [4,3]');
    expect(() => gather(x, 0, idx(new Int32Array(8), [2, 4]))).toThrow(
      'gather: index [2,4] does not fit x [4,3] at axis 0 (same rank, index.shape[d] <= x.shape[d] for d != axis)');
    expect(() => scatterAdd(x, 1, idx(new Int32Array(6), [2, 3]), wg.zeros([2, 2]))).toThrow(
      /^scatterAdd: index \[2,3\] does not fit target \[4,3\] and src \[2,2\] at axis 1/);
    expect(() => scatterAdd(x, 0, idx(new Int32Array(2), [1, 2]), wg.zeros([1, 2], 'i32'))).toThrow(
      'scatterAdd: target f32 [4,3] and src i32 [1,2] need one dtype');
    expect(() => indexAdd(x, 1, idx(new Int32Array(2)), wg.zeros([4, 3]))).toThrow(
      'indexAdd: src [4,3] must be target [4,3] with dim 1 = index length 2');
    expect(() => oneHot(wg.zeros([3]), 4)).toThrow('oneHot: labels must be i32, got f32 [3]');
    expect(() => oneHot(idx(new Int32Array(3)), 0)).toThrow('oneHot: numClasses must be a positive integer, got 0 for labels [3]');
  });
});
