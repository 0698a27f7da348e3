// The SSL heads: state dict names and layer layout (SimCLR / SimSiam / MoCo v3 projectors, BYOL /
// SimSiam predictors, DINO's `mlp.*` + `last_layer.weight_g` / `weight_v`, SwAV's prototypes), and
// each head's forward and every gradient (input and parameters) against a float64 reference of
// the same layers: forward directly, gradients by central finite differences of
// L = sum(out * r) (training-mode BN included). DINO's weight_g stays frozen at 1; SwAV's
// prototype rows are re-normalised in place without a gradient.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import {
  BatchNorm1d, DINOHead, GELU, Linear, PredictionHead, ProjectionHead, Prototypes, ReLU, Sequential, WeightNormLinear, type Module,
} from '../../models/index.js';
import { erf } from '../reference/core.js';
import { rng } from '../helpers/rand.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
const gen = (seed: number) => new wg.Generator(seed);

/** A row-major f64 matrix. */
interface Mat {
  data: Float64Array;
  rows: number;
  cols: number;
}
type Params = Map<string, Float64Array>;

const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

/** y = x Wᵀ (+ b): x [N, in], W [out, in]. */
function linearRef(x: Mat, w: Float64Array, b: Float64Array | undefined, out: number): Mat {
  const y = new Float64Array(x.rows * out);
  for (let n = 0; n < x.rows; n++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < x.cols; i++) s += x.data[n * x.cols + i] * w[o * x.cols + i];
      y[n * out + o] = s;
    }
  }
  return { data: y, rows: x.rows, cols: out };
}

/** Training-mode BatchNorm1d over [N, C]: batch mean and biased variance. */
function bnRef(x: Mat, w: Float64Array | undefined, b: Float64Array | undefined, eps: number): Mat {
  const y = new Float64Array(x.data.length);
  for (let c = 0; c < x.cols; c++) {
    let m = 0;
    for (let n = 0; n < x.rows; n++) m += x.data[n * x.cols + c];
    m /= x.rows;
    let v = 0;
    for (let n = 0; n < x.rows; n++) v += (x.data[n * x.cols + c] - m) ** 2;
    v /= x.rows;
    for (let n = 0; n < x.rows; n++) {
      const z = (x.data[n * x.cols + c] - m) / Math.sqrt(v + eps);
      y[n * x.cols + c] = w ? z * w[c] + b![c] : z;
    }
  }
  return { data: y, rows: x.rows, cols: x.cols };
}

const mapMat = (x: Mat, f: (v: number) => number): Mat => ({ ...x, data: x.data.map(f) });

/** Row-wise L2 normalisation (eps: the norm's lower bound). */
function normalizeRows(x: Mat, eps: number): Mat {
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    let s = 0;
    for (let c = 0; c < x.cols; c++) s += x.data[r * x.cols + c] ** 2;
    const d = Math.max(Math.sqrt(s), eps);
    for (let c = 0; c < x.cols; c++) y[r * x.cols + c] = x.data[r * x.cols + c] / d;
  }
  return { data: y, rows: x.rows, cols: x.cols };
}

/** float64 forward of a module built from Linear, BatchNorm1d (training mode), ReLU, GELU, Sequential, WeightNormLinear, heads. */
function refForward(m: Module, prefix: string, p: Params, x: Mat): Mat {
  const key = (k: string) => (prefix ? `${prefix}.${k}` : k);
  if (m instanceof Linear) return linearRef(x, p.get(key('weight'))!, m.bias ? p.get(key('bias')) : undefined, m.outFeatures);
  if (m instanceof BatchNorm1d) return bnRef(x, m.weight ? p.get(key('weight')) : undefined, m.bias ? p.get(key('bias')) : undefined, m.eps);
  if (m instanceof ReLU) return mapMat(x, (v) => Math.max(v, 0));
  if (m instanceof GELU) return mapMat(x, gelu);
  if (m instanceof Sequential) return m.layers.reduce((h, l, i) => refForward(l, key(String(i)), p, h), x);
  if (m instanceof WeightNormLinear) {
    const v = normalizeRows({ data: p.get(key('weight_v'))!, rows: m.outFeatures, cols: m.inFeatures }, 0);
    const g = p.get(key('weight_g'))!;
    return linearRef(x, v.data.map((e, i) => e * g[Math.floor(i / m.inFeatures)]), undefined, m.outFeatures);
  }
  if (m instanceof DINOHead) return refForward(m.lastLayer, key('last_layer'), p, normalizeRows(refForward(m.mlp, key('mlp'), p, x), 1e-12));
  if (m instanceof Prototypes) return linearRef(x, p.get(key('weight'))!, undefined, m.nPrototypes);
  throw new Error(`refForward: no reference for ${m.constructor.name}`);
}

/**
 * Forward of `m` on the GPU (training mode) against refForward, then backward with a random r:
 * the input's and every trainable parameter's gradient against central finite differences of
 * sum(ref(x) * r) at up to `probes` entries each.
 */
async function checkHead(m: Module & { forward(x: wg.Tensor): wg.Tensor }, n: number, inDim: number, seed: number, probes = 12): Promise<void> {
  const r0 = rng(seed);
  const xv = Float64Array.from({ length: n * inDim }, () => Math.fround(r0() * 2 - 1));
  const params: Params = new Map();
  for (const [k, t] of m.namedParameters()) params.set(k, Float64Array.from(await t.data()));
  const x = wg.tensor(Float32Array.from(xv), { shape: [n, inDim] });
  x.requiresGrad = true;
  const ref = (xs: Float64Array) => refForward(m, '', params, { data: xs, rows: n, cols: inDim });
  const want = ref(xv);
  const rv = Float64Array.from({ length: want.data.length }, () => Math.fround(r0() * 2 - 1));
  m.train();
  const y = wg.scope(() => {
    const out = m.forward(x);
    wg.backward(out, wg.tensor(Float32Array.from(rv), { shape: out.shape }));
    return out;
  });
  expect([...y.shape]).toEqual([n, want.cols]);
  const got = await y.data();
  let scale = 0;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want.data[i]), `${m.constructor.name} fwd [${i}]`).toBeLessThan(1e-5 + 1e-4 * scale);

  const L = () => {
    const o = ref(xv).data;
    let s = 0;
    for (let i = 0; i < o.length; i++) s += o[i] * rv[i];
    return s;
  };
  const targets: [string, Float64Array, wg.Tensor][] = [['input', xv, x]];
  for (const [k, t] of m.namedParameters()) if (t.requiresGrad) targets.push([k, params.get(k)!, t]);
  for (const [k, vals, t] of targets) {
    expect(t.grad, `${m.constructor.name}: no gradient for ${k}`).not.toBeNull();
    const g = await t.grad!.data();
    const step = Math.max(1, Math.floor(vals.length / probes));
    for (let j = 0; j < vals.length; j += step) {
      const v0 = vals[j];
      const h = 1e-4 * Math.max(1, Math.abs(v0));
      vals[j] = v0 + h;
      const lp = L();
      vals[j] = v0 - h;
      const lm = L();
      vals[j] = v0;
      const fd = (lp - lm) / (2 * h);
      expect(Math.abs(g[j] - fd), `${m.constructor.name} d/d${k}[${j}]: webgrad ${g[j]}, finite differences ${fd}`).toBeLessThan(5e-4 * Math.max(1, Math.abs(fd)));
    }
  }
  y.dispose();
  x.grad?.dispose();
  x.dispose();
}

const layerNames = (s: Sequential) => s.layers.map((l) => l.constructor.name);

describe.skipIf(!rt)('projection and prediction heads', () => {
  it('layout and names: Linear [BN] ReLU ... Linear [BN(affine=False)], biases only where no BN follows', () => {
    const simsiam = new ProjectionHead([16, 32, 32, 8], { lastBatchNorm: true, generator: gen(1) });
    expect(layerNames(simsiam)).toEqual(['Linear', 'BatchNorm1d', 'ReLU', 'Linear', 'BatchNorm1d', 'ReLU', 'Linear', 'BatchNorm1d']);
    expect([...simsiam.stateDict().keys()]).toEqual([
      '0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked',
      '3.weight', '4.weight', '4.bias', '4.running_mean', '4.running_var', '4.num_batches_tracked',
      '6.weight', '7.running_mean', '7.running_var', '7.num_batches_tracked',
    ]);
    const simclr = new ProjectionHead([16, 16, 4], { batchNorm: false, generator: gen(2) });
    expect([...simclr.stateDict().keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    const withBias = new ProjectionHead([4, 4, 2], { biasBeforeBatchNorm: true, generator: gen(2) });
    expect((withBias.at(0) as Linear).bias).not.toBeNull();
    const byol = new PredictionHead([8, 32, 8], { generator: gen(3) });
    expect(layerNames(byol)).toEqual(['Linear', 'BatchNorm1d', 'ReLU', 'Linear']);
    expect(() => new ProjectionHead([8])).toThrow(/ProjectionHead: sizes must be at least \[in, out\]/);
    const x = wg.zeros([2, 5]);
    expect(() => byol.forward(x)).toThrow(/PredictionHead\(\[8, 32, 8\]\): input \[2,5\] must be \[N, 8\]/);
    x.dispose();
    for (const m of [simsiam, simclr, withBias, byol]) m.dispose();
  });

  it('projection MLP with hidden BN and an affine-free output BN: forward and gradients vs float64', async () => {
    const m = new ProjectionHead([5, 7, 6, 3], { lastBatchNorm: true, generator: gen(4) });
    // Move the BN affine parameters off 1 / 0 so mistakes with them show.
    for (const bn of m.layers.filter((l): l is BatchNorm1d => l instanceof BatchNorm1d && l.weight !== null)) {
      const weight = wg.rand([bn.numFeatures], { low: 0.5, high: 1.5, generator: gen(5) });
      const bias = wg.rand([bn.numFeatures], { low: -0.5, high: 0.5, generator: gen(6) });
      bn.loadStateDict({ weight, bias }, { strict: false });
      weight.dispose();
      bias.dispose();
    }
    await checkHead(m, 6, 5, 7);
    m.dispose();
  });

  it('predictor MLP (BN after the hidden layer only): forward and gradients vs float64', async () => {
    const m = new PredictionHead([4, 9, 4], { generator: gen(8) });
    await checkHead(m, 5, 4, 9);
    m.dispose();
  });
});

describe.skipIf(!rt)('DINO head', () => {
  it("DINO's names, trunc-normal MLP init with zero biases, and a frozen weight_g of ones", async () => {
    const m = new DINOHead(12, 40, { hiddenDim: 16, bottleneckDim: 8, generator: gen(10) });
    expect([...m.stateDict().keys()]).toEqual([
      'mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias', 'mlp.4.weight', 'mlp.4.bias', 'last_layer.weight_g', 'last_layer.weight_v',
    ]);
    expect(layerNames(m.mlp as Sequential)).toEqual(['Linear', 'GELU', 'Linear', 'GELU', 'Linear']);
    expect(m.lastLayer.weightG.shape).toEqual([40, 1]);
    expect(m.lastLayer.weightV.shape).toEqual([40, 8]);
    expect(m.lastLayer.weightG.requiresGrad).toBe(false);
    expect(m.namedParameters().map(([k]) => k)).toContain('last_layer.weight_g'); // still a parameter, as in PyTorch
    expect(Array.from(await m.lastLayer.weightG.data()).every((v) => v === 1)).toBe(true);
    const w = Array.from(await (m.mlp as Sequential).at(0).stateDict().get('weight')!.data()); // 192 draws of trunc_normal(std 0.02)
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
    expect(Array.from(await (m.mlp as Sequential).at(0).stateDict().get('bias')!.data()).every((v) => v === 0)).toBe(true);
    const one = new DINOHead(6, 10, { nlayers: 1, bottleneckDim: 4, generator: gen(11) });
    expect([...one.stateDict().keys()]).toEqual(['mlp.weight', 'mlp.bias', 'last_layer.weight_g', 'last_layer.weight_v']);
    const bn = new DINOHead(6, 10, { useBn: true, hiddenDim: 8, bottleneckDim: 4, generator: gen(12) });
    expect(layerNames(bn.mlp as Sequential)).toEqual(['Linear', 'BatchNorm1d', 'GELU', 'Linear', 'BatchNorm1d', 'GELU', 'Linear']);
    for (const h of [m, one, bn]) h.dispose();
  });

  /** Sets the MLP's weights and biases to U(-0.6, 0.6): at DINO's init (std 0.02) the bottleneck is tiny and its normalisation ill-conditioned for finite differences. */
  const widen = (m: DINOHead, seed: number) => {
    const dict = new Map([...m.stateDict()].filter(([k]) => k.startsWith('mlp.') && !/running|num_batches/.test(k))
      .map(([k, t], i) => [k, wg.keep(wg.rand(t.shape, { low: -0.6, high: 0.6, generator: gen(seed + i) }))]));
    m.loadStateDict(dict, { strict: false });
    for (const t of dict.values()) t.dispose();
  };

  it('forward and gradients vs float64; outputs are cosine similarities; weight_g gets no gradient', async () => {
    const m = new DINOHead(6, 10, { hiddenDim: 9, bottleneckDim: 5, generator: gen(13) });
    widen(m, 100);
    await checkHead(m, 4, 6, 14);
    expect(m.lastLayer.weightG.grad).toBeNull();
    m.zeroGrad();
    const free = new DINOHead(6, 10, { nlayers: 2, hiddenDim: 7, bottleneckDim: 5, normLastLayer: false, useBn: true, generator: gen(15) });
    expect(free.lastLayer.weightG.requiresGrad).toBe(true);
    const g = wg.rand([10, 1], { low: 0.5, high: 2, generator: gen(16) });
    free.lastLayer.loadStateDict({ weight_g: g }, { strict: false });
    g.dispose();
    widen(free, 200);
    await checkHead(free, 4, 6, 17); // includes d/d weight_g
    const x = wg.randn([3, 6], { generator: gen(18) });
    const y = wg.noGrad(() => wg.scope(() => m.forward(x)));
    expect(Math.max(...(await y.data()).map(Math.abs))).toBeLessThanOrEqual(1 + 1e-5);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    free.dispose();
  });
});

describe.skipIf(!rt)('SwAV prototypes', () => {
  it('a bias-free Linear (weight [K, D]); normalize() puts every row on the unit sphere in place, with no gradient', async () => {
    const p = new Prototypes(6, 5, { generator: gen(20) });
    expect([...p.stateDict().keys()]).toEqual(['weight']);
    expect(p.weight.shape).toEqual([5, 6]);
    await checkHead(p, 3, 6, 21);
    p.zeroGrad();
    const ref = p.weight;
    p.normalize();
    expect(p.weight).toBe(ref); // in place: an optimizer keeps its reference
    expect(p.weight.node).toBeNull();
    const w = await p.weight.data();
    for (let r = 0; r < 5; r++) {
      let s = 0;
      for (let c = 0; c < 6; c++) s += w[r * 6 + c] ** 2;
      expect(Math.sqrt(s)).toBeCloseTo(1, 5);
    }
    const z = wg.zeros([2, 4]);
    expect(() => p.forward(z)).toThrow(/Prototypes\(6, 5\): input \[2,4\] must be \[N, 6\]/);
    z.dispose();
    p.dispose();
  });
});
