// 2-D pooling (max, average, adaptive average) against the float64 reference: forward and
// finite-difference gradients at odd sizes, overlapping and non-overlapping windows, padding,
// dilation, rectangular kernels, strided inputs and gradients, batch and channels > 1; the
// argmax indices and PyTorch's tie rule; -inf padding and NaN; grids above 65,535 workgroups;
// the modules; one-line errors; and the PyTorch goldens max_pool2d_3x3_s2_p1 and
// adaptive_avg_pool2d_1x1 under the fixtures protocol.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { maxPool2dWithIndices, poolGeometry } from '../../src/kernels/pool.js';
import { checkOp, type InputSpec } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { rng, uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { permuteRef } from '../reference/matmul.js';
import { adaptiveAvgPool2dRef, avgPool2dRef, maxPool2dGradRef, maxPool2dRef, type PoolRefOptions } from '../reference/pool.js';

const rt = await gpu();
afterAll(() => {
  printReport('pool');
  printFixtureReport('pool goldens');
});

/**
 * An input of distinct values spaced 2/n apart in [-1, 1), shuffled: no ties, and every gap
 * exceeds two finite-difference steps (2e-3 for n < 1000), so the argmax never flips under FD.
 */
function distinct(shape: readonly number[], seed: number): InputSpec {
  const n = size(shape);
  if (n >= 1000) throw new Error(`distinct: ${n} values are too dense for the FD step`);
  const v = Array.from({ length: n }, (_, i) => -1 + (2 * (i + 0.5)) / n);
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return { shape, data: v };
}

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** The reference options for the op options. */
function refOpts(kernel: number | [number, number], o: wg.MaxPool2dOptions & wg.AvgPool2dOptions = {}): PoolRefOptions {
  return {
    kernel: pair(kernel), stride: pair(o.stride ?? kernel), padding: pair(o.padding ?? 0),
    dilation: pair(o.dilation ?? 1), countIncludePad: o.countIncludePad,
  };
}

type Case = [name: string, shape: number[], kernel: number | [number, number], opts: wg.MaxPool2dOptions & wg.AvgPool2dOptions];
const WINDOWS: Case[] = [
  ['3x3 s2 p1 (overlapping)', [2, 3, 9, 11], 3, { stride: 2, padding: 1 }],
  ['2x2 (non-overlapping)', [1, 2, 8, 6], 2, {}],
  ['3x3 s1 (overlapping, odd)', [2, 2, 5, 7], 3, { stride: 1 }],
  ['2x2 s3 (gaps, remainder dropped)', [3, 1, 7, 8], 2, { stride: 3 }],
  ['3x2 kernel s[1,2] p[1,0]', [2, 2, 7, 5], [3, 2], { stride: [1, 2], padding: [1, 0] }],
  ['5x5 s2 p2', [1, 2, 11, 9], 5, { stride: 2, padding: 2 }],
];

describe.skipIf(!rt)('maxPool2d', () => {
  it.each(WINDOWS)('%s: forward and FD gradients', async (name, shape, k, o) => {
    await checkOp(`maxPool2d ${name}`, [distinct(shape, size(shape))], (x) => maxPool2dRef(x, refOpts(k, o)), (x) => wg.maxPool2d(x, k, o));
  });

  it('dilation 2 (with padding) and dilation [1, 2]', async () => {
    await checkOp('maxPool2d dilated', [distinct([1, 3, 9, 10], 7)], (x) => maxPool2dRef(x, refOpts(3, { stride: 1, padding: 1, dilation: 2 })),
      (x) => wg.maxPool2d(x, 3, { stride: 1, padding: 1, dilation: 2 }));
    await checkOp('maxPool2d dilated rect', [distinct([2, 1, 8, 11], 8)], (x) => maxPool2dRef(x, refOpts(2, { stride: 2, dilation: [1, 2] })),
      (x) => wg.maxPool2d(x, 2, { stride: 2, dilation: [1, 2] }));
  });

  it('reads a permuted (NHWC) view in place and takes a strided gradient', async () => {
    await checkOp('maxPool2d strided', [distinct([2, 7, 9, 3], 9)],
      (x) => maxPool2dRef(permuteRef(x, [0, 3, 1, 2]), refOpts(3, { stride: 2, padding: 1 })),
      (x) => wg.maxPool2d(wg.permute(x, [0, 3, 1, 2]), 3, { stride: 2, padding: 1 }));
    // sum's backward hands the pool an expanded gradient.
    await checkOp('maxPool2d summed', [distinct([2, 3, 7, 7], 10)], (x) => {
      const y = maxPool2dRef(x, refOpts(3, { stride: 2 }));
      const out = new Float64Array(6);
      y.data.forEach((v, i) => (out[Math.floor(i / 9)] += v));
      return { data: out, shape: [2, 3] };
    }, (x) => wg.sum(wg.maxPool2d(x, 3, { stride: 2 }), [2, 3]));
  });

  it('indices are the flat argmax per plane, ties go to the first element, which gets the gradient', async () => {
    const ties = Array.from({ length: 2 * 3 * 6 * 7 }, (_, i) => Math.floor(i / 5) % 3); // runs of equal values
    for (const data of [ties, Array.from(uniform(ties.length, 3))]) {
      const x = wg.tensor(data, { shape: [2, 3, 6, 7] });
      x.requiresGrad = true;
      const opts = { stride: 1, padding: 1 };
      const { out, indices } = maxPool2dWithIndices(x, poolGeometry('maxPool2d', x, 3, opts));
      const want = maxPool2dRef({ data, shape: x.shape }, refOpts(3, opts));
      expect(Array.from(await indices.data())).toEqual(Array.from(want.indices));
      expectClose('maxPool2d fwd', await out.data(), want.data);
      const dy = uniform(out.size, 4);
      const y = wg.maxPool2d(x, 3, opts);
      wg.backward(y, wg.tensor(dy, { shape: y.shape }));
      expectClose('maxPool2d grad', await x.grad!.data(), maxPool2dGradRef({ data, shape: x.shape }, refOpts(3, opts), dy), { atol: 1e-6 });
      for (const t of [x.grad!, x, out, indices, y]) t.dispose();
    }
  });

  it('padding acts as -inf, and NaN propagates', async () => {
    const x = wg.full([1, 2, 4, 5], -5);
    const y = wg.maxPool2d(x, 3, { stride: 2, padding: 1 });
    expect(Array.from(await y.data())).toEqual(new Array(12).fill(-5));
    const data = Array.from(uniform(20, 5));
    data[7] = NaN; // row 1, col 2: in the windows of outputs (0,1) and (1,1) with 3x3 s2 p1
    const z = wg.maxPool2d(wg.tensor(data, { shape: [1, 1, 4, 5] }), 3, { stride: 2, padding: 1 });
    const got = await z.data();
    expect([...got].map(Number.isNaN)).toEqual([false, true, false, false, true, false]);
    expectClose('maxPool2d fwd', got, maxPool2dRef({ data, shape: [1, 1, 4, 5] }, refOpts(3, { stride: 2, padding: 1 })).data);
    for (const t of [x, y, z]) t.dispose();
  });
});

describe.skipIf(!rt)('avgPool2d', () => {
  it.each(WINDOWS)('%s: forward and FD gradients', async (name, shape, k, o) => {
    await checkOp(`avgPool2d ${name}`, [shape], (x) => avgPool2dRef(x, refOpts(k, o)), (x) => wg.avgPool2d(x, k, o));
  });

  it('countIncludePad false divides by the in-bounds count', async () => {
    const o = { stride: [2, 1] as [number, number], padding: [1, 1] as [number, number], countIncludePad: false };
    await checkOp('avgPool2d no pad count', [[2, 2, 7, 5]], (x) => avgPool2dRef(x, refOpts([3, 2], o)), (x) => wg.avgPool2d(x, [3, 2], o));
    await checkOp('avgPool2d strided', [[2, 7, 9, 3]], (x) => avgPool2dRef(permuteRef(x, [0, 3, 1, 2]), refOpts(3, { stride: 2, padding: 1 })),
      (x) => wg.avgPool2d(wg.permute(x, [0, 3, 1, 2]), 3, { stride: 2, padding: 1 }));
  });

  it('grids above 65,535 workgroups (4.3M outputs) cover every element', async () => {
    const shape = [1, 1, 2048, 2100];
    const x = wg.reshape(wg.arange(0, size(shape)), shape);
    const y = wg.avgPool2d(x, 1);
    const got = await y.data();
    let bad = -1;
    for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== Math.fround(i)) bad = i;
    expect(bad, 'first wrong element').toBe(-1);
    for (const t of [x, y]) t.dispose();
  });
});

describe.skipIf(!rt)('adaptiveAvgPool2d', () => {
  it.each([[1, 1], [2, 3], [5, 5], [7, 11], [3, 10]] as [number, number][])('7x11 -> %ix%i: forward and FD gradients', async (oh, ow) => {
    await checkOp(`adaptiveAvgPool2d 7x11->${oh}x${ow}`, [[2, 3, 7, 11]], (x) => adaptiveAvgPool2dRef(x, [oh, ow]),
      (x) => wg.adaptiveAvgPool2d(x, [oh, ow]));
  });

  it('upsampling (output larger than input), a scalar size and a strided input', async () => {
    await checkOp('adaptiveAvgPool2d up', [[2, 2, 3, 4]], (x) => adaptiveAvgPool2dRef(x, [5, 7]), (x) => wg.adaptiveAvgPool2d(x, [5, 7]));
    await checkOp('adaptiveAvgPool2d scalar', [[1, 3, 9, 6]], (x) => adaptiveAvgPool2dRef(x, [4, 4]), (x) => wg.adaptiveAvgPool2d(x, 4));
    await checkOp('adaptiveAvgPool2d strided', [[2, 5, 6, 3]], (x) => adaptiveAvgPool2dRef(permuteRef(x, [0, 3, 1, 2]), [1, 1]),
      (x) => wg.adaptiveAvgPool2d(wg.permute(x, [0, 3, 1, 2]), 1));
  });
});

describe.skipIf(!rt)('pooling modules', () => {
  it('MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and Flatten: shapes, values, no parameters', async () => {
    const data = uniform(2 * 4 * 9 * 9, 11);
    const x = wg.tensor(data, { shape: [2, 4, 9, 9] });
    const net = new wg.Sequential(new wg.MaxPool2d(3, { stride: 2, padding: 1 }), new wg.AvgPool2d(2, { stride: 1 }),
      new wg.AdaptiveAvgPool2d(1), new wg.Flatten());
    expect(net.parameters()).toHaveLength(0);
    const y = net.forward(x);
    expect(y.shape).toEqual([2, 4]);
    const ref = { data: Float64Array.from(data), shape: x.shape };
    const m = maxPool2dRef(ref, refOpts(3, { stride: 2, padding: 1 }));
    const want = adaptiveAvgPool2dRef(avgPool2dRef(m, refOpts(2, { stride: 1 })), [1, 1]);
    expectClose('modules fwd', await y.data(), want.data, { rtol: 2e-5, atol: 1e-6 });
    const f = new wg.Flatten(0, 1).forward(x);
    expect(f.shape).toEqual([8, 9, 9]);
    for (const t of [x, y, f]) t.dispose();
  });
});

describe.skipIf(!rt)('pooling errors', () => {
  const oneLine = (fn: () => unknown, ...parts: string[]) => {
    let msg = '';
    try {
      fn();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg, 'threw').not.toBe('');
    expect(msg).not.toContain('\n');
    for (const p of parts) expect(msg).toContain(p);
  };

  it('zero-size inputs and outputs, bad windows, ranks and dtypes name the op and the shapes', () => {
    const x = wg.zeros([1, 2, 2, 2]);
    oneLine(() => wg.maxPool2d(x, 3), 'maxPool2d', '[1,2,0,0]', '[1,2,2,2]');
    oneLine(() => wg.avgPool2d(x, [1, 3]), 'avgPool2d', 'empty', '[1,2,2,2]');
    oneLine(() => wg.maxPool2d(x, 2, { padding: 2 }), 'maxPool2d', 'padding', '[1,2,2,2]');
    oneLine(() => wg.maxPool2d(x, 0), 'maxPool2d', 'kernelSize', '[1,2,2,2]');
    oneLine(() => wg.avgPool2d(x, 1, { stride: 0 }), 'avgPool2d', 'stride');
    oneLine(() => wg.maxPool2d(x, 1, { dilation: 0 }), 'maxPool2d', 'dilation');
    oneLine(() => wg.adaptiveAvgPool2d(x, [0, 1]), 'adaptiveAvgPool2d', 'outputSize', '[1,2,2,2]');
    oneLine(() => wg.maxPool2d(x, [2, 2, 2] as unknown as [number, number]), 'maxPool2d', 'kernelSize');
    const empty = wg.zeros([1, 2, 0, 3]);
    oneLine(() => wg.adaptiveAvgPool2d(empty, 1), 'adaptiveAvgPool2d', '[1,2,0,3]');
    oneLine(() => wg.maxPool2d(empty, 1), 'maxPool2d', '[1,2,0,3]');
    const flat = wg.zeros([2, 2, 2]);
    oneLine(() => wg.avgPool2d(flat, 1), 'avgPool2d', 'rank 4', '[2,2,2]');
    const ints = wg.zeros([1, 1, 2, 2], 'i32');
    oneLine(() => wg.maxPool2d(ints, 1), 'maxPool2d', 'i32');
    for (const t of [x, empty, flat, ints]) t.dispose();
  });

  it('an empty batch gives an empty output', async () => {
    const x = wg.zeros([0, 3, 5, 5]);
    x.requiresGrad = true;
    const y = wg.maxPool2d(x, 3, { stride: 2 });
    expect(y.shape).toEqual([0, 3, 2, 2]);
    wg.backward(y, wg.zeros([0, 3, 2, 2]));
    expect(x.grad!.shape).toEqual([0, 3, 5, 5]);
    expect((await wg.adaptiveAvgPool2d(x, 1).data()).length).toBe(0);
    for (const t of [x.grad!, x, y]) t.dispose();
  });
});

/**
 * A golden under the fixtures protocol: `input` from the file, hyperparameters from its metadata
 * (an unknown key fails), `out` and `grad.input` (upstream `grad_out`) compared.
 */
async function golden(name: string, meta: readonly string[], run: (fx: Fixture, x: wg.Tensor) => wg.Tensor): Promise<void> {
  const fx = loadFixture(name);
  const known = ['case', 'description', 'seed', 'variant', ...meta];
  expect(Object.keys(fx.meta).filter((k) => !known.includes(k)), `${name}: metadata this test does not apply`).toEqual([]);
  expect([...fx.tensors.keys()].sort(), `${name}: tensors`).toEqual(['grad.input', 'grad_out', 'input', 'out']);
  const x = wg.tensor(fx.f32('input'), { shape: fx.shape('input') });
  x.requiresGrad = true;
  const y = wg.scope(() => {
    const out = run(fx, x);
    wg.backward(out, wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }));
    return out;
  });
  try {
    expectFixture(fx, 'out', await y.data(), 'op', y.shape);
    expectFixture(fx, 'grad.input', await x.grad!.data(), 'op', x.grad!.shape);
  } finally {
    for (const t of [y, x.grad!, x]) t.dispose();
  }
}

const p2 = (fx: Fixture, k: string) => fx.param(k) as [number, number];

describe.skipIf(!rt)('PyTorch goldens', () => {
  it('max_pool2d_3x3_s2_p1', async () => {
    await golden('max_pool2d_3x3_s2_p1', ['kernel_size', 'stride', 'padding', 'ceil_mode', 'dilation'], (fx, x) => {
      if (fx.meta.ceil_mode !== undefined) expect(fx.param('ceil_mode'), 'ceil_mode').toBe(false);
      const dilation = fx.meta.dilation === undefined ? 1 : p2(fx, 'dilation');
      return wg.maxPool2d(x, p2(fx, 'kernel_size'), { stride: p2(fx, 'stride'), padding: p2(fx, 'padding'), dilation });
    });
  });

  it('adaptive_avg_pool2d_1x1', async () => {
    await golden('adaptive_avg_pool2d_1x1', ['output_size'], (fx, x) => wg.adaptiveAvgPool2d(x, p2(fx, 'output_size')));
  });
});
