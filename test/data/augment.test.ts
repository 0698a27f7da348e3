// Augmentation kernels (src/kernels/augment.ts): every augment_* torchvision golden under the
// fixtures protocol with its stored parameters (both colour-kernel reductions), the float64
// reference (test/reference/augment.ts) on random batches of odd, non-square sizes with random
// per-image parameters for every stage alone and chained, the presets end to end, one-line errors,
// and no leaked buffers.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { augmentBatch, type AugmentParams, type ColorPath } from '../../src/kernels/augment.js';
import { augment, augmentViews, byolPresets, mocoV2Preset, multiCropPresets, sampleAugmentParams, simclrPreset } from '../../src/data/augment.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { expectFixture, loadFixture, printFixtureReport, type Fixture } from '../helpers/fixtures.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';
import { rng, uniform } from '../helpers/rand.js';
import { augmentRef } from '../reference/augment.js';

const rt = await gpu();
afterAll(() => {
  printReport('augment');
  printFixtureReport('augment goldens');
});

const PATHS: ColorPath[] = ['tree', 'subgroup'];
const hasPath = (p: ColorPath) => p !== 'subgroup' || !!rt?.hasFeature('subgroups');

async function run(x: Float32Array, shape: number[], prm: AugmentParams, colorPath?: ColorPath): Promise<{ data: Float32Array; shape: number[] }> {
  const t = wg.tensor(x, { shape });
  const y = augmentBatch(t, prm, { colorPath });
  const data = (await y.data()) as Float32Array;
  const s = [...y.shape];
  t.dispose();
  y.dispose();
  return { data, shape: s };
}

// ---------------------------------------------------------------------------------------------
// Goldens: the parameters come from each file (params.* tensors, __metadata__).

const boxes = (fx: Fixture) => ({ top: fx.i32('params.top'), left: fx.i32('params.left'), height: fx.i32('params.height'), width: fx.i32('params.width') });
const ones = (n: number) => new Int32Array(n).fill(1);
const size2 = (v: unknown) => {
  const s = v as number[];
  expect(s.length).toBe(2);
  return [s[0], s[1]] as [number, number];
};

/** The case's pipeline parameters, read from its file; `stage` cuts the SimCLR view after a stage. */
function caseParams(fx: Fixture, stage?: string): AugmentParams {
  const n = fx.shape('input')[0];
  const name = fx.name.replace(/^augment_/, '').replace(/_(rgb|gray)$/, '');
  const jitterOf = (order: boolean) => ({
    order: order ? fx.i32('params.order') : undefined,
    brightness: fx.f32('params.brightness_factor'),
    contrast: fx.f32('params.contrast_factor'),
    saturation: fx.f32('params.saturation_factor'),
    hue: fx.f32('params.hue_factor'),
  });
  if (name === 'resized_crop') return { crop: boxes(fx), size: size2(fx.param('size')) };
  if (name === 'hflip') return { hflip: ones(n) };
  if (['brightness', 'contrast', 'saturation', 'hue'].includes(name)) return { jitter: { [name]: fx.f32(`params.${name}_factor`) } };
  if (name === 'color_jitter') return { jitter: jitterOf(true) };
  if (name === 'grayscale') {
    expect(fx.param('num_output_channels')).toBe(fx.shape('input')[1]);
    return { grayscale: ones(n) };
  }
  if (name.startsWith('gaussian_blur')) {
    const [kh, kw] = fx.param('kernel_size') as number[];
    expect(kh, 'square kernels only (as transforms.GaussianBlur with one size)').toBe(kw);
    expect(fx.param('padding')).toBe('reflect');
    return { blur: { kernelSize: kh, sigma: fx.f32('params.sigma') } };
  }
  if (name === 'solarize') return { solarize: { threshold: fx.f32('params.threshold')[0] } };
  if (name === 'erase') return { erase: { ...boxes(fx), value: fx.f32('params.value') } };
  if (name === 'normalize') return { normalize: { mean: Array.from(fx.f32('params.mean')), std: Array.from(fx.f32('params.std')) } };
  if (name === 'simclr_view') {
    expect(fx.param('antialias')).toBe(false);
    const prm: AugmentParams = { crop: boxes(fx), size: size2(fx.param('size')) };
    const stages = ['crop', 'hflip', 'color_jitter', 'grayscale', 'out'];
    const upto = stages.indexOf(stage ?? 'out');
    if (upto >= 1) prm.hflip = fx.i32('params.hflip');
    if (upto >= 2) prm.jitter = { apply: fx.i32('params.color_jitter'), ...jitterOf(true) };
    if (upto >= 3) prm.grayscale = fx.i32('params.grayscale');
    if (upto >= 4) prm.normalize = { mean: Array.from(fx.f32('params.mean')), std: Array.from(fx.f32('params.std')) };
    return prm;
  }
  throw new Error(`no parameters for case ${fx.name}`);
}

const GOLDENS = [
  'resized_crop_rgb', 'resized_crop_gray', 'hflip_rgb', 'hflip_gray', 'brightness_rgb', 'brightness_gray',
  'contrast_rgb', 'contrast_gray', 'saturation_rgb', 'hue_rgb', 'color_jitter_rgb', 'grayscale_rgb',
  'gaussian_blur_k3_rgb', 'gaussian_blur_k5_rgb', 'gaussian_blur_k9_rgb', 'gaussian_blur_k5_gray',
  'gaussian_blur_k7_sigma_per_image_rgb', 'solarize_rgb', 'solarize_gray', 'erase_rgb', 'erase_gray',
  'normalize_rgb', 'normalize_gray', 'simclr_view_rgb',
].map((c) => `augment_${c}`);

describe.skipIf(!rt)('torchvision 0.14 goldens (fixtures protocol)', () => {
  for (const name of GOLDENS) {
    it(name, async () => {
      const fx = loadFixture(name);
      const colour = /contrast|saturation|hue|jitter|grayscale|simclr|brightness/.test(name);
      for (const path of colour ? PATHS.filter(hasPath) : [undefined]) {
        const got = await run(fx.f32('input'), fx.shape('input'), caseParams(fx), path);
        expectFixture(fx, 'out', got.data, 'op', got.shape);
      }
      if (name === 'augment_simclr_view_rgb') {
        for (const stage of ['crop', 'hflip', 'color_jitter', 'grayscale']) {
          const got = await run(fx.f32('input'), fx.shape('input'), caseParams(fx, stage));
          expectFixture(fx, `intermediate.${stage}`, got.data, 'op', got.shape);
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Float64 reference on random inputs and parameters.

/** Random per-image parameters for a batch [n, c, h, w]; `parts` picks the stages. */
function randomParams(seed: number, [n, , h, w]: readonly number[], parts: readonly string[], size?: [number, number]): AugmentParams {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const per = (f: () => number) => Float32Array.from({ length: n }, f);
  const prm: AugmentParams = {};
  if (parts.includes('crop')) {
    const bh = per(() => int(1, h));
    const bw = per(() => int(1, w));
    prm.crop = { height: bh, width: bw, top: bh.map((v) => int(0, h - v)), left: bw.map((v) => int(0, w - v)) };
    prm.size = size ?? [int(3, 2 * h), int(3, 2 * w)];
  }
  const [oh, ow] = prm.size ?? [h, w];
  if (parts.includes('hflip')) prm.hflip = per(() => int(0, 1));
  if (parts.includes('jitter')) {
    const order = new Int32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const o = [0, 1, 2, 3];
      for (let k = 3; k > 0; k--) {
        const m = int(0, k);
        [o[k], o[m]] = [o[m], o[k]];
      }
      order.set(o, 4 * i);
    }
    prm.jitter = {
      apply: per(() => (r() < 0.8 ? 1 : 0)), order,
      brightness: per(() => 0.2 + 1.6 * r()), contrast: per(() => 0.2 + 1.6 * r()),
      saturation: per(() => 2 * r()), hue: per(() => r() - 0.5),
    };
  }
  if (parts.includes('grayscale')) prm.grayscale = per(() => int(0, 1));
  if (parts.includes('blur')) {
    const k = Math.min(2 * Math.floor(Math.min(oh, ow) / 2) - 1, 2 * int(1, 5) + 1);
    prm.blur = { kernelSize: k, sigma: per(() => (r() < 0.25 ? 0 : 0.1 + 1.9 * r())) };
  }
  if (parts.includes('solarize')) prm.solarize = { threshold: 0.5, apply: per(() => int(0, 1)) };
  if (parts.includes('normalize')) {
    const c = 3;
    prm.normalize = { mean: Array.from({ length: c }, () => 0.3 + 0.4 * r()), std: Array.from({ length: c }, () => 0.1 + 0.3 * r()) };
  }
  if (parts.includes('erase')) {
    const eh = per(() => int(0, oh));
    const ew = per(() => int(0, ow));
    prm.erase = { height: eh, width: ew, top: eh.map((v) => int(0, oh - v)), left: ew.map((v) => int(0, ow - v)), value: per(() => r() * 2 - 1) };
  }
  return prm;
}

const SHAPES = [[3, 3, 40, 36], [5, 1, 17, 23], [2, 3, 9, 31], [4, 3, 16, 16], [1, 1, 5, 7]];
const STAGE_SETS = [['crop'], ['hflip'], ['crop', 'hflip'], ['jitter'], ['grayscale'], ['blur'], ['solarize'], ['normalize'], ['erase'],
  ['crop', 'hflip', 'jitter', 'grayscale', 'blur', 'solarize', 'normalize', 'erase'], ['jitter', 'grayscale', 'normalize'], ['crop', 'blur', 'erase']];

describe.skipIf(!rt)('against the float64 reference (random odd-sized batches and parameters)', () => {
  it('every stage alone and chained, C = 1 and 3', async () => {
    let seed = 100;
    for (const s of SHAPES) {
      for (const parts of STAGE_SETS) {
        const x = uniform(s[0] * s[1] * s[2] * s[3], seed, 0, 1);
        // Multiples of 1/255 in half the images, and ties / greys, as the goldens have.
        for (let i = 0; i < x.length; i += 7) x[i] = Math.round(x[i] * 255) / 255;
        const prm = randomParams(seed++, s, parts);
        if (prm.normalize && s[1] === 1) prm.normalize = { mean: prm.normalize.mean.slice(0, 1), std: prm.normalize.std.slice(0, 1) };
        const want = augmentRef(x, s, prm);
        for (const path of parts.includes('jitter') || parts.includes('grayscale') ? PATHS.filter(hasPath) : [undefined]) {
          const got = await run(x, s, prm, path);
          expect(got.shape).toEqual(want.shape);
          const tol = prm.normalize ? { atol: 3e-5, rtol: 2e-5 } : { atol: 5e-6, rtol: 1e-5 };
          expectClose(`augment [${parts}]`, got.data, want.data, tol, s);
        }
      }
    }
  });

  it('solarize at a threshold other than 0.5, with pixels equal to it (exact)', async () => {
    const s = [2, 3, 5, 6];
    const x = Float32Array.from({ length: 180 }, (_, i) => (i % 9) / 8);
    const prm: AugmentParams = { solarize: { threshold: 0.375, apply: [1, 0] } };
    const got = await run(x, s, prm);
    expectClose('augment solarize', got.data, augmentRef(x, s, prm).data, { atol: 0, rtol: 0 });
  });

  it('a strided (transposed) input is read like its contiguous copy', async () => {
    const s = [2, 3, 7, 9];
    const x = uniform(2 * 3 * 7 * 9, 9, 0, 1);
    const prm = randomParams(9, [2, 3, 9, 7], ['crop', 'jitter', 'blur'], [6, 5]);
    const t = wg.tensor(x, { shape: s });
    const v = wg.transpose(t, 2, 3);
    const y = augmentBatch(v, prm);
    const xt = await v.data();
    expectClose('augment strided', (await y.data()) as Float32Array, augmentRef(xt, [2, 3, 9, 7], prm).data, { atol: 5e-6, rtol: 1e-5 });
    for (const a of [t, v, y]) a.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Presets end to end: sampled parameters run on the GPU equal the reference with the same parameters.

describe.skipIf(!rt)('presets', () => {
  it('SimCLR, MoCo v2, BYOL and multi-crop views match the reference with their sampled parameters', async () => {
    const s = [3, 3, 20, 18];
    const x = uniform(3 * 3 * 20 * 18, 31, 0, 1);
    const presets = [simclrPreset({ size: 12, blur: true }), mocoV2Preset({ size: 14 }), ...byolPresets({ size: 12 }), ...multiCropPresets({ globalSize: 14, localSize: 8, localCrops: 2 })];
    for (const [i, preset] of presets.entries()) {
      const gen = new wg.Generator(500 + i);
      const prm = sampleAugmentParams(preset, s, gen);
      const got = await run(x, s, prm);
      expect(got.shape).toEqual([3, 3, preset.size[0], preset.size[1]]);
      expectClose(`augment preset ${preset.name}`, got.data, augmentRef(x, s, prm).data, { atol: 3e-5, rtol: 2e-5 });
    }
  });

  it('augment() is deterministic per seed, draws new views per call, and handles 1-channel batches', async () => {
    const x = wg.tensor(uniform(2 * 1 * 28 * 28, 3, 0, 1), { shape: [2, 1, 28, 28] });
    const a = augment(x, simclrPreset({ size: 24, channels: 1 }), new wg.Generator(7));
    const b = augment(x, simclrPreset({ size: 24, channels: 1 }), new wg.Generator(7));
    const views = augmentViews(x, byolPresets({ size: 24, channels: 1 }), new wg.Generator(7));
    expect(a.shape).toEqual([2, 1, 24, 24]);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    expect(views.length).toBe(2);
    expect(Array.from(await views[0].data())).not.toEqual(Array.from(await views[1].data()));
    for (const t of [x, a, b, ...views]) t.dispose();
  });
});

describe.skipIf(!rt)('errors and leaks', () => {
  it('one-line errors naming the shapes', () => {
    const x = wg.zeros([2, 3, 8, 8]);
    const x2 = wg.zeros([2, 2, 8, 8]);
    expect(() => augmentBatch(x2, {})).toThrow(/^augment: expects an f32 batch \[N, C, H, W\] with C = 1 or 3, got f32 \[2,2,8,8\]$/);
    expect(() => augmentBatch(x, { hflip: [1] })).toThrow(/^augment: hflip has 1 values, expected 2 for a batch of 2$/);
    expect(() => augmentBatch(x, { crop: { top: [0, 4], left: [0, 0], height: [8, 5], width: [8, 8] }, size: [4, 4] }))
      .toThrow(/^augment: crop box 1 \(top 4, left 0, height 5, width 8\) is not inside the 8x8 image$/);
    expect(() => augmentBatch(x, { blur: { kernelSize: 17, sigma: [1, 1] } })).toThrow(/blur kernel size 17 must be odd and positive with k\/\/2 below the output size \[8,8\]/);
    expect(() => augmentBatch(x, { size: [4, 4] })).toThrow(/^augment: output size \[4,4\] differs from the input \[2,3,8,8\] without crop boxes$/);
    expect(() => augmentBatch(x, { erase: { top: [0, 0], left: [0, 6], height: [1, 1], width: [1, 3] } })).toThrow(/^augment: erase box 1 \(top 0, left 6, height 1, width 3\) is not inside the 8x8 image$/);
    expect(() => augmentBatch(x, { normalize: { mean: [0.5], std: [0.2] } })).toThrow(/normalize needs 3 finite means and non-zero stds for \[2,3,8,8\]/);
    expect(() => augmentBatch(x, { jitter: { hue: [0.7, 0] } })).toThrow(/jitter.hue\[0\] = 0.7 is outside \[-0.5, 0.5\]/);
    expect(() => augmentBatch(x, { jitter: { order: [0, 1, 2, 2, 0, 1, 2, 3], brightness: [1, 1] } })).toThrow(/jitter.order row 0 is not a permutation of 0..3/);
    for (const t of [x, x2]) t.dispose();
  });

  it('repeated SimCLR views leave no buffer behind', async () => {
    const x = wg.keep(wg.tensor(uniform(2 * 3 * 16 * 16, 4, 0, 1), { shape: [2, 3, 16, 16] }));
    const gen = new wg.Generator(1);
    const preset = simclrPreset({ size: 12, blur: true });
    await expectNoLeak(() => augment(x, preset, gen).dispose(), { steps: 5 });
    x.dispose();
  });
});
