// PyTorch goldens of the contrastive losses under the fixtures protocol
// (../shared/fixtures/README.md; the cases are copied into test/fixtures/): shapes and
// hyperparameters come from each file, the loss and every grad.* are compared, and the state
// updates (updated.queue, updated.memory) too. A missing case file fails. The worst err/bound per
// case is printed.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
afterAll(() => printFixtureReport('contrastive goldens'));

const COMMON_META = ['case', 'description', 'seed', 'variant'];

/** An input tensor of the case: F32 as a leaf that requires grad, integers as i32. */
function leaf(fx: Fixture, name: string): wg.Tensor {
  if (fx.get(name).dtype === 'F32') {
    const t = wg.tensor(fx.f32(name), { shape: fx.shape(name) });
    t.requiresGrad = true;
    return t;
  }
  return wg.tensor(fx.i32(name), { shape: fx.shape(name), dtype: 'i32' });
}

/**
 * Runs case `name`: `run` maps the inputs (in order) to the scalar loss (and may apply the
 * state update, returning the updated tensors by their fixture names); the loss, every grad.*
 * and every updated.* are compared. Metadata outside `meta` (and tensors that are neither inputs
 * nor results) fail the test instead of being silently ignored.
 */
async function golden(
  name: string,
  inputs: readonly string[] | ((fx: Fixture) => readonly string[]),
  meta: readonly string[],
  run: (fx: Fixture, xs: wg.Tensor[]) => { loss: wg.Tensor; updated?: Record<string, wg.Tensor> },
): Promise<void> {
  const fx = loadFixture(name);
  const names = typeof inputs === 'function' ? inputs(fx) : inputs;
  const unknownMeta = Object.keys(fx.meta).filter((k) => !COMMON_META.includes(k) && !meta.includes(k));
  expect(unknownMeta, `${name}: metadata this test does not apply`).toEqual([]);
  const result = (k: string) => k === 'loss' || /^(grad|intermediate|updated)\./.test(k) || k.endsWith('.i32');
  expect([...fx.tensors.keys()].filter((k) => !result(k) && !names.includes(k)), `${name}: tensors this test does not feed`).toEqual([]);
  const xs = names.map((n) => leaf(fx, n));
  const { loss, updated } = wg.scope(() => {
    const r = run(fx, xs);
    wg.backward(r.loss);
    return r;
  });
  try {
    expectFixture(fx, 'loss', await loss.data(), 'op', loss.shape);
    const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.'));
    expect(grads.length, `${name}: no grad.* tensors`).toBeGreaterThan(0);
    for (const k of grads) {
      const i = names.indexOf(k.slice('grad.'.length));
      expect(i, `${name}: ${k} has no input in this test`).toBeGreaterThanOrEqual(0);
      const g = xs[i].grad;
      expect(g, `${name}: webgrad gave no ${k}`).not.toBeNull();
      expectFixture(fx, k, await g!.data(), 'op', g!.shape);
    }
    const ups = [...fx.tensors.keys()].filter((k) => k.startsWith('updated.'));
    expect(ups.sort(), `${name}: updated state`).toEqual(Object.keys(updated ?? {}).sort());
    for (const k of ups) expectFixture(fx, k, await updated![k].data(), 'op', updated![k].shape);
  } finally {
    loss.dispose();
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
  }
}

const num = (fx: Fixture, k: string) => fx.param(k) as number;

describe.skipIf(!rt)('PyTorch goldens: contrastive losses', () => {
  for (const c of ['nt_xent_tau0.5', 'nt_xent_tau0.1']) {
    it(c, () => golden(c, ['input'], ['tau', 'N', 'normalize', 'reduction', 'note'], (fx, [z]) => {
      expect(z.shape[0], `${c}: 2N rows`).toBe(2 * num(fx, 'N'));
      expect(fx.param('normalize')).toBe(true);
      expect(fx.param('reduction')).toBe('mean over 2N');
      return { loss: wg.ntXent(z, { temperature: num(fx, 'tau') }) };
    }));
  }

  it('moco_v2_loss (and updated.queue)', () => golden('moco_v2_loss', ['q', 'k', 'queue'],
    ['tau', 'K', 'queue_ptr', 'normalize_q', 'normalize_k', 'note'], (fx, [q, k, queue]) => {
      expect(queue.shape[1]).toBe(num(fx, 'K'));
      expect([fx.param('normalize_q'), fx.param('normalize_k')]).toEqual([true, true]);
      const loss = wg.mocoLoss(q, k, queue, { temperature: num(fx, 'tau') });
      // The queue is a buffer: update a copy after the loss, as MoCo's _dequeue_and_enqueue.
      const updated = wg.noGrad(() => wg.copy(queue));
      const ptr = num(fx, 'queue_ptr');
      const next = wg.noGrad(() => wg.enqueue(updated, wg.normalize(k), ptr));
      expect(next).toBe((ptr + q.shape[0]) % queue.shape[1]);
      return { loss, updated: { 'updated.queue': updated } };
    }));

  it('moco_v3_loss', () => golden('moco_v3_loss', ['q1', 'q2', 'k1', 'k2'], ['tau', 'note'], (fx, [q1, q2, k1, k2]) =>
    ({ loss: wg.mocoV3Loss(q1, q2, k1, k2, { temperature: num(fx, 'tau') }) })));

  const bankInputs = ['input', 'memory', 'index', 'neg_idx'];
  it('instdisc_softmax (and updated.memory)', () => golden('instdisc_softmax', bankInputs, ['tau', 'memory_momentum', 'K', 'note'],
    (fx, [v, memory, index, neg]) => {
      expect(neg.shape[1]).toBe(num(fx, 'K'));
      memory.requiresGrad = false; // the bank is a buffer
      const loss = wg.instDiscLoss(v, memory, index, neg, { temperature: num(fx, 'tau'), form: 'softmax' });
      const updated = wg.noGrad(() => wg.copy(memory));
      wg.noGrad(() => wg.updateMemoryBank(updated, index, wg.normalize(v), num(fx, 'memory_momentum')));
      return { loss, updated: { 'updated.memory': updated } };
    }));

  it('instdisc_nce', () => golden('instdisc_nce', bankInputs, ['tau', 'K', 'n_data', 'eps', 'note'], (fx, [v, memory, index, neg]) => {
    expect(neg.shape[1]).toBe(num(fx, 'K'));
    memory.requiresGrad = false;
    return {
      loss: wg.instDiscLoss(v, memory, index, neg, { temperature: num(fx, 'tau'), form: 'nce', nData: num(fx, 'n_data'), eps: num(fx, 'eps') }),
    };
  }));

  it('clip_loss', () => golden('clip_loss', ['image_features', 'text_features', 'logit_scale'], ['logit_scale_init', 'note'],
    (_fx, [img, txt, s]) => ({ loss: wg.clipLoss(img, txt, s) })));

  it('cpc_infonce', () => golden('cpc_infonce', (fx) => {
    const K = num(fx, 'K');
    return ['context', 'z', ...Array.from({ length: K }, (_, k) => `predictors.${k}.weight`)];
  }, ['K', 'negatives', 'note'], (_fx, [context, z, ...ws]) => ({ loss: wg.cpcInfoNCE(context, z, ws) })));
});
