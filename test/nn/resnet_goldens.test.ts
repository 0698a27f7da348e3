// ResNet goldens under the fixtures protocol (../shared/fixtures/README.md): torchvision's
// BasicBlock (with and without a downsample), Bottleneck, and ResNet-18 with the small-image stem
// at a reduced base width, all in training mode. The configuration (channels, stride, widths,
// stages, stem, BN eps / momentum) and every shape come from each file's metadata and tensors; the
// state is loaded under the torchvision names; the forward output, the input gradient, every
// parameter's gradient and the updated BN running statistics are compared ('network' tolerance).
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { BasicBlock, Bottleneck, ResNet, type Module } from '../../models/index.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
afterAll(() => printFixtureReport('nn/resnet goldens'));

const COMMON_META = ['case', 'description', 'seed', 'variant'];
/** Metadata the tests read or that only describes the data (bn_affine, param_count: checked below). */
const DESCRIPTIVE = ['bn_affine', 'note', 'full_width_param_count', 'stride_on', 'fc'];

const bnOptions = (fx: Fixture) => ({ eps: fx.param('bn_eps') as number, momentum: fx.param('bn_momentum') as number });

/** Builds the block a block case describes. */
function blockFor(fx: Fixture): BasicBlock | Bottleneck {
  const inplanes = fx.param('inplanes') as number;
  const planes = fx.param('planes') as number;
  const stride = fx.param('stride') as number;
  const expansion = fx.meta.expansion === undefined ? 1 : (fx.param('expansion') as number);
  const Block = expansion === 1 ? BasicBlock : Bottleneck;
  expect(Block.expansion, `${fx.name}: expansion`).toBe(expansion);
  if (fx.meta.stride_on !== undefined) expect(String(fx.param('stride_on'))).toMatch(/conv2/); // v1.5: stride in the 3x3
  return new Block(inplanes, planes, { stride, batchNorm: bnOptions(fx) });
}

/** Builds the network resnet18_cifar describes. */
function resnetFor(fx: Fixture): ResNet {
  const stem = String(fx.param('stem'));
  expect(stem, `${fx.name}: stem`).toMatch(/^conv3x3 s1 p1, no maxpool$|^conv7x7 s2 p3, maxpool/);
  expect(fx.param('fc'), `${fx.name}: fc`).toBe('Identity');
  return new ResNet({
    layers: fx.param('layers') as number[],
    block: 'basic',
    inChannels: fx.param('in_channels') as number,
    baseWidth: fx.param('base_width') as number,
    stem: stem.startsWith('conv3x3') ? 'small' : 'imagenet',
    numClasses: null,
    batchNorm: bnOptions(fx),
  });
}

/** Runs a case: loads the state, forward in training mode, backward with grad_out, compares everything. */
async function runCase(name: string, build: (fx: Fixture) => Module & { forward(x: wg.Tensor): wg.Tensor }, meta: readonly string[]): Promise<void> {
  const fx = loadFixture(name);
  const unknownMeta = Object.keys(fx.meta).filter((k) => ![...COMMON_META, ...DESCRIPTIVE, ...meta].includes(k));
  expect(unknownMeta, `${name}: metadata this test does not apply`).toEqual([]);
  expect(fx.param('training'), `${name}: training`).toBe(true);
  const model = build(fx);
  try {
    const state = model.stateDict();
    // Every tensor of the file is the input, state, a result, or an .i32 copy.
    const result = (k: string) => ['input', 'out', 'grad_out'].includes(k) || /^(grad|updated|intermediate)\./.test(k) || k.endsWith('.i32');
    expect([...fx.tensors.keys()].filter((k) => !result(k) && !state.has(k)), `${name}: tensors the model does not have`).toEqual([]);
    model.loadStateDict(new Map([...state.keys()].map((k) => [k, fx.get(k)]))); // a missing key fails here
    if (fx.meta.param_count !== undefined) {
      expect(model.parameters().reduce((n, p) => n + p.size, 0), `${name}: parameter count`).toBe(fx.param('param_count'));
    }
    model.train();
    const x = wg.tensor(fx.f32('input'), { shape: fx.shape('input') });
    x.requiresGrad = true;
    const y = wg.scope(() => {
      const out = model.forward(x);
      wg.backward(out, wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }));
      return out;
    });
    try {
      expectFixture(fx, 'out', await y.data(), 'network', y.shape);
      const grads = [...fx.tensors.keys()].filter((k) => k.startsWith('grad.'));
      const params = new Map(model.namedParameters());
      expect(grads.filter((k) => k !== 'grad.input' && !params.has(k.slice(5))), `${name}: grads of unknown tensors`).toEqual([]);
      expect([...params.keys()].filter((k) => !fx.has(`grad.${k}`)), `${name}: parameters without a reference grad`).toEqual([]);
      if (fx.has('grad.input')) expectFixture(fx, 'grad.input', await x.grad!.data(), 'network', x.grad!.shape);
      for (const [k, p] of params) {
        expect(p.grad, `${name}: webgrad gave no grad for ${k}`).not.toBeNull();
        expectFixture(fx, `grad.${k}`, await p.grad!.data(), 'network', p.grad!.shape);
      }
      const updated = [...fx.tensors.keys()].filter((k) => k.startsWith('updated.') && !k.endsWith('.i32'));
      expect(updated.length, `${name}: no updated.* tensors`).toBeGreaterThan(0);
      const buffers = new Map(model.namedBuffers());
      expect([...buffers.keys()].filter((k) => !fx.has(`updated.${k}`)), `${name}: buffers without a reference`).toEqual([]);
      for (const k of updated) {
        const b = buffers.get(k.slice('updated.'.length));
        expect(b, `${name}: ${k} names no buffer`).toBeDefined();
        if (b!.dtype === 'i32') expect(Array.from(await b!.data()), k).toEqual(Array.from(fx.i32(k)));
        else expectFixture(fx, k, await b!.data(), 'network', b!.shape);
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

describe.skipIf(!rt)('ResNet goldens (PyTorch, training mode)', () => {
  const BLOCK_META = ['inplanes', 'planes', 'stride', 'expansion', 'training', 'bn_momentum', 'bn_eps', 'param_count'];
  for (const name of ['resnet_basic_block', 'resnet_basic_block_identity', 'resnet_bottleneck']) {
    it(name, () => runCase(name, blockFor, BLOCK_META));
  }
  it('resnet18_cifar', () => runCase('resnet18_cifar', resnetFor, [
    'base_width', 'layers', 'in_channels', 'stem', 'training', 'bn_momentum', 'bn_eps', 'param_count',
  ]), 60_000);
});
