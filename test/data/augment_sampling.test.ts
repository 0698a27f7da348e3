// The per-image parameter draws of src/data/augment.ts against torchvision 0.14's rules, over
// thousands of draws with fixed seeds (deterministic, and able to fail): RandomResizedCrop's area
// fraction uniform in the scale range and log aspect ratio uniform (Kolmogorov-Smirnov at the
// 0.1% level), its 10 tries then the centre-crop fallback at the rate the geometry predicts, the
// ColorJitter factor ranges, means and op orders, the flip / grayscale / blur / solarize / erase
// rates (binomial, 4 sigma), RandomErasing boxes, presets, and determinism per seed. Host only.
import { describe, expect, it } from 'vitest';
import { Generator } from '../../src/random.js';
import {
  byolPresets, erasingBox, mocoV2Preset, multiCropPresets, resizedCropBox, roundHalfEven, sampleAugmentParams, simclrPreset,
  UNIFORMS_PER_IMAGE, type AugmentPreset,
} from '../../src/data/augment.js';

const N = 4000;
const N_CROP = 20000; // more draws where the KS test must see the aspect-ratio law

/** Kolmogorov-Smirnov distance of `xs` from the uniform distribution on [lo, hi]. */
function ksUniform(xs: ArrayLike<number>, lo: number, hi: number): number {
  const s = Float64Array.from(xs).sort();
  let d = 0;
  s.forEach((v, i) => {
    const f = (v - lo) / (hi - lo);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  });
  return d;
}
const KS_CRIT = (n: number) => 1.95 / Math.sqrt(n); // alpha = 0.001

/** |rate - p| within 4 binomial standard deviations (and the rate exact when p is 0 or 1). */
function expectRate(what: string, flags: ArrayLike<number>, p: number): void {
  let k = 0;
  for (let i = 0; i < flags.length; i++) k += flags[i] ? 1 : 0;
  const rate = k / flags.length;
  const tol = 4 * Math.sqrt((p * (1 - p)) / flags.length);
  expect(Math.abs(rate - p), `${what}: rate ${rate} vs p ${p}`).toBeLessThanOrEqual(tol);
}

function meanOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

const preset = (over: Partial<AugmentPreset>): AugmentPreset => ({ ...simclrPreset({ size: 32 }), ...over });

describe('RandomResizedCrop.get_params', () => {
  it("Python's round: halves to even", () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 7]);
  });

  it('area fraction uniform in the scale range, log aspect ratio uniform (every first try fits a 2000x2000 image)', () => {
    const [H, W] = [2000, 2000];
    const p = sampleAugmentParams(preset({ scale: [0.08, 0.5], ratio: [3 / 4, 4 / 3] }), [N_CROP, 3, H, W], new Generator(11));
    const c = p.crop!;
    const area = Float64Array.from({ length: N_CROP }, (_, i) => (c.height[i] * c.width[i]) / (H * W));
    const logr = Float64Array.from({ length: N_CROP }, (_, i) => Math.log(c.width[i] / c.height[i]));
    const [l0, l1] = [Math.log(3 / 4), Math.log(4 / 3)];
    // Rounding the sides to pixels moves area and ratio by < 0.2% here: widen the range by that.
    expect(ksUniform(area, 0.08, 0.5)).toBeLessThan(KS_CRIT(N_CROP) + 0.003);
    expect(ksUniform(logr, l0, l1)).toBeLessThan(KS_CRIT(N_CROP) + 0.003);
    expect(Math.min(...area)).toBeGreaterThanOrEqual(0.08 - 1e-3);
    expect(Math.max(...area)).toBeLessThanOrEqual(0.5 + 1e-3);
    // Positions uniform over the free range: top / (H - h) has mean 1/2.
    const pos = Float64Array.from({ length: N_CROP }, (_, i) => c.top[i] / Math.max(1, H - c.height[i]));
    expect(ksUniform(pos, 0, 1)).toBeLessThan(KS_CRIT(N_CROP) + 0.002);
  });

  it('after 10 failed tries the centre crop, at the rate the geometry predicts', () => {
    const [s0, s1, r0, r1] = [0.8, 1, 1, 3];
    // One try fails when the box does not fit: a > min(r, 1/r) (a: area fraction, r: ratio);
    // averaged over log r uniform (midpoint rule).
    let fail = 0;
    const K = 100000;
    for (let i = 0; i < K; i++) {
      const r = Math.exp(Math.log(r0) + (Math.log(r1) - Math.log(r0)) * ((i + 0.5) / K));
      fail += Math.min(1, Math.max(0, (s1 - Math.max(Math.min(r, 1 / r), s0)) / (s1 - s0)));
    }
    const pFallback = (fail / K) ** 10;
    expect(pFallback).toBeGreaterThan(0.3);
    const [H, W] = [2000, 2000];
    const u = new Generator(12);
    const flags = new Int32Array(N);
    const c = sampleAugmentParams(preset({ scale: [s0, s1], ratio: [r0, r1] }), [N, 3, H, W], u).crop!;
    for (let i = 0; i < N; i++) {
      // The whole image is the fallback here (in_ratio 1 lies in [1, 3]); a fitting try with a
      // = 1 exactly has probability 0.
      flags[i] = c.height[i] === H && c.width[i] === W ? 1 : 0;
    }
    expectRate('fallback', flags, pFallback);
  });

  it('fallback boxes clamp the ratio and are centred; boxes always lie inside the image', () => {
    const u = new Float64Array(22).fill(0.999); // every try asks for ~all of the area at ratio 4/3+: too wide
    expect(resizedCropBox(30, 100, [0.99, 1], [3 / 4, 4 / 3], u)).toEqual({ top: 0, left: 30, height: 30, width: 40, fallback: true });
    expect(resizedCropBox(100, 30, [0.99, 1], [3 / 4, 4 / 3], u)).toEqual({ top: 30, left: 0, height: 40, width: 30, fallback: true });
    expect(resizedCropBox(5, 5, [0.99, 1], [3, 4], u)).toEqual({ top: 1, left: 0, height: 2, width: 5, fallback: true }); // h = round(5 / 3)
    const g = new Generator(13);
    for (const [h, w] of [[5, 7], [28, 28], [17, 23], [1, 9], [96, 40]]) {
      const c = sampleAugmentParams(preset({ scale: [0.05, 1], ratio: [0.3, 3.3] }), [500, 3, h, w], g).crop!;
      for (let i = 0; i < 500; i++) {
        expect(c.height[i] >= 1 && c.width[i] >= 1 && c.top[i] + c.height[i] <= h && c.left[i] + c.width[i] <= w, `box ${i} in ${h}x${w}`).toBe(true);
      }
    }
  });
});

describe('ColorJitter, flip, grayscale, blur, solarize', () => {
  it('jitter factors uniform in [max(0, 1 - v), 1 + v] and [-h, h]; apply rate p; the 24 orders equally likely', () => {
    const p = sampleAugmentParams(simclrPreset({ size: 32 }), [N, 3, 32, 32], new Generator(21)); // 0.8, 0.8, 0.8, 0.2
    const j = p.jitter!;
    for (const k of ['brightness', 'contrast', 'saturation'] as const) {
      expect(ksUniform(j[k]!, 0.2, 1.8), k).toBeLessThan(KS_CRIT(N));
      expect(Math.abs(meanOf(j[k]!) - 1)).toBeLessThan((4 * 1.6) / Math.sqrt(12 * N));
    }
    expect(ksUniform(j.hue!, -0.2, 0.2)).toBeLessThan(KS_CRIT(N));
    expect(Math.abs(meanOf(j.hue!))).toBeLessThan((4 * 0.4) / Math.sqrt(12 * N));
    expectRate('jitter apply', j.apply!, 0.8);
    const counts = new Map<string, number>();
    const orders = Array.from(j.order!);
    for (let i = 0; i < N; i++) {
      const o = orders.slice(4 * i, 4 * i + 4);
      if ([...o].sort().join('') !== '0123') throw new Error(`order ${i} [${o}] is not a permutation`);
      counts.set(o.join(''), (counts.get(o.join('')) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const e = N / 24;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2, 'chi-square, 23 dof (0.1% critical value 49.7)').toBeLessThan(49.7);
    expectRate('hflip', p.hflip!, 0.5);
    expectRate('grayscale', p.grayscale!, 0.2);
  });

  it('a strength above 1 clips the lower bound at 0; a strength of 0 leaves the op out', () => {
    const pr = preset({ jitter: { p: 1, brightness: 1.5, contrast: 0, saturation: 0.4, hue: 0 } });
    const j = sampleAugmentParams(pr, [N, 3, 8, 8], new Generator(22)).jitter!;
    expect(ksUniform(j.brightness!, 0, 2.5)).toBeLessThan(KS_CRIT(N));
    expect(j.contrast).toBeUndefined();
    expect(j.hue).toBeUndefined();
    expect(ksUniform(j.saturation!, 0.6, 1.4)).toBeLessThan(KS_CRIT(N));
    expectRate('jitter apply p = 1', j.apply!, 1);
  });

  it('BYOL: view 1 always blurred and never solarised, view 2 blur 0.1 and solarise 0.2; sigma uniform in [0.1, 2]', () => {
    const [v1, v2] = byolPresets({ size: 224 });
    expect(v1.blur!.kernelSize).toBe(23);
    const g = new Generator(23);
    const a = sampleAugmentParams(v1, [N, 3, 256, 256], g);
    const b = sampleAugmentParams(v2, [N, 3, 256, 256], g);
    expectRate('view 1 blur', Array.from(a.blur!.sigma, (s) => (s > 0 ? 1 : 0)), 1);
    expectRate('view 1 solarize', a.solarize?.apply ?? new Int32Array(N), 0);
    expectRate('view 2 blur', Array.from(b.blur!.sigma, (s) => (s > 0 ? 1 : 0)), 0.1);
    expectRate('view 2 solarize', b.solarize!.apply!, 0.2);
    expect(ksUniform(a.blur!.sigma, 0.1, 2)).toBeLessThan(KS_CRIT(N));
    expect(b.solarize!.threshold).toBe(0.5);
    expect(a.jitter!.saturation![0]).toBeGreaterThanOrEqual(0.8);
  });

  it('presets: MoCo v2, SimCLR (blur from 64 px, CIFAR strength), multi-crop sizes and rules', () => {
    const m = mocoV2Preset({ size: 224 });
    expect([m.scale, m.jitter, m.grayscale, m.blur?.p, m.blur?.sigma]).toEqual([[0.2, 1], { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 }, 0.2, 0.5, [0.1, 2]]);
    expect(simclrPreset({ size: 32 }).blur).toBeNull();
    expect(simclrPreset({ size: 32, strength: 0.5 }).jitter).toEqual({ p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 });
    expect(simclrPreset({ size: 96 }).blur).toEqual({ p: 0.5, kernelSize: 9, sigma: [0.1, 2] });
    expect(simclrPreset({ size: 28, channels: 1 }).normalize).toBeNull();
    const dino = multiCropPresets({ globalSize: 224, localSize: 96, localCrops: 8 });
    expect(dino.map((p) => p.size[0])).toEqual([224, 224, ...new Array(8).fill(96)]);
    expect(dino.map((p) => p.blur!.p)).toEqual([1, 0.1, ...new Array(8).fill(0.5)]);
    expect(dino.map((p) => p.solarize?.p ?? 0)).toEqual([0, 0.2, ...new Array(8).fill(0)]);
    expect([dino[0].scale, dino[2].scale]).toEqual([[0.4, 1], [0.05, 0.4]]);
    const swav = multiCropPresets({ globalSize: 224, localSize: 96, localCrops: 6, style: 'swav' });
    expect([swav.length, swav[0].scale, swav[7].scale, swav[7].jitter!.brightness]).toEqual([8, [0.14, 1], [0.05, 0.14], 0.8]);
  });
});

describe('RandomErasing.get_params', () => {
  it('apply rate p, area in the scale range, boxes inside, none after 10 failed tries', () => {
    const pr = preset({ erase: { p: 0.5, scale: [0.02, 0.33], ratio: [0.3, 3.3], value: 0 } });
    const e = sampleAugmentParams(pr, [N, 3, 64, 64], new Generator(31)).erase!;
    const [oh, ow] = pr.size;
    const on = Array.from(e.height, (h) => (h > 0 ? 1 : 0));
    // A try fails only when a side would reach the image side: rare at these scales (< 2% of
    // tries); p(all 10 fail) is negligible, so the rate is p.
    expectRate('erase', on, 0.5);
    for (let i = 0; i < N; i++) {
      if (!on[i]) continue;
      const a = (e.height[i] * e.width[i]) / (oh * ow);
      expect(a > 0.01 && a < 0.36 && e.top[i] + e.height[i] <= oh && e.left[i] + e.width[i] <= ow && e.height[i] < oh && e.width[i] < ow, `erase box ${i}`).toBe(true);
    }
    expect(erasingBox(10, 10, [0.99, 1], [1, 1], new Float64Array(22).fill(0.5))).toEqual({ top: 0, left: 0, height: 0, width: 0 });
  });
});

describe('determinism', () => {
  it('the same seed gives the same parameters; each view moves the generator by N x 64 words', () => {
    const pr = multiCropPresets({ globalSize: 24, localSize: 12, localCrops: 2 })[1];
    const a = new Generator(41);
    const b = new Generator(41);
    const pa = sampleAugmentParams(pr, [7, 3, 32, 32], a);
    const pb = sampleAugmentParams(pr, [7, 3, 32, 32], b);
    expect(JSON.stringify(pa)).toBe(JSON.stringify(pb));
    expect(a.offset).toBe(BigInt(7 * UNIFORMS_PER_IMAGE));
    const pc = sampleAugmentParams(pr, [7, 3, 32, 32], a);
    expect(JSON.stringify(pc)).not.toBe(JSON.stringify(pa));
  });
});
