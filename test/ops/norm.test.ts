// BatchNorm and LayerNorm: forward and finite-difference gradients against the float64
// references at odd sizes (C = 1, 3, 17; element counts off every workgroup size; vec4 and f32
// loads; strided views; large offsets), every kernel path against the analytic gradients, train
// vs eval, affine on/off, running statistics over several steps, the modules (state dicts,
// errors), the PyTorch goldens under the fixtures protocol, and a no-leak training loop.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { launchBatchNormBwd, launchBatchNormFwd } from '../../src/kernels/batch_norm.js';
import { launchLayerNormBwd, launchLayerNormFwd } from '../../src/kernels/layer_norm.js';
import type { RowPath } from '../../src/kernels/rows.js';
import { checkOp } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { permuteRef, type Arr } from '../reference/matmul.js';
import { batchNormGradRef, batchNormRef, channelMoments, layerNormGradRef, layerNormRef } from '../reference/norm.js';
import { expectNoLeak } from '../helpers/leak.js';

const rt = await gpu();
afterAll(() => {
  printReport('norm');
  printFixtureReport('norm goldens');
});

const PATHS: RowPath[] = ['serial', 'subgroup', 'tree'];
const available = (p: RowPath) => p !== 'subgroup' || !!rt?.hasFeature('subgroups');
const arr = (data: ArrayLike<number>, shape: readonly number[]): Arr => ({ data: Float64Array.from(data), shape });
const constant = (c: number, lo: number, hi: number) => ({ shape: [c], constant: true, lo, hi });

/** [N, C], [N, C, L] and [N, C, H, W] with C = 1, 3, 17; M = N * S off 8, 64 and 256; S = 4k (vec4 loads). */
const BN_SHAPES = [[7, 3], [2, 17], [5, 1, 9], [2, 3, 65], [3, 3, 5, 7], [4, 17, 3, 5], [3, 5, 4, 4], [2, 3, 8], [67, 2]];

describe.skipIf(!rt)('batchNorm against float64 (forward, finite-difference gradients)', () => {
  // With M = 2 values per channel, x̂ = ±d / sqrt(d² + eps) bends sharply where d is small: a
  // smaller step keeps the float64 finite differences exact there (truncation is O(h²)).
  const FD = { h: 1e-5 };
  it('training, affine and not', async () => {
    for (const s of BN_SHAPES) {
      const c = s[1];
      await checkOp(`batchNorm train [${s}]`, [s, [c], [c]], (x, w, b) => batchNormRef(x, w, b, { training: true }),
        (x, w, b) => wg.batchNorm(x, null, null, w, b, { training: true }), FD);
      await checkOp(`batchNorm train-plain [${s}]`, [s], (x) => batchNormRef(x, null, null, { training: true }),
        (x) => wg.batchNorm(x, null, null, null, null, { training: true }), FD);
    }
  });

  it('eval with running statistics, affine and not, weight or bias alone', async () => {
    for (const s of BN_SHAPES) {
      const c = s[1];
      const ins = [s, [c], [c], constant(c, -1, 1), constant(c, 0.3, 2)];
      await checkOp(`batchNorm eval [${s}]`, ins, (x, w, b, rm, rv) => batchNormRef(x, w, b, { training: false, runningMean: rm.data, runningVar: rv.data }),
        (x, w, b, rm, rv) => wg.batchNorm(x, rm, rv, w, b));
      await checkOp(`batchNorm eval-plain [${s}]`, [s, ...ins.slice(3)], (x, rm, rv) => batchNormRef(x, null, null, { training: false, runningMean: rm.data, runningVar: rv.data }),
        (x, rm, rv) => wg.batchNorm(x, rm, rv));
    }
    await checkOp('batchNorm train-weight-only [3,4,5]', [[3, 4, 5], [4]], (x, w) => batchNormRef(x, w, null, { training: true }),
      (x, w) => wg.batchNorm(x, null, null, w, null, { training: true }));
    await checkOp('batchNorm train-bias-only [3,4,5]', [[3, 4, 5], [4]], (x, b) => batchNormRef(x, null, b, { training: true }),
      (x, b) => wg.batchNorm(x, null, null, null, b, { training: true }));
  });

  it('large offsets (mean 1e3, std 0.6) and a custom eps', async () => {
    for (const s of [[6, 3, 5, 5], [33, 17], [2, 3, 4, 4]]) {
      const c = s[1];
      await checkOp(`batchNorm offset [${s}]`, [{ shape: s, lo: 999, hi: 1001 }, [c], [c]],
        (x, w, b) => batchNormRef(x, w, b, { training: true, eps: 1e-3 }),
        (x, w, b) => wg.batchNorm(x, null, null, w, b, { training: true, eps: 1e-3 }), { h: 1e-6 });
    }
  });

  it('strided inputs: a channels-last permute (read in place), a channel slice and a W slice (copied)', async () => {
    const nhwc = [2, 4, 5, 3];
    await checkOp('batchNorm channels-last [2,3,4,5]', [nhwc, [3], [3]],
      (x, w, b) => batchNormRef(permuteRef(x, [0, 3, 1, 2]), w, b, { training: true }),
      (x, w, b) => wg.batchNorm(wg.permute(x, [0, 3, 1, 2]), null, null, w, b, { training: true }));
    await checkOp('batchNorm slices [3,5,4,6]', [[3, 5, 4, 6], [3], [3]],
      (x, w, b) => {
        const data: number[] = [];
        for (let n = 0; n < 3; n++) for (let c = 1; c < 4; c++) for (let h = 0; h < 4; h++) for (let v = 1; v < 6; v += 2) data.push(x.data[((n * 5 + c) * 4 + h) * 6 + v]);
        return batchNormRef(arr(data, [3, 3, 4, 3]), w, b, { training: true });
      },
      (x, w, b) => wg.batchNorm(wg.slice(wg.slice(x, 1, 1, 4), 3, 1, 6, 2), null, null, w, b, { training: true }));
  });
});

describe.skipIf(!rt)('batchNorm kernels on every path against the analytic gradients', () => {
  for (const path of PATHS) {
    it.skipIf(!available(path))(`${path} path, training and eval, f32 and vec4 loads`, async () => {
      for (const [si, s] of [[3, 5, 7, 3], [9, 17], [2, 3, 16, 20], [1, 2, 300], [5, 1, 8]].entries()) {
        const c = s[1];
        const xd = uniform(size(s), 80 + si, -2, 3);
        const [wd, bd, rmd, dyd] = [uniform(c, 81 + si), uniform(c, 82 + si), uniform(c, 83 + si), uniform(size(s), 85 + si)];
        const rvd = uniform(c, 84 + si, 0.5, 2);
        const [x, w, b, rm, rv, dy] = [[xd, s], [wd, [c]], [bd, [c]], [rmd, [c]], [rvd, [c]], [dyd, s]].map(([d, sh]) => wg.tensor(d as Float32Array, { shape: sh as number[] }));
        for (const training of [true, false]) {
          const o = { training, runningMean: rmd, runningVar: rvd };
          const { y, stats } = launchBatchNormFwd({ x, weight: w, bias: b, runningMean: training ? null : rm, runningVar: training ? null : rv, training, path });
          const g = launchBatchNormBwd({ x, dy, weight: w, stats, batchStats: training, path });
          const want = batchNormGradRef(arr(xd, s), arr(wd, [c]), dyd, o);
          const tag = `batchNorm kernel (${path})`;
          expectClose(`${tag} fwd`, await y.data(), batchNormRef(arr(xd, s), arr(wd, [c]), arr(bd, [c]), o).data, { rtol: 2e-5, atol: 1e-5 }, s);
          expectClose(`${tag} dx`, await g.dx.data(), want.dx, { rtol: 1e-4, atol: 2e-5 }, s);
          expectClose(`${tag} dw`, await g.dweight.data(), want.dw, { rtol: 1e-4, atol: 1e-4 }, [c]);
          expectClose(`${tag} db`, await g.dbias.data(), want.db, { rtol: 1e-4, atol: 1e-4 }, [c]);
          for (const t of [y, stats, g.dx, g.dweight, g.dbias]) t.dispose();
        }
        for (const t of [x, w, b, rm, rv, dy]) t.dispose();
      }
    });
  }
});

describe.skipIf(!rt)('BatchNorm modules: running statistics, modes, state dicts, errors', () => {
  for (const momentum of [0.1, 0.3, null]) {
    it(`running statistics over 4 training steps match the CPU (momentum ${momentum}), then eval uses them`, async () => {
      const s = [4, 3, 5, 3];
      const bn = new wg.BatchNorm2d(3, { momentum });
      const rm = [0, 0, 0];
      const rv = [1, 1, 1];
      for (let step = 0; step < 4; step++) {
        const xd = uniform(size(s), 90 + step, -1 + step, 2 + 2 * step);
        const x = wg.tensor(xd, { shape: s });
        wg.noGrad(() => bn.forward(x)).dispose();
        const mo = channelMoments(arr(xd, s));
        const f = momentum ?? 1 / (step + 1);
        for (let c = 0; c < 3; c++) {
          rm[c] = (1 - f) * rm[c] + f * mo.mean[c];
          rv[c] = (1 - f) * rv[c] + f * mo.varUnbiased[c];
        }
        x.dispose();
      }
      expectClose('BatchNorm2d running_mean', await bn.runningMean!.data(), rm, { rtol: 1e-5, atol: 1e-6 });
      expectClose('BatchNorm2d running_var', await bn.runningVar!.data(), rv, { rtol: 1e-5, atol: 1e-6 });
      expect(await bn.numBatchesTracked!.item()).toBe(4);
      bn.eval();
      const xd = uniform(size(s), 99, -3, 3);
      const x = wg.tensor(xd, { shape: s });
      const y = bn.forward(x);
      expectClose('BatchNorm2d eval', await y.data(), batchNormRef(arr(xd, s), null, null, { training: false, runningMean: rm, runningVar: rv }).data, { rtol: 2e-5, atol: 1e-5 });
      expect(await bn.numBatchesTracked!.item(), 'eval does not count').toBe(4);
      for (const t of [x, y]) t.dispose();
      bn.dispose();
    });
  }

  it('state dict names, dtypes and order as PyTorch; affine off and untracked variants', async () => {
    const bn = new wg.BatchNorm1d(5);
    expect([...bn.stateDict().keys()]).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(bn.numBatchesTracked!.dtype).toBe('i32');
    expect(bn.numBatchesTracked!.shape).toEqual([]);
    expect(bn.parameters().length).toBe(2);
    const plain = new wg.BatchNorm2d(2, { affine: false });
    expect([...plain.stateDict().keys()]).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const untracked = new wg.BatchNorm1d(2, { trackRunningStats: false }).eval();
    expect([...untracked.stateDict().keys()]).toEqual(['weight', 'bias']);
    // Without running statistics eval mode normalises with the batch's own.
    const xd = uniform(12, 7, -2, 2);
    const x = wg.tensor(xd, { shape: [6, 2] });
    const y = untracked.forward(x);
    expectClose('BatchNorm1d untracked eval', await y.data(), batchNormRef(arr(xd, [6, 2]), null, null, { training: true }).data, { rtol: 2e-5, atol: 1e-5 });
    expect([...new wg.LayerNorm([3, 4]).stateDict().keys()]).toEqual(['weight', 'bias']);
    expect([...new wg.LayerNorm(4, { bias: false }).stateDict().keys()]).toEqual(['weight']);
    expect([...new wg.LayerNorm(4, { elementwiseAffine: false }).stateDict().keys()]).toEqual([]);
    for (const m of [bn, plain, untracked]) m.dispose();
    for (const t of [x, y]) t.dispose();
  });

  it('one-line errors naming the op and the shapes', () => {
    const bn = new wg.BatchNorm2d(3);
    const x3 = wg.zeros([2, 3, 4]);
    const x1 = wg.zeros([1, 3]);
    const w = wg.zeros([4]);
    expect(() => bn.forward(x3)).toThrow(/^BatchNorm2d\(3\): expected input \[N, C, H, W\] with C = 3, got \[2,3,4\]$/);
    expect(() => new wg.BatchNorm1d(4).forward(x3)).toThrow(/BatchNorm1d\(4\): expected input \[N, C\] or \[N, C, L\] with C = 4, got \[2,3,4\]/);
    expect(() => wg.batchNorm(x1, null, null, null, null, { training: true })).toThrow(/^batchNorm: expected more than 1 value per channel when training, got input \[1,3\]$/);
    expect(() => wg.batchNorm(x3, null, null)).toThrow(/^batchNorm: eval mode needs runningMean and runningVar, input \[2,3,4\]$/);
    expect(() => wg.batchNorm(x3, null, null, w, null, { training: true })).toThrow(/^batchNorm: weight must be f32 \[3\] for input \[2,3,4\], got f32 \[4\]$/);
    expect(() => wg.layerNorm(x3, [3])).toThrow(/^layerNorm: input \[2,3,4\] does not end in normalized shape \[3\]$/);
    expect(() => wg.layerNorm(x3, 4, w, x1)).toThrow(/^layerNorm: bias must be f32 \[4\], got f32 \[1,3\]$/);
    for (const t of [x3, x1, w]) t.dispose();
    bn.dispose();
  });

  it('empty batches: eval BatchNorm and LayerNorm give empty outputs and zero parameter gradients', async () => {
    const x = wg.zeros([0, 3]);
    const rm = wg.zeros([3]);
    const rv = wg.ones([3]);
    const w = wg.ones([3]);
    w.requiresGrad = true;
    const bn = wg.batchNorm(x, rm, rv, w, null);
    expect(bn.shape).toEqual([0, 3]);
    wg.backward(bn, wg.zeros([0, 3]));
    expect(Array.from(await w.grad!.data())).toEqual([0, 0, 0]);
    w.grad!.dispose();
    w.grad = null;
    const ln = wg.layerNorm(x, 3, w);
    wg.backward(ln, wg.zeros([0, 3]));
    expect(Array.from(await w.grad!.data())).toEqual([0, 0, 0]);
    for (const t of [x, rm, rv, w, w.grad!, bn, ln]) t.dispose();
  });
});

describe.skipIf(!rt)('layerNorm against float64 (forward, finite-difference gradients)', () => {
  // [rows, D]: D odd, D = 4k (vec4), D = 1, two normalised dims, rows above 128 (serial), long rows (one workgroup per row).
  const CASES: [number[], number][] = [[[3, 17], 1], [[2, 5, 32], 1], [[4, 3, 5], 2], [[6, 1], 1], [[300, 6], 1], [[3, 257], 1], [[2, 260], 1], [[2, 1024], 1], [[2, 3, 4, 4], 3]];
  it('affine, weight only, and not affine', async () => {
    for (const [s, k] of CASES) {
      const ns = s.slice(s.length - k);
      await checkOp(`layerNorm affine [${s}]/${k}`, [s, ns, ns], (x, w, b) => layerNormRef(x, k, w, b), (x, w, b) => wg.layerNorm(x, ns, w, b));
      await checkOp(`layerNorm weight-only [${s}]/${k}`, [s, ns], (x, w) => layerNormRef(x, k, w, null), (x, w) => wg.layerNorm(x, ns, w));
      await checkOp(`layerNorm plain [${s}]/${k}`, [s], (x) => layerNormRef(x, k, null, null), (x) => wg.layerNorm(x, ns));
    }
  });

  it('large offsets (mean 1e3), a custom eps, and a transposed (copied) input', async () => {
    for (const s of [[5, 33], [3, 64]]) {
      await checkOp(`layerNorm offset [${s}]`, [{ shape: s, lo: 999, hi: 1001 }, [s[1]], [s[1]]],
        (x, w, b) => layerNormRef(x, 1, w, b, 1e-3), (x, w, b) => wg.layerNorm(x, s[1], w, b, 1e-3), { h: 1e-6 });
    }
    await checkOp('layerNorm transposed [6,5]', [[6, 5], [6], [6]], (x, w, b) => layerNormRef(permuteRef(x, [1, 0]), 1, w, b),
      (x, w, b) => wg.layerNorm(wg.transpose(x), 6, w, b));
  });
});

describe.skipIf(!rt)('layerNorm kernels on every path against the analytic gradients', () => {
  for (const path of PATHS) {
    it.skipIf(!available(path))(`${path} path, f32 and vec4 loads, one and several row chunks`, async () => {
      for (const [si, s] of [[5, 70], [3, 131], [600, 8], [2, 9, 12], [1, 1]].entries()) {
        const d = s[s.length - 1];
        const xd = uniform(size(s), 60 + si, -2, 3);
        const [wd, bd, dyd] = [uniform(d, 61 + si), uniform(d, 62 + si), uniform(size(s), 63 + si)];
        const [x, w, b, dy] = [[xd, s], [wd, [d]], [bd, [d]], [dyd, s]].map(([v, sh]) => wg.tensor(v as Float32Array, { shape: sh as number[] }));
        const { y, stats } = launchLayerNormFwd({ x, normalizedShape: [d], weight: w, bias: b, path });
        const g = launchLayerNormBwd({ x, dy, normalizedShape: [d], weight: w, stats, needInput: true, needParams: true, path });
        const want = layerNormGradRef(arr(xd, s), 1, arr(wd, [d]), dyd);
        const tag = `layerNorm kernel (${path})`;
        expectClose(`${tag} fwd`, await y.data(), layerNormRef(arr(xd, s), 1, arr(wd, [d]), arr(bd, [d])).data, { rtol: 2e-5, atol: 1e-5 }, s);
        expectClose(`${tag} dx`, await g.dx!.data(), want.dx, { rtol: 1e-4, atol: 2e-5 }, s);
        expectClose(`${tag} dw`, await g.dweight!.data(), want.dw, { rtol: 1e-4, atol: 1e-4 }, [d]);
        expectClose(`${tag} db`, await g.dbias!.data(), want.db, { rtol: 1e-4, atol: 1e-4 }, [d]);
        for (const t of [x, w, b, dy, y, stats, g.dx!, g.dweight!, g.dbias!]) t.dispose();
      }
    });
  }
});

describe.skipIf(!rt)('PyTorch goldens (fixtures protocol)', () => {
  const COMMON = ['case', 'description', 'seed', 'variant'];
  const up = (fx: ReturnType<typeof loadFixture>, name: string) => wg.tensor(fx.f32(name), { shape: fx.shape(name) });

  for (const name of ['batch_norm2d_train', 'batch_norm2d_eval', 'batch_norm1d_train', 'batch_norm1d_eval']) {
    it(name, async () => {
      const fx = loadFixture(name);
      expect(Object.keys(fx.meta).filter((k) => ![...COMMON, 'training', 'momentum', 'eps', 'note'].includes(k))).toEqual([]);
      const state = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'];
      const known = ['input', 'out', 'grad_out', ...state, ...state.map((k) => `updated.${k}`), 'grad.input', 'grad.weight', 'grad.bias', 'num_batches_tracked.i32', 'updated.num_batches_tracked.i32'];
      expect([...fx.tensors.keys()].filter((k) => !known.includes(k))).toEqual([]);
      const training = fx.param('training') as boolean;
      const shape = fx.shape('input');
      const Layer = shape.length === 4 ? wg.BatchNorm2d : wg.BatchNorm1d;
      const bn = new Layer(fx.shape('weight')[0], { eps: fx.param('eps') as number, momentum: fx.param('momentum') as number });
      bn.loadStateDict(new Map(state.map((k) => [k, fx.get(k)])));
      bn.train(training);
      const x = up(fx, 'input');
      x.requiresGrad = true;
      const y = wg.scope(() => {
        const out = bn.forward(x);
        wg.backward(out, up(fx, 'grad_out'));
        return out;
      });
      expectFixture(fx, 'out', await y.data(), 'op', y.shape);
      expectFixture(fx, 'grad.input', await x.grad!.data(), 'op', x.grad!.shape);
      expectFixture(fx, 'grad.weight', await bn.weight!.grad!.data(), 'op', bn.weight!.shape);
      expectFixture(fx, 'grad.bias', await bn.bias!.grad!.data(), 'op', bn.bias!.shape);
      const after = training ? 'updated.' : ''; // eval leaves the running statistics as they were
      expect(training, `${name}: updated.* present iff training`).toBe(fx.has('updated.running_mean'));
      expectFixture(fx, `${after}running_mean`, await bn.runningMean!.data(), 'op', bn.runningMean!.shape);
      expectFixture(fx, `${after}running_var`, await bn.runningVar!.data(), 'op', bn.runningVar!.shape);
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual(Array.from(fx.i32(`${after}num_batches_tracked`)));
      for (const t of [x, x.grad!, y]) t.dispose();
      bn.dispose();
    });
  }

  it('layer_norm', async () => {
    const fx = loadFixture('layer_norm');
    expect(Object.keys(fx.meta).filter((k) => ![...COMMON, 'normalized_shape', 'eps'].includes(k))).toEqual([]);
    expect([...fx.tensors.keys()].sort()).toEqual(['bias', 'grad.bias', 'grad.input', 'grad.weight', 'grad_out', 'input', 'out', 'weight']);
    const ln = new wg.LayerNorm(fx.param('normalized_shape') as number[], { eps: fx.param('eps') as number });
    ln.loadStateDict({ weight: fx.get('weight'), bias: fx.get('bias') });
    const x = up(fx, 'input');
    x.requiresGrad = true;
    const y = wg.scope(() => {
      const out = ln.forward(x);
      wg.backward(out, up(fx, 'grad_out'));
      return out;
    });
    expectFixture(fx, 'out', await y.data(), 'op', y.shape);
    expectFixture(fx, 'grad.input', await x.grad!.data(), 'op', x.grad!.shape);
    expectFixture(fx, 'grad.weight', await ln.weight!.grad!.data(), 'op', ln.weight!.shape);
    expectFixture(fx, 'grad.bias', await ln.bias!.grad!.data(), 'op', ln.bias!.shape);
    for (const t of [x, x.grad!, y]) t.dispose();
    ln.dispose();
  });
});

describe.skipIf(!rt)('no leaks', () => {
  it('unscoped training-mode steps through BatchNorm2d, BatchNorm1d (cumulative) and LayerNorm keep live buffers flat', async () => {
    const bn2 = new wg.BatchNorm2d(3);
    const bn1 = new wg.BatchNorm1d(4, { momentum: null });
    const ln = new wg.LayerNorm(5);
    const x = wg.keep(wg.tensor(uniform(120, 5, -1, 1), { shape: [2, 3, 4, 5] }));
    const params = [...bn2.parameters(), ...bn1.parameters(), ...ln.parameters()];
    // No scope: every tensor the step makes is disposed by hand, so a temporary an op forgets
    // to free (which a scope would have swept up) shows as a growing live-buffer count.
    const step = () => {
      const a = bn2.forward(x);
      const h = ln.forward(a); // [2, 3, 4, 5]
      const v = wg.permute(h, [0, 2, 1, 3]);
      const r = wg.reshape(v, [2, 4, 15]);
      const z = bn1.forward(r);
      const m = wg.mul(z, z);
      const s = wg.sum(m);
      wg.backward(s);
      for (const t of [a, h, v, r, z, m, s]) t.dispose();
      for (const p of params) {
        p.grad?.dispose();
        p.grad = null;
      }
    };
    await expectNoLeak(step, { steps: 10 });
    expect(await bn1.numBatchesTracked!.item()).toBe(13);
    for (const m of [bn2, bn1, ln]) m.dispose();
    x.dispose();
  });
});
