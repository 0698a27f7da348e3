// Gradients of the elementwise ops: forward against float64 and backward against central finite
// differences (checkOp), with broadcasting in every binary op, scalar operands on either side,
// strided inputs, and the ties rule of maximum/minimum checked exactly.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp, type RefArr } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { gelu, geluTanh, mapRef, sigmoid } from '../reference/core.js';
import { permuteRef } from '../reference/matmul.js';

const rt = await gpu();
afterAll(() => printReport('grad_elementwise'));

const m1 = (f: (a: number) => number) => (a: RefArr) => mapRef([a], f);
const m2 = (f: (a: number, b: number) => number) => (a: RefArr, b: RefArr) => mapRef([a, b], f);
const pos = (shape: number[], lo = 0.3, hi = 2.5) => ({ shape, lo, hi });

describe.skipIf(!rt)('elementwise gradients (finite differences on the float64 reference)', () => {
  it('add, sub, mul, div with broadcasting and scalars', async () => {
    await checkOp('add same', [[3, 5], [3, 5]], m2((a, b) => a + b), (a, b) => wg.add(a, b));
    await checkOp('add row', [[3, 5], [5]], m2((a, b) => a + b), (a, b) => wg.add(a, b));
    await checkOp('add both', [[2, 1, 7], [3, 1]], m2((a, b) => a + b), (a, b) => wg.add(a, b));
    await checkOp('add scalar', [[17]], m1((a) => 2.5 + a), (a) => wg.add(2.5, a));
    await checkOp('sub both', [[4, 1], [1, 3]], m2((a, b) => a - b), (a, b) => wg.sub(a, b));
    await checkOp('sub scalar', [[2, 3]], m1((a) => 1 - a), (a) => wg.sub(1, a));
    await checkOp('mul', [[2, 3, 5], [3, 1]], m2((a, b) => a * b), (a, b) => wg.mul(a, b));
    await checkOp('mul scalar', [[5, 3]], m1((a) => a * -3), (a) => wg.mul(a, -3));
    await checkOp('mul self', [[7]], m1((a) => a * a), (a) => wg.mul(a, a));
    await checkOp('div', [[3, 4], pos([4])], m2((a, b) => a / b), (a, b) => wg.div(a, b));
    await checkOp('div lead', [[5, 1], pos([2, 5, 3])], m2((a, b) => a / b), (a, b) => wg.div(a, b));
    await checkOp('div scalar num', [pos([6])], m1((a) => 2 / a), (a) => wg.div(2, a));
  });

  it('pow in base and exponent, maximum, minimum', async () => {
    await checkOp('pow', [pos([3, 4], 0.5, 2), { shape: [4], lo: -1.5, hi: 1.5 }], m2((a, b) => a ** b), (a, b) => wg.pow(a, b));
    await checkOp('pow int exponent', [[2, 5]], m1((a) => a ** 3), (a) => wg.pow(a, 3));
    await checkOp('pow scalar base', [[9]], m1((a) => 2 ** a), (a) => wg.pow(2, a));
    await checkOp('maximum', [[3, 5], [5]], m2(Math.max), (a, b) => wg.maximum(a, b));
    await checkOp('minimum', [[4, 1], [1, 3]], m2(Math.min), (a, b) => wg.minimum(a, b));
    await checkOp('maximum scalar', [{ shape: [11], kinks: [0.25] }], m1((a) => Math.max(a, 0.25)), (a) => wg.maximum(a, 0.25));
  });

  it('unary ops', async () => {
    await checkOp('neg', [[3, 5]], m1((a) => -a), (a) => wg.neg(a));
    await checkOp('abs', [{ shape: [3, 5], kinks: [0] }], m1(Math.abs), (a) => wg.abs(a));
    await checkOp('exp', [[2, 7]], m1(Math.exp), (a) => wg.exp(a));
    await checkOp('log', [pos([2, 7], 0.2, 3)], m1(Math.log), (a) => wg.log(a));
    await checkOp('sqrt', [pos([13], 0.2, 3)], m1(Math.sqrt), (a) => wg.sqrt(a));
    await checkOp('rsqrt', [pos([13], 0.3, 3)], m1((a) => 1 / Math.sqrt(a)), (a) => wg.rsqrt(a));
    await checkOp('relu', [{ shape: [4, 9], kinks: [0] }], m1((a) => Math.max(a, 0)), (a) => wg.relu(a));
    await checkOp('gelu erf', [{ shape: [3, 11], lo: -3, hi: 3 }], m1(gelu), (a) => wg.gelu(a));
    await checkOp('gelu tanh', [{ shape: [3, 11], lo: -3, hi: 3 }], m1(geluTanh), (a) => wg.gelu(a, { approximate: 'tanh' }));
    await checkOp('sigmoid', [{ shape: [3, 7], lo: -4, hi: 4 }], m1(sigmoid), (a) => wg.sigmoid(a));
    await checkOp('tanh', [{ shape: [3, 7], lo: -2, hi: 2 }], m1(Math.tanh), (a) => wg.tanh(a));
    await checkOp('square', [[5, 3]], m1((a) => a * a), (a) => wg.square(a));
  });

  it('clamp, where, cast, and a strided input', async () => {
    const cl = (lo?: number, hi?: number) => m1((a) => Math.min(Math.max(a, lo ?? -Infinity), hi ?? Infinity));
    await checkOp('clamp both', [{ shape: [4, 6], kinks: [-0.5, 0.4] }], cl(-0.5, 0.4), (a) => wg.clamp(a, -0.5, 0.4));
    await checkOp('clamp lo', [{ shape: [15], kinks: [0.1] }], cl(0.1), (a) => wg.clamp(a, 0.1));
    await checkOp('clamp hi', [{ shape: [15], kinks: [-0.2] }], cl(undefined, -0.2), (a) => wg.clamp(a, undefined, -0.2));
    const cond = { shape: [2, 4], data: [1, 0, 0, 1, 1, 1, 0, 0], constant: true };
    const sel = (c: RefArr, a: RefArr, b: RefArr) => mapRef([c, a, b], (cv, av, bv) => (cv ? av : bv));
    await checkOp('where', [cond, [2, 1], [4]], sel, (c, a, b) => wg.where(c, a, b));
    await checkOp('where scalar', [cond, [2, 4]], (c, a) => mapRef([c, a], (cv, av) => (cv ? av : 0)), (c, a) => wg.where(c, a, 0));
    await checkOp('cast', [[3, 3]], m1((a) => a), (a) => wg.cast(a, 'f32'));
    const tr = (a: RefArr) => permuteRef(a, [1, 0]);
    await checkOp('mul strided', [[3, 5], [3]], (a, b) => mapRef([tr(a), b], (x, y) => x * y), (a, b) => wg.mul(wg.transpose(a), b));
  });
});

describe.skipIf(!rt)('elementwise gradients at ties and of comparisons', () => {
  it('maximum and minimum split the gradient evenly on ties (as PyTorch)', async () => {
    const a = wg.keep(wg.tensor([1, 2, 3, 4], { shape: [4] }));
    const b = wg.keep(wg.tensor([1, 5, 3, 0], { shape: [4] }));
    a.requiresGrad = true;
    b.requiresGrad = true;
    for (const [op, wa, wb] of [
      [wg.maximum, [0.5, 0, 0.5, 1], [0.5, 1, 0.5, 0]],
      [wg.minimum, [0.5, 1, 0.5, 0], [0.5, 0, 0.5, 1]],
    ] as const) {
      wg.scope(() => wg.backward(op(a, b), wg.tensor([2, 2, 2, 2])));
      expectClose(`${op.name} tie grad a`, await a.grad!.data(), wa.map((v) => 2 * v), { rtol: 0, atol: 0 });
      expectClose(`${op.name} tie grad b`, await b.grad!.data(), wb.map((v) => 2 * v), { rtol: 0, atol: 0 });
      a.grad!.dispose();
      b.grad!.dispose();
      a.grad = b.grad = null;
    }
    a.dispose();
    b.dispose();
  });

  it('comparisons and sign record nothing', () => {
    const x = wg.tensor([1, -2]);
    x.requiresGrad = true;
    for (const y of [wg.gt(x, 0), wg.eq(x, x), wg.sign(x)]) {
      expect(y.requiresGrad).toBe(false);
      y.dispose();
    }
    x.dispose();
  });
});

describe.skipIf(!rt)('checkOp itself', () => {
  it('rejects a wrong backward rule and a wrong forward', async () => {
    // x² with the gradient of x (dx = g instead of 2 g x).
    const wrongGrad = wg.defineOp({
      name: 'wrongGrad',
      forward: (_ctx, x: wg.Tensor) => wg.noGrad(() => wg.square(x)),
      backward: (_ctx, g) => [g],
    });
    const report = 'checkOp self-test';
    await expect(checkOp('wrong grad', [[5]], m1((a) => a * a), (x) => wrongGrad(x), { report }))
      .rejects.toThrow(/wrong grad: checkOp self-test grad \[5\]: element/);
    await expect(checkOp('wrong fwd', [[5]], m1((a) => a * a), (x) => wg.mul(wg.square(x), 1.001), { report }))
      .rejects.toThrow(/wrong fwd: checkOp self-test fwd \[5\]: element/);
  });
});
