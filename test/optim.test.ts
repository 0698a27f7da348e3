// Optimizers (models/optim.ts, models/ema.ts over shaders/optim.wgsl): the PyTorch goldens (SGD, SGD Nesterov,
// AdamW, LARS, EMA) under the fixture protocol; groups with their own hyperparameters and skipped
// parameters against the float64 reference, with one update dispatch per group per step; rebind
// keeps identity; schedules; clipGradNorm; errors; no leaked buffers.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../src/index.node.js';
import type { Tensor } from '../src/tensor.js';
import { AdamW, LARS, SGD, clipGradNorm, flattenParams, type ParamGroupSpec } from '../models/optim.js';
import { emaUpdate } from '../models/ema.js';
import { cosineSchedule, emaMomentum, warmupCosine, weightDecaySchedule } from '../models/schedules.js';
import { gpu } from './helpers/gpu.js';
import { expectClose } from './helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from './helpers/fixtures.js';
import { uniform } from './helpers/rand.js';
import { adamwRef, larsRef, refParam, sgdRef, type RefParam } from './reference/optim.js';

const rt = await gpu();

interface Opt {
  step(): void;
  zeroGrad(): void;
  state(p: Tensor): Record<string, Tensor>;
  dispose(): void;
}

const param = (data: ArrayLike<number>, shape: readonly number[]): Tensor => {
  const t = wg.keep(wg.tensor(Float32Array.from(data), { shape }));
  t.requiresGrad = true;
  return t;
};
const num = (fx: Fixture, key: string) => fx.param(key) as number;
const dispatches = () => wg.runtime().batch.dispatches;

/** Parameter names of an optimizer case: its `step0.<p>` tensors, in file order. */
const paramNames = (fx: Fixture) => [...fx.tensors.keys()].filter((k) => k.startsWith('step0.')).map((k) => k.slice(6));

/**
 * The optimizer protocol: step0.<p> are the initial params, step{s}.grad.<p> is fed before step s,
 * step{s}.<p> must match after it, and step{S}.state.<p>.<slot> is the final state.
 */
async function runCase(fx: Fixture, make: (named: [string, Tensor][]) => Opt): Promise<void> {
  const names = paramNames(fx);
  expect(names.length).toBeGreaterThan(0);
  const ps = names.map((n) => param(fx.f32(`step0.${n}`), fx.shape(`step0.${n}`)));
  const opt = make(names.map((n, i) => [n, ps[i]]));
  const steps = num(fx, 'steps');
  for (let s = 1; s <= steps; s++) {
    names.forEach((n, i) => (ps[i].grad = wg.keep(wg.tensor(fx.f32(`step${s}.grad.${n}`), { shape: fx.shape(`step${s}.grad.${n}`) }))));
    opt.step();
    opt.zeroGrad();
    for (const [i, n] of names.entries()) expectFixture(fx, `step${s}.${n}`, await ps[i].data(), 'op', ps[i].shape);
  }
  const prefix = `step${steps}.state.`;
  const keys = [...fx.tensors.keys()].filter((k) => k.startsWith(prefix));
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    const rest = key.slice(prefix.length);
    const name = rest.slice(0, rest.lastIndexOf('.'));
    const slot = rest.slice(rest.lastIndexOf('.') + 1);
    const st = opt.state(ps[names.indexOf(name)]);
    expect(Object.keys(st), key).toContain(slot);
    expectFixture(fx, key, await st[slot].data(), 'op', st[slot].shape);
    for (const v of Object.values(st)) v.dispose();
  }
  opt.dispose();
  for (const p of ps) p.dispose();
}

const sgdFrom = (fx: Fixture) => (named: [string, Tensor][]) =>
  new SGD(named, {
    lr: num(fx, 'lr'), momentum: num(fx, 'momentum'), dampening: num(fx, 'dampening'),
    weightDecay: num(fx, 'weight_decay'), nesterov: fx.param('nesterov') as boolean,
  });

const larsHyper = (fx: Fixture) => {
  expect(num(fx, 'eta')).toBe(num(fx, 'trust_coefficient'));
  return { lr: num(fx, 'lr'), momentum: num(fx, 'momentum'), weightDecay: num(fx, 'weight_decay'), eta: num(fx, 'eta'), nesterov: fx.param('nesterov') as boolean };
};

describe.skipIf(!rt)('optimizer goldens (PyTorch)', () => {
  afterAll(() => printFixtureReport('optim'));

  it('sgd_momentum', async () => runCase(loadFixture('sgd_momentum'), sgdFrom(loadFixture('sgd_momentum'))));
  it('sgd_momentum_nesterov', async () => runCase(loadFixture('sgd_momentum_nesterov'), sgdFrom(loadFixture('sgd_momentum_nesterov'))));

  it('adamw', async () => {
    const fx = loadFixture('adamw');
    expect(fx.param('amsgrad')).toBe(false);
    const [b1, b2] = fx.param('betas') as [number, number];
    await runCase(fx, (named) => new AdamW(named, { lr: num(fx, 'lr'), betas: [b1, b2], eps: num(fx, 'eps'), weightDecay: num(fx, 'weight_decay') }));
  });

  it('lars: the metadata list of excluded parameters, as a predicate', async () => {
    const fx = loadFixture('lars');
    const excluded = fx.param('excluded') as string[];
    expect(excluded.length).toBeGreaterThan(0);
    await runCase(fx, (named) => new LARS(named, { ...larsHyper(fx), exclude: (_p, name) => excluded.includes(name!) }));
  });

  it('lars: the excluded parameters as a group with exclude: true', async () => {
    const fx = loadFixture('lars');
    const excluded = fx.param('excluded') as string[];
    await runCase(fx, (named) => {
      const groups: ParamGroupSpec<{ exclude: boolean }>[] = [
        { params: named.filter(([n]) => !excluded.includes(n)), exclude: false },
        { params: named.filter(([n]) => excluded.includes(n)), exclude: true },
      ];
      return new LARS(groups, larsHyper(fx));
    });
  });

  it('ema_update: per tensor (one dispatch each) and flat (one dispatch)', async () => {
    const fx = loadFixture('ema_update');
    const m = num(fx, 'momentum');
    const names = [...fx.tensors.keys()].filter((k) => k.startsWith('online.')).map((k) => k.slice(7));
    for (const flat of [false, true]) {
      const make = (side: string) => names.map((n) => wg.keep(wg.tensor(fx.f32(`${side}.${n}`), { shape: fx.shape(`${side}.${n}`) })));
      const target = make('target');
      const online = make('online');
      const flats = flat ? [flattenParams(target), flattenParams(online)] : [];
      const before = dispatches();
      emaUpdate(target, online, m);
      expect(dispatches() - before).toBe(flat ? 1 : names.length);
      for (const [i, n] of names.entries()) {
        expectFixture(fx, `updated.target.${n}`, await target[i].data(), 'op', target[i].shape);
        expect(Array.from(await online[i].data())).toEqual(Array.from(fx.f32(`online.${n}`)));
      }
      for (const t of [...target, ...online, ...flats]) t.dispose();
    }
  });
});

type Kind = 'sgd' | 'adamw' | 'lars';
// Group hyperparameters chosen so that each term (decay, momentum, trust ratio) moves the values well
// beyond f32 rounding.
const HYPER = {
  sgd: [{ lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.05, nesterov: false }, { lr: 0.3, momentum: 0.5, dampening: 0, weightDecay: 0.2, nesterov: true }],
  adamw: [{ lr: 0.01, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0.05 }, { lr: 0.05, betas: [0.8, 0.99] as const, eps: 1e-3, weightDecay: 0.3 }],
  lars: [{ lr: 2, momentum: 0.9, weightDecay: 0.01, eta: 0.001, nesterov: false }, { lr: 0.5, momentum: 0.8, weightDecay: 0.1, eta: 0.02, nesterov: true }],
};

function refStep(kind: Kind, p: RefParam, g: Float32Array | null, group: number, rank: number): void {
  if (kind === 'sgd') sgdRef(p, g, HYPER.sgd[group]);
  else if (kind === 'adamw') adamwRef(p, g, HYPER.adamw[group]);
  else larsRef(p, g, HYPER.lars[group], rank <= 1); // LARS's default rule: rank <= 1 is excluded
}

function makeOpt(kind: Kind, groups: Tensor[][]): Opt {
  if (kind === 'sgd') return new SGD(HYPER.sgd.map((h, i) => ({ params: groups[i], ...h })), { lr: 1 });
  if (kind === 'adamw') return new AdamW(HYPER.adamw.map((h, i) => ({ params: groups[i], ...h })));
  return new LARS(HYPER.lars.map((h, i) => ({ params: groups[i], ...h })), { lr: 1 });
}

describe.skipIf(!rt)('flat groups', () => {
  // Shapes: one spans many workgroups (and the LARS lane loop), two are 1-D (LARS-excluded).
  const SHAPES = [[70, 33], [33], [5, 4], [7]];
  const GROUP = [0, 0, 1, 1];
  // Which parameters have a gradient in each step (false: .grad is null, the parameter is skipped).
  const HAS_GRAD = [[true, true, true, true], [true, false, false, true], [true, true, true, true], [false, true, true, false]];

  for (const kind of ['sgd', 'adamw', 'lars'] as const) {
    it(`${kind}: groups with their own hyperparameters, skipped parameters, one dispatch per group`, async () => {
      const init = SHAPES.map((s, i) => uniform(s.reduce((a, b) => a * b, 1), 10 + i));
      const ps = SHAPES.map((s, i) => param(init[i], s));
      const refs = init.map((v) => refParam(v));
      const opt = makeOpt(kind, [ps.filter((_, i) => GROUP[i] === 0), ps.filter((_, i) => GROUP[i] === 1)]);
      for (const [s, has] of HAS_GRAD.entries()) {
        const grads = SHAPES.map((sh, i) => (has[i] ? uniform(init[i].length, 100 * s + i, -2, 2) : null));
        ps.forEach((p, i) => (p.grad = grads[i] ? wg.keep(wg.tensor(grads[i]!, { shape: SHAPES[i] })) : null));
        const before = dispatches();
        opt.step();
        const groupsWithGrads = new Set(GROUP.filter((_, i) => has[i])).size;
        expect(dispatches() - before, `step ${s}`).toBe(groupsWithGrads);
        opt.zeroGrad();
        refs.forEach((r, i) => refStep(kind, r, grads[i], GROUP[i], SHAPES[i].length));
        for (const [i, p] of ps.entries()) expectClose(`${kind} step ${s} param ${i}`, await p.data(), refs[i].w, { rtol: 1e-4, atol: 2e-5 });
      }
      for (const [i, p] of ps.entries()) {
        const st = opt.state(p);
        expect(Object.keys(st).sort()).toEqual(Object.keys(refs[i].state).sort());
        for (const [slot, v] of Object.entries(st)) expectClose(`${kind} ${slot} ${i}`, await v.data(), refs[i].state[slot], { rtol: 1e-4, atol: 2e-5 });
        for (const v of Object.values(st)) v.dispose();
      }
      opt.dispose();
    });
  }

  it('rebind keeps identity: every parameter lives in one flat buffer and modules see the updates', async () => {
    const w = param([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = param([10, 20], [2]);
    const module = { weight: w, bias: b };
    const oldStorage = w.storage;
    const opt = new SGD([w, b], { lr: 0.5 });
    expect(module.weight).toBe(w);
    expect(w.storage).not.toBe(oldStorage);
    expect(b.storage).toBe(w.storage);
    expect([w.offset, b.offset]).toEqual([0, 6]);
    expect(Array.from(await module.weight.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const g = wg.keep(wg.tensor([[2, 8], [4, 10], [6, 12]]));
    w.grad = wg.keep(wg.transpose(g)); // a non-contiguous gradient is gathered by a strided copy
    b.grad = wg.keep(wg.tensor([4, -4]));
    opt.step();
    expect(Array.from(await module.weight.data())).toEqual([0, 0, 0, 0, 0, 0]);
    const y = wg.add(module.bias, 1); // an op reading the module's tensor sees the update
    expect(Array.from(await y.data())).toEqual([9, 23]);
    for (const t of [y, g]) t.dispose();
    opt.zeroGrad();
    opt.dispose();
    expect(Array.from(await b.data())).toEqual([8, 22]); // the values outlive the optimizer
  });

  it('one-line errors name the optimizer, the parameter and the shapes; a failed step changes nothing', async () => {
    const a = param([1, 2, 3], [3]);
    const b = param([1, 2], [2]);
    expect(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 1 })).toThrow(/SGD: parameter #\d+ \[3\] appears more than once/);
    expect(() => new SGD([a], { lr: 1, nesterov: true })).toThrow(/SGD: group 0 nesterov needs momentum > 0 and dampening 0/);
    expect(() => new AdamW([a], { betas: [0.9, 1] })).toThrow(/AdamW: group 0 betas must be two numbers in \[0, 1\)/);
    expect(() => new LARS([a], { lr: -1 })).toThrow(/LARS: group 0 lr must be a finite number >= 0, got -1/);
    const computed = wg.mul(a, 2);
    expect(() => new SGD([computed], { lr: 1 })).toThrow(/SGD: parameter #\d+ \[3\] is not a leaf/);
    computed.dispose();
    const opt = new SGD([['a', a], ['b', b]], { lr: 1 });
    expect(() => new AdamW([b])).toThrow(/AdamW: parameter #\d+ \[2\] is already in another flat buffer/);
    b.grad = wg.keep(wg.zeros([3]));
    expect(() => opt.step()).toThrow(/SGD.step: gradient f32 \[3\] does not match parameter 'b' \[2\]/);
    opt.zeroGrad();
    expect(() => opt.state(param([1], [1]))).toThrow(/SGD.state: tensor #\d+ \[1\] is not a parameter of this optimizer/);
    opt.dispose();
    expect(() => opt.step()).toThrow(/SGD.step: the optimizer was disposed/);
    new AdamW([b]).dispose(); // free once the first optimizer is disposed
    expect(() => emaUpdate([a], [b], 0.9)).toThrow(/emaUpdate: tensor 0: target \[3\] and online \[2\] differ/);
    expect(() => clipGradNorm([a], -1)).toThrow(/clipGradNorm: maxNorm must be >= 0, got -1/);
    const c = param([1, 2], [2]);
    const d = param([5], [1]);
    const two = new SGD([{ params: [c] }, { params: [d] }], { lr: 1 });
    c.grad = wg.keep(wg.ones([2]));
    d.grad = wg.keep(wg.ones([2]));
    expect(() => two.step()).toThrow(/SGD.step: gradient f32 \[2\] does not match parameter #\d+ \[1\]/);
    expect(Array.from(await c.data())).toEqual([1, 2]); // group 0 was not updated either
    two.zeroGrad();
    two.dispose();
  });

  it('no buffers leak across 50 steps (SGD, AdamW, LARS, clipGradNorm, emaUpdate)', async () => {
    const ps = [param(uniform(300, 1), [20, 15]), param(uniform(15, 2), [15])];
    const target = [param(uniform(300, 3), [20, 15]), param(uniform(15, 4), [15])];
    const opts: Opt[] = [new SGD([ps[0]], { lr: 0.01, momentum: 0.9 }), new LARS([ps[1]], { lr: 0.1 })];
    const adam = new AdamW(target);
    // No scope: whatever the optimizers create per step they must free themselves.
    const run = (k: number) => {
      for (const p of [...ps, ...target]) p.grad = wg.keep(wg.mul(p, 0.1));
      clipGradNorm([...ps, ...target], 1).dispose();
      for (const o of [...opts, adam]) o.step();
      for (const o of [...opts, adam]) o.zeroGrad();
      emaUpdate(target, ps, emaMomentum(0.99, k, 50));
      wg.flush();
    };
    run(0);
    await wg.sync();
    const before = wg.runtime().pool.stats();
    for (let k = 1; k <= 50; k++) run(k);
    await wg.sync();
    const after = wg.runtime().pool.stats();
    expect(after.inUse).toBe(before.inUse);
    expect(after.inUseBytes).toBe(before.inUseBytes);
    for (const o of [...opts, adam]) o.dispose();
  });
});

describe.skipIf(!rt)('clipGradNorm', () => {
  it('matches the float64 global norm and scales by min(1, maxNorm / (norm + 1e-6))', async () => {
    const shapes = [[3000], [7, 5], [1]];
    for (const factor of [0.25, 2]) {
      const gs = shapes.map((s, i) => uniform(s.reduce((a, b) => a * b, 1), 40 + i, -1, 1));
      const ps = shapes.map((s) => param(new Float32Array(s.reduce((a, b) => a * b, 1)), s));
      ps.forEach((p, i) => (p.grad = wg.keep(wg.tensor(gs[i], { shape: shapes[i] }))));
      const frozen = param([1, 2], [2]); // no grad: ignored
      const total = Math.sqrt(gs.reduce((s, g) => s + g.reduce((t, x) => t + x * x, 0), 0));
      const maxNorm = factor * total;
      const norm = clipGradNorm([...ps, frozen, ps[0]], maxNorm); // a repeated parameter counts once
      expect(norm.shape).toEqual([]);
      expectClose('clipGradNorm norm', [await norm.item()], [total], { rtol: 1e-5 });
      const coef = Math.min(1, maxNorm / (total + 1e-6));
      for (const [i, p] of ps.entries()) expectClose(`clipGradNorm grad ${i}`, await p.grad!.data(), gs[i].map((x) => x * coef), { rtol: 1e-5 });
      expect(frozen.grad).toBeNull();
      for (const t of [norm, ...ps, frozen]) t.dispose();
    }
  });

  it('a non-contiguous gradient is replaced by a scaled contiguous copy', async () => {
    const p = param(new Float32Array(6), [3, 2]);
    const g = wg.keep(wg.tensor([3, 0, 0, 4, 0, 0], { shape: [2, 3] })); // norm 5
    p.grad = wg.transpose(g); // [3, 2] view with strides [1, 3]
    const norm = clipGradNorm([p], 1);
    expect(await norm.item()).toBeCloseTo(5, 5);
    expect(p.grad.isContiguous).toBe(true);
    expectClose('clipGradNorm transposed', await p.grad.data(), [0.6, 0.8, 0, 0, 0, 0], { rtol: 1e-5 });
    for (const t of [norm, g, p.grad, p]) t.dispose();
  });
});

describe('schedules (closed form)', () => {
  it('cosineSchedule', () => {
    expect(cosineSchedule(1, 0, 0, 10)).toBe(1);
    expect(cosineSchedule(1, 0, 5, 10)).toBeCloseTo(0.5, 12);
    expect(cosineSchedule(1, 0, 10, 10)).toBeCloseTo(0, 12);
    expect(cosineSchedule(1, 0, 20, 10)).toBeCloseTo(0, 12); // clamped past the end
    expect(cosineSchedule(2, 1, 2.5, 10)).toBeCloseTo(1 + 0.5 * (1 + Math.SQRT1_2), 12);
    expect(() => cosineSchedule(1, 0, -1, 10)).toThrow(/cosineSchedule: step -1 must be a finite number >= 0/);
  });

  it('warmupCosine: linear warmup, then cosine to final', () => {
    const o = { base: 0.4, warmup: 10, total: 110 };
    expect([0, 5, 10, 60, 110, 200].map((k) => warmupCosine(k, o))).toEqual([0, 0.2, 0.4, expect.closeTo(0.2, 12), expect.closeTo(0, 12), expect.closeTo(0, 12)]);
    const o2 = { ...o, final: 0.04, warmupStart: 0.1 };
    expect(warmupCosine(5, o2)).toBeCloseTo(0.25, 12);
    expect(warmupCosine(60, o2)).toBeCloseTo(0.04 + 0.36 * 0.5, 12);
    expect(warmupCosine(35, o2)).toBeCloseTo(0.04 + 0.36 * 0.5 * (1 + Math.SQRT1_2), 12);
    expect(warmupCosine(3, { base: 1, warmup: 0, total: 12 })).toBeCloseTo(0.5 * (1 + Math.SQRT1_2), 12);
    expect(() => warmupCosine(0, { base: 1, warmup: 10, total: 10 })).toThrow(/warmupCosine: warmup 10 must be in \[0, total 10\)/);
  });

  it('emaMomentum (BYOL: 1 - (1 - m0)(cos(πk/K) + 1)/2) and weightDecaySchedule', () => {
    expect(emaMomentum(0.996, 0, 100)).toBeCloseTo(0.996, 12);
    expect(emaMomentum(0.996, 50, 100)).toBeCloseTo(0.998, 12);
    expect(emaMomentum(0.996, 100, 100)).toBeCloseTo(1, 12);
    expect(emaMomentum(0.99, 25, 100)).toBeCloseTo(1 - 0.01 * (Math.SQRT1_2 + 1) / 2, 12);
    expect(weightDecaySchedule(0.04, 0.4, 0, 100)).toBeCloseTo(0.04, 12);
    expect(weightDecaySchedule(0.04, 0.4, 50, 100)).toBeCloseTo(0.22, 12);
    expect(weightDecaySchedule(0.04, 0.4, 100, 100)).toBeCloseTo(0.4, 12);
  });
});
