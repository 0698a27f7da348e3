// The four first methods end to end (models/ssl): with resnet-tiny and with a tiny ViT on
// 1 x 28 x 28 images, 12 optimizer steps (SGD for the ResNet, AdamW for the ViT) over 5 fixed
// batches of 16 (Fashion-MNIST, or seeded uniform noise when the dataset is absent), each batch
// with fixed views drawn from a generator seeded by the batch, lower the loss (mean of the last 5
// below the mean of the first 5, no NaN; with lr 0 every case fails). Also: the momentum encoder
// gets no gradient and moves by EMA; the MoCo queue advances and wraps; SimSiam's and BYOL's
// stop-gradient; a step leaks no GPU buffer; the registry's errors and recipes.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';

// A two-view ViT step holds ~85 activation buffers of one size class at its peak, above the
// pool's default of 64 free buffers kept per class, so with the default every BYOL / MoCo step
// destroys and re-creates ~20 buffers (churn, not a leak: expectNoLeak counts both). A larger
// cap for this file lets the leak check see only real leaks.
await wg.init({ maxFreePerClass: 256 }).catch(() => null); // gpu() below reports a missing adapter
const rt = await gpu();
const haveFM = fs.existsSync(`${wg.FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
if (!haveFM && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');

const BATCH = 16;
const NUM_BATCHES = 5; // any 5 consecutive steps see each batch once, so first-5 and last-5 compare like with like
const STEPS = 12;

/** NUM_BATCHES fixed batches [BATCH, 1, 28, 28] in [0, 1]: Fashion-MNIST's first images, or seeded uniform noise. */
function batches(): wg.Tensor[] {
  const n = BATCH * NUM_BATCHES;
  let px: Float32Array;
  if (haveFM) {
    const s = wg.loadFashionMnist('train');
    px = Float32Array.from(s.images.subarray(0, n * 784), (v) => v / 255);
  } else {
    px = Float32Array.from(wg.hostUniform(n * 784, new wg.Generator(7)));
  }
  return Array.from({ length: NUM_BATCHES }, (_, b) => wg.keep(wg.tensor(px.subarray(b * BATCH * 784, (b + 1) * BATCH * 784), { shape: [BATCH, 1, 28, 28] })));
}

type BackboneName = 'resnet-tiny' | 'vit-tiny';
const BACKBONES: Record<BackboneName, (g: wg.Generator) => () => wg.Backbone> = {
  'resnet-tiny': (g) => () => wg.createResNet('resnet-tiny', { inChannels: 1, generator: g }),
  'vit-tiny': (g) => () => new wg.VisionTransformer({ imgSize: 28, patchSize: 7, inChans: 1, numClasses: 0, embedDim: 32, depth: 2, numHeads: 2, generator: g }),
};

/** Small heads and a short queue (32 keys a step: the pointer runs 32, 64, 16 (a split write), 48, 0). */
const SMALL: { [N in wg.MethodName]: Omit<wg.MethodOptionsMap[N], 'backbone'> } = {
  simclr: { projectionHidden: 64, projectionOut: 32, temperature: 0.2 },
  'moco-v2': { projectionHidden: 64, projectionOut: 32, queueSize: 80, temperature: 0.2, momentum: 0.99, symmetric: true },
  byol: { projectionHidden: 64, projectionOut: 32, predictionHidden: 64, momentum: 0.99 },
  simsiam: { projectionHidden: 64, projectionOut: 64, projectionLayers: 2, predictionHidden: 16 },
};
const QUEUE = 80;
const LR_RESNET = 0.05;
const LR_VIT = 2e-3;

interface Run {
  method: wg.SSLMethod;
  opt: wg.SGD | wg.AdamW;
  presets: wg.AugmentPreset[];
  k: number;
  total: number;
}

function setup(name: wg.MethodName, bb: BackboneName, total: number, seed = 1): Run {
  const g = new wg.Generator(seed);
  const method = wg.createMethod(name, { ...SMALL[name], backbone: BACKBONES[bb](g), generator: g } as wg.MethodOptionsMap[typeof name]);
  const params = method.trainableParameters();
  const opt = bb === 'vit-tiny' ? new wg.AdamW(params, { lr: LR_VIT, weightDecay: 0 }) : new wg.SGD(params, { lr: LR_RESNET, momentum: 0.9, weightDecay: 5e-4 });
  return { method, opt, presets: wg.viewPresets(wg.methodDefaults(name).augment), k: 0, total };
}

/**
 * One training step as the CLI takes it (views, loss, backward, optimizer step, afterStep);
 * `inspect` runs between backward and the update. Step k trains on batch k mod 5 with views drawn
 * from a generator seeded by the batch, so each batch comes back with the same two views.
 */
function step(r: Run, inspect?: () => void): { loss: wg.Tensor; stats: wg.StepStats | void } {
  const progress = { step: r.k, totalSteps: r.total, epoch: 0 };
  const x = DATA[r.k % DATA.length];
  const loss = wg.scope(() => {
    const views = wg.augmentViews(x, r.presets, new wg.Generator(1000 + (r.k % DATA.length)));
    const l = r.method.loss(views, progress);
    wg.backward(l);
    inspect?.();
    r.opt.step();
    r.opt.zeroGrad();
    return wg.detach(l);
  });
  const stats = r.method.afterStep(progress);
  r.k++;
  wg.flush();
  return { loss, stats };
}

function dispose(r: Run): void {
  r.opt.dispose();
  r.method.dispose();
}

/** Asserts the momentum copy got no gradient while the online twin did (call between backward and the update). */
function expectNoTargetGrad(m: wg.SSLMethod & { backboneMomentum: wg.Module; projectionHeadMomentum: wg.Module; backbone: wg.Module }): void {
  const target = [...m.backboneMomentum.parameters(), ...m.projectionHeadMomentum.parameters()];
  expect(target.length).toBeGreaterThan(0);
  expect(target.every((p) => p.grad === null && !p.requiresGrad), 'momentum parameters have no grad').toBe(true);
  expect(m.backbone.parameters().filter((p) => p.requiresGrad).every((p) => p.grad !== null), 'online parameters have grads').toBe(true);
  const trainable = new Set(m.trainableParameters());
  expect(target.some((p) => trainable.has(p)), 'momentum parameters are not trainable').toBe(false);
}

const DATA: wg.Tensor[] = rt ? batches() : [];
afterAll(() => DATA.forEach((t) => t.dispose()));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe.skipIf(!rt)('SSL methods: a few steps lower the loss', () => {
  for (const bb of ['resnet-tiny', 'vit-tiny'] as const) {
    for (const name of wg.METHOD_NAMES) {
      it(`${name} with ${bb}`, async () => {
        // MoCo's first steps score against the random initial queue (an easy, artificially low
        // loss); its losses count once the queue holds only the encoder's keys (3 steps of 32).
        const skip = name === 'moco-v2' ? Math.ceil(QUEUE / (2 * BATCH)) : 0;
        const r = setup(name, bb, STEPS + skip);
        const losses: number[] = [];
        const t0 = performance.now();
        try {
          for (let i = 0; i < STEPS + skip; i++) {
            const m = r.method as wg.MoCo | wg.BYOL;
            const ema = (name === 'moco-v2' || name === 'byol') && i === 1;
            // The EMA check: target' = m·target + (1 - m)·online' on the stem's weight.
            const tBefore = ema ? await m.backboneMomentum.parameters()[0].data() : null;
            const { loss, stats } = step(r, ema ? () => expectNoTargetGrad(m) : undefined);
            if (ema && stats) {
              const online = await m.backbone.parameters()[0].data();
              const tAfter = await m.backboneMomentum.parameters()[0].data();
              const mom = stats.momentum;
              expect(mom).toBeGreaterThanOrEqual(0.99);
              expect(mom).toBeLessThan(1);
              const want = Float32Array.from(tBefore!, (v, j) => mom * v + (1 - mom) * online[j]);
              expect(maxAbsDiff(tAfter, want), 'target = m·target + (1 - m)·online').toBeLessThan(1e-5);
              expect(maxAbsDiff(tAfter, tBefore!), 'the target moved').toBeGreaterThan(1e-7);
            }
            const v = await loss.item();
            loss.dispose();
            if (i >= skip) losses.push(v);
          }
        } finally {
          dispose(r);
        }
        const first = mean(losses.slice(0, 5));
        const last = mean(losses.slice(-5));
        console.log(`${name} / ${bb}: first-5 ${first.toFixed(4)}, last-5 ${last.toFixed(4)} (${((performance.now() - t0) / (STEPS + skip)).toFixed(0)} ms/step) [${losses.map((l) => l.toFixed(3)).join(' ')}]`);
        expect(losses.every(Number.isFinite), `losses ${losses}`).toBe(true);
        expect(last).toBeLessThan(first);
      });
    }
  }
});

describe.skipIf(!rt)('SSL methods: parts', () => {
  it('the MoCo queue advances by the step\'s keys, wraps (a split write), and afterLoad restores the pointer', async () => {
    const r = setup('moco-v2', 'vit-tiny', 8);
    const m = r.method as wg.MoCo;
    const C = 32;
    try {
      expect(m.queue.queue.shape).toEqual([C, QUEUE]);
      let before = await m.queue.queue.data();
      let ptr = 0;
      for (const want of [32, 64, 16, 48, 0]) {
        const { loss, stats } = step(r);
        loss.dispose();
        expect(stats && stats.queuePtr, 'pointer after the step').toBe(want);
        expect((await m.queue.queuePtr.data())[0], 'queue_ptr buffer').toBe(want);
        const after = await m.queue.queue.data();
        const written = new Set(Array.from({ length: 2 * BATCH }, (_, i) => (ptr + i) % QUEUE));
        for (let col = 0; col < QUEUE; col++) {
          const a = Array.from({ length: C }, (_, c) => after[c * QUEUE + col]);
          const b = Array.from({ length: C }, (_, c) => before[c * QUEUE + col]);
          if (written.has(col)) {
            expect(Math.hypot(...a), `column ${col} is a unit key`).toBeCloseTo(1, 4);
            expect(maxAbsDiff(a, b), `column ${col} was written`).toBeGreaterThan(1e-6);
          } else {
            expect(maxAbsDiff(a, b), `column ${col} is untouched`).toBe(0);
          }
        }
        before = after;
        ptr = want;
      }
      const { loss } = step(r);
      loss.dispose();
      const copy = setup('moco-v2', 'vit-tiny', 8, 2);
      try {
        copy.method.loadStateDict(m.stateDict());
        expect((copy.method as wg.MoCo).queue.ptr).toBe(0);
        await copy.method.afterLoad!();
        expect((copy.method as wg.MoCo).queue.ptr).toBe(32);
      } finally {
        dispose(copy);
      }
    } finally {
      dispose(r);
    }
  });

  it('SimSiam\'s gradients are those of the explicit stop-gradient loss, not of the loss without it', async () => {
    const r = setup('simsiam', 'vit-tiny', 1);
    const m = r.method as wg.SimSiam;
    const w = m.projectionHead.parameters()[0];
    const views = wg.augmentViews(DATA[0], r.presets, new wg.Generator(5));
    // -½ mean cos(p1, z2') - ½ mean cos(p2, z1') with z' = sg(z) or z.
    const manual = (stop: boolean) => {
      const z = views.map((v) => m.projectionHead.forward(m.backbone.forward(v)));
      const p = z.map((zi) => m.predictionHead.forward(zi));
      const t = z.map((zi) => (stop ? wg.detach(zi) : zi));
      const cos = (a: wg.Tensor, b: wg.Tensor) => wg.mean(wg.sum(wg.mul(wg.normalize(a), wg.normalize(b)), [1]));
      return wg.mul(wg.add(cos(p[0], t[1]), cos(p[1], t[0])), -0.5);
    };
    const gradOf = async (loss: () => wg.Tensor): Promise<Float32Array> => {
      wg.scope(() => wg.backward(loss()));
      const g = (await w.grad!.data()) as Float32Array;
      m.zeroGrad();
      return g;
    };
    try {
      const method = await gradOf(() => m.loss(views, { step: 0, totalSteps: 1, epoch: 0 }));
      const stopped = await gradOf(() => manual(true));
      const through = await gradOf(() => manual(false));
      const scale = Math.max(...Array.from(method, Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(method, stopped) / scale, 'method vs explicit stop-gradient').toBeLessThan(1e-3);
      expect(maxAbsDiff(method, through) / scale, 'method vs no stop-gradient').toBeGreaterThan(1e-2);
    } finally {
      views.forEach((v) => v.dispose());
      dispose(r);
    }
  });

  for (const name of wg.METHOD_NAMES) {
    it(`a ${name} step leaks no GPU buffer`, async () => {
      const r = setup(name, 'vit-tiny', 10);
      try {
        await expectNoLeak(() => step(r).loss.dispose(), { warmup: 2, steps: 3 });
      } finally {
        dispose(r);
      }
    });
  }
});

describe.skipIf(!rt)('SSL registry', () => {
  it('createMethod errors name the problem', () => {
    const net = () => wg.createResNet('resnet-tiny', { inChannels: 1 });
    expect(() => wg.createMethod('swav' as wg.MethodName, { backbone: net })).toThrow(/unknown method 'swav'.*simclr, moco-v2, byol, simsiam/);
    expect(() => wg.createMethod('simclr', { backbone: net, queueSize: 4 } as wg.SimCLROptions)).toThrow(/unknown option\(s\) queueSize/);
    const inst = net();
    expect(() => wg.createMethod('moco-v2', { backbone: inst })).toThrow(/factory/);
    expect(() => wg.createMethod('byol', { backbone: inst })).toThrow(/factory/);
    const simclr = wg.createMethod('simclr', { backbone: inst, projectionHidden: 8, projectionOut: 4 });
    const x = wg.zeros([2, 1, 28, 28]);
    expect(() => simclr.loss([x], { step: 0, totalSteps: 1, epoch: 0 })).toThrow(/expects 2 views of one shape \[N, C, H, W\], got 1: \[2,1,28,28\]/);
    x.dispose();
    simclr.dispose();
  });

  it('methodDefaults give a Fashion-MNIST recipe that builds each method', () => {
    for (const name of wg.METHOD_NAMES) {
      for (const backbone of ['resnet', 'vit'] as const) {
        const d = wg.methodDefaults(name, { backbone });
        expect(d.method).toBe(name);
        expect(['sgd', 'lars', 'adamw']).toContain(d.optimizer.kind);
        expect(wg.scaledLr(d.optimizer, 2 * d.optimizer.referenceBatch)).toBeCloseTo(2 * d.optimizer.baseLr, 12);
        const presets = wg.viewPresets(d.augment);
        expect(presets.length).toBe(2);
        for (const p of presets) {
          expect(p.size).toEqual([28, 28]);
          expect(p.scale).toEqual(d.augment.scale);
          expect(p.normalize?.mean.length).toBe(1);
        }
      }
      const d = wg.methodDefaults(name);
      const method = wg.createMethod(name, { ...d.options, backbone: () => wg.createResNet('resnet-tiny', { inChannels: 1 }) } as wg.MethodOptionsMap[typeof name]);
      expect(method.methodName).toBe(name);
      expect(method.numViews).toBe(2);
      method.dispose();
    }
  });
});
