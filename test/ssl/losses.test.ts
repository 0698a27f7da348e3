// BYOL and SimSiam losses (models/ssl/losses.ts): the PyTorch goldens byol_loss and simsiam_loss
// under the fixtures protocol (../shared/fixtures/README.md; copied into test/fixtures/), the
// stop-gradient, and float64 finite-difference checks at other shapes.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp } from '../helpers/check_op.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { byolRef, negativeCosineRef, simsiamRef } from '../reference/eval.js';

const rt = await gpu();
afterAll(() => printFixtureReport('BYOL / SimSiam goldens'));

const COMMON_META = ['case', 'description', 'seed', 'variant'];

function leaf(fx: Fixture, name: string): wg.Tensor {
  const t = wg.tensor(fx.f32(name), { shape: fx.shape(name) });
  t.requiresGrad = true;
  return t;
}

function expectMeta(fx: Fixture, known: readonly string[]): void {
  const unknown = Object.keys(fx.meta).filter((k) => !COMMON_META.includes(k) && !known.includes(k));
  expect(unknown, `${fx.name}: metadata this test does not apply`).toEqual([]);
}

describe.skipIf(!rt)('PyTorch goldens: BYOL and SimSiam losses', () => {
  it('byol_loss', async () => {
    const fx = loadFixture('byol_loss');
    expectMeta(fx, ['reduction']);
    expect(fx.param('reduction')).toBe('mean over batch, sum of the two directions');
    const [p1, p2, z1, z2] = ['p1', 'p2', 'z1', 'z2'].map((n) => leaf(fx, n));
    const loss = wg.scope(() => {
      const l = wg.byolLoss(p1, p2, z1, z2);
      wg.backward(l);
      return l;
    });
    try {
      expectFixture(fx, 'loss', await loss.data(), 'op', loss.shape);
      expectFixture(fx, 'grad.p1', await p1.grad!.data(), 'op', p1.grad!.shape);
      expectFixture(fx, 'grad.p2', await p2.grad!.data(), 'op', p2.grad!.shape);
      // Stop-gradient: the targets get nothing (and the fixture has no grad.z*).
      expect(z1.grad, 'grad of z1').toBeNull();
      expect(z2.grad, 'grad of z2').toBeNull();
      expect([...fx.tensors.keys()].filter((k) => k.startsWith('grad.')).sort()).toEqual(['grad.p1', 'grad.p2']);
    } finally {
      loss.dispose();
      for (const t of [p1, p2, z1, z2]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
  });

  it('simsiam_loss (predictor Linear-ReLU-Linear; grad.z only through the predictor)', async () => {
    const fx = loadFixture('simsiam_loss');
    expectMeta(fx, ['predictor', 'note', 'cosine_eps']);
    const eps = fx.param('cosine_eps') as number;
    expect(eps).toBe(1e-8);
    const [d, h] = [fx.shape('predictor.0.weight')[1], fx.shape('predictor.0.weight')[0]];
    const predictor = new wg.Sequential(new wg.Linear(d, h), new wg.ReLU(), new wg.Linear(h, d));
    const weights = new Map([...fx.tensors].filter(([k]) => k.startsWith('predictor.')).map(([k, v]) => [k.slice('predictor.'.length), v]));
    predictor.loadStateDict(weights); // strict: every parameter comes from the file
    const [z1, z2] = ['z1', 'z2'].map((n) => leaf(fx, n));
    const { loss, p1, p2 } = wg.scope(() => {
      const q1 = predictor.forward(z1);
      const q2 = predictor.forward(z2);
      // simsiamLoss = D(p1, z2)/2 + D(p2, z1)/2 with D = negativeCosine(., ., eps 1e-8).
      const l = wg.mul(wg.add(wg.negativeCosine(q1, z2, eps), wg.negativeCosine(q2, z1, eps)), 0.5);
      wg.backward(l);
      return { loss: l, p1: wg.detach(q1), p2: wg.detach(q2) };
    });
    try {
      expectFixture(fx, 'loss', await loss.data(), 'op', loss.shape);
      expectFixture(fx, 'p1', await p1.data(), 'op', p1.shape);
      expectFixture(fx, 'p2', await p2.data(), 'op', p2.shape);
      expectFixture(fx, 'grad.z1', await z1.grad!.data(), 'op', z1.grad!.shape);
      expectFixture(fx, 'grad.z2', await z2.grad!.data(), 'op', z2.grad!.shape);
      for (const [name, t] of predictor.namedParameters()) {
        expectFixture(fx, `grad.predictor.${name}`, await t.grad!.data(), 'op', t.grad!.shape);
      }
      const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.')).sort();
      expect(grads).toEqual(['grad.z1', 'grad.z2', ...predictor.namedParameters().map(([n]) => `grad.predictor.${n}`)].sort());
    } finally {
      for (const t of [loss, p1, p2, z1, z2]) {
        t.grad?.dispose();
        t.dispose();
      }
      predictor.dispose();
    }
  });

  it('simsiamLoss gives the golden loss too', async () => {
    const fx = loadFixture('simsiam_loss');
    const [p1, p2, z1, z2] = ['p1', 'p2', 'z1', 'z2'].map((n) => wg.tensor(fx.f32(n), { shape: fx.shape(n) }));
    const l = wg.simsiamLoss(p1, p2, z1, z2);
    expectFixture(fx, 'loss', await l.data(), 'op', l.shape);
    for (const t of [l, p1, p2, z1, z2]) t.dispose();
  });

  it('the stop-gradient: z gets no gradient from the loss itself', async () => {
    const mk = (seed: number) => {
      const t = wg.randn([6, 5], { generator: new wg.Generator(seed) });
      t.requiresGrad = true;
      return t;
    };
    const [p1, p2, z1, z2] = [1, 2, 3, 4].map(mk);
    for (const f of [wg.byolLoss, wg.simsiamLoss]) {
      wg.scope(() => wg.backward(f(p1, p2, z1, z2)));
      expect(p1.grad).not.toBeNull();
      expect(z1.grad).toBeNull();
      expect(z2.grad).toBeNull();
      for (const t of [p1, p2]) {
        t.grad?.dispose();
        t.grad = null;
      }
    }
    for (const t of [p1, p2, z1, z2]) t.dispose();
  });

  it('errors name the shapes', () => {
    const a = wg.zeros([4, 3]);
    const b = wg.zeros([4, 5]);
    expect(() => wg.byolLoss(a, a, a, b)).toThrow(/byolLoss: .*\[4, ?3\].*\[4, ?5\]/);
    expect(() => wg.negativeCosine(a, b)).toThrow(/negativeCosine/);
    a.dispose();
    b.dispose();
  });
});

describe.skipIf(!rt)('losses against float64 finite differences (targets held constant)', () => {
  const z = (shape: number[]) => ({ shape, constant: true });
  for (const [b, d] of [[5, 7], [3, 33], [1, 4]]) {
    it(`byolLoss [${b}, ${d}]`, () =>
      checkOp(`byolLoss [${b},${d}]`, [[b, d], [b, d], z([b, d]), z([b, d])],
        (p1, p2, z1, z2) => [byolRef(p1, p2, z1, z2)], (p1, p2, z1, z2) => wg.byolLoss(p1, p2, z1, z2)));
    it(`simsiamLoss [${b}, ${d}]`, () =>
      checkOp(`simsiamLoss [${b},${d}]`, [[b, d], [b, d], z([b, d]), z([b, d])],
        (p1, p2, z1, z2) => [simsiamRef(p1, p2, z1, z2)], (p1, p2, z1, z2) => wg.simsiamLoss(p1, p2, z1, z2)));
  }
  it('negativeCosine [9, 6]', () =>
    checkOp('negativeCosine [9,6]', [[9, 6], z([9, 6])], (p, q) => [negativeCosineRef(p, q)], (p, q) => wg.negativeCosine(p, q)));
});
