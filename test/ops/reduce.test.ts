// Reduction kernels against the float64 reference: every op at the edge sizes (1, 3, 17, 1000,
// 4099 in one dim at a time), over single, multiple, negative, all and no axes with keepdim on and
// off, on every kernel path, strided views read in place, i32/u32, zero-size dims, ties and NaN,
// more than 65,535 output rows, and the error messages.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { argmax, launchReduce, max, mean, min, sum, variance, type Axes, type ReduceOp } from '../../src/kernels/reduce.js';
import type { RowPath } from '../../src/kernels/rows.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport, type Tol } from '../helpers/compare.js';
import { integers, uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { axesRef, reduceRef, viewRef } from '../reference/reduce.js';

const rt = await gpu();
afterAll(() => printReport('reduce'));

const SIZES = [1, 3, 17, 1000, 4099];
/** Each edge size in one dim at a time, the other dims small. */
const SHAPES: number[][] = [...new Map(
  SIZES.flatMap((n) => [[n, 3, 2], [3, n, 2], [2, 3, n]]).map((s) => [s.join(), s]),
).values()];
const AXES: Axes[] = [0, 1, -1, [0, 2], [-3, -2], [1, 2], undefined, []];
const ARG_AXES: Axes[] = [0, 1, -1, undefined];
const FLOAT_OPS: ReduceOp[] = ['sum', 'mean', 'max', 'min', 'var'];
const ARG_OPS: ReduceOp[] = ['argmax', 'argmin'];
const ALL_OPS: ReduceOp[] = [...FLOAT_OPS, ...ARG_OPS];

const lenOf = (shape: readonly number[], axes: readonly number[]) => axes.reduce((n, a) => n * shape[a], 1);

/**
 * Float32 accumulation of `len` values in [-1, 1]: rounding errors grow like sqrt(len) relative
 * to the running sums; max/min/arg ops are exact.
 */
function tolFor(op: ReduceOp, len: number): Tol {
  if (op === 'sum') return { rtol: 1e-5, atol: 2e-6 * Math.sqrt(len) };
  if (op === 'mean' || op === 'var') return { rtol: 1e-5, atol: 2e-6 };
  return { rtol: 0, atol: 0 };
}

/** Runs one reduction and compares it (values, shape, dtype) with the reference. */
async function check(
  op: ReduceOp, x: wg.Tensor, data: ArrayLike<number>, shape: readonly number[],
  axes: Axes, keepdim: boolean, path?: RowPath,
) {
  const y = launchReduce({ op, x, axes, keepdim, path });
  const ax = axesRef(axes, shape.length);
  const want = reduceRef(op, data, shape, ax, { keepdim });
  expect(y.shape, `${op} ${String(axes)} shape`).toEqual(want.shape);
  expect(y.dtype).toBe(op.startsWith('arg') ? 'i32' : x.dtype);
  expectClose(path ? `${op} (${path})` : op, await y.data(), want.data, tolFor(op, lenOf(shape, ax)), shape);
  y.dispose();
}

describe.skipIf(!rt)('reductions at edge sizes', () => {
  for (const op of FLOAT_OPS) {
    it(`${op} over single, multiple, negative, all and no axes, keepdim on and off`, async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const data = uniform(size(shape), 100 + si);
        const x = wg.tensor(data, { shape });
        for (const [ai, axes] of AXES.entries()) await check(op, x, data, shape, axes, (si + ai) % 2 === 1);
        x.dispose();
      }
    });
  }

  for (const op of ARG_OPS) {
    it(`${op} over one axis or flattened, with ties (integer-valued data)`, async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const data = Float32Array.from(integers(size(shape), 200 + si, -3, 4));
        const x = wg.tensor(data, { shape });
        for (const [ai, axes] of ARG_AXES.entries()) await check(op, x, data, shape, axes, (si + ai) % 2 === 0);
        x.dispose();
      }
    });
  }
});

const PATHS: RowPath[] = ['serial', 'subgroup', 'tree'];
const PATH_CASES: [number[], Axes][] = [
  [[3, 4099], -1], [[4099, 3], 0], [[5, 17, 3], [0, 2]], [[2, 1000], undefined], [[6, 70], 1],
  [[3, 2, 5, 2, 7], [0, 2, 4]], // three reduced dims that cannot merge
];

describe.skipIf(!rt)('every kernel path', () => {
  for (const path of PATHS) {
    const noSubgroups = path === 'subgroup' && !rt?.hasFeature('subgroups');
    it.skipIf(noSubgroups)(`all ops on the ${path} path`, async () => {
      for (const [ci, [shape, axes]] of PATH_CASES.entries()) {
        const data = uniform(size(shape), 300 + ci);
        const ties = Float32Array.from(integers(size(shape), 400 + ci, 0, 3));
        const x = wg.tensor(data, { shape });
        const xt = wg.tensor(ties, { shape });
        for (const op of ALL_OPS) {
          if (op.startsWith('arg') && typeof axes === 'object') continue;
          if (op.startsWith('arg')) await check(op, xt, ties, shape, axes, false, path);
          else await check(op, x, data, shape, axes, ci % 2 === 0, path);
        }
        x.dispose();
        xt.dispose();
      }
    });

    it.skipIf(noSubgroups)(`NaN wins and ties pick the first index on the ${path} path`, async () => {
      // Row 0: NaN at 37 and 80; row 1: all equal; row 2: max 5 at 10 and 90, min -5 at 60 and 61.
      const n = 100;
      const data = new Float32Array(3 * n).fill(1);
      data[37] = NaN;
      data[80] = NaN;
      data.fill(2, n, 2 * n);
      data[2 * n + 10] = data[2 * n + 90] = 5;
      data[2 * n + 60] = data[2 * n + 61] = -5;
      const x = wg.tensor(data, { shape: [3, n] });
      for (const op of ['max', 'min', 'argmax', 'argmin'] as const) await check(op, x, data, [3, n], 1, false, path);
      expect(Array.from(await launchReduce({ op: 'argmax', x, axes: 1, path }).data())).toEqual([37, 0, 10]);
      expect(Array.from(await launchReduce({ op: 'argmin', x, axes: 1, path }).data())).toEqual([37, 0, 60]);
      x.dispose();
    });
  }
});

describe.skipIf(!rt)('strided views, dtypes, var, sizes and errors', () => {
  it('reads permuted, transposed, sliced and expanded views in place (one dispatch, no copy)', async () => {
    const data = uniform(4 * 5 * 6, 21);
    const x = wg.tensor(data, { shape: [4, 5, 6] });
    const small = wg.tensor(data.subarray(0, 24), { shape: [4, 1, 6] });
    const views: [wg.Tensor, ArrayLike<number>][] = [
      [wg.permute(x, [2, 0, 1]), data],
      [wg.transpose(x, 0, 2), data],
      [wg.slice(x, 2, 1, 6, 2), data],
      [wg.slice(wg.slice(x, 0, 1, 3), 1, 2), data],
      [wg.expand(small, [4, 5, 6]), data.subarray(0, 24)],
    ];
    for (const [v, src] of views) {
      const logical = viewRef(src, v.shape, v.strides, v.offset);
      for (const axes of [0, [1, 2], -1, undefined, [0, 2]] as Axes[]) {
        for (const op of ['sum', 'max', 'var', 'argmax'] as ReduceOp[]) {
          if (op === 'argmax' && typeof axes === 'object') continue;
          const before = rt!.batch.dispatches;
          const y = launchReduce({ op, x: v, axes });
          expect(rt!.batch.dispatches - before, `${op} of a view: dispatches`).toBe(1);
          const want = reduceRef(op, logical, v.shape, axesRef(axes, 3));
          expectClose(`${op} (view)`, await y.data(), want.data, tolFor(op, 120), v.shape);
          y.dispose();
        }
      }
      v.dispose();
    }
  });

  it('i32 and u32: sum stays integer, max/min/argmax/argmin exact', async () => {
    for (const [dtype, lo, hi] of [['i32', -50, 50], ['u32', 0, 100]] as const) {
      for (const shape of [[17, 1000], [1000, 3], [4099]]) {
        const data = integers(size(shape), shape[0], lo, hi);
        const x = wg.tensor(data, { shape, dtype });
        for (const axes of [0, -1, undefined] as Axes[]) {
          for (const op of ['sum', 'max', 'min', 'argmax', 'argmin'] as ReduceOp[]) {
            const y = launchReduce({ op, x, axes });
            expect(y.dtype).toBe(op.startsWith('arg') ? 'i32' : dtype);
            const want = reduceRef(op, data, shape, axesRef(axes, shape.length)).data;
            expect(Array.from(await y.data()), `${op} ${dtype} ${String(axes)}`).toEqual(Array.from(want));
            y.dispose();
          }
        }
        x.dispose();
      }
    }
  });

  it('var: correction 0, 1, 2, n - correction <= 0, and two-pass accuracy at a large offset', async () => {
    const data = uniform(4 * 5, 5);
    const x = wg.tensor(data, { shape: [4, 5] });
    for (const correction of [0, 1, 2]) {
      const want = reduceRef('var', data, [4, 5], [1], { correction, keepdim: true });
      const y = variance(x, -1, { correction, keepdim: true });
      expect(y.shape).toEqual([4, 1]);
      expectClose('var', await y.data(), want.data, { rtol: 1e-5, atol: 1e-6 });
    }
    expect(Array.from(await variance(wg.tensor([3])).data())).toEqual([NaN]); // 0 / 0, as torch
    expect(Array.from(await variance(wg.tensor([1, 2]), 0, { correction: 3 }).data())).toEqual([Infinity]);
    // 1e4 + noise: one-pass E[x^2] - E[x]^2 loses every digit in f32; two-pass keeps about 4.
    const big = Float32Array.from(uniform(1000, 6), (v) => 1e4 + v);
    const xb = wg.tensor(big);
    for (const path of PATHS.filter((p) => p !== 'subgroup' || rt!.hasFeature('subgroups'))) {
      const got = await launchReduce({ op: 'var', x: xb, path }).data();
      expectClose(`var offset 1e4 (${path})`, got, reduceRef('var', big, [1000], [0]).data, { rtol: 2e-3, atol: 0 });
    }
  });

  it('zero-size dims: sum 0, mean and var NaN, max/min/argmax throw, empty outputs', async () => {
    const e30 = wg.zeros([3, 0]);
    expect(Array.from(await sum(e30, 1).data())).toEqual([0, 0, 0]);
    expect(Array.from(await mean(e30, 1).data())).toEqual([NaN, NaN, NaN]);
    expect(Array.from(await variance(e30, -1, { keepdim: true }).data())).toEqual([NaN, NaN, NaN]);
    expect(variance(e30, -1, { keepdim: true }).shape).toEqual([3, 1]);
    expect(sum(e30, 0).shape).toEqual([0]);
    expect(max(e30, 0).shape).toEqual([0]);
    const all = sum(wg.zeros([0]));
    expect(all.shape).toEqual([]);
    expect(await all.item()).toBe(0);
    expect(Array.from(await sum(wg.zeros([2, 0, 3], 'i32'), 1).data())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => max(e30, 1)).toThrow('max: cannot reduce over a zero-size dimension, shape [3,0] axes [1]');
    expect(() => min(e30)).toThrow('min: cannot reduce over a zero-size dimension, shape [3,0] axes [0,1]');
    expect(() => argmax(wg.zeros([0, 3])))
      .toThrow('argmax: cannot reduce over a zero-size dimension, shape [0,3] axes [0,1]');
  });

  it('no axes copies, and a 0-d tensor reduces over nothing', async () => {
    const data = uniform(12, 8);
    const x = wg.tensor(data, { shape: [3, 4] });
    for (const op of ['sum', 'mean', 'max', 'min'] as ReduceOp[]) {
      const y = launchReduce({ op, x, axes: [] });
      expect(y.shape).toEqual([3, 4]);
      expect(y.buffer).not.toBe(x.buffer);
      expect(Array.from(await y.data())).toEqual(Array.from(data));
    }
    expect(Array.from(await variance(x, [], { correction: 0 }).data())).toEqual(new Array(12).fill(0));
    const s = wg.tensor(2.5, { shape: [] });
    expect(await sum(s).item()).toBe(2.5);
    expect(await sum(s, -1).item()).toBe(2.5);
    expect(await argmax(s, 0).item()).toBe(0);
    expect(() => sum(s, 1)).toThrow('sum: axis 1 is out of range for shape []');
  });

  it('more than 65,535 output rows (grid split over x and y)', async () => {
    const rows = 70_000;
    const data = uniform(rows * 3, 9);
    const x = wg.tensor(data, { shape: [rows, 3] });
    const paths = PATHS.filter((p) => p !== 'subgroup' || rt!.hasFeature('subgroups'));
    for (const path of [undefined, ...paths]) await check('sum', x, data, [rows, 3], -1, false, path);
    await check('argmax', x, data, [rows, 3], 1, true, paths.includes('subgroup') ? 'subgroup' : 'tree');
    const xt = wg.tensor(data, { shape: [3, rows] });
    await check('mean', xt, data, [3, rows], 0, false);
  });

  it('errors name the op and the shape', () => {
    const x = wg.zeros([2, 3]);
    expect(() => sum(x, 2)).toThrow('sum: axis 2 is out of range for shape [2,3]');
    expect(() => max(x, [-3])).toThrow('max: axis -3 is out of range for shape [2,3]');
    expect(() => argmax(x, 5)).toThrow('argmax: axis 5 is out of range for shape [2,3]');
    expect(() => mean(x, [0, -2])).toThrow('mean: repeated axis in [0,-2] for shape [2,3]');
    expect(() => mean(wg.zeros([3], 'i32'))).toThrow('mean: dtype i32 not supported (expected f32), shape [3]');
    expect(() => variance(x, 0, { correction: NaN })).toThrow('var: correction must be a finite number, got NaN');
  });
});
