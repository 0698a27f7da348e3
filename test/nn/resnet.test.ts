// ResNet options the goldens do not cover: torchvision's state_dict names and shapes (the key list
// scripts/torch_export.py wrote from torchvision itself), parameter counts and output shapes of
// ResNet-18/34/50, the two stems, any input channel count, ResNet-tiny, a removable fc,
// torchvision's init, zero-init residual branches, errors, and a leak-free training step.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import {
  BasicBlock, Bottleneck, createResNet, Identity, Linear, ResNet, resnet18, resnet34, resnet50, resnetTiny, SGD,
} from '../../models/index.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';

const rt = await gpu();
const gen = (seed: number) => new wg.Generator(seed);
const count = (m: wg.Module) => m.parameters().reduce((n, p) => n + p.size, 0);
const keysFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'torchvision_resnet_keys.json');

/** A module's state dict as [name, shape, dtype] rows in the key list's format. */
const rows = (m: wg.Module) => [...m.stateDict()].map(([k, t]) => [k, [...t.shape], t.dtype === 'f32' ? 'F32' : 'I64']);

/** Runs `fn` on the model in eval mode without recording gradients; returns the output's shape and data. */
async function evalOut(m: ResNet, x: wg.Tensor, fn: (x: wg.Tensor) => wg.Tensor = (t) => m.forward(t)) {
  m.eval();
  const y = wg.noGrad(() => wg.scope(() => fn(x)));
  const out = { shape: [...y.shape], data: await y.data() };
  y.dispose();
  return out;
}

describe.skipIf(!rt)('ResNet structure', () => {
  it('ResNet-18 and ResNet-50 have torchvision state_dict names, order, shapes and dtypes (committed key list)', () => {
    const ref = JSON.parse(fs.readFileSync(keysFile, 'utf8')) as { models: Record<string, [string, number[], string][]> };
    for (const [name, build, params] of [['resnet18', resnet18, 11_689_512], ['resnet50', resnet50, 25_557_032]] as const) {
      const m = build({ generator: gen(1) });
      try {
        expect(rows(m), name).toEqual(ref.models[name]);
        expect(count(m), `${name} parameters`).toBe(params);
      } finally {
        m.dispose();
      }
    }
  }, 60_000);

  it('ResNet-34 and ResNet-50 give [N, 1000] logits with torchvision parameter counts; any input size the stem can take', async () => {
    for (const [build, params, feat] of [[resnet34, 21_797_672, 512], [resnet50, 25_557_032, 2048]] as const) {
      const m = build({ generator: gen(2) });
      try {
        expect(count(m)).toBe(params);
        expect(m.featureDim).toBe(feat);
        const x = wg.randn([2, 3, 40, 40], { generator: gen(3) });
        const out = await evalOut(m, x);
        expect(out.shape).toEqual([2, 1000]);
        expect(out.data.every(Number.isFinite)).toBe(true);
        expect((await evalOut(m, x, (t) => m.features(t))).shape).toEqual([2, feat]);
        x.dispose();
      } finally {
        m.dispose();
      }
    }
  }, 60_000);

  it('the small-image stem (3x3/1, no max pool), any input channels and base width; fc removable', async () => {
    const m = resnet18({ stem: 'small', inChannels: 1, baseWidth: 8, numClasses: 10, generator: gen(4) });
    expect(m.conv1.weight.shape).toEqual([8, 1, 3, 3]);
    expect([m.conv1.stride, m.conv1.padding]).toEqual([1, 1]);
    expect(m.maxpool).toBeInstanceOf(Identity);
    expect(m.stages.map((s) => (s.at(-1) as BasicBlock).outChannels)).toEqual([8, 16, 32, 64]);
    const x = wg.randn([2, 1, 28, 28], { generator: gen(5) });
    expect((await evalOut(m, x, (t) => m.featureMap(t))).shape).toEqual([2, 64, 4, 4]); // 28 -> 28, 14, 7, 4
    expect((await evalOut(m, x)).shape).toEqual([2, 10]);
    const feats = await evalOut(m, x, (t) => m.features(t));
    expect(m.fc).toBeInstanceOf(Linear);
    (m.fc as Linear).dispose();
    m.fc = new Identity();
    expect([...m.stateDict().keys()].filter((k) => k.startsWith('fc.'))).toEqual([]);
    const pooled = await evalOut(m, x);
    expect(pooled.shape).toEqual([2, 64]);
    expect(Array.from(pooled.data)).toEqual(Array.from(feats.data));
    x.dispose();
    m.dispose();
  });

  it('resnet-tiny: small stem, base width 16, one BasicBlock in each of three stages (16/32/64), 64-d pooled output', async () => {
    const m = createResNet('resnet-tiny', { inChannels: 1, generator: gen(6) });
    expect(m.stem).toBe('small');
    expect(m.stages.map((s) => s.length)).toEqual([1, 1, 1]);
    expect(m.blocks().map((b) => [b.constructor.name, b.inChannels, b.outChannels, b.downsample !== null])).toEqual([
      ['BasicBlock', 16, 16, false], ['BasicBlock', 16, 32, true], ['BasicBlock', 32, 64, true],
    ]);
    expect(m.fc).toBeInstanceOf(Identity);
    expect(m.featureDim).toBe(64);
    expect([...m.stateDict().keys()].filter((k) => !/\.(running_mean|running_var|num_batches_tracked|weight|bias)$/.test(k))).toEqual([]);
    expect([...new Set([...m.stateDict().keys()].map((k) => k.split('.')[0]))]).toEqual(['conv1', 'bn1', 'layer1', 'layer2', 'layer3']);
    const x = wg.randn([3, 1, 28, 28], { generator: gen(7) });
    expect((await evalOut(m, x)).shape).toEqual([3, 64]);
    x.dispose();
    m.dispose();
    const classifier = resnetTiny({ numClasses: 10, generator: gen(1) });
    expect(classifier.fc).toBeInstanceOf(Linear);
    classifier.dispose();
  });

  it("torchvision's init: convs kaiming_normal(fan_out, relu), BN weight 1 and bias 0", async () => {
    const m = resnet18({ numClasses: null, generator: gen(8) });
    const w = Array.from(await m.conv1.weight.data()); // [64, 3, 7, 7]: std sqrt(2 / (64 * 49))
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std / Math.sqrt(2 / (64 * 49))).toBeCloseTo(1, 1);
    const blk = m.blocks()[2];
    expect(Array.from(await blk.bn2.weight!.data()).every((v) => v === 1)).toBe(true);
    expect(Array.from(await blk.downsample!.at(1).stateDict().get('bias')!.data()).every((v) => v === 0)).toBe(true);
    m.dispose();
  });

  it('zeroInitResidual: every residual branch outputs zero at the start, so each block is relu(shortcut)', async () => {
    for (const m of [
      resnetTiny({ zeroInitResidual: true, generator: gen(9) }),
      new ResNet({ layers: [1, 2], block: 'bottleneck', baseWidth: 4, stem: 'small', numClasses: null, zeroInitResidual: true, generator: gen(10) }),
    ]) {
      m.train();
      let h = wg.keep(wg.randn([2, m.inChannels, 12, 12], { generator: gen(11) }));
      const stem = wg.noGrad(() => wg.scope(() => m.maxpool.forward(wg.relu(m.bn1.forward(m.conv1.forward(h))))));
      h.dispose();
      h = stem;
      for (const b of m.blocks()) {
        expect(b.constructor === BasicBlock ? (b as BasicBlock).bn2.weight : (b as Bottleneck).bn3.weight).not.toBeNull();
        const [branch, out, relu] = wg.noGrad(() => wg.scope(() => [b.branch(h), b.forward(h), wg.relu(b.shortcut(h))]));
        expect(Array.from(await branch.data()).every((v) => v === 0), `${b.constructor.name} branch is zero`).toBe(true);
        expect(Array.from(await out.data())).toEqual(Array.from(await relu.data()));
        h.dispose();
        branch.dispose();
        relu.dispose();
        h = out;
      }
      h.dispose();
      m.dispose();
    }
    // Without the option the branch is not zero.
    const plain = new BasicBlock(4, 4, { generator: gen(12) });
    const x = wg.randn([2, 4, 6, 6], { generator: gen(13) });
    const br = wg.noGrad(() => wg.scope(() => plain.branch(x)));
    expect(Array.from(await br.data()).some((v) => v !== 0)).toBe(true);
    for (const t of [x, br]) t.dispose();
    plain.dispose();
  });

  it('errors name the shapes and the options', () => {
    const m = resnetTiny({ inChannels: 1, generator: gen(14) });
    const x = wg.zeros([2, 3, 28, 28]);
    expect(() => m.forward(x)).toThrow(/ResNet: input \[2,3,28,28\] must be \[N, 1, H, W\]/);
    x.dispose();
    m.dispose();
    expect(() => createResNet('resnet101')).toThrow(/unknown preset 'resnet101' \(resnet18, resnet34, resnet50, resnet-tiny\)/);
    expect(() => new ResNet({ layers: [] })).toThrow(/layers must be a non-empty list/);
    expect(() => new ResNet({ layers: [1], stem: 'cifar' as 'small' })).toThrow(/stem must be 'imagenet' or 'small', got 'cifar'/);
    const blk = new Bottleneck(8, 2, { generator: gen(15) });
    const y = wg.zeros([1, 4, 4, 4]);
    expect(() => blk.forward(y)).toThrow(/Bottleneck\(8 -> 8\): input .* must be \[N, 8, H, W\]/);
    y.dispose();
    blk.dispose();
  });
});

describe.skipIf(!rt)('ResNet training', () => {
  it('a resnet-tiny SGD training step leaks no GPU buffers and updates the running statistics', async () => {
    const m = resnetTiny({ inChannels: 1, numClasses: 10, generator: gen(16) });
    const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const x = wg.keep(wg.randn([8, 1, 28, 28], { generator: gen(17) }));
    const labels = wg.keep(wg.randint(0, 10, [8], { generator: gen(18) }));
    const losses: number[] = [];
    const step = async () => {
      const loss = wg.scope(() => {
        const l = wg.crossEntropy(m.forward(x), labels);
        wg.backward(l);
        opt.step();
        opt.zeroGrad();
        return wg.detach(l);
      });
      losses.push(await loss.item());
      loss.dispose();
    };
    await expectNoLeak(step, { warmup: 2, steps: 6 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]); // a fixed batch is fitted
    expect(Array.from(await m.bn1.numBatchesTracked!.data())).toEqual([8]);
    for (const t of [x, labels]) t.dispose();
    m.dispose();
  }, 60_000);
});
