// conv2d on every kernel strategy: forward, input gradient and weight gradient against the float64
// reference (kernel sizes 1, 2, 3, 4, 5, 7; strides 1-3; paddings incl. 'same'; dilation 2; groups
// 2 and depthwise; odd sizes; channels 1, 3, 17; batch > 1; bias on and off; strided views),
// finite-difference gradients of the differentiable op (checkOp), the PyTorch goldens, the shape
// errors, and the Conv2d module.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { conv2d as conv2dK, conv2dBackward, conv2dShape, type Conv2dStrategy } from '../../src/kernels/conv2d.js';
import { checkOp } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { uniform } from '../helpers/rand.js';
import { conv2dInputGradRef, conv2dRef, conv2dWeightGradRef, convGeom, type ConvRefOpts } from '../reference/conv2d.js';
import { size } from '../reference/core.js';

const rt = await gpu();
afterAll(() => {
  printReport('conv2d');
  printFixtureReport('conv2d goldens');
});

/** float32 tolerance: the rounding error of a K-term sum of O(1) products grows about like sqrt(K). */
const tolFor = (K: number) => ({ rtol: 1e-5, atol: 4e-6 * Math.sqrt(Math.max(K, 1)) });

// WEBGRAD_TEST_STRATEGIES narrows the list (the SwiftShader project runs only cpu-simd at subgroup size 4).
const STRATEGIES = (process.env.WEBGRAD_TEST_STRATEGIES?.split(',') ?? ['gpu', 'cpu-simd']) as Conv2dStrategy[];
const usable = (s: Conv2dStrategy) => !!rt && (s !== 'cpu-simd' || (rt.hasFeature('subgroups') && rt.acquired.info.subgroupMinSize === rt.acquired.info.subgroupMaxSize));

/** [name, x shape, w shape, options]: the configurations every strategy runs, forward and both gradients. */
const CASES: [string, number[], number[], ConvRefOpts][] = [
  ['1x1', [2, 3, 5, 6], [4, 3, 1, 1], {}],
  ['1x1 s2', [2, 8, 9, 9], [5, 8, 1, 1], { stride: 2 }],
  ['3x3 p1', [2, 3, 7, 9], [4, 3, 3, 3], { padding: 1 }],
  ['3x3 s2 p1', [1, 5, 9, 8], [6, 5, 3, 3], { stride: 2, padding: 1 }],
  ['5x5 p2', [1, 4, 8, 7], [3, 4, 5, 5], { padding: 2 }],
  ['7x7 s2 p3', [2, 3, 11, 10], [4, 3, 7, 7], { stride: 2, padding: 3 }],
  ['3x3 dilation 2', [1, 3, 9, 9], [4, 3, 3, 3], { dilation: 2, padding: 2 }],
  ['groups 2', [2, 4, 6, 6], [6, 2, 3, 3], { groups: 2, padding: 1 }],
  ['depthwise', [2, 5, 7, 6], [5, 1, 3, 3], { groups: 5, padding: 1 }],
  ['depthwise x2 s2', [1, 3, 6, 7], [6, 1, 3, 3], { groups: 3, stride: 2, padding: 1 }],
  ['1 channel', [2, 1, 6, 5], [3, 1, 3, 3], {}],
  ['17 channels', [1, 17, 9, 9], [17, 17, 3, 3], { padding: 1 }],
  ['mixed axes', [1, 2, 8, 9], [3, 2, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2] }],
  ['same, even kernel', [1, 2, 6, 6], [2, 2, 4, 4], { padding: 'same' }],
  ['k2 s3 (taps miss pixels)', [1, 2, 8, 8], [3, 2, 2, 2], { stride: 3 }],
  ['k3 s2 d2 p3', [2, 2, 9, 10], [3, 2, 3, 3], { stride: 2, dilation: 2, padding: 3 }],
];

let seed = 1000;
const arr = (shape: number[], lo = -1, hi = 1) => ({ data: uniform(size(shape), seed++, lo, hi), shape });
const upload = (a: { data: Float32Array; shape: number[] }) => wg.tensor(a.data, { shape: a.shape });

/** Forward (with and without bias) and both gradients from the kernels, against the reference. */
async function checkKernels(name: string, xs: number[], ws: number[], o: ConvRefOpts, strategy: Conv2dStrategy): Promise<void> {
  const X = arr(xs);
  const Wt = arr(ws);
  const B = arr([ws[0]]);
  const [x, w, b] = [upload(X), upload(Wt), upload(B)];
  const g = convGeom(xs, ws, o);
  const K = g.Cg * g.KH * g.KW;
  const opts = { ...o, strategy };
  const label = `conv2d ${name} [${strategy}]`;
  const y = conv2dK(x, w, { ...opts, bias: b });
  const want = conv2dRef(X, Wt, o, B);
  expect([...y.shape], label).toEqual(want.shape);
  expectClose(`conv2d fwd`, await y.data(), want.data, tolFor(K), y.shape);
  const y0 = conv2dK(x, w, opts);
  expectClose(`conv2d fwd`, await y0.data(), conv2dRef(X, Wt, o).data, tolFor(K), y0.shape);

  const DY = arr(want.shape);
  const dy = upload(DY);
  const r = conv2dBackward(x, w, dy, xs, ws, opts, { dx: true, dw: true, dbias: true });
  expectClose(`conv2d dx`, await r.dx!.data(), conv2dInputGradRef(DY, Wt, xs, o), tolFor(g.Og * g.KH * g.KW), xs);
  expectClose(`conv2d dw`, await r.dw!.data(), conv2dWeightGradRef(DY, X, ws, o), tolFor(g.N * g.Ho * g.Wo), ws);
  const db = new Float64Array(g.O);
  DY.data.forEach((v, i) => (db[Math.floor(i / (g.Ho * g.Wo)) % g.O] += v));
  expectClose(`conv2d dbias`, await r.dbias!.data(), db, tolFor(g.N * g.Ho * g.Wo));
  [x, w, b, y, y0, dy, r.dx!, r.dw!, r.dbias!].forEach((t) => t.dispose());
}

describe('conv2dShape (pure)', () => {
  it('follows F.conv2d', () => {
    expect(conv2dShape([2, 3, 32, 32], [8, 3, 3, 3], { padding: 1 })).toEqual([2, 8, 32, 32]);
    expect(conv2dShape([2, 3, 224, 224], [64, 3, 7, 7], { stride: 2, padding: 3 })).toEqual([2, 64, 112, 112]);
    expect(conv2dShape([1, 4, 9, 9], [4, 1, 3, 3], { groups: 4, dilation: 2 })).toEqual([1, 4, 5, 5]);
    expect(conv2dShape([1, 2, 6, 7], [2, 2, 4, 4], { padding: 'same' })).toEqual([1, 2, 6, 7]);
    expect(conv2dShape([1, 2, 6, 7], [2, 2, 4, 3], { padding: 'valid', stride: [1, 2] })).toEqual([1, 2, 3, 3]);
  });

  it('throws one line naming the op and the shapes', () => {
    const x = [2, 4, 8, 8];
    expect(() => conv2dShape([4, 8, 8], [4, 4, 3, 3])).toThrow('conv2d: x must be 4-D [N, C, H, W], x=[4,8,8] w=[4,4,3,3]');
    expect(() => conv2dShape(x, [4, 3, 3, 3])).toThrow('conv2d: w has 3 input channels per group, x has 4/1, x=[2,4,8,8] w=[4,3,3,3]');
    expect(() => conv2dShape(x, [6, 2, 3, 3], { groups: 3 })).toThrow('conv2d: 4 input channels are not divisible by groups=3');
    expect(() => conv2dShape(x, [5, 2, 3, 3], { groups: 2 })).toThrow('conv2d: 5 output channels are not divisible by groups=2');
    expect(() => conv2dShape(x, [4, 4, 9, 9])).toThrow(/^conv2d: the dilated kernel \(9x9\) is larger than the padded input \(8x8\), x=\[2,4,8,8\]/);
    expect(() => conv2dShape(x, [4, 4, 3, 3], { stride: 0 })).toThrow('conv2d: stride must be positive integers, got 0');
    expect(() => conv2dShape(x, [4, 4, 3, 3], { padding: 'same', stride: 2 })).toThrow("conv2d: padding='same' needs stride 1");
    expect(() => conv2dShape(x, [4, 4, 3, 3], { padding: -1 })).toThrow('conv2d: padding must be non-negative integers');
  });
});

for (const strategy of STRATEGIES) describe.skipIf(!usable(strategy))(`conv2d kernels (${strategy})`, () => {
  for (const [name, xs, ws, o] of CASES) {
    it(`${name}: x=[${xs}] w=[${ws}] ${JSON.stringify(o)}`, () => checkKernels(name, xs, ws, o, strategy));
  }

  it('reads strided views in place (a permuted input, a sliced weight, a strided bias and dy)', async () => {
    const o = { padding: 1, stride: 2 };
    const X = arr([3, 2, 7, 6]); // stored [C, N, H, W], used as [N, C, H, W]
    const base = upload(X);
    const x = wg.permute(base, [1, 0, 2, 3]);
    const Xn = { data: new Float32Array(size(x.shape)), shape: [...x.shape] };
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) Xn.data.set(X.data.subarray((c * 2 + n) * 42, (c * 2 + n + 1) * 42), (n * 3 + c) * 42);
    const Wall = arr([8, 3, 3, 3]);
    const wAll = upload(Wall);
    const w = wg.slice(wAll, 0, 1, 8, 2); // output channels 1, 3, 5, 7
    const Wt = { data: new Float32Array(4 * 27), shape: [4, 3, 3, 3] };
    for (let i = 0; i < 4; i++) Wt.data.set(Wall.data.subarray((2 * i + 1) * 27, (2 * i + 2) * 27), i * 27);
    const Ball = arr([8]);
    const bAll = upload(Ball);
    const b = wg.slice(bAll, 0, 0, 8, 2);
    const B = { data: Float32Array.from([0, 2, 4, 6], (i) => Ball.data[i]), shape: [4] };
    expect(x.isContiguous || w.isContiguous || b.isContiguous).toBe(false);
    const y = conv2dK(x, w, { ...o, bias: b, strategy });
    expectClose('conv2d views', await y.data(), conv2dRef(Xn, Wt, o, B).data, tolFor(27));
    const DYt = arr([4, 2, 4, 3]); // dy stored [O, N, Ho, Wo]
    const dyT = upload(DYt);
    const dy = wg.permute(dyT, [1, 0, 2, 3]);
    const DY = { data: new Float32Array(size(dy.shape)), shape: [...dy.shape] };
    for (let n = 0; n < 2; n++) for (let oc = 0; oc < 4; oc++) DY.data.set(DYt.data.subarray((oc * 2 + n) * 12, (oc * 2 + n + 1) * 12), (n * 4 + oc) * 12);
    const r = conv2dBackward(x, w, dy, x.shape, w.shape, { ...o, strategy }, { dx: true, dw: true, dbias: false });
    expectClose('conv2d views dx', await r.dx!.data(), conv2dInputGradRef(DY, Wt, x.shape, o), tolFor(36));
    expectClose('conv2d views dw', await r.dw!.data(), conv2dWeightGradRef(DY, Xn, w.shape, o), tolFor(24));
    [base, x, wAll, w, bAll, b, y, dyT, dy, r.dx!, r.dw!].forEach((t) => t.dispose());
  });

  it('zero-size dims: empty outputs, and empty reductions give the bias or zeros', async () => {
    const empty = conv2dK(wg.zeros([0, 3, 5, 5]), wg.zeros([4, 3, 3, 3]), { strategy });
    expect(empty.shape).toEqual([0, 4, 3, 3]);
    const bias = wg.tensor([1, 2]);
    const y = conv2dK(wg.zeros([1, 0, 3, 3]), wg.zeros([2, 0, 3, 3]), { strategy, bias });
    expect(y.shape).toEqual([1, 2, 1, 1]);
    expect(Array.from(await y.data())).toEqual([1, 2]);
    const r = conv2dBackward(wg.zeros([0, 3, 5, 5]), wg.zeros([4, 3, 3, 3]), wg.zeros([0, 4, 3, 3]), [0, 3, 5, 5], [4, 3, 3, 3], { strategy },
      { dx: true, dw: true, dbias: true });
    expect(Array.from(await r.dw!.data())).toEqual(new Array(4 * 27).fill(0));
    expect(Array.from(await r.dbias!.data())).toEqual([0, 0, 0, 0]);
  });

  it('folds grids above 65,535 workgroups', async () => {
    const X = arr([1, 1, 2100, 2100]);
    const Wt = { data: Float32Array.from([0.75]), shape: [1, 1, 1, 1] };
    const [x, w] = [upload(X), upload(Wt)];
    expectClose('conv2d folded', await conv2dK(x, w, { strategy }).data(), X.data.map((v) => 0.75 * v));
    const r = conv2dBackward(x, w, x, x.shape, w.shape, { strategy }, { dx: true, dw: true, dbias: false });
    expectClose('conv2d folded dx', await r.dx!.data(), X.data.map((v) => 0.75 * v));
    let ss = 0;
    for (const v of X.data) ss += v * v;
    expectClose('conv2d folded dw', await r.dw!.data(), [ss], { rtol: 1e-4 });
    [x, w, r.dx!, r.dw!].forEach((t) => t.dispose());
  });

  it('frees every temporary: the pool holds as many buffers in use after a step as before (no scope)', async () => {
    const x = wg.randn([2, 3, 9, 9]);
    const w = wg.randn([4, 3, 3, 3]);
    const b = wg.randn([4]);
    x.requiresGrad = true;
    w.requiresGrad = true;
    void rt!.dummy; // allocated once, on first use
    await wg.sync();
    const before = rt!.pool.stats().inUse;
    for (const o of [{ padding: 1, stride: 2 }, { padding: 2, dilation: 2 }]) {
      const y = wg.conv2d(x, w, { ...o, bias: b, strategy });
      const g = wg.onesLike(y);
      wg.backward(y, g);
      await y.data();
      [y, g, x.grad!, w.grad!].forEach((t) => t.dispose());
      x.grad = null;
      w.grad = null;
    }
    await wg.sync();
    expect(rt!.pool.stats().inUse).toBe(before);
    [x, w, b].forEach((t) => t.dispose());
  });

  it('gradients of the op against finite differences of the float64 reference', async () => {
    const cases: [string, number[], number[], ConvRefOpts][] = [
      ['3x3 p1', [2, 3, 5, 6], [4, 3, 3, 3], { padding: 1 }],
      ['3x3 s2 p1', [1, 3, 7, 7], [2, 3, 3, 3], { stride: 2, padding: 1 }],
      ['5x5 d2 p4', [1, 2, 7, 6], [3, 2, 5, 5], { dilation: 2, padding: 4 }],
      ['groups 2', [1, 4, 5, 5], [4, 2, 3, 3], { groups: 2, padding: 1 }],
      ['depthwise', [2, 3, 5, 5], [3, 1, 3, 3], { groups: 3, padding: 1, stride: 2 }],
      ['7x7 s2 p3', [1, 1, 9, 8], [2, 1, 7, 7], { stride: 2, padding: 3 }],
    ];
    for (const [name, xs, ws, o] of cases) {
      const op = `conv2d ${name} [${strategy}]`;
      await checkOp(`${op} bias`, [xs, ws, [ws[0]]], (x, w, b) => conv2dRef(x, w, o, b), (x, w, b) => wg.conv2d(x, w, { ...o, bias: b, strategy }));
      await checkOp(`${op} nobias`, [xs, ws], (x, w) => conv2dRef(x, w, o), (x, w) => wg.conv2d(x, w, { ...o, strategy }));
    }
    // Only one input needs a gradient: the other is not saved, and its gradient not computed.
    await checkOp(`conv2d dx only [${strategy}]`, [[1, 2, 5, 5], { shape: [3, 2, 3, 3], constant: true }],
      (x, w) => conv2dRef(x, w, { padding: 1 }), (x, w) => wg.conv2d(x, w, { padding: 1, strategy }));
    await checkOp(`conv2d dw only [${strategy}]`, [{ shape: [1, 2, 5, 5], constant: true }, [3, 2, 3, 3]],
      (x, w) => conv2dRef(x, w, { stride: 2 }), (x, w) => wg.conv2d(x, w, { stride: 2, strategy }));
  });

  const FIXTURES = ['1x1_s2', '3x3_s1_p1', '3x3_s2_p1', '7x7_s2_p3'].flatMap((c) => [`conv2d_${c}_bias`, `conv2d_${c}_nobias`]);
  for (const name of FIXTURES) {
    it(`PyTorch golden ${name}`, async () => {
      const fx = loadFixture(name);
      const meta = Object.keys(fx.meta).filter((k) => !['case', 'description', 'seed', 'variant'].includes(k)).sort();
      expect(meta).toEqual(['bias', 'dilation', 'groups', 'kernel_size', 'padding', 'stride']);
      expect(fx.param('kernel_size')).toEqual(fx.shape('weight').slice(2));
      const hasBias = fx.param('bias') as boolean;
      expect(fx.has('bias')).toBe(hasBias);
      const names = hasBias ? ['input', 'weight', 'bias'] : ['input', 'weight'];
      const known = [...names, 'out', 'grad_out', ...names.map((n) => `grad.${n}`)];
      expect([...fx.tensors.keys()].filter((k) => !known.includes(k)), `${name}: tensors this test does not use`).toEqual([]);
      const leaves = names.map((n) => {
        const t = wg.tensor(fx.f32(n), { shape: fx.shape(n) });
        t.requiresGrad = true;
        return t;
      });
      const y = wg.scope(() => {
        const out = wg.conv2d(leaves[0], leaves[1], {
          bias: leaves[2], strategy,
          stride: fx.param('stride') as [number, number],
          padding: fx.param('padding') as [number, number],
          dilation: fx.param('dilation') as [number, number],
          groups: fx.param('groups') as number,
        });
        wg.backward(out, wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }));
        return out;
      });
      expectFixture(fx, 'out', await y.data(), 'op', y.shape);
      const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.'));
      expect(grads.sort()).toEqual(names.map((n) => `grad.${n}`).sort());
      for (const k of grads) {
        const g = leaves[names.indexOf(k.slice('grad.'.length))].grad!;
        expectFixture(fx, k, await g.data(), 'op', g.shape);
      }
      y.dispose();
      leaves.forEach((t) => { t.grad?.dispose(); t.dispose(); });
    });
  }
});

describe.skipIf(!rt)('Conv2d module', () => {
  it('has PyTorch names, shapes and default init, and runs forward', async () => {
    wg.manualSeed(3);
    const m = new wg.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    expect([...m.stateDict().keys()]).toEqual(['weight', 'bias']);
    expect(m.weight.shape).toEqual([6, 2, 3, 3]);
    const bound = 1 / Math.sqrt(2 * 9); // kaiming_uniform(a=sqrt(5)) and the bias: U(±1/sqrt(fan_in))
    for (const t of [m.weight, m.bias!]) {
      const v = Array.from(await t.data());
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(bound * 0.5);
    }
    const x = wg.randn([2, 4, 7, 7]);
    const y = m.forward(x);
    expect(y.shape).toEqual([2, 6, 4, 4]);
    const X = { data: Float64Array.from(await x.data()), shape: [2, 4, 7, 7] };
    const W = { data: Float64Array.from(await m.weight.data()), shape: [6, 2, 3, 3] };
    const B = { data: Float64Array.from(await m.bias!.data()), shape: [6] };
    expectClose('Conv2d module', await y.data(), conv2dRef(X, W, { stride: 2, padding: 1, groups: 2 }, B).data, tolFor(18));
    expect(new wg.Conv2d(3, 8, [1, 3], { bias: false }).bias).toBeNull();
    expect(() => m.forward(wg.zeros([2, 3, 7, 7]))).toThrow('Conv2d(4, 6, kernel [3,3]): input [2,3,7,7] must be [N, 4, H, W]');
    expect(() => new wg.Conv2d(4, 6, 3, { groups: 4 })).toThrow('Conv2d: 6 output channels are not divisible by groups=4');
  });
});
