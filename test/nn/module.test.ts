// The module system: discovery of parameters / buffers / submodules from fields, PyTorch state
// dict names and order, safetensors round trips, strict loading, copyFrom, train/eval, PyTorch's
// initialisers, zeroGrad, an MLP trained by hand-written SGD, and the `linear` golden fixture.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { readSafetensors, type SafeTensor } from '../../src/safetensors.js';
import { copyInto } from '../../src/kernels/elementwise.js';
import {
  buffer, calculateGain, Dropout, fanInOut, isBuffer, isParameter, kaimingNormal, Linear, MLP, Module, param, ReLU,
  Sequential, truncNormal, xavierUniform,
} from '../../models/index.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose } from '../helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport } from '../helpers/fixtures.js';

const rt = await gpu();
afterAll(() => printFixtureReport('nn/module'));

const arr = async (t: wg.Tensor) => Array.from(await t.data());
const gen = (seed: number) => new wg.Generator(seed);

/** A block with its own parameter and buffers declared before a submodule (PyTorch order puts them first). */
class Block extends Module {
  readonly scale: wg.Tensor;
  readonly runningMean: wg.Tensor;
  readonly numBatchesTracked: wg.Tensor;
  readonly scratch: wg.Tensor; // neither param() nor buffer(): not state
  readonly fc: Linear;
  constructor(seed: number) {
    super();
    this.scale = param(wg.ones([3]));
    this.runningMean = buffer(wg.zeros([3]));
    this.numBatchesTracked = buffer(wg.zeros([], 'i32'));
    this.scratch = wg.keep(wg.zeros([2]));
    this.fc = new Linear(4, 3, { generator: gen(seed) });
  }
}

class Net extends Module {
  readonly clsToken = param(wg.zeros([1, 4]));
  readonly blocks: Block[];
  readonly head: Sequential;
  readonly depth = 2;
  constructor(seed = 1) {
    super();
    this.blocks = [new Block(seed), new Block(seed + 1)];
    this.head = new Sequential(new Linear(3, 2, { generator: gen(seed + 2) }), new ReLU(), new Linear(2, 2, { bias: false, generator: gen(seed + 3) }));
  }
}

const NET_PARAMS = [
  'cls_token',
  'blocks.0.scale', 'blocks.0.fc.weight', 'blocks.0.fc.bias',
  'blocks.1.scale', 'blocks.1.fc.weight', 'blocks.1.fc.bias',
  'head.0.weight', 'head.0.bias', 'head.2.weight',
];
const NET_STATE = [
  'cls_token',
  'blocks.0.scale', 'blocks.0.running_mean', 'blocks.0.num_batches_tracked', 'blocks.0.fc.weight', 'blocks.0.fc.bias',
  'blocks.1.scale', 'blocks.1.running_mean', 'blocks.1.num_batches_tracked', 'blocks.1.fc.weight', 'blocks.1.fc.bias',
  'head.0.weight', 'head.0.bias', 'head.2.weight',
];

describe.skipIf(!rt)('Module discovery', () => {
  it('finds parameters, buffers and submodules from fields, with PyTorch names and order', () => {
    const net = wg.scope(() => new Net());
    expect(net.namedParameters().map(([n]) => n)).toEqual(NET_PARAMS);
    expect([...net.stateDict().keys()]).toEqual(NET_STATE);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(NET_STATE.filter((n) => /running_mean|num_batches/.test(n)));
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'blocks.0', 'blocks.0.fc', 'blocks.1', 'blocks.1.fc', 'head', 'head.0', 'head.1', 'head.2']);
    expect(net.namedChildren().map(([n]) => n)).toEqual(['blocks.0', 'blocks.1', 'head']);
    // Parameters survived the scope (they are kept) and require grad; buffers do not.
    for (const p of net.parameters()) expect([p.disposed, p.requiresGrad, isParameter(p)]).toEqual([false, true, true]);
    for (const b of net.buffers()) expect([b.disposed, b.requiresGrad, isBuffer(b)]).toEqual([false, false, true]);
    expect(net.blocks[0].fc.weight.shape).toEqual([3, 4]);
    expect(net.head.at(-1)).toBe(net.head.layers[2]);
    expect(() => net.head.at(3)).toThrow(/index 3 out of range for 3 layers/);
    net.dispose();
    expect(net.blocks[1].runningMean.disposed).toBe(true);
  });

  it('shared modules: parameters once, state dict under every name; cycles are reported', () => {
    class Tied extends Module {
      readonly enc = new Linear(2, 2, { generator: gen(3) });
      readonly alias = this.enc;
      self: Module | null = null;
    }
    const t = new Tied();
    expect(t.namedParameters().map(([n]) => n)).toEqual(['enc.weight', 'enc.bias']);
    expect([...t.stateDict().keys()]).toEqual(['enc.weight', 'enc.bias', 'alias.weight', 'alias.bias']);
    t.self = t;
    expect(() => t.stateDict()).toThrow(/stateDict\(Tied\): module cycle at 'self'/);
    expect(t.parameters()).toHaveLength(2);
    t.dispose();
  });

  it('adopts a leaf tensor field with requiresGrad; freezing it later keeps it a parameter', () => {
    class Free extends Module {
      readonly w: wg.Tensor;
      constructor() {
        super();
        this.w = wg.keep(wg.ones([2]));
        this.w.requiresGrad = true;
      }
    }
    const m = new Free();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['w']);
    m.w.requiresGrad = false; // frozen (e.g. a linear probe's backbone)
    expect(m.namedParameters().map(([n]) => n)).toEqual(['w']);
    expect(() => buffer(m.w)).toThrow(/already a parameter/);
    m.dispose();
  });

  it('Sequential and MLP name layers by index, as nn.Sequential', () => {
    const mlp = new MLP([4, 8, 8, 2], { dropout: 0.1, generator: gen(1) });
    expect([...mlp.stateDict().keys()]).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '6.weight', '6.bias']);
    expect(mlp.layers.map((l) => l.constructor.name)).toEqual(['Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear']);
    const plain = new MLP([4, 8, 2], { activation: 'gelu', bias: false, generator: gen(1) });
    expect([...plain.stateDict().keys()]).toEqual(['0.weight', '2.weight']);
    expect(() => new MLP([4])).toThrow(/MLP: sizes needs at least \[in, out\]/);
    expect(() => new Linear(2.5, 3)).toThrow(/Linear: inFeatures must be a non-negative integer, got 2.5/);
    expect(() => mlp.forward(wg.zeros([3, 5]))).toThrow(/Linear\(4, 8\): input \[3,5\] must end in 4 features/);
    mlp.dispose();
    plain.dispose();
  });
});

describe.skipIf(!rt)('state dicts', () => {
  it('round-trips through safetensors into a differently initialised module, in place', async () => {
    const a = new Net(1);
    copyInto(a.blocks[1].numBatchesTracked, wg.full([], 7, 'i32'));
    copyInto(a.blocks[0].runningMean, wg.tensor([0.5, -1, 2]));
    const file = readSafetensors(await wg.checkpoint.save(a, { metadata: { note: 'test' } }));
    expect([...file.tensors.keys()]).toEqual(NET_STATE);
    expect(file.metadata).toEqual({ format: 'pt', note: 'test' });
    expect(file.tensors.get('blocks.1.num_batches_tracked')!.dtype).toBe('I64'); // PyTorch's dtype
    const b = new Net(10);
    const w = b.blocks[0].fc.weight;
    expect(await arr(w)).not.toEqual(await arr(a.blocks[0].fc.weight));
    expect(b.loadStateDict(file.tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.blocks[0].fc.weight).toBe(w); // loaded in place: optimizers keep their references
    for (const [k, t] of a.stateDict()) expect(await arr(b.stateDict().get(k)!), k).toEqual(await arr(t));
    a.dispose();
    b.dispose();
  });

  it('loads from tensors and I64 safetensors entries (PyTorch num_batches_tracked)', async () => {
    const net = new Net(2);
    const i64: SafeTensor = { dtype: 'I64', shape: [], data: new BigInt64Array([42n]) };
    const w = wg.tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] });
    const res = net.loadStateDict({ 'blocks.0.num_batches_tracked': i64, 'head.0.weight': w }, { strict: false });
    expect(res.unexpectedKeys).toEqual([]);
    expect(res.missingKeys).toEqual(NET_STATE.filter((k) => k !== 'blocks.0.num_batches_tracked' && k !== 'head.0.weight'));
    expect(await arr(net.blocks[0].numBatchesTracked)).toEqual([42]);
    expect(await arr((net.head.layers[0] as Linear).weight)).toEqual([1, 2, 3, 4, 5, 6]);
    net.dispose();
  });

  it('strict loading lists every missing, unexpected and mis-shaped key in one error and writes nothing', async () => {
    const net = new Net(3);
    const dict = new Map(net.stateDict());
    dict.delete('cls_token');
    dict.delete('blocks.1.fc.bias');
    dict.set('head.1.weight', wg.zeros([2]));
    dict.set('blocks.0.fc.weight', wg.zeros([4, 3]));
    dict.set('blocks.0.scale', wg.full([3], 9));
    const before = await arr(net.blocks[0].scale);
    let msg = '';
    try {
      net.loadStateDict(dict);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('loadStateDict(Net): missing keys: cls_token, blocks.1.fc.bias; unexpected keys: head.1.weight; ' +
      'shape mismatch: blocks.0.fc.weight: checkpoint [4,3] vs module [3,4]');
    expect(await arr(net.blocks[0].scale)).toEqual(before);
    // Non-strict: unmatched keys are returned, but a shape mismatch is still an error.
    expect(() => net.loadStateDict(dict, { strict: false })).toThrow(/^loadStateDict\(Net\): shape mismatch: blocks\.0\.fc\.weight/);
    dict.delete('blocks.0.fc.weight');
    expect(net.loadStateDict(dict, { strict: false })).toEqual({
      missingKeys: ['cls_token', 'blocks.0.fc.weight', 'blocks.1.fc.bias'], unexpectedKeys: ['head.1.weight'],
    });
    expect(await arr(net.blocks[0].scale)).toEqual([9, 9, 9]);
    net.dispose();
  });

  it('copyFrom copies parameters and buffers; structures must match', async () => {
    const online = new MLP([3, 5, 2], { generator: gen(4) });
    const target = new MLP([3, 5, 2], { generator: gen(5) });
    expect(target.copyFrom(online)).toBe(target);
    for (const [k, t] of online.stateDict()) expect(await arr(target.stateDict().get(k)!), k).toEqual(await arr(t));
    const other = new MLP([3, 4, 2], { generator: gen(6) });
    expect(() => target.copyFrom(other)).toThrow('copyFrom(MLP -> MLP): structures differ: 0.weight: source [4,3] vs target [5,3]; ' +
      '0.bias: source [4] vs target [5]; 2.weight: source [2,4] vs target [2,5]');
    for (const m of [online, target, other]) m.dispose();
  });
});

describe.skipIf(!rt)('train / eval, Dropout', () => {
  it('train() and eval() reach every submodule; Dropout drops in training only', async () => {
    const mlp = new MLP([8, 8, 8], { dropout: 0.5, generator: gen(7) });
    const drop = mlp.layers[2] as Dropout;
    expect(drop.training).toBe(true);
    mlp.eval();
    expect(mlp.namedModules().every(([, m]) => !m.training)).toBe(true);
    const x = wg.ones([4096]);
    expect(drop.forward(x)).toBe(x);
    mlp.train();
    expect(drop.training).toBe(true);
    const y = await arr(drop.forward(x));
    const zeros = y.filter((v) => v === 0).length;
    expect(y.every((v) => v === 0 || v === 2)).toBe(true); // survivors scaled by 1 / (1 - p)
    expect(Math.abs(zeros / y.length - 0.5)).toBeLessThan(0.05);
    mlp.dispose();
  });

  it('masks come from the seeded generator; gradients flow through the kept elements', async () => {
    const masks = await Promise.all([1, 1, 2].map((s) => arr(new Dropout(0.25, { generator: gen(s) }).forward(wg.ones([256])))));
    expect(masks[0]).toEqual(masks[1]);
    expect(masks[0]).not.toEqual(masks[2]);
    const x = wg.keep(wg.ones([256]));
    x.requiresGrad = true;
    const y = new Dropout(0.25, { generator: gen(1) }).forward(x);
    wg.backward(y, wg.ones([256]));
    expectClose('dropout grad', await x.grad!.data(), masks[0]);
    expect(await arr(new Dropout(1).forward(wg.ones([3])))).toEqual([0, 0, 0]);
    expect(() => new Dropout(1.5)).toThrow(/Dropout: p must be in \[0, 1\], got 1.5/);
  });
});

/** Mean and variance of a tensor's values, and its extremes. */
async function stats(t: wg.Tensor) {
  const v = await t.data();
  let s = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    s += x;
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const mean = s / v.length;
  let q = 0;
  for (const x of v) q += (x - mean) ** 2;
  return { mean, variance: q / v.length, lo, hi, values: v };
}

describe.skipIf(!rt)('initialisers', () => {
  it('Linear: weight and bias U(-1/sqrt(in), 1/sqrt(in)), reproducible per seed', async () => {
    const lin = new Linear(256, 128, { generator: gen(11) });
    const b = 1 / 16;
    const w = await stats(lin.weight);
    expect(w.lo).toBeGreaterThanOrEqual(-b);
    expect(w.hi).toBeLessThanOrEqual(b);
    expect(w.hi - w.lo).toBeGreaterThan(1.95 * b);
    expect(w.variance / (b * b / 3)).toBeCloseTo(1, 1);
    const bias = await stats(lin.bias!);
    expect(Math.max(-bias.lo, bias.hi)).toBeLessThanOrEqual(b);
    expect(await arr(new Linear(256, 128, { generator: gen(11) }).weight)).toEqual(Array.from(w.values));
    expect(await arr(new Linear(256, 128, { generator: gen(12) }).weight)).not.toEqual(Array.from(w.values));
  });

  it('kaimingNormal, xavierUniform and gains follow PyTorch', async () => {
    expect(fanInOut([64, 16, 3, 3])).toEqual({ fanIn: 144, fanOut: 576 });
    expect(calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    const k = await stats(kaimingNormal([64, 16, 3, 3], { mode: 'fan_out', nonlinearity: 'relu', generator: gen(1) }));
    expect(k.variance / (2 / 576)).toBeCloseTo(1, 1);
    expect(Math.abs(k.mean)).toBeLessThan(0.01);
    const bound = Math.sqrt(6 / (300 + 200));
    const x = await stats(xavierUniform([200, 300], { generator: gen(2) }));
    expect(Math.max(-x.lo, x.hi)).toBeLessThanOrEqual(bound);
    expect(x.variance / (bound * bound / 3)).toBeCloseTo(1, 1);
    expect(() => kaimingNormal([5])).toThrow(/fan in and fan out need a weight of rank >= 2, got \[5\]/);
  });

  it('truncNormal is a truncated normal (rejection, not clamping) within its bounds', async () => {
    const t = await stats(truncNormal([100000], { generator: gen(3) })); // N(0, 1) on [-2, 2]
    expect(t.lo).toBeGreaterThanOrEqual(-2);
    expect(t.hi).toBeLessThanOrEqual(2);
    expect(t.hi).toBeGreaterThan(1.9);
    // Clamping would pile 2.3% of the mass on each bound.
    expect(Array.from(t.values).filter((v) => Math.abs(v) === 2).length).toBeLessThan(10);
    expect(t.variance).toBeCloseTo(0.7737, 2); // 1 - 2·2φ(2) / (Φ(2) - Φ(-2))
    const vit = await stats(truncNormal([4096], { std: 0.02, generator: gen(4) })); // timm's init
    expect(Math.sqrt(vit.variance) / 0.02).toBeCloseTo(1, 1);
    expect(() => truncNormal([10], { mean: 0, std: 1, a: 3, b: 4 })).toThrow(/mean 0 lies outside \[3, 4\]/);
    expect(() => truncNormal([1000], { mean: 3, std: 1, a: 3, b: 3.01 })).toThrow(/holds only .* rejection would need/);
  });
});

describe.skipIf(!rt)('training', () => {
  /** Mean squared error of mlp(x) against y: its value and, via backward, parameter gradients. */
  const mseStep = (mlp: MLP, x: wg.Tensor, y: wg.Tensor): void => {
    const sq = wg.square(wg.sub(mlp.forward(x), y));
    wg.backward(sq, wg.full(sq.shape, 1 / sq.size)); // d mean(sq) / d sq
  };
  const mse = async (mlp: MLP, x: wg.Tensor, y: wg.Tensor): Promise<number> => {
    const d = await wg.noGrad(() => wg.sub(mlp.forward(x), y)).data();
    return Array.from(d).reduce((s, v) => s + v * v, 0) / d.length;
  };

  it('zeroGrad clears every gradient', () => {
    const mlp = new MLP([3, 4, 1], { generator: gen(1) });
    wg.scope(() => mseStep(mlp, wg.ones([2, 3]), wg.zeros([2, 1])));
    expect(mlp.parameters().every((p) => p.grad !== null)).toBe(true);
    mlp.zeroGrad();
    expect(mlp.parameters().map((p) => p.grad)).toEqual([null, null, null, null]);
    mlp.dispose();
  });

  it('a tiny MLP fits a target under manual SGD, leaking no buffers', async () => {
    wg.manualSeed(5);
    const x = wg.keep(wg.randn([32, 4]));
    const teacher = new Linear(4, 1, { generator: gen(9) });
    const y = wg.keep(wg.noGrad(() => wg.tanh(teacher.forward(x))));
    const mlp = new MLP([4, 16, 1], { activation: 'tanh', generator: gen(1) });
    const step = () => wg.scope(() => {
      mseStep(mlp, x, y);
      wg.noGrad(() => {
        for (const p of mlp.parameters()) copyInto(p, wg.sub(p, wg.mul(p.grad!, 0.3)));
      });
      mlp.zeroGrad();
    });
    const before = await mse(mlp, x, y);
    for (let i = 0; i < 5; i++) step();
    await wg.sync();
    const pool = rt!.pool.stats();
    for (let i = 0; i < 35; i++) step();
    await wg.sync();
    expect(rt!.pool.stats().inUse).toBe(pool.inUse);
    const after = await mse(mlp, x, y);
    expect(after).toBeLessThan(0.5 * before);
    for (const t of [x, y]) t.dispose();
    mlp.dispose();
    teacher.dispose();
  });
});

describe.skipIf(!rt)('fixture linear', () => {
  it('matches PyTorch nn.Linear: output and gradients of input, weight and bias', async () => {
    const fx = loadFixture('linear');
    const [outF, inF] = fx.shape('weight');
    const lin = new Linear(inF, outF, { bias: fx.has('bias') });
    lin.loadStateDict(new Map([...lin.stateDict().keys()].map((k) => [k, fx.get(k)])));
    const x = wg.keep(wg.tensor(fx.f32('input'), { shape: fx.shape('input') }));
    x.requiresGrad = true;
    const out = lin.forward(x);
    wg.backward(out, wg.tensor(fx.f32('grad_out'), { shape: fx.shape('grad_out') }));
    expectFixture(fx, 'out', await out.data(), 'op', out.shape);
    expectFixture(fx, 'grad.input', await x.grad!.data(), 'op', x.grad!.shape);
    expectFixture(fx, 'grad.weight', await lin.weight.grad!.data(), 'op', lin.weight.grad!.shape);
    expectFixture(fx, 'grad.bias', await lin.bias!.grad!.data(), 'op', lin.bias!.grad!.shape);
    // Linear is exactly matmul(x, W, transB, bias): the transpose is a kernel flag.
    const ref = wg.noGrad(() => wg.matmul(x, lin.weight, { transB: true, bias: lin.bias! }));
    expect(await arr(out)).toEqual(await arr(ref));
    lin.dispose();
  });
});
