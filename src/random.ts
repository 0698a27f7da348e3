/**
 * Seeded random tensors from a counter-based generator (Philox4x32-10, shaders/random.wgsl).
 * A `Generator` is a (seed, offset) pair: each call reads the next n words of the seed's u32
 * stream starting at `offset`, then moves `offset` past them (rounded up to a multiple of 4 words,
 * one Philox block). So the same seed and the same sequence of calls give bit-identical tensors on
 * every adapter, and consecutive calls never reuse a word. Calls without `opts.generator` use the
 * global generator that `manualSeed` resets.
 */
import { launchRandom, launchRandperm, type RandomKind } from './kernels/random.js';
import { checkShape, type Shape } from './shape.js';
import type { Tensor } from './tensor.js';

const U64 = 1n << 64n;

/** A generator's full state: restoring it replays the same numbers. */
export interface GeneratorState {
  seed: bigint;
  /** Index of the next stream word to be read. */
  offset: bigint;
}

function toSeed(seed: number | bigint): bigint {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new Error(`manualSeed: seed ${seed} is not a safe integer (pass a bigint above 2^53)`);
  }
  const s = BigInt(seed);
  if (s < -(1n << 63n) || s >= U64) throw new Error(`manualSeed: seed ${s} outside [-2^63, 2^64)`);
  return BigInt.asUintN(64, s); // negative seeds wrap, as in PyTorch
}

/**
 * An explicit random stream: `new Generator(seed)`, passed as `opts.generator`. Its numbers depend
 * only on the seed and on the sizes of the calls made with it, never on other generators.
 */
export class Generator {
  #seed: bigint;
  #offset = 0n;

  /** A generator at the start of `seed`'s stream (seed: an integer in [-2^63, 2^64)). */
  constructor(seed: number | bigint = 0) {
    this.#seed = toSeed(seed);
  }

  /** Restarts at the beginning of `seed`'s stream; returns this generator. */
  manualSeed(seed: number | bigint): this {
    this.#seed = toSeed(seed);
    this.#offset = 0n;
    return this;
  }

  /** The 64-bit seed (the Philox key). */
  get seed(): bigint {
    return this.#seed;
  }

  /** Index of the next stream word a call will read. */
  get offset(): bigint {
    return this.#offset;
  }

  /** A copy of the state, for checkpoints. */
  getState(): GeneratorState {
    return { seed: this.#seed, offset: this.#offset };
  }

  /** Restores a state from `getState()` (any offset >= 0 is allowed). */
  setState(state: GeneratorState): this {
    if (state.offset < 0n) {
      throw new Error(`Generator.setState: offset ${state.offset} is negative`);
    }
    this.#seed = toSeed(state.seed);
    this.#offset = state.offset;
    return this;
  }

  /**
   * Reserves `words` stream words and returns the state a launch reads them at; the offset moves
   * to the next multiple of 4 at or after the end of the range.
   */
  take(words: number): GeneratorState {
    const pos = this.getState();
    this.#offset = ((pos.offset + BigInt(words) + 3n) / 4n) * 4n;
    return pos;
  }
}

/** The generator random ops use when no `opts.generator` is given. */
export const defaultGenerator = new Generator(0);

/**
 * Seeds the global generator: random calls made after it are reproducible. Returns the generator.
 * `seed` is an integer in [-2^63, 2^64) (a bigint for values above 2^53).
 */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator.manualSeed(seed);
}

/** Options every random op takes. */
export interface RandomOptions {
  /** The stream to draw from (default: the global generator of `manualSeed`). */
  generator?: Generator;
}

function draw(op: string, shape: Shape, dist: RandomKind, opts: RandomOptions): Tensor {
  checkShape(op, shape);
  const n = shape.reduce((a, b) => a * b, 1);
  return launchRandom(op, shape, dist, (opts.generator ?? defaultGenerator).take(n));
}

/** Raw random bits: u32 tensor whose element i is word i of the call's Philox stream. */
export function randomBits(shape: Shape, opts: RandomOptions = {}): Tensor {
  return draw('randomBits', shape, { kind: 'bits' }, opts);
}

/** Options of {@link rand}. */
export interface RandOptions extends RandomOptions {
  low?: number;
  high?: number;
}

/**
 * f32 uniform on [low, high) (default [0, 1)): low + (high - low) * x with x = (word >> 8) * 2^-24,
 * a 24-bit grid (in f32, so a wide range may round up to `high`, as in PyTorch).
 */
export function rand(shape: Shape, opts: RandOptions = {}): Tensor {
  const { low = 0, high = 1 } = opts;
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high)) {
    throw new Error(`rand: need finite low <= high, got low=${low} high=${high}`);
  }
  return draw('rand', shape, { kind: 'uniform', low, high }, opts);
}

/** Options of {@link randn}. */
export interface RandnOptions extends RandomOptions {
  mean?: number;
  std?: number;
}

/**
 * f32 normal N(mean, std^2) by Box-Muller: words 2k and 2k+1 give u1 = x + 2^-24 in (0, 1] and
 * u2 = x in [0, 1); element 2k = mean + std * r cos(2 pi u2), element 2k+1 =
 * mean + std * r sin(2 pi u2), with r = sqrt(-2 ln u1). |z| <= 5.77 (the smallest u1 is 2^-24).
 */
export function randn(shape: Shape, opts: RandnOptions = {}): Tensor {
  const { mean = 0, std = 1 } = opts;
  if (!Number.isFinite(mean) || !Number.isFinite(std) || std < 0) {
    throw new Error(`randn: need finite mean and std >= 0, got mean=${mean} std=${std}`);
  }
  return draw('randn', shape, { kind: 'normal', mean, std }, opts);
}

/**
 * i32 integers uniform on [low, high): low + hi32(word * (high - low)), Lemire's multiply-shift
 * without rejection. Each value has floor or ceil of 2^32 / (high - low) preimages among the 2^32
 * words, so its probability is within 2^-32 of 1 / (high - low): relative bias below
 * (high - low) / 2^32 (2.3e-7 for a range of 1000).
 * Needs integers -2^31 <= low < high <= 2^31.
 */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  const ok = Number.isInteger(low) && Number.isInteger(high) && low < high;
  if (!ok || low < -(2 ** 31) || high > 2 ** 31) {
    throw new Error(`randint: need integers -2^31 <= low < high <= 2^31, got ${low}, ${high}`);
  }
  return draw('randint', shape, { kind: 'int', low, high }, opts);
}

/**
 * f32 0/1 tensor, 1 with probability p (element i is 1 when (word_i >> 8) * 2^-24 < p, so p is
 * resolved to a multiple of 2^-24).
 */
export function bernoulli(shape: Shape, p: number, opts: RandomOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`bernoulli: p must be in [0, 1], got ${p}`);
  return draw('bernoulli', shape, { kind: 'bernoulli', p }, opts);
}

/**
 * Dropout keep-mask: f32 0/1 tensor, 1 (keep) with probability 1 - p. Unscaled: multiply by
 * 1 / (1 - p) to get inverted dropout. Same stream use as `bernoulli(shape, 1 - p)`.
 */
export function dropoutMask(shape: Shape, p: number, opts: RandomOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropoutMask: p must be in [0, 1], got ${p}`);
  return draw('dropoutMask', shape, { kind: 'bernoulli', p: 1 - p }, opts);
}

/**
 * A random permutation of 0..n-1 (i32 [n]), sorted on the GPU: key i = word i of the stream,
 * a bitonic sort of (key, i) pairs padded to a power of two, ties broken by index. Takes
 * 2 + L(L+1)/2 dispatches for a padded length 2^L (212 for n = 10^6).
 */
export function randperm(n: number, opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`randperm: n must be a non-negative integer, got ${n}`);
  }
  return launchRandperm('randperm', n, (opts.generator ?? defaultGenerator).take(n));
}
