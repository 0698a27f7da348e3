// ViT goldens under the fixtures protocol (../shared/fixtures/README.md): timm's Attention
// (`mhsa`), one pre-norm Block (`vit_block`) and a small ViT with a learned or a fixed sin-cos
// position embedding (`vit_tiny_learned`, `vit_tiny_sincos`; out = forward_features). Every size
// and option comes from the file's metadata and tensors; the state is loaded under timm's names;
// the output, the input gradient and every parameter's gradient are compared ('network'
// tolerance, rtol 1e-3; `mhsa`, one layer, at the ops tolerance, rtol 1e-4). The sin-cos table
// is computed by webgrad and checked against the file's `pos_embed` before anything runs.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { Attention, TransformerBlock, VisionTransformer, type Module } from '../../models/index.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
afterAll(() => printFixtureReport('nn/vit goldens'));

const COMMON_META = ['case', 'description', 'seed', 'variant'];
/** Metadata that only describes the data (checked below where it can be). */
const DESCRIPTIVE = ['note', 'qkv_layout', 'param_count', 'pos_embed_trainable'];

const num = (fx: Fixture, k: string) => fx.param(k) as number;

/** The MLP activation a case names ('erf': exact GELU). */
function gelu(fx: Fixture): 'gelu' | 'gelu_tanh' {
  const g = String(fx.param('gelu'));
  expect(['erf', 'tanh'], `${fx.name}: gelu`).toContain(g);
  return g === 'erf' ? 'gelu' : 'gelu_tanh';
}

function attentionFor(fx: Fixture): Attention {
  const D = fx.shape('input')[2];
  const H = num(fx, 'num_heads');
  expect(D / H, `${fx.name}: head_dim`).toBe(num(fx, 'head_dim'));
  return new Attention(D, { numHeads: H, qkvBias: fx.has('qkv.bias'), scale: num(fx, 'scale') });
}

function blockFor(fx: Fixture): TransformerBlock {
  return new TransformerBlock(num(fx, 'dim'), {
    numHeads: num(fx, 'num_heads'), mlpRatio: num(fx, 'mlp_ratio'), eps: num(fx, 'ln_eps'),
    qkvBias: fx.has('attn.qkv.bias'), activation: gelu(fx),
  });
}

function vitFor(fx: Fixture): VisionTransformer {
  const posEmbed = String(fx.param('pos_embed'));
  expect(['learned', 'sincos'], `${fx.name}: pos_embed`).toContain(posEmbed);
  expect(fx.param('pos_embed_trainable'), `${fx.name}: pos_embed_trainable`).toBe(posEmbed === 'learned');
  const img = fx.param('img_size') as number | [number, number];
  const [h, w] = typeof img === 'number' ? [img, img] : img;
  const vit = new VisionTransformer({
    imgSize: [h, w], patchSize: num(fx, 'patch_size'), inChans: num(fx, 'in_chans'),
    embedDim: num(fx, 'embed_dim'), depth: num(fx, 'depth'), numHeads: num(fx, 'num_heads'), mlpRatio: num(fx, 'mlp_ratio'),
    eps: num(fx, 'ln_eps'), posEmbed: posEmbed as 'learned' | 'sincos', classToken: fx.param('class_token') as boolean,
    qkvBias: fx.has('blocks.0.attn.qkv.bias'), activation: gelu(fx), numClasses: 0,
  });
  expect(fx.shape('input'), `${fx.name}: input`).toEqual([fx.shape('input')[0], num(fx, 'in_chans'), h, w]);
  return vit;
}

type Net = Module & { forward(x: wg.Tensor): wg.Tensor };

/** Runs a case: loads the state, forward, backward with grad_out, compares out and every grad. */
async function runCase(
  name: string, build: (fx: Fixture) => Net, meta: readonly string[],
  run: (m: Net, x: wg.Tensor) => wg.Tensor = (m, x) => m.forward(x), kind: 'op' | 'network' = 'network',
): Promise<void> {
  const fx = loadFixture(name);
  const unknownMeta = Object.keys(fx.meta).filter((k) => ![...COMMON_META, ...DESCRIPTIVE, ...meta].includes(k));
  expect(unknownMeta, `${name}: metadata this test does not apply`).toEqual([]);
  const model = build(fx);
  try {
    const state = model.stateDict();
    const result = (k: string) => ['input', 'out', 'grad_out'].includes(k) || /^(grad|intermediate)\./.test(k);
    expect([...fx.tensors.keys()].filter((k) => !result(k) && !state.has(k)), `${name}: tensors the model does not have`).toEqual([]);
    // A fixed table (sin-cos pos_embed, a buffer) must already equal the file's before loading.
    for (const [k, b] of model.namedBuffers()) expectFixture(fx, k, await b.data(), 'op', b.shape);
    model.loadStateDict(new Map([...state.keys()].map((k) => [k, fx.get(k)]))); // a missing key fails here
    if (fx.meta.param_count !== undefined) {
      expect(model.parameters().reduce((n, p) => n + p.size, 0), `${name}: parameter count`).toBe(fx.param('param_count'));
    }
    model.train();
    const x = wg.tensor(fx.f32('input'), { shape: fx.shape('input') });
    x.requiresGrad = true;
    const y = wg.scope(() => {
      const out = run(model, x);
      wg.backward(out, wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }));
      return out;
    });
    try {
      expectFixture(fx, 'out', await y.data(), kind, y.shape);
      const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.'));
      const params = new Map(model.namedParameters());
      expect(grads.filter((k) => k !== 'grad.input' && !params.has(k.slice(5))), `${name}: grads of unknown tensors`).toEqual([]);
      expect([...params.keys()].filter((k) => !fx.has(`grad.${k}`)), `${name}: parameters without a reference grad`).toEqual([]);
      expect(fx.has('grad.input'), `${name}: grad.input`).toBe(true);
      expectFixture(fx, 'grad.input', await x.grad!.data(), kind, x.grad!.shape);
      for (const [k, p] of params) {
        expect(p.grad, `${name}: webgrad gave no grad for ${k}`).not.toBeNull();
        expectFixture(fx, `grad.${k}`, await p.grad!.data(), kind, p.grad!.shape);
      }
    } finally {
      y.dispose();
      x.grad?.dispose();
      x.dispose();
    }
  } finally {
    model.dispose();
  }
}

describe.skipIf(!rt)('ViT goldens (PyTorch / timm)', () => {
  // One layer: the ops tolerance (rtol 1e-4) holds for it too.
  it('mhsa (timm Attention)', () => runCase('mhsa', attentionFor, ['num_heads', 'head_dim', 'scale'], undefined, 'op'));
  it('vit_block', () => runCase('vit_block', blockFor, ['dim', 'num_heads', 'mlp_ratio', 'ln_eps', 'gelu']));
  const VIT_META = ['img_size', 'in_chans', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'mlp_ratio', 'ln_eps', 'pos_embed', 'class_token', 'gelu'];
  for (const name of ['vit_tiny_learned', 'vit_tiny_sincos']) {
    it(name, () => runCase(name, vitFor, VIT_META, (m, x) => (m as VisionTransformer).forwardFeatures(x)));
  }
});
