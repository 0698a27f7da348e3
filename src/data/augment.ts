/**
 * Random augmentations for self-supervised views: per-image parameters drawn on the host from a
 * seeded `Generator` (src/random_host.ts, the same Philox stream as the GPU's) following
 * torchvision 0.14's rules, then run as GPU kernels over the whole batch (src/kernels/augment.ts).
 * Presets for SimCLR, MoCo v2, BYOL (asymmetric) and multi-crop (SwAV, DINO).
 *
 * Draws: every image takes a fixed block of {@link UNIFORMS_PER_IMAGE} uniforms, used as below
 * whether or not a transform fires, so the generator moves by N x 64 words per view whatever
 * is drawn, and image n's parameters depend only on the seed, the calls before and n.
 */
import { defaultGenerator, type Generator } from '../random.js';
import { hostUniform } from '../random_host.js';
import { augmentBatch, type AugmentParams, type Boxes } from '../kernels/augment.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** Uniforms each image's parameters are drawn from (layout in `sampleAugmentParams`). */
export const UNIFORMS_PER_IMAGE = 64;

/** ImageNet channel statistics, the usual Normalize of RGB presets. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** ImageNet channel standard deviations. */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** One random view: torchvision transforms with their probabilities and ranges. */
export interface AugmentPreset {
  /** A label for errors and logs. */
  name: string;
  /** Output [height, width] of RandomResizedCrop. */
  size: [number, number];
  /** RandomResizedCrop area fraction range and aspect-ratio range (w / h). */
  scale: [number, number];
  ratio: [number, number];
  /** RandomHorizontalFlip probability. */
  hflip: number;
  /**
   * RandomApply(ColorJitter(brightness, contrast, saturation, hue), p): factors uniform in
   * [max(0, 1 - v), 1 + v] (hue in [-v, v]); a strength of 0 leaves that op out.
   */
  jitter: { p: number; brightness: number; contrast: number; saturation: number; hue: number } | null;
  /** RandomGrayscale probability. */
  grayscale: number;
  /** RandomApply(GaussianBlur(kernelSize, sigma range), p); sigma uniform in the range. */
  blur: { p: number; kernelSize: number; sigma: [number, number] } | null;
  /** RandomSolarize(threshold, p). */
  solarize: { p: number; threshold: number } | null;
  /** Normalize(mean, std), one entry per channel. */
  normalize: { mean: readonly number[]; std: readonly number[] } | null;
  /** RandomErasing(p, scale, ratio, value), after Normalize. */
  erase: { p: number; scale: [number, number]; ratio: [number, number]; value: number } | null;
}

/** Python's round(): halves to even, as torchvision's int(round(...)). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** floor(u * m) for u in [0, 1): torch.randint(0, m) from one uniform. */
const randint = (u: number, m: number) => Math.min(m - 1, Math.floor(u * m));

/**
 * RandomResizedCrop.get_params for an h x w image: up to 10 tries of (area fraction uniform in
 * `scale`, aspect ratio log-uniform in `ratio`, w = round(sqrt(a r)), h = round(sqrt(a / r)));
 * the first box that fits is placed uniformly; otherwise the centre crop with the ratio clamped
 * into `ratio`. Reads u[at .. at + 21]: tries k at at + 2k, at + 2k + 1; placement at + 20, at + 21.
 */
export function resizedCropBox(h: number, w: number, scale: readonly [number, number], ratio: readonly [number, number], u: ArrayLike<number>, at = 0): { top: number; left: number; height: number; width: number; fallback: boolean } {
  const area = h * w;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let k = 0; k < 10; k++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * u[at + 2 * k]);
    const r = Math.exp(lr0 + (lr1 - lr0) * u[at + 2 * k + 1]);
    const cw = roundHalfEven(Math.sqrt(target * r));
    const ch = roundHalfEven(Math.sqrt(target / r));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      return { top: randint(u[at + 20], h - ch + 1), left: randint(u[at + 21], w - cw + 1), height: ch, width: cw, fallback: false };
    }
  }
  const inRatio = w / h;
  let [ch, cw] = [h, w];
  if (inRatio < Math.min(...ratio)) {
    ch = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    cw = roundHalfEven(h * Math.max(...ratio));
  }
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw, fallback: true };
}

/**
 * RandomErasing.get_params for an h x w image: up to 10 tries of (area fraction uniform in
 * `scale`, log-uniform ratio r, eh = round(sqrt(a r)), ew = round(sqrt(a / r))), accepted when
 * eh < h and ew < w and placed uniformly; otherwise no erasing (height 0). Reads u[at .. at + 21].
 */
export function erasingBox(h: number, w: number, scale: readonly [number, number], ratio: readonly [number, number], u: ArrayLike<number>, at = 0): { top: number; left: number; height: number; width: number } {
  const area = h * w;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let k = 0; k < 10; k++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * u[at + 2 * k]);
    const r = Math.exp(lr0 + (lr1 - lr0) * u[at + 2 * k + 1]);
    const eh = roundHalfEven(Math.sqrt(target * r));
    const ew = roundHalfEven(Math.sqrt(target / r));
    if (eh < h && ew < w) return { top: randint(u[at + 20], h - eh + 1), left: randint(u[at + 21], w - ew + 1), height: eh, width: ew };
  }
  return { top: 0, left: 0, height: 0, width: 0 };
}

/** The order that sorts 4 keys (ties by index): a uniform permutation of 0..3 from 4 uniforms. */
function permutation4(u: ArrayLike<number>, at: number): number[] {
  return [0, 1, 2, 3].sort((a, b) => u[at + a] - u[at + b] || a - b);
}

const boxes = (n: number): Boxes & { top: Int32Array; left: Int32Array; height: Int32Array; width: Int32Array } =>
  ({ top: new Int32Array(n), left: new Int32Array(n), height: new Int32Array(n), width: new Int32Array(n) });

/**
 * Draws one view's per-image parameters for a batch of `shape` [N, C, H, W] from `gen`
 * (N x 64 uniforms). Per image, uniforms: 0-21 crop box, 22 flip, 23 jitter apply, 24-27
 * brightness/contrast/saturation/hue factors, 28-31 op order, 32 grayscale, 33 blur apply,
 * 34 sigma, 35 solarize, 36 erase apply, 37-58 erase box. A transform fires when its uniform is
 * below its probability (torch.rand(1) < p).
 */
export function sampleAugmentParams(preset: AugmentPreset, shape: readonly number[], gen: Generator = defaultGenerator): AugmentParams {
  if (shape.length !== 4) throw new Error(`augment(${preset.name}): expects a batch shape [N, C, H, W], got ${fmt(shape)}`);
  const [n, , h, w] = shape;
  const U = UNIFORMS_PER_IMAGE;
  const u = hostUniform(n * U, gen);
  const [oh, ow] = preset.size;
  const crop = boxes(n);
  const flip = new Int32Array(n);
  const j = preset.jitter;
  const jit = { apply: new Int32Array(n), order: new Int32Array(4 * n), f: [0, 1, 2, 3].map(() => new Float32Array(n)) };
  const gray = new Int32Array(n);
  const sigma = new Float32Array(n);
  const sol = new Int32Array(n);
  const erase = boxes(n);
  for (let i = 0; i < n; i++) {
    const b = i * U;
    const c = resizedCropBox(h, w, preset.scale, preset.ratio, u, b);
    [crop.top[i], crop.left[i], crop.height[i], crop.width[i]] = [c.top, c.left, c.height, c.width];
    flip[i] = u[b + 22] < preset.hflip ? 1 : 0;
    if (j) {
      jit.apply[i] = u[b + 23] < j.p ? 1 : 0;
      const strengths = [j.brightness, j.contrast, j.saturation];
      strengths.forEach((v, k) => (jit.f[k][i] = Math.max(0, 1 - v) + (1 + v - Math.max(0, 1 - v)) * u[b + 24 + k]));
      jit.f[3][i] = -j.hue + 2 * j.hue * u[b + 27];
      jit.order.set(permutation4(u, b + 28), 4 * i);
    }
    gray[i] = u[b + 32] < preset.grayscale ? 1 : 0;
    const bl = preset.blur;
    if (bl && u[b + 33] < bl.p) sigma[i] = bl.sigma[0] + (bl.sigma[1] - bl.sigma[0]) * u[b + 34];
    sol[i] = preset.solarize && u[b + 35] < preset.solarize.p ? 1 : 0;
    if (preset.erase && u[b + 36] < preset.erase.p) {
      const e = erasingBox(oh, ow, preset.erase.scale, preset.erase.ratio, u, b + 37);
      [erase.top[i], erase.left[i], erase.height[i], erase.width[i]] = [e.top, e.left, e.height, e.width];
    }
  }
  const prm: AugmentParams = { size: [oh, ow], crop, hflip: flip, grayscale: gray };
  if (j) {
    const on = (v: number, k: number) => (v > 0 ? jit.f[k] : undefined);
    prm.jitter = { apply: jit.apply, order: jit.order, brightness: on(j.brightness, 0), contrast: on(j.contrast, 1), saturation: on(j.saturation, 2), hue: on(j.hue, 3) };
  }
  if (preset.blur) prm.blur = { kernelSize: preset.blur.kernelSize, sigma };
  if (preset.solarize) prm.solarize = { threshold: preset.solarize.threshold, apply: sol };
  if (preset.normalize) prm.normalize = preset.normalize;
  if (preset.erase) prm.erase = { ...erase, value: new Float32Array(n).fill(preset.erase.value) };
  return prm;
}

/**
 * One random view of every image of `x` [N, C, H, W] (f32 in [0, 1], C = 1 or 3): parameters
 * drawn from `gen` (default: the global generator) by `preset`'s rules, then the GPU kernels.
 * Returns a new [N, C, size[0], size[1]] tensor.
 */
export function augment(x: Tensor, preset: AugmentPreset, gen: Generator = defaultGenerator): Tensor {
  return augmentBatch(x, sampleAugmentParams(preset, x.shape, gen), { op: `augment(${preset.name})` });
}

/** One view per preset (e.g. the two of `byolPresets`, or the crops of `multiCropPresets`), drawn in order from `gen`. */
export function augmentViews(x: Tensor, presets: readonly AugmentPreset[], gen: Generator = defaultGenerator): Tensor[] {
  return presets.map((p) => augment(x, p, gen));
}

/** Options shared by the presets. */
export interface PresetOptions {
  /** Output size (square for a number). */
  size: number | [number, number];
  /** Channels of the batches it will see (1 or 3; default 3): picks the default normalisation. */
  channels?: 1 | 3;
  /** Normalize; default ImageNet statistics for 3 channels, none for 1 (pass e.g. Fashion-MNIST's). */
  normalize?: { mean: readonly number[]; std: readonly number[] } | null;
  /** RandomErasing after Normalize (default none): p, and optionally scale (0.02, 0.33), ratio (0.3, 3.3), value 0. */
  erase?: { p: number; scale?: [number, number]; ratio?: [number, number]; value?: number } | null;
}

const sizeOf2 = (s: number | [number, number]): [number, number] => (typeof s === 'number' ? [s, s] : [s[0], s[1]]);

/** The blur kernel of SimCLR-style presets: about 10% of the (smaller) side, odd, at least 3 (23 at 224). */
export function blurKernelSize(size: [number, number]): number {
  const k = Math.floor(0.1 * Math.min(...size));
  return Math.max(3, k % 2 === 0 ? k + 1 : k);
}

function base(name: string, o: PresetOptions, scale: [number, number]): AugmentPreset {
  const size = sizeOf2(o.size);
  const normalize = o.normalize !== undefined ? o.normalize : (o.channels ?? 3) === 3 ? { mean: IMAGENET_MEAN, std: IMAGENET_STD } : null;
  const erase = o.erase ? { p: o.erase.p, scale: o.erase.scale ?? [0.02, 0.33] as [number, number], ratio: o.erase.ratio ?? [0.3, 3.3] as [number, number], value: o.erase.value ?? 0 } : null;
  return { name, size, scale, ratio: [3 / 4, 4 / 3], hflip: 0.5, jitter: null, grayscale: 0, blur: null, solarize: null, normalize, erase };
}

/**
 * SimCLR (Chen et al. 2020, google-research/simclr data_util.py): RandomResizedCrop (scale
 * 0.08-1), flip, ColorJitter(0.8 s, 0.8 s, 0.8 s, 0.2 s) with p = 0.8, grayscale p = 0.2, and
 * (ImageNet; `blur`, default on from 64 px) Gaussian blur p = 0.5, sigma in [0.1, 2], kernel ~10%
 * of the size. `strength` s: 1.0 ImageNet, 0.5 the CIFAR recipe.
 */
export function simclrPreset(o: PresetOptions & { strength?: number; blur?: boolean }): AugmentPreset {
  const p = base('simclr', o, [0.08, 1]);
  const s = o.strength ?? 1;
  p.jitter = { p: 0.8, brightness: 0.8 * s, contrast: 0.8 * s, saturation: 0.8 * s, hue: 0.2 * s };
  p.grayscale = 0.2;
  if (o.blur ?? Math.min(...p.size) >= 64) p.blur = { p: 0.5, kernelSize: blurKernelSize(p.size), sigma: [0.1, 2] };
  return p;
}

/**
 * MoCo v2 "aug+" (Chen et al. 2020, facebookresearch/moco): RandomResizedCrop (scale 0.2-1),
 * ColorJitter(0.4, 0.4, 0.4, 0.1) p = 0.8, grayscale p = 0.2, Gaussian blur sigma [0.1, 2]
 * p = 0.5, flip. (Flip commutes with the colour ops and the symmetric blur, so it runs first.)
 */
export function mocoV2Preset(o: PresetOptions): AugmentPreset {
  const p = base('mocov2', o, [0.2, 1]);
  p.jitter = { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 };
  p.grayscale = 0.2;
  p.blur = { p: 0.5, kernelSize: blurKernelSize(p.size), sigma: [0.1, 2] };
  return p;
}

function byolColour(p: AugmentPreset): AugmentPreset {
  p.jitter = { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };
  p.grayscale = 0.2;
  return p;
}

/**
 * BYOL's asymmetric pair (Grill et al. 2020): RandomResizedCrop (scale 0.08-1), flip,
 * ColorJitter(0.4, 0.4, 0.2, 0.1) p = 0.8, grayscale p = 0.2; view 1 blur p = 1.0 and no
 * solarisation, view 2 blur p = 0.1 and solarise p = 0.2 (threshold 0.5). Returns [view 1, view 2].
 */
export function byolPresets(o: PresetOptions): [AugmentPreset, AugmentPreset] {
  const v1 = byolColour(base('byol1', o, [0.08, 1]));
  const v2 = byolColour(base('byol2', o, [0.08, 1]));
  v1.blur = { p: 1, kernelSize: blurKernelSize(v1.size), sigma: [0.1, 2] };
  v2.blur = { p: 0.1, kernelSize: blurKernelSize(v2.size), sigma: [0.1, 2] };
  v2.solarize = { p: 0.2, threshold: 0.5 };
  return [v1, v2];
}

/** Options of {@link multiCropPresets}. */
export interface MultiCropOptions extends Omit<PresetOptions, 'size'> {
  /** Global and local crop sizes (224 and 96 in the papers). */
  globalSize: number | [number, number];
  localSize: number | [number, number];
  /** Number of local crops (DINO 8, SwAV 6). */
  localCrops: number;
  /** 'dino' (default) or 'swav' colour and blur rules. */
  style?: 'dino' | 'swav';
  /** Area ranges; defaults DINO global (0.4, 1) / local (0.05, 0.4), SwAV (0.14, 1) / (0.05, 0.14). */
  globalScale?: [number, number];
  localScale?: [number, number];
}

/**
 * Multi-crop (SwAV, Caron et al. 2020; DINO, Caron et al. 2021): 2 global crops then
 * `localCrops` local crops at another size, all with flip, colour jitter p = 0.8 and grayscale
 * p = 0.2. DINO: jitter (0.4, 0.4, 0.2, 0.1); global crop 1 blur p = 1.0, global crop 2 blur
 * p = 0.1 and solarise p = 0.2, local crops blur p = 0.5. SwAV: jitter (0.8, 0.8, 0.8, 0.2),
 * blur p = 0.5 on every crop. Returns the presets in crop order (globals first).
 */
export function multiCropPresets(o: MultiCropOptions): AugmentPreset[] {
  const swav = o.style === 'swav';
  if (!(Number.isInteger(o.localCrops) && o.localCrops >= 0)) throw new Error(`multiCropPresets: localCrops must be a non-negative integer, got ${o.localCrops}`);
  const gs = o.globalScale ?? (swav ? [0.14, 1] : [0.4, 1]);
  const ls = o.localScale ?? (swav ? [0.05, 0.14] : [0.05, 0.4]);
  const crop = (name: string, size: number | [number, number], scale: [number, number], blurP: number) => {
    const p = base(name, { ...o, size }, scale);
    p.jitter = swav ? { p: 0.8, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2 } : { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };
    p.grayscale = 0.2;
    p.blur = { p: blurP, kernelSize: blurKernelSize(p.size), sigma: [0.1, 2] };
    return p;
  };
  const g1 = crop('global1', o.globalSize, gs, swav ? 0.5 : 1);
  const g2 = crop('global2', o.globalSize, gs, swav ? 0.5 : 0.1);
  if (!swav) g2.solarize = { p: 0.2, threshold: 0.5 };
  const locals = Array.from({ length: o.localCrops }, (_, i) => crop(`local${i + 1}`, o.localSize, ls, 0.5));
  return [g1, g2, ...locals];
}
