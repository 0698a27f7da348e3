/**
 * 2-D convolution as an implicit GEMM (no im2col buffer), as `torch.nn.functional.conv2d`:
 * x [N, C, H, W] * w [O, C/groups, KH, KW] -> y [N, O, Ho, Wo] with stride, zero padding,
 * dilation and groups, plus its two adjoints, the gradients to the input (a transposed
 * convolution, itself an implicit GEMM) and to the weight (an implicit GEMM over N*Ho*Wo).
 * Two strategies, as matmul (docs/design.md "Two kernel strategies"):
 *  - 'cpu-simd' (conv2d_simd.ts): operands packed channels-last into vec4s along the reduction
 *    axis, one subgroup per workgroup, subgroupBroadcast register tiles;
 *  - 'gpu' (conv2d_tiled.ts): workgroup-memory tiles gathered from the NCHW tensors in place.
 * Every operand is read through its strides (views are never copied first).
 */
import { runtime } from '../runtime.js';
import { fmt, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { contiguous, expand, reshape } from '../views.js';
import { copyInto, fillInto } from './elementwise.js';
import { launchReduce } from './reduce.js';
import { conv2dBackwardSimd, conv2dForwardSimd } from './conv2d_simd.js';
import { conv2dBackwardTiled, conv2dForwardTiled } from './conv2d_tiled.js';

/** Which conv2d kernels to use (default: the adapter's strategy, see `Strategy`). */
export type Conv2dStrategy = 'cpu-simd' | 'gpu';

/** A per-axis hyperparameter: one number for both spatial axes, or [along H, along W]. */
export type Pair = number | readonly [number, number];

/**
 * Options of {@link conv2d}: PyTorch's `F.conv2d` arguments. `padding` is zeros on both sides of
 * each axis, or 'valid' (none) or 'same' (output size = input size; stride 1 only; an odd total
 * puts the extra zero at the bottom / right, as PyTorch does).
 */
export interface Conv2dOptions {
  /** [O], added to every output pixel. */
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair | 'valid' | 'same';
  dilation?: Pair;
  groups?: number;
  strategy?: Conv2dStrategy;
}

/**
 * A validated convolution: sizes, per-group channel counts and the spatial hyperparameters.
 * `ph` / `pw` are the zeros before the first row / column (the ones after only matter through
 * Ho / Wo). Ho = floor((H + ph + ph_after - dh*(KH-1) - 1) / sh) + 1, likewise Wo.
 */
export interface Conv2dGeometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number;
  G: number; Cg: number; Og: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  Ho: number; Wo: number;
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * Validates the shapes and options of a convolution and returns its geometry (pure; no GPU).
 * Throws one line naming the op and the shapes.
 */
export function conv2dGeometry(xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): Conv2dGeometry {
  const shapes = `x=${fmt(xShape)} w=${fmt(wShape)}`;
  const fail = (what: string): never => {
    throw new Error(`conv2d: ${what}, ${shapes}`);
  };
  if (xShape.length !== 4) fail('x must be 4-D [N, C, H, W]');
  if (wShape.length !== 4) fail('w must be 4-D [O, C/groups, KH, KW]');
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  const G = opts.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) fail(`groups must be a positive integer, got ${G}`);
  if (C % G !== 0) fail(`${C} input channels are not divisible by groups=${G}`);
  if (O % G !== 0) fail(`${O} output channels are not divisible by groups=${G}`);
  if (Cg !== C / G) fail(`w has ${Cg} input channels per group, x has ${C}/${G}`);
  const [sh, sw] = pair(opts.stride ?? 1);
  const [dh, dw] = pair(opts.dilation ?? 1);
  for (const [k, v] of [['stride', sh], ['stride', sw], ['dilation', dh], ['dilation', dw]] as const) {
    if (!Number.isInteger(v) || v < 1) fail(`${k} must be positive integers, got ${v}`);
  }
  const pad = opts.padding ?? 0;
  let ph: number, pw: number, phAfter: number, pwAfter: number;
  if (pad === 'valid') [ph, pw, phAfter, pwAfter] = [0, 0, 0, 0];
  else if (pad === 'same') {
    if (sh !== 1 || sw !== 1) fail(`padding='same' needs stride 1, got [${sh},${sw}]`);
    const th = dh * (KH - 1);
    const tw = dw * (KW - 1);
    [ph, pw, phAfter, pwAfter] = [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
  } else {
    [ph, pw] = pair(pad);
    [phAfter, pwAfter] = [ph, pw];
    if (![ph, pw].every((v) => Number.isInteger(v) && v >= 0)) fail(`padding must be non-negative integers, got [${ph},${pw}]`);
  }
  const Ho = Math.floor((H + ph + phAfter - dh * (KH - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + pw + pwAfter - dw * (KW - 1) - 1) / sw) + 1;
  if (KH < 1 || KW < 1 || Ho < 1 || Wo < 1) {
    fail(`the dilated kernel (${dh * (KH - 1) + 1}x${dw * (KW - 1) + 1}) is larger than the padded input (${H + ph + phAfter}x${W + pw + pwAfter})`);
  }
  return { N, C, H, W, O, KH, KW, G, Cg, Og: O / G, sh, sw, ph, pw, dh, dw, Ho, Wo };
}

/** Output shape [N, O, Ho, Wo] of {@link conv2d} (pure; throws like it). */
export function conv2dShape(xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): number[] {
  const g = conv2dGeometry(xShape, wShape, opts);
  return [g.N, g.O, g.Ho, g.Wo];
}

function checkTensor(name: string, t: Tensor, x: Tensor, w: Tensor): void {
  if (t.dtype !== 'f32') throw new Error(`conv2d: f32 tensors only, got ${name} ${t.dtype} ${fmt(t.shape)} (x=${fmt(x.shape)} w=${fmt(w.shape)})`);
  if (t.strides.some((s) => s < 0)) throw new Error(`conv2d: ${name} has a negative stride (x=${fmt(x.shape)} w=${fmt(w.shape)})`);
}

function strategyOf(opts: Conv2dOptions): Conv2dStrategy {
  const s = opts.strategy ?? runtime().strategy;
  if (s !== 'cpu-simd' && s !== 'gpu') throw new Error(`conv2d: unknown strategy '${String(s)}'`);
  return s;
}

/**
 * Convolution forward, as `F.conv2d(x, w, bias, stride, padding, dilation, groups)`:
 * x [N, C, H, W], w [O, C/groups, KH, KW], bias [O] -> a new contiguous [N, O, Ho, Wo] (f32).
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(x.shape, w.shape, opts);
  const bias = opts.bias ?? null;
  for (const [n, t] of [['x', x], ['w', w], ['bias', bias]] as const) if (t) checkTensor(n, t, x, w);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.O)) {
    throw new Error(`conv2d: bias must be [${g.O}], got ${fmt(bias.shape)} (x=${fmt(x.shape)} w=${fmt(w.shape)})`);
  }
  const y = Tensor.empty([g.N, g.O, g.Ho, g.Wo], 'f32');
  if (y.size === 0) return y;
  // The kernels read the bias with unit stride.
  const b = bias && bias.strides[0] !== 1 ? contiguous(bias) : bias;
  try {
    forward(g, x, w, b, y, opts);
  } finally {
    if (b !== bias) b?.dispose();
  }
  return y;
}

function forward(g: Conv2dGeometry, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor, opts: Conv2dOptions): void {
  if (g.Cg === 0) {
    // An empty reduction: the bias alone, or zeros.
    if (!bias) fillInto(y, 0);
    else {
      const b1 = reshape(bias, [1, g.O, 1, 1]);
      const b = expand(b1, y.shape);
      copyInto(y, b);
      b.dispose();
      b1.dispose();
    }
    return;
  }
  if (strategyOf(opts) === 'cpu-simd') conv2dForwardSimd(g, x, w, bias, y);
  else conv2dForwardTiled(g, x, w, bias, y);
}

/** Which gradients {@link conv2dBackward} computes. */
export interface Conv2dGrads {
  dx: Tensor | null; // [N, C, H, W]
  dw: Tensor | null; // [O, C/groups, KH, KW]
  dbias: Tensor | null; // [O]
}

/**
 * The gradients of a convolution y = conv2d(x, w, opts) given dy = dL/dy [N, O, Ho, Wo]: to the
 * input (needs w), to the weight (needs x) and to the bias (the sum of dy over N, Ho, Wo), each
 * only where asked. `x` and `w` may be null when their gradient partner is not asked for.
 */
export function conv2dBackward(
  x: Tensor | null, w: Tensor | null, dy: Tensor, xShape: Shape, wShape: Shape, opts: Conv2dOptions,
  want: { dx: boolean; dw: boolean; dbias: boolean },
): Conv2dGrads {
  const g = conv2dGeometry(xShape, wShape, opts);
  const want4 = [g.N, g.O, g.Ho, g.Wo];
  if (dy.dtype !== 'f32' || dy.strides.some((s) => s < 0)) {
    throw new Error(`conv2d backward: dy must be f32 with non-negative strides, got ${dy.dtype} ${fmt(dy.shape)} (x=${fmt(xShape)} w=${fmt(wShape)})`);
  }
  if (dy.rank !== 4 || dy.shape.some((d, i) => d !== want4[i])) {
    throw new Error(`conv2d backward: dy must be ${fmt(want4)}, got ${fmt(dy.shape)} (x=${fmt(xShape)} w=${fmt(wShape)})`);
  }
  if ((want.dx && !w) || (want.dw && !x)) throw new Error('conv2d backward: dx needs w and dw needs x');
  const dbias = want.dbias ? launchReduce({ op: 'sum', x: dy, axes: [0, 2, 3] }) : null;
  // Empty outputs need no kernel; empty reductions (no output channel per group, no pixel) give zeros.
  const kx = want.dx && g.N * g.C * g.H * g.W > 0 && g.Og > 0;
  const kw = want.dw && g.O * g.Cg * g.KH * g.KW > 0 && dy.size > 0;
  const r = !(kx || kw) ? { dx: null, dw: null }
    : strategyOf(opts) === 'cpu-simd' ? conv2dBackwardSimd(g, x, w, dy, kx, kw)
      : conv2dBackwardTiled(g, x, w, dy, kx, kw);
  const zeros = (shape: Shape) => {
    const t = Tensor.empty(shape, 'f32');
    if (t.size > 0) fillInto(t, 0);
    return t;
  };
  const dx = want.dx ? r.dx ?? zeros(xShape) : null;
  const dw = want.dw ? r.dw ?? zeros(wShape) : null;
  return { dx, dw, dbias };
}
