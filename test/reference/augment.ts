// Float64 references for the augmentation kernels: torchvision 0.14's tensor transforms one by
// one (no fusion), per image, on [C, H, W] images; augmentRef chains them in the pipeline order
// of src/kernels/augment.ts (crop+resize, hflip, jitter, grayscale, blur, solarize, normalize, erase).
import type { AugmentParams, Boxes } from '../../src/kernels/augment.js';

/** One image: [C, H, W] row-major float64. */
export interface Img {
  c: number;
  h: number;
  w: number;
  d: Float64Array;
}

const GRAY = [0.2989, 0.587, 0.114];
const at = (im: Img, c: number, y: number, x: number) => im.d[(c * im.h + y) * im.w + x];
const make = (c: number, h: number, w: number): Img => ({ c, h, w, d: new Float64Array(c * h * w) });
const map = (im: Img, f: (v: number, c: number, y: number, x: number) => number): Img => {
  const o = make(im.c, im.h, im.w);
  for (let c = 0; c < im.c; c++) for (let y = 0; y < im.h; y++) for (let x = 0; x < im.w; x++) o.d[(c * im.h + y) * im.w + x] = f(at(im, c, y, x), c, y, x);
  return o;
};
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** TF.crop then F.interpolate(bilinear, align_corners=False, antialias off). */
export function resizedCropRef(im: Img, top: number, left: number, bh: number, bw: number, oh: number, ow: number): Img {
  const o = make(im.c, oh, ow);
  const src = (dst: number, inn: number, out: number) => Math.max((dst + 0.5) * (inn / out) - 0.5, 0);
  for (let y = 0; y < oh; y++) {
    const fy = src(y, bh, oh);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, bh - 1);
    const ly = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = src(x, bw, ow);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, bw - 1);
      const lx = fx - x0;
      for (let c = 0; c < im.c; c++) {
        const g = (yy: number, xx: number) => at(im, c, top + yy, left + xx);
        o.d[(c * oh + y) * ow + x] = (1 - ly) * ((1 - lx) * g(y0, x0) + lx * g(y0, x1)) + ly * ((1 - lx) * g(y1, x0) + lx * g(y1, x1));
      }
    }
  }
  return o;
}

export const hflipRef = (im: Img): Img => map(im, (_v, c, y, x) => at(im, c, y, im.w - 1 - x));

/** rgb_to_grayscale(num_output_channels = C): the luma in every channel (a copy for C = 1). */
export const grayscaleRef = (im: Img): Img => (im.c === 1 ? map(im, (v) => v) : map(im, (_v, _c, y, x) => GRAY[0] * at(im, 0, y, x) + GRAY[1] * at(im, 1, y, x) + GRAY[2] * at(im, 2, y, x)));

export const brightnessRef = (im: Img, f: number): Img => map(im, (v) => clamp01(f * v));

/** Blend with the mean of the grayscale image (C = 3) or of the image (C = 1). */
export function contrastRef(im: Img, f: number): Img {
  const g = im.c === 3 ? grayscaleRef(im) : im;
  let s = 0;
  for (let i = 0; i < im.h * im.w; i++) s += g.d[i];
  const m = s / (im.h * im.w);
  return map(im, (v) => clamp01(f * v + (1 - f) * m));
}

export function saturationRef(im: Img, f: number): Img {
  if (im.c === 1) return im;
  const g = grayscaleRef(im);
  return map(im, (v, _c, y, x) => clamp01(f * v + (1 - f) * at(g, 0, y, x)));
}

/** torchvision _rgb2hsv, h = (h + f) mod 1, _hsv2rgb. */
export function hueRef(im: Img, f: number): Img {
  if (im.c === 1) return im;
  const o = make(3, im.h, im.w);
  for (let y = 0; y < im.h; y++) {
    for (let x = 0; x < im.w; x++) {
      const [r, g, b] = [0, 1, 2].map((c) => at(im, c, y, x));
      const maxc = Math.max(r, g, b);
      const minc = Math.min(r, g, b);
      const eq = maxc === minc;
      const cr = maxc - minc;
      const s = cr / (eq ? 1 : maxc);
      const div = eq ? 1 : cr;
      const [rc, gc, bc] = [(maxc - r) / div, (maxc - g) / div, (maxc - b) / div];
      let h = maxc === r ? bc - gc : maxc === g ? 2 + rc - bc : 4 + gc - rc;
      h = (h / 6 + 1) % 1;
      h = h + f - Math.floor(h + f);
      const i6 = Math.floor(h * 6);
      const fr = h * 6 - i6;
      const i = ((i6 % 6) + 6) % 6;
      const v = maxc;
      const p = clamp01(v * (1 - s));
      const q = clamp01(v * (1 - s * fr));
      const t = clamp01(v * (1 - s * (1 - fr)));
      const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i];
      for (let c = 0; c < 3; c++) o.d[(c * im.h + y) * im.w + x] = rgb[c];
    }
  }
  return o;
}

/** ColorJitter.forward with a fixed order and factors (an op with factor `undefined` is skipped). */
export function jitterRef(im: Img, order: readonly number[], f: readonly (number | undefined)[]): Img {
  let o = im;
  for (const k of order) {
    const v = f[k];
    if (v === undefined) continue;
    o = [brightnessRef, contrastRef, saturationRef, hueRef][k](o, v);
  }
  return o;
}

/** TF.gaussian_blur: separable normalised weights, reflect padding, depthwise 'valid' conv. */
export function blurRef(im: Img, k: number, sigma: number): Img {
  const half = (k - 1) / 2;
  const w = Array.from({ length: k }, (_, j) => Math.exp(-0.5 * ((j - half) / sigma) ** 2));
  const sum = w.reduce((a, b) => a + b, 0);
  const wn = w.map((v) => v / sum);
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  return map(im, (_v, c, y, x) => {
    let acc = 0;
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) acc += wn[a] * wn[b] * at(im, c, refl(y + a - half, im.h), refl(x + b - half, im.w));
    return acc;
  });
}

export const solarizeRef = (im: Img, t: number): Img => map(im, (v) => (v >= t ? 1 - v : v));
export const normalizeRef = (im: Img, mean: readonly number[], std: readonly number[]): Img => map(im, (v, c) => (v - mean[c]) / std[c]);
export const eraseRef = (im: Img, t: number, l: number, h: number, w: number, value: number): Img =>
  map(im, (v, _c, y, x) => (y >= t && y < t + h && x >= l && x < l + w ? value : v));

const box = (b: Boxes, n: number) => [b.top[n], b.left[n], b.height[n], b.width[n]];

/** The whole pipeline on a batch [N, C, H, W] with src/kernels/augment.ts's parameters. */
export function augmentRef(x: ArrayLike<number>, shape: readonly number[], prm: AugmentParams): { data: Float64Array; shape: number[] } {
  const [n, c, h, w] = shape;
  const outs: Img[] = [];
  for (let i = 0; i < n; i++) {
    let im: Img = { c, h, w, d: Float64Array.from(Array.prototype.slice.call(x, i * c * h * w, (i + 1) * c * h * w) as number[]) };
    const [t, l, bh, bw] = prm.crop ? box(prm.crop, i) : [0, 0, h, w];
    const [oh, ow] = prm.size ?? [bh, bw];
    im = resizedCropRef(im, t, l, bh, bw, oh, ow);
    if (prm.hflip?.[i]) im = hflipRef(im);
    const j = prm.jitter;
    if (j && (j.apply === undefined || j.apply[i])) {
      const order = j.order ? Array.from({ length: 4 }, (_, k) => j.order![4 * i + k]) : [0, 1, 2, 3];
      im = jitterRef(im, order, [j.brightness?.[i], j.contrast?.[i], j.saturation?.[i], j.hue?.[i]]);
    }
    if (prm.grayscale?.[i]) im = grayscaleRef(im);
    if (prm.blur && prm.blur.sigma[i] > 0) im = blurRef(im, prm.blur.kernelSize, prm.blur.sigma[i]);
    if (prm.solarize && (prm.solarize.apply === undefined || prm.solarize.apply[i])) im = solarizeRef(im, prm.solarize.threshold);
    if (prm.normalize) im = normalizeRef(im, prm.normalize.mean, prm.normalize.std);
    if (prm.erase && prm.erase.height[i] > 0 && prm.erase.width[i] > 0) {
      const [et, el, eh, ew] = box(prm.erase, i);
      im = eraseRef(im, et, el, eh, ew, prm.erase.value?.[i] ?? 0);
    }
    outs.push(im);
  }
  const o = outs[0] ?? make(c, h, w);
  const data = new Float64Array(n * o.c * o.h * o.w);
  outs.forEach((im, i) => data.set(im.d, i * im.d.length));
  return { data, shape: [n, c, o.h, o.w] };
}
