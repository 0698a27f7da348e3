// PyTorch goldens under the fixtures protocol (../shared/fixtures/README.md): each case's inputs,
// shapes and hyperparameters (axis, keepdim, transposes, reduction, label smoothing,
// approximation) come from the file; its forward output (`out` or `loss`) and every `grad.*`
// are compared, with `grad_out` as the upstream gradient where the file has one (a scalar loss
// is differentiated directly). A missing case file fails. The worst err/bound per case is printed.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
afterAll(() => printFixtureReport('ops goldens'));

/** A metadata value, or `dflt` when the file does not set it (PyTorch's default). */
function opt<T>(fx: Fixture, key: string, dflt: T): T {
  return fx.meta[key] === undefined ? dflt : (fx.param(key) as T);
}

/** The tensors of the case as webgrad tensors: integer ones as i32, float ones as leaves that require grad. */
function leaf(fx: Fixture, name: string): wg.Tensor {
  const dtype = fx.get(name).dtype;
  if (dtype === 'F32') {
    const t = wg.tensor(fx.f32(name), { shape: fx.shape(name) });
    t.requiresGrad = true;
    return t;
  }
  return wg.tensor(fx.i32(name), { shape: fx.shape(name), dtype: 'i32' });
}

/** Metadata every case has, which no op reads. */
const COMMON_META = ['case', 'description', 'seed', 'variant'];

/**
 * Runs case `name`: `run` maps the named input tensors (in order) to the output; the output and
 * the gradients of every input the file has a `grad.<input>` for are compared. `meta` lists the
 * hyperparameters `run` reads: a file with another key, or with a tensor that is neither an
 * input nor a result, fails instead of being half-tested.
 */
async function golden(
  name: string,
  inputs: readonly string[] | ((fx: Fixture) => readonly string[]),
  meta: readonly string[],
  run: (fx: Fixture, ...xs: wg.Tensor[]) => wg.Tensor,
): Promise<void> {
  const fx = loadFixture(name);
  const names = typeof inputs === 'function' ? inputs(fx) : inputs;
  const unknownMeta = Object.keys(fx.meta).filter((k) => !COMMON_META.includes(k) && !meta.includes(k));
  expect(unknownMeta, `${name}: metadata this test does not apply`).toEqual([]);
  const result = (k: string) => ['out', 'loss', 'grad_out'].includes(k) || /^(grad|intermediate)\./.test(k) || k.endsWith('.i32');
  const unknownTensors = [...fx.tensors.keys()].filter((k) => !result(k) && !names.includes(k));
  expect(unknownTensors, `${name}: tensors this test does not feed`).toEqual([]);
  const xs = names.map((n) => leaf(fx, n));
  const outName = fx.has('loss') ? 'loss' : 'out';
  const y = wg.scope(() => {
    const out = run(fx, ...xs);
    wg.backward(out, fx.has('grad_out') ? wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }) : undefined);
    return out;
  });
  try {
    expectFixture(fx, outName, await y.data(), 'op', y.shape);
    const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.'));
    expect(grads.length, `${name}: no grad.* tensors`).toBeGreaterThan(0);
    for (const k of grads) {
      const i = names.indexOf(k.slice('grad.'.length));
      expect(i, `${name}: ${k} has no input in this test`).toBeGreaterThanOrEqual(0);
      const g = xs[i].grad;
      expect(g, `${name}: webgrad gave no ${k}`).not.toBeNull();
      expectFixture(fx, k, await g!.data(), 'op', g!.shape);
    }
  } finally {
    y.dispose();
    for (const x of xs) {
      x.grad?.dispose();
      x.dispose();
    }
  }
}

const MATMUL = ['matmul_2d', 'matmul_batched', 'matmul_batched_transpose_b', 'matmul_broadcast', 'matmul_transpose_a', 'matmul_transpose_b'];
const SOFTMAX = ['softmax', 'softmax_3d', 'softmax_large_logits'];

describe.skipIf(!rt)('PyTorch goldens: matmul', () => {
  for (const c of MATMUL) {
    const inputs = (fx: Fixture) => (fx.has('bias') ? ['a', 'b', 'bias'] : ['a', 'b']);
    it(c, () => golden(c, inputs, ['transpose_a', 'transpose_b'], (fx, a, b, bias) =>
      wg.matmul(a, b, { transA: opt(fx, 'transpose_a', false), transB: opt(fx, 'transpose_b', false), bias })));
  }
});

describe.skipIf(!rt)('PyTorch goldens: softmax family', () => {
  for (const c of SOFTMAX) it(c, () => golden(c, ['input'], ['dim'], (fx, x) => wg.softmax(x, fx.param('dim') as number)));
  it('log_softmax', () => golden('log_softmax', ['input'], ['dim'], (fx, x) => wg.logSoftmax(x, fx.param('dim') as number)));
  it('logsumexp', () => golden('logsumexp', ['input'], ['dim', 'keepdim'], (fx, x) =>
    wg.logsumexp(x, fx.param('dim') as number | number[], opt(fx, 'keepdim', false))));
});

describe.skipIf(!rt)('PyTorch goldens: cross-entropy', () => {
  for (const c of ['cross_entropy', 'cross_entropy_sum']) {
    it(c, () => golden(c, ['input', 'target'], ['reduction', 'label_smoothing'], (fx, x, t) => wg.crossEntropy(x, t, {
      reduction: opt(fx, 'reduction', 'mean' as const),
      labelSmoothing: opt(fx, 'label_smoothing', 0),
    })));
  }
});

describe.skipIf(!rt)('PyTorch goldens: activations', () => {
  for (const c of ['gelu_erf', 'gelu_tanh']) {
    it(c, () => golden(c, ['input'], ['approximate'], (fx, x) => wg.gelu(x, { approximate: opt(fx, 'approximate', 'none' as const) })));
  }
  it('relu', () => golden('relu', ['input'], [], (_fx, x) => wg.relu(x)));
});
