/**
 * Weight initialisers with PyTorch's formulas (torch.nn.init), drawn on the GPU from a seeded
 * webgrad `Generator` (`opts.generator`, else the global one of `manualSeed`). Each returns a new
 * tensor; modules wrap it with `param()`. Fans follow PyTorch: for a weight [out, in, ...k],
 * fan_in = in * prod(k) and fan_out = out * prod(k).
 */
import { binary, clamp, where } from '../../src/kernels/elementwise.js';
import { rand, randn, type Generator } from '../../src/random.js';
import { scope } from '../../src/scope.js';
import { fmt, sizeOf, type Shape } from '../../src/shape.js';
import { zeros } from '../../src/creation.js';
import type { Tensor } from '../../src/tensor.js';

/** Constant initialisers (nn.init.zeros_ / ones_): the creation functions, re-exported so `init.*` is complete. */
export { zeros, ones } from '../../src/creation.js';

/** Nonlinearities {@link calculateGain} knows (PyTorch's list). */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** Which fan scales a Kaiming init: fan_in keeps forward variance, fan_out backward variance. */
export type FanMode = 'fan_in' | 'fan_out';

/** The generator every initialiser takes. */
export interface InitGeneratorOptions {
  /** The random stream (default: the global generator). */
  generator?: Generator;
}

/** Options of {@link kaimingUniform} and {@link kaimingNormal}. */
export interface KaimingOptions extends InitGeneratorOptions {
  /** Negative slope of the leaky ReLU after this layer (default 0). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/** Options of {@link xavierUniform} and {@link xavierNormal}. */
export interface XavierOptions extends InitGeneratorOptions {
  gain?: number;
}

/** Options of {@link truncNormal}: N(mean, std²) restricted to [a, b] (absolute bounds, as PyTorch). */
export interface TruncNormalOptions extends InitGeneratorOptions {
  mean?: number;
  std?: number;
  a?: number;
  b?: number;
}

/** PyTorch's recommended gain for a nonlinearity (`param`: the leaky ReLU slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
  }
}

/** fan_in and fan_out of a weight shape [out, in, ...kernel] (rank >= 2). */
export function fanInOut(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in and fan out need a weight of rank >= 2, got ${fmt(shape)}`);
  const receptive = sizeOf(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

function kaimingStd(op: string, shape: Shape, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' }: KaimingOptions): number {
  const { fanIn, fanOut } = fanInOut(shape);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  if (fan === 0) throw new Error(`${op}: ${mode} of ${fmt(shape)} is 0`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/**
 * U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015). With a = sqrt(5) (what
 * nn.Linear and nn.Conv2d use) the bound is 1 / sqrt(fan_in).
 */
export function kaimingUniform(shape: Shape, opts: KaimingOptions = {}): Tensor {
  if (sizeOf(shape) === 0) return zeros(shape);
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', shape, opts);
  return rand(shape, { low: -bound, high: bound, generator: opts.generator });
}

/** N(0, std²) with std = gain / sqrt(fan) (torchvision ResNets: mode 'fan_out', 'relu'). */
export function kaimingNormal(shape: Shape, opts: KaimingOptions = {}): Tensor {
  if (sizeOf(shape) === 0) return zeros(shape);
  return randn(shape, { std: kaimingStd('kaimingNormal', shape, opts), generator: opts.generator });
}

/** U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
export function xavierUniform(shape: Shape, { gain = 1, generator }: XavierOptions = {}): Tensor {
  if (sizeOf(shape) === 0) return zeros(shape);
  const { fanIn, fanOut } = fanInOut(shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return rand(shape, { low: -bound, high: bound, generator });
}

/** N(0, std²) with std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal(shape: Shape, { gain = 1, generator }: XavierOptions = {}): Tensor {
  if (sizeOf(shape) === 0) return zeros(shape);
  const { fanIn, fanOut } = fanInOut(shape);
  return randn(shape, { std: gain * Math.sqrt(2 / (fanIn + fanOut)), generator });
}

/** erfc(x), Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Redraw rounds after which the expected count of draws still outside [a, b] is below this. */
const TRUNC_LEFTOVER = 1e-6;
const TRUNC_MAX_ROUNDS = 32;

/**
 * N(mean, std²) truncated to [a, b] (timm's ViT init: std 0.02, a = -2, b = 2). Exact by
 * rejection: values outside [a, b] are redrawn for a fixed number of rounds chosen so the
 * expected count still outside is below 1e-6 (those few are clamped), so the stream use depends
 * only on the shape and bounds. Throws when [a, b] holds too little of the normal's mass.
 */
export function truncNormal(shape: Shape, { mean = 0, std = 1, a = -2, b = 2, generator }: TruncNormalOptions = {}): Tensor {
  if (!(std >= 0 && Number.isFinite(std) && Number.isFinite(mean))) throw new Error(`truncNormal: need finite mean and std >= 0, got mean=${mean} std=${std}`);
  if (!(a < b)) throw new Error(`truncNormal: need a < b, got a=${a} b=${b}`);
  if (!(mean >= a && mean <= b)) throw new Error(`truncNormal: mean ${mean} lies outside [${a}, ${b}]`);
  const n = sizeOf(shape);
  // P(outside) of one draw, from the tails directly (1 - mass would cancel).
  const miss = std === 0 ? 0 : 0.5 * erfc((mean - a) / (std * Math.SQRT2)) + 0.5 * erfc((b - mean) / (std * Math.SQRT2));
  const rounds = miss <= 0 || n === 0 ? 0 : Math.max(0, Math.ceil(Math.log(TRUNC_LEFTOVER / n) / Math.log(miss)) - 1);
  if (rounds > TRUNC_MAX_ROUNDS) {
    throw new Error(`truncNormal: [${a}, ${b}] holds only ${(1 - miss).toPrecision(3)} of N(${mean}, ${std}²); rejection would need ${rounds} redraws of ${fmt(shape)}`);
  }
  return scope(() => {
    let x = randn(shape, { mean, std, generator });
    for (let r = 0; r < rounds; r++) {
      const outside = binary('add', binary('lt', x, a), binary('gt', x, b));
      x = where(outside, randn(shape, { mean, std, generator }), x);
    }
    return clamp(x, Number.isFinite(a) ? a : undefined, Number.isFinite(b) ? b : undefined);
  });
}
