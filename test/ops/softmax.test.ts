// Softmax, log-softmax and logsumexp against the float64 reference: every axis at the edge sizes
// (1, 3, 17, 1000, 4099 in one dim at a time), logsumexp over axis sets with keepdim, every kernel
// path, strided views, -inf entries and rows, huge logits, NaN, zero-size dims, more than 65,535
// rows, and the error messages.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import type { Axes } from '../../src/kernels/reduce.js';
import type { RowPath } from '../../src/kernels/rows.js';
import { launchSoftmax, logSoftmax, logsumexp, softmax, type SoftmaxSpec } from '../../src/kernels/softmax.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport, type Tol } from '../helpers/compare.js';
import { uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { axesRef, reduceRef, softmaxRef, viewRef } from '../reference/reduce.js';

const rt = await gpu();
afterAll(() => printReport('softmax'));

const SIZES = [1, 3, 17, 1000, 4099];
const SHAPES: number[][] = [...new Map(
  SIZES.flatMap((n) => [[n, 3, 2], [3, n, 2], [2, 3, n]]).map((s) => [s.join(), s]),
).values()];
const LSE_AXES: Axes[] = [0, -1, [0, 2], [1, 2], undefined];
const PATHS: RowPath[] = ['serial', 'subgroup', 'tree'];
/** exp and log in f32 (a few ulp each), sums of up to 4099 terms. */
const TOL: Tol = { rtol: 1e-5, atol: 1e-6 };

type Op = SoftmaxSpec['op'];

/** Runs one op on x (whose logical values are `data` over `shape`) and compares with the reference. */
async function check(
  op: Op, x: wg.Tensor, data: ArrayLike<number>, shape: readonly number[],
  axes: Axes, keepdim = false, path?: RowPath,
) {
  const y = launchSoftmax({ op, x, axes, keepdim, path });
  const ax = axesRef(axes, shape.length);
  const want = op === 'logsumexp'
    ? reduceRef('logsumexp', data, shape, ax, { keepdim })
    : { data: softmaxRef(data, shape, ax[0], op === 'logSoftmax'), shape: [...shape] };
  expect(y.shape, `${op} ${String(axes)} shape`).toEqual(want.shape);
  expect(y.isContiguous).toBe(true);
  expectClose(path ? `${op} (${path})` : op, await y.data(), want.data, TOL, shape);
  y.dispose();
}

const available = (p: RowPath) => p !== 'subgroup' || !!rt?.hasFeature('subgroups');

describe.skipIf(!rt)('softmax family at edge sizes', () => {
  for (const op of ['softmax', 'logSoftmax'] as const) {
    it(`${op} along every axis (positive and negative)`, async () => {
      for (const [si, shape] of SHAPES.entries()) {
        const data = uniform(size(shape), 500 + si, -5, 5);
        const x = wg.tensor(data, { shape });
        for (const axis of [0, 1, 2, -1]) await check(op, x, data, shape, axis);
        x.dispose();
      }
    });
  }

  it('logsumexp over single, multiple, negative and all axes, keepdim on and off', async () => {
    for (const [si, shape] of SHAPES.entries()) {
      const data = uniform(size(shape), 600 + si, -5, 5);
      const x = wg.tensor(data, { shape });
      for (const [ai, axes] of LSE_AXES.entries()) await check('logsumexp', x, data, shape, axes, (si + ai) % 2 === 0);
      x.dispose();
    }
  });

  for (const path of PATHS) {
    it.skipIf(!available(path))(`every op on the ${path} path`, async () => {
      const cases: [number[], Axes][] = [
        [[3, 4099], -1], [[4099, 3], 0], [[5, 17, 3], [0, 2]], [[2, 1000], 1], [[3, 2, 5, 2, 7], [0, 2, 4]],
      ];
      for (const [ci, [shape, lseAxes]] of cases.entries()) {
        const data = uniform(size(shape), 700 + ci, -8, 8);
        const x = wg.tensor(data, { shape });
        await check('softmax', x, data, shape, -1, false, path);
        await check('logSoftmax', x, data, shape, 0, false, path);
        await check('logsumexp', x, data, shape, lseAxes, ci % 2 === 0, path);
        x.dispose();
      }
    });
  }
});

describe.skipIf(!rt)('softmax family: infinities, huge logits, views, sizes, errors', () => {
  it('-inf entries, rows of only -inf, huge logits and NaN on every path', async () => {
    const inf = Infinity;
    // Rows of 20: some -inf; all -inf; logits near 1e4; spread of +-1e4; a NaN.
    const rows = [
      Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? -inf : i / 4)),
      new Array(20).fill(-inf),
      Array.from({ length: 20 }, (_, i) => 1e4 + i),
      Array.from({ length: 20 }, (_, i) => (i % 2 ? 1e4 : -1e4) - i),
      Array.from({ length: 20 }, (_, i) => (i === 7 ? NaN : i)),
    ];
    const data = Float32Array.from(rows.flat());
    const x = wg.tensor(data, { shape: [5, 20] });
    for (const path of PATHS.filter(available)) {
      for (const op of ['softmax', 'logSoftmax', 'logsumexp'] as const) await check(op, x, data, [5, 20], 1, false, path);
    }
    const sm = await softmax(x).data();
    expect(sm.slice(20, 40).every(Number.isNaN)).toBe(true); // all -inf: NaN, as PyTorch
    expect(Array.from(await logsumexp(x, 1).data()).slice(0, 2)).toEqual([expect.any(Number), -inf]);
    expect(Array.from(await logSoftmax(x).data()).slice(0, 2)).toEqual([-inf, expect.any(Number)]);
    expect(Number.isFinite(sm[40])).toBe(true);
  });

  it('reads permuted and sliced views in place; output is contiguous', async () => {
    const data = uniform(4 * 5 * 6, 31, -4, 4);
    const x = wg.tensor(data, { shape: [4, 5, 6] });
    for (const v of [wg.permute(x, [2, 0, 1]), wg.slice(x, 2, 1, 6, 2), wg.transpose(wg.slice(x, 0, 1), 1, 2)]) {
      const logical = viewRef(data, v.shape, v.strides, v.offset);
      for (const axis of [0, 1, -1]) {
        for (const op of ['softmax', 'logSoftmax', 'logsumexp'] as const) {
          const before = rt!.batch.dispatches;
          await check(op, v, logical, v.shape, axis);
          expect(rt!.batch.dispatches - before, `${op} of a view: dispatches`).toBe(1);
        }
      }
      await check('logsumexp', v, logical, v.shape, [0, 2], true);
    }
  });

  it('zero-size dims, size-1 axes and 0-d tensors', async () => {
    const e = wg.zeros([3, 0]);
    expect(softmax(e).shape).toEqual([3, 0]);
    expect(softmax(e, 0).shape).toEqual([3, 0]);
    expect(Array.from(await logsumexp(e, 1).data())).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(logsumexp(e, 0).shape).toEqual([0]);
    const x = wg.tensor([[1.5], [-2]]);
    expect(Array.from(await softmax(x).data())).toEqual([1, 1]);
    expect(Array.from(await logSoftmax(x).data())).toEqual([0, 0]);
    expect(Array.from(await logsumexp(x, -1).data())).toEqual([1.5, -2]);
    const s = wg.tensor(3, { shape: [] });
    expect(await softmax(s).item()).toBe(1);
    expect(await logsumexp(s).item()).toBe(3);
  });

  it('more than 65,535 rows (grid split over x and y)', async () => {
    const rows = 70_000;
    const data = uniform(rows * 3, 41, -5, 5);
    const x = wg.tensor(data, { shape: [rows, 3] });
    await check('softmax', x, data, [rows, 3], -1);
    await check('logSoftmax', x, data, [rows, 3], -1, false, PATHS.filter(available)[1]);
    await check('logsumexp', x, data, [rows, 3], 1, true, 'tree');
  });

  it('errors name the op and the shape', () => {
    const x = wg.zeros([2, 3]);
    expect(() => softmax(x, 2)).toThrow('softmax: axis 2 is out of range for shape [2,3]');
    expect(() => logSoftmax(x, -3)).toThrow('logSoftmax: axis -3 is out of range for shape [2,3]');
    expect(() => logsumexp(x, [1, 1])).toThrow('logsumexp: repeated axis in [1,1] for shape [2,3]');
    expect(() => softmax(wg.zeros([4], 'i32'))).toThrow('softmax: dtype i32 not supported (expected f32), shape [4]');
    expect(() => launchSoftmax({ op: 'softmax', x, axes: [0, 1] }))
      .toThrow('softmax: expects one axis, got 0,1 for shape [2,3]');
  });
});
