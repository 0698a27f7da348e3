// Shape ops against plain-JS references: views share storage and launch nothing; concat, stack
// and pad write through strided views. Edge sizes 1, 3, 17, 1000, 4099 and zero-size dims.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { uniform } from '../helpers/rand.js';
import { size, stridesOf } from '../reference/core.js';

const rt = await gpu();
afterAll(() => printReport('views'));

/** Reference: element of a row-major array at multi-index. */
const at = (data: ArrayLike<number>, shape: readonly number[], idx: readonly number[]) => {
  const s = stridesOf(shape);
  return data[idx.reduce((k, v, i) => k + v * s[i], 0)];
};
/** Enumerates the multi-indices of a shape in row-major order. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = size(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    yield [...idx];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

describe.skipIf(!rt)('views', () => {
  it('reshape of contiguous data is a view; of a permuted view, a copy', async () => {
    const data = uniform(24, 1);
    const x = wg.tensor(data, { shape: [2, 3, 4] });
    const r = wg.reshape(x, [4, -1]);
    expect(r.shape).toEqual([4, 6]);
    expect(r.storage).toBe(x.storage);
    const p = wg.permute(x, [2, 1, 0]);
    const rp = wg.reshape(p, [24]);
    expect(rp.storage).not.toBe(x.storage);
    const want: number[] = [];
    for (const [i, j, k] of indices([4, 3, 2])) want.push(at(data, [2, 3, 4], [k, j, i]));
    expectClose('reshape', await rp.data(), want);
    expect(() => wg.reshape(x, [5, -1])).toThrow('reshape: cannot reshape [2,3,4] (24 elements) to [5,-1]');
    expect(wg.flatten(x, 1).shape).toEqual([2, 12]);
  });

  it('permute, transpose, slice with steps, expand, squeeze, unsqueeze read the right elements', async () => {
    const shape = [3, 17, 5];
    const data = uniform(size(shape), 2);
    const x = wg.tensor(data, { shape });
    const t = wg.transpose(x, 0, 2); // [5,17,3]
    const wt: number[] = [];
    for (const [i, j, k] of indices([5, 17, 3])) wt.push(at(data, shape, [k, j, i]));
    expectClose('transpose', await t.data(), wt);
    const s = wg.slice(x, 1, -10, undefined, 3); // rows 7, 10, 13, 16
    expect(s.shape).toEqual([3, 4, 5]);
    const ws: number[] = [];
    for (const [i, j, k] of indices([3, 4, 5])) ws.push(at(data, shape, [i, 7 + 3 * j, k]));
    expectClose('slice', await s.data(), ws);
    const e = wg.expand(wg.slice(x, 1, 0, 1), [3, 4, 5]);
    const we: number[] = [];
    for (const [i, , k] of indices([3, 4, 5])) we.push(at(data, shape, [i, 0, k]));
    expectClose('expand', await e.data(), we);
    expect(wg.unsqueeze(x, -1).shape).toEqual([3, 17, 5, 1]);
    expect(wg.squeeze(wg.unsqueeze(x, 1)).shape).toEqual([3, 17, 5]);
    expect(() => wg.squeeze(x, 0)).toThrow('squeeze: dim 0 of [3,17,5] is not 1');
    expect(() => wg.permute(x, [0, 0, 1])).toThrow(/not a permutation/);
    expect(() => wg.slice(x, 3)).toThrow('slice: axis 3 is out of range for shape [3,17,5]');
    expect(wg.slice(x, 1, 5, 5).shape).toEqual([3, 0, 5]);
  });

  it('concat and stack along every axis at edge sizes', async () => {
    for (const n of [1, 3, 17, 1000, 4099]) {
      const a = uniform(n * 3, n);
      const b = uniform(n * 2, n + 1);
      const ta = wg.tensor(a, { shape: [n, 3] });
      const tb = wg.tensor(b, { shape: [n, 2] });
      const c1 = wg.concat([ta, tb], 1);
      const want: number[] = [];
      for (let i = 0; i < n; i++) want.push(...a.slice(i * 3, i * 3 + 3), ...b.slice(i * 2, i * 2 + 2));
      expectClose('concat', await c1.data(), want, {}, [n, 5]);
      const c0 = wg.concat([wg.transpose(ta), wg.transpose(tb)], 0); // [5, n]
      const w0: number[] = [];
      for (let j = 0; j < 5; j++) for (let i = 0; i < n; i++) w0.push(j < 3 ? a[i * 3 + j] : b[i * 2 + j - 3]);
      expectClose('concat', await c0.data(), w0, {}, [5, n]);
    }
    const xs = [0, 1, 2].map((s) => wg.tensor(uniform(6, 40 + s), { shape: [2, 3] }));
    const st = wg.stack(xs, 1); // [2,3,3]
    expect(st.shape).toEqual([2, 3, 3]);
    const vals = await Promise.all(xs.map((x) => x.data()));
    const ws: number[] = [];
    for (const [i, k, j] of indices([2, 3, 3])) ws.push(vals[k][i * 3 + j]);
    expectClose('stack', await st.data(), ws);
    expect(wg.concat([wg.zeros([0, 3]), wg.ones([2, 3])]).shape).toEqual([2, 3]);
    expect(() => wg.concat([wg.zeros([2, 3]), wg.zeros([2, 4])], 0)).toThrow(/concat: shapes \[2,3\]:f32, \[2,4\]:f32 differ outside axis 0/);
  });

  it('pad with constants, including integer tensors', async () => {
    const data = uniform(3 * 4, 5);
    const x = wg.tensor(data, { shape: [3, 4] });
    const p = wg.pad(x, [[1, 2], [0, 3]], -1);
    expect(p.shape).toEqual([6, 7]);
    const want: number[] = [];
    for (const [i, j] of indices([6, 7])) want.push(i >= 1 && i < 4 && j < 4 ? data[(i - 1) * 4 + j] : -1);
    expectClose('pad', await p.data(), want);
    const xi = wg.tensor([1, 2, 3], { dtype: 'i32' });
    expect(Array.from(await wg.pad(xi, [[2, 1]], 7).data())).toEqual([7, 7, 1, 2, 3, 7]);
    expect(() => wg.pad(x, [[-1, 0]])).toThrow(/pad: pads must be non-negative/);
  });

  it('creation: nested arrays, typed arrays, arange, full, dtype checks', async () => {
    const t = wg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(await t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(() => wg.tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => wg.tensor([1, 2, 3], { shape: [2, 2] })).toThrow('tensor: 3 values do not fill shape [2,2] (4 elements)');
    expect(Array.from(await wg.arange(5).data())).toEqual([0, 1, 2, 3, 4]);
    expectClose('arange', await wg.arange(1, 2, 0.25).data(), [1, 1.25, 1.5, 1.75]);
    expect(Array.from(await wg.arange(10, 0, -3, 'i32').data())).toEqual([10, 7, 4, 1]);
    expect(Array.from(await wg.full([3], 2.5).data())).toEqual([2.5, 2.5, 2.5]);
    expect(await wg.tensor([42], { shape: [] }).item()).toBe(42);
    expect((await wg.zeros([0, 4]).data()).length).toBe(0);
  });
});
