/**
 * Augmentation kernels (shaders/augment.wgsl, augment_color.wgsl, augment_common.wgsl): one
 * pipeline of torchvision 0.14 tensor transforms over a whole NCHW f32 batch, with parameters
 * given per image. The stages run as at most four dispatches:
 *   crop   resized crop (bilinear, antialias off) + horizontal flip, to the output size
 *   colour ColorJitter in each image's op order + grayscale (one workgroup per image: contrast
 *          needs the image's mean as it is when contrast runs)
 *   blur   Gaussian blur with reflect padding, two separable passes
 * and the last dispatch applies solarize -> normalize -> erase as it writes. Stages no image
 * needs are skipped. No gradients (augmentations sit before the model).
 */
import { Params } from '../command_batch.js';
import { tensor } from '../creation.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';
import { copy } from './elementwise.js';

/** A box per image: element n of each array is image n's (top, left, height, width), in pixels. */
export interface Boxes {
  top: ArrayLike<number>;
  left: ArrayLike<number>;
  height: ArrayLike<number>;
  width: ArrayLike<number>;
}

/** ColorJitter per image; an op whose factor array is absent is not applied (as torchvision's `None`). */
export interface JitterParams {
  /** 1 applies the jitter to image n (RandomApply); default: every image. */
  apply?: ArrayLike<number>;
  /**
   * [N, 4] row-major op order per image, 0 brightness, 1 contrast, 2 saturation, 3 hue (a
   * permutation, as ColorJitter's randperm(4)); default 0, 1, 2, 3 for every image.
   */
  order?: ArrayLike<number>;
  /** Factors >= 0: clamp(f x, 0, 1). */
  brightness?: ArrayLike<number>;
  /** Factors >= 0: clamp(f x + (1 - f) mean(gray(x)), 0, 1), one mean per image. */
  contrast?: ArrayLike<number>;
  /** Factors >= 0: clamp(f x + (1 - f) gray(x), 0, 1); identity on 1-channel images. */
  saturation?: ArrayLike<number>;
  /** Factors in [-0.5, 0.5]: hue rotation through HSV; identity on 1-channel images. */
  hue?: ArrayLike<number>;
}

/**
 * Per-image parameters of one augmentation pipeline over a batch of N images, applied in this
 * order: crop + resize, hflip, jitter, grayscale, blur, solarize, normalize, erase. Every array
 * has N entries (one per image) unless stated; absent parts are skipped.
 */
export interface AugmentParams {
  /** Output [OH, OW]; default: the crop box size when all boxes agree, else required. */
  size?: readonly [number, number];
  /** Crop boxes in the input (within the image); default: the whole image. */
  crop?: Boxes;
  /** 1 mirrors image n along W. */
  hflip?: ArrayLike<number>;
  jitter?: JitterParams;
  /** 1 turns image n to grayscale (0.2989 R + 0.587 G + 0.114 B in every channel); no-op for C = 1. */
  grayscale?: ArrayLike<number>;
  /** Gaussian blur: odd kernel size (its half below OH and OW), sigma per image (0: not blurred). */
  blur?: { kernelSize: number; sigma: ArrayLike<number> };
  /** Solarize: x >= threshold -> 1 - x for images with apply[n] = 1 (default: all). */
  solarize?: { threshold: number; apply?: ArrayLike<number> };
  /** (x - mean[c]) / std[c], C entries each. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  /** Erase boxes in the output (height or width 0: none) set to value[n] (default 0), after normalize. */
  erase?: Boxes & { value?: ArrayLike<number> };
}

/** How the colour kernel sums an image: one subgroup per image, or a workgroup-memory butterfly. */
export type ColorPath = 'subgroup' | 'tree';

/** Options of {@link augmentBatch}. */
export interface AugmentBatchOptions {
  /** The op name in errors (default 'augment'). */
  op?: string;
  /** Force the colour kernel's reduction (tests); default from the adapter. */
  colorPath?: ColorPath;
}

const REC = 20; // f32 per image record (augment_common.wgsl)
const WG = 64;
const OPS = ['brightness', 'contrast', 'saturation', 'hue'] as const;

function perImage(op: string, what: string, a: ArrayLike<number> | undefined, n: number, per = 1): ArrayLike<number> | undefined {
  if (a === undefined) return undefined;
  if (a.length !== n * per) {
    throw new Error(`${op}: ${what} has ${a.length} values, expected ${per === 1 ? n : `${n} x ${per}`} for a batch of ${n}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`${op}: ${what}[${i}] is ${a[i]}`);
  }
  return a;
}

function checkBoxes(op: string, what: string, b: Boxes, n: number, h: number, w: number, allowEmpty: boolean): void {
  for (const k of ['top', 'left', 'height', 'width'] as const) perImage(op, `${what}.${k}`, b[k], n);
  for (let i = 0; i < n; i++) {
    const [t, l, bh, bw] = [b.top[i], b.left[i], b.height[i], b.width[i]];
    const ints = [t, l, bh, bw].every((v) => Number.isInteger(v) && v >= 0);
    const empty = bh === 0 || bw === 0;
    if (!ints || (!allowEmpty && empty) || (!empty && (t + bh > h || l + bw > w))) {
      throw new Error(`${op}: ${what} box ${i} (top ${t}, left ${l}, height ${bh}, width ${bw}) is not inside the ${h}x${w} image`);
    }
  }
}

/** Image n's op-order code: o0 + 8 o1 + 64 o2 + 512 o3, 7 for an op not applied. */
function orderCode(op: string, j: JitterParams, n: number): number {
  const on = OPS.map((k) => j[k] !== undefined);
  let code = 0;
  const seen = new Set<number>();
  for (let k = 0; k < 4; k++) {
    const o = j.order ? j.order[4 * n + k] : k;
    if (!Number.isInteger(o) || o < 0 || o > 3 || seen.has(o)) {
      throw new Error(`${op}: jitter.order row ${n} is not a permutation of 0..3: [${Array.from({ length: 4 }, (_, i) => j.order![4 * n + i])}]`);
    }
    seen.add(o);
    code += (on[o] ? o : 7) * 8 ** k;
  }
  return code;
}

/** Packs the per-image records of augment_common.wgsl. */
function records(op: string, prm: AugmentParams, n: number, h: number, w: number, oh: number, ow: number): Float32Array {
  const rec = new Float32Array(n * REC);
  const j = prm.jitter;
  const jit = j && {
    apply: perImage(op, 'jitter.apply', j.apply, n),
    f: OPS.map((k) => perImage(op, `jitter.${k}`, j[k], n)),
  };
  perImage(op, 'jitter.order', j?.order, n, 4);
  if (jit) {
    jit.f.forEach((a, k) => {
      for (let i = 0; a && i < n; i++) {
        const bad = k === 3 ? !(a[i] >= -0.5 && a[i] <= 0.5) : !(a[i] >= 0);
        if (bad) throw new Error(`${op}: jitter.${OPS[k]}[${i}] = ${a[i]} is outside ${k === 3 ? '[-0.5, 0.5]' : '[0, inf)'}`);
      }
    });
  }
  const flip = perImage(op, 'hflip', prm.hflip, n);
  const gray = perImage(op, 'grayscale', prm.grayscale, n);
  const sigma = perImage(op, 'blur.sigma', prm.blur?.sigma, n);
  const sol = perImage(op, 'solarize.apply', prm.solarize?.apply, n);
  const ev = perImage(op, 'erase.value', prm.erase?.value, n);
  for (let i = 0; i < n; i++) {
    const r = rec.subarray(i * REC, (i + 1) * REC);
    const c = prm.crop;
    r.set(c ? [c.top[i], c.left[i], c.height[i], c.width[i]] : [0, 0, h, w], 0);
    const on = jit ? (jit.apply ? jit.apply[i] : 1) : 0;
    r.set([flip?.[i] ?? 0, on, jit ? orderCode(op, j!, i) : 0, gray?.[i] ?? 0], 4);
    r.set(jit ? jit.f.map((a) => a?.[i] ?? 0) : [0, 0, 0, 0], 8);
    if (sigma && !(sigma[i] >= 0)) throw new Error(`${op}: blur.sigma[${i}] = ${sigma[i]} is negative`);
    r.set([sigma?.[i] ?? 0, prm.solarize ? (sol ? sol[i] : 1) : 0, ev?.[i] ?? 0, 0], 12);
    const e = prm.erase;
    r.set(e ? [e.top[i], e.left[i], e.height[i], e.width[i]] : [0, 0, 0, 0], 16);
  }
  if (prm.erase) checkBoxes(op, 'erase', prm.erase, n, oh, ow, true);
  return rec;
}

function outputSize(op: string, prm: AugmentParams, n: number, h: number, w: number): [number, number] {
  if (prm.size) {
    const [oh, ow] = prm.size;
    if (!(Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0)) throw new Error(`${op}: size [${prm.size}] must be two positive integers`);
    return [oh, ow];
  }
  if (!prm.crop || n === 0) return [h, w];
  const { height, width } = prm.crop;
  for (let i = 1; i < n; i++) {
    if (height[i] !== height[0] || width[i] !== width[0]) throw new Error(`${op}: crop boxes differ in size; give params.size`);
  }
  return [height[0], width[0]];
}

function colorPlan(op: string, forced?: ColorPath): { slots: Record<string, string | number>; wg: number } {
  const rt = runtime();
  const sub = rt.hasFeature('subgroups') && rt.subgroupSize >= 2;
  const path = forced ?? (rt.strategy === 'cpu-simd' && sub ? 'subgroup' : 'tree');
  if (path === 'subgroup' && !sub) throw new Error(`${op}: the subgroup colour path needs the 'subgroups' feature, which this device lacks`);
  const sg = path === 'subgroup';
  return {
    slots: { SG: sg ? 1 : 0, XOR: sg ? 'subgroupShuffleXor(v, m)' : 'xor_wg(v, m, lid)', V: 'f32', CH: 1 },
    wg: sg ? rt.subgroupSize : WG,
  };
}

/**
 * Runs one augmentation pipeline on `x` [N, C, H, W] (f32, C = 1 or 3, values in [0, 1] for the
 * colour ops) with per-image parameters; returns a new contiguous [N, C, OH, OW] tensor. Throws
 * one-line errors naming the shapes for a wrong batch, parameter count or box.
 */
export function augmentBatch(x: Tensor, prm: AugmentParams, opts: AugmentBatchOptions = {}): Tensor {
  const op = opts.op ?? 'augment';
  if (x.dtype !== 'f32' || x.rank !== 4 || (x.shape[1] !== 1 && x.shape[1] !== 3)) {
    throw new Error(`${op}: expects an f32 batch [N, C, H, W] with C = 1 or 3, got ${x.dtype} ${fmt(x.shape)}`);
  }
  const [n, c, h, w] = x.shape;
  const [oh, ow] = outputSize(op, prm, n, h, w);
  if (prm.crop) checkBoxes(op, 'crop', prm.crop, n, h, w, false);
  if (!prm.crop && (oh !== h || ow !== w)) throw new Error(`${op}: output size [${oh},${ow}] differs from the input ${fmt(x.shape)} without crop boxes`);
  if (prm.normalize) {
    const { mean, std } = prm.normalize;
    if (mean.length !== c || std.length !== c || std.some((s) => s === 0 || !Number.isFinite(s)) || mean.some((m) => !Number.isFinite(m))) {
      throw new Error(`${op}: normalize needs ${c} finite means and non-zero stds for ${fmt(x.shape)}, got mean [${mean}] std [${std}]`);
    }
  }
  const k = prm.blur?.kernelSize ?? 0;
  if (prm.blur && !(Number.isInteger(k) && k > 0 && k % 2 === 1 && (k - 1) / 2 < oh && (k - 1) / 2 < ow)) {
    throw new Error(`${op}: blur kernel size ${k} must be odd and positive with k//2 below the output size [${oh},${ow}] (reflect padding)`);
  }
  if (prm.solarize && !Number.isFinite(prm.solarize.threshold)) throw new Error(`${op}: solarize threshold ${prm.solarize.threshold}`);
  const rec = records(op, prm, n, h, w, oh, ow);
  const out = Tensor.empty([n, c, oh, ow], 'f32');
  if (out.size === 0) return out;

  const any = (a?: ArrayLike<number>) => !!a && Array.prototype.some.call(a, (v: number) => v !== 0);
  const j = prm.jitter;
  const needColor = (!!j && (j.apply === undefined || any(j.apply)) && OPS.some((o) => j[o] !== undefined)) || (c === 3 && any(prm.grayscale));
  const needBlur = !!prm.blur && any(prm.blur.sigma);
  const needCrop = !!prm.crop || any(prm.hflip) || oh !== h || ow !== w || (!needColor && !needBlur);

  const recT = tensor(rec, { shape: [n, REC] });
  const dense = x.isContiguous ? x : copy(x);
  const mean = prm.normalize ? [...prm.normalize.mean, 0, 0, 0].slice(0, 4) : [0, 0, 0, 0];
  const std = prm.normalize ? [...prm.normalize.std, 1, 1, 1].slice(0, 4) : [1, 1, 1, 1];
  const stages = [needCrop && 'crop', needColor && 'color', needBlur && 'blur_h', needBlur && 'blur_v'].filter((s): s is string => !!s);
  let cur = dense;
  let curOff = dense.offset;
  let [ch, cw] = [h, w];
  stages.forEach((stage, si) => {
    const last = si === stages.length - 1;
    const dst = last ? out : Tensor.empty([n, c, oh, ow], 'f32');
    const params = new Params()
      .u32(n, c, ch, cw, oh, ow, curOff, last ? 1 : 0)
      .u32(k, prm.normalize ? 1 : 0).f32(prm.solarize?.threshold ?? 0).u32(0)
      .f32(...mean, ...std);
    const io = { inputs: [cur, recT], outputs: [dst], params };
    if (stage === 'color') {
      const plan = colorPlan(op, opts.colorPath);
      dispatch({ op, shader: 'augment_color', entry: 'augment_color', slots: plan.slots, overrides: { WG: plan.wg }, ...io, workgroups: n });
    } else {
      const count = stage === 'crop' ? n * oh * ow : n * c * oh * ow;
      dispatch({ op, shader: 'augment', entry: `augment_${stage}`, overrides: { WG }, ...io, workgroups: Math.ceil(count / WG) });
    }
    if (cur !== x) cur.dispose();
    cur = dst;
    curOff = 0;
    [ch, cw] = [oh, ow];
  });
  recT.dispose();
  return out;
}
