// Gradients of matmul against finite differences: 2-D, batched, broadcast batch dims on either
// side, transpose flags, 1-D operands, bias, and each fused activation, on every kernel strategy.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp, type RefArr } from '../helpers/check_op.js';
import { printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { gelu, geluTanh, mapRef, sigmoid } from '../reference/core.js';
import { matmulRef } from '../reference/matmul.js';

const rt = await gpu();
afterAll(() => printReport('grad_matmul'));

type Flags = { transA?: boolean; transB?: boolean };
const STRATEGIES: wg.MatmulStrategy[] = ['cpu-simd', 'gpu', 'simple'];
const ACT: Record<Exclude<wg.Activation, 'none'>, (v: number) => number> = {
  relu: (v) => Math.max(v, 0), gelu, gelu_tanh: geluTanh, sigmoid, tanh: Math.tanh,
};

/** [a shape, b shape, flags] of the plain products. */
const PRODUCTS: [number[], number[], Flags][] = [
  [[5, 7], [7, 3], {}],
  [[2, 4, 5], [2, 5, 3], {}],
  [[3, 4, 5], [5, 2], {}],
  [[4, 5], [3, 5, 2], {}],
  [[2, 1, 3, 4], [3, 4, 5], {}],
  [[1, 3, 4], [2, 4, 5], {}],
  [[5, 4], [5, 3], { transA: true }],
  [[4, 5], [3, 5], { transB: true }],
  [[2, 5, 4], [2, 3, 5], { transA: true, transB: true }],
  [[3, 5, 4], [5, 2], { transA: true }],
  [[5], [5, 3], {}],
  [[4, 5], [5], {}],
  [[5], [5], {}],
  [[5], [2, 5, 3], {}],
  [[2, 4, 5], [5], {}],
  [[6], [3, 6], { transB: true }],
];

describe.skipIf(!rt)('matmul gradients (finite differences on the float64 reference)', () => {
  for (const strategy of STRATEGIES) {
    it(`products, broadcasts, transposes and 1-D operands (${strategy})`, async () => {
      for (const [sa, sb, flags] of PRODUCTS) {
        const name = `matmul [${sa}]·[${sb}] ${JSON.stringify(flags)} ${strategy}`;
        await checkOp(name, [sa, sb], (a, b) => matmulRef(a, b, flags), (a, b) => wg.matmul(a, b, { ...flags, strategy }));
      }
    });
  }

  it('bias, with and without transposes and batch dims', async () => {
    const withBias = (f: Flags) => (a: RefArr, b: RefArr, bias: RefArr) => mapRef([matmulRef(a, b, f), bias], (v, c) => v + c);
    await checkOp('matmul bias', [[4, 5], [5, 3], [3]], withBias({}), (a, b, c) => wg.matmul(a, b, { bias: c }));
    await checkOp('matmul bias transB', [[2, 4, 5], [3, 5], [3]], withBias({ transB: true }), (a, b, c) => wg.matmul(a, b, { bias: c, transB: true }));
    await checkOp('matmul bias 1-D a', [[5], [5, 3], [3]], withBias({}), (a, b, c) => wg.matmul(a, b, { bias: c }));
    await checkOp('matmul bias only', [{ shape: [4, 5], constant: true }, { shape: [5, 3], constant: true }, [3]], withBias({}),
      (a, b, c) => wg.matmul(a, b, { bias: c }));
  });

  for (const act of Object.keys(ACT) as (keyof typeof ACT)[]) {
    it(`fused ${act} epilogue with bias`, async () => {
      const f = ACT[act];
      const ref = (a: RefArr, b: RefArr, c: RefArr) => mapRef([matmulRef(a, b, { transB: true }), c], (v, bv) => f(v + bv));
      await checkOp(`matmul ${act}`, [[3, 6], [4, 6], [4]], ref, (a, b, c) => wg.matmul(a, b, { transB: true, bias: c, activation: act }));
      const plain = (a: RefArr, b: RefArr) => mapRef([matmulRef(a, b)], f);
      await checkOp(`matmul ${act} batched`, [[2, 3, 5], [5, 4]], plain, (a, b) => wg.matmul(a, b, { activation: act }));
    });
  }
});

describe.skipIf(!rt)('matmul recording', () => {
  it('relu/sigmoid/tanh stay fused; gelu is recorded as its own op only when a gradient is needed', () => {
    const a = wg.keep(wg.ones([2, 3]));
    const b = wg.keep(wg.ones([3, 4]));
    const nameOf = (t: wg.Tensor) => (t.node as wg.GradNode | null)?.name ?? null;
    wg.scope(() => {
      expect(nameOf(wg.matmul(a, b, { activation: 'gelu' }))).toBe(null);
      b.requiresGrad = true;
      expect(nameOf(wg.matmul(a, b, { activation: 'relu' }))).toBe('matmul');
      expect(nameOf(wg.matmul(a, b, { activation: 'tanh' }))).toBe('matmul');
      expect(nameOf(wg.matmul(a, b, { activation: 'gelu' }))).toBe('gelu');
      expect(nameOf(wg.matmul(a, b, { activation: 'gelu_tanh' }))).toBe('geluTanh');
      expect(nameOf(wg.noGrad(() => wg.matmul(a, b, { activation: 'gelu' })))).toBe(null);
    });
    expect(() => wg.matmul(a, wg.ones([4, 2]))).toThrow(/^matmul: inner dims differ, a=\[2,3\] b=\[4,2\]/);
    a.dispose();
    b.dispose();
  });
});
