/**
 * The Philox4x32-10 stream of shaders/random.wgsl computed on the host (CPU), bit-identical to the
 * GPU's for the same `Generator`. Host draws reserve their words with `gen.take(n)` exactly as GPU
 * launches do, so a program may mix host draws (augmentation parameters, loader shuffles) and GPU
 * draws on one generator and still replay bit-identically from a seed.
 * Stream layout (as random.wgsl): key = (seed low 32 bits, seed high 32 bits); stream word w is
 * lane w % 4 of philox4x32_10(counter = (b low, b high, 0, 0), key), b = w / 4 (64-bit).
 * Hot loop: Math.imul for the low products, 16-bit limbs for the high ones (no BigInt).
 * Browser-safe (no Node imports).
 */
import { defaultGenerator, type Generator, type GeneratorState } from './random.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;
const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;

/**
 * High 32 bits of the 64-bit product m * b for a multiplier given as 16-bit limbs (m1, m0): the
 * same limb split as random.wgsl's mulhi32. Every partial product is below 2^32, exact in f64.
 */
function mulhi(m0: number, m1: number, b: number): number {
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = m0 * b0;
  const p01 = m0 * b1;
  const p10 = m1 * b0;
  const p11 = m1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * Writes the four words of Philox4x32-10(counter = (lo, hi, 0, 0), key = (k0, k1)) to out[at..at+3]
 * (only those below out.length).
 */
function block(lo: number, hi: number, k0: number, k1: number, out: Uint32Array, at: number): void {
  let c0 = lo >>> 0;
  let c1 = hi >>> 0;
  let c2 = 0;
  let c3 = 0;
  let ka = k0 >>> 0;
  let kb = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      ka = (ka + W0) >>> 0;
      kb = (kb + W1) >>> 0;
    }
    const hi0 = mulhi(M0_LO, M0_HI, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1_LO, M1_HI, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ ka) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ kb) >>> 0;
    c3 = lo0;
  }
  const n = out.length;
  if (at < n) out[at] = c0;
  if (at + 1 < n) out[at + 1] = c1;
  if (at + 2 < n) out[at + 2] = c2;
  if (at + 3 < n) out[at + 3] = c3;
}

function checkCount(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${op}: n must be a non-negative integer, got ${n}`);
}

/**
 * Stream words offset .. offset + n - 1 of `pos.seed` (what a GPU launch at `pos` reads as call
 * words 0..n-1). Does not touch any generator; `hostWords` is the usual entry.
 */
export function hostWordsAt(pos: GeneratorState, n: number): Uint32Array {
  checkCount('hostWordsAt', n);
  const seed = pos.seed & U64;
  const k0 = Number(seed & U32);
  const k1 = Number(seed >> 32n);
  const shift = Number(pos.offset & 3n);
  const blk = pos.offset >> 2n;
  if (pos.offset < 0n || blk > U64) throw new Error(`hostWordsAt: stream offset ${pos.offset} outside [0, 2^66)`);
  let lo = Number(blk & U32);
  let hi = Number(blk >> 32n);
  // Whole blocks covering [offset, offset + n); the first `shift` words are skipped.
  const buf = new Uint32Array(shift + n);
  for (let at = 0; at < buf.length; at += 4) {
    block(lo, hi, k0, k1, buf, at);
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0; // the 64-bit block counter wraps mod 2^64 as on the GPU
  }
  return shift === 0 ? buf : buf.slice(shift);
}

/**
 * The next n u32 words of `gen`'s stream (default: the global generator), bit-identical to
 * `randomBits([n], { generator: gen })` from the same state; moves the generator as that call does.
 */
export function hostWords(n: number, gen: Generator = defaultGenerator): Uint32Array {
  checkCount('hostWords', n);
  return hostWordsAt(gen.take(n), n);
}

/**
 * n uniforms on [0, 1): x_i = (word_i >> 8) * 2^-24, the rule of `rand` (whose f32 values equal
 * these exactly for the default range); moves `gen` as `rand([n])` does.
 */
export function hostUniform(n: number, gen: Generator = defaultGenerator): Float64Array {
  const w = hostWords(n, gen);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (w[i] >>> 8) * 5.9604644775390625e-8;
  return out;
}

/**
 * n integers uniform on [low, high): low + hi32(word_i * (high - low)), the rule of `randint`
 * (Lemire's multiply-shift without rejection), identical to `randint(low, high, [n])` from the same
 * generator state. Needs integers -2^31 <= low < high <= 2^31.
 */
export function hostRandint(low: number, high: number, n: number, gen: Generator = defaultGenerator): Int32Array {
  const ok = Number.isInteger(low) && Number.isInteger(high) && low < high;
  if (!ok || low < -(2 ** 31) || high > 2 ** 31) {
    throw new Error(`hostRandint: need integers -2^31 <= low < high <= 2^31, got ${low}, ${high}`);
  }
  const range = high - low;
  const w = hostWords(n, gen);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // hi32(w * range): w * range < 2^64 is not exact in f64, so split w into 16-bit halves.
    const r = range === 2 ** 32 ? w[i] : Math.floor((Math.floor(((w[i] & 0xffff) * range) / 65536) + (w[i] >>> 16) * range) / 65536);
    out[i] = low + r;
  }
  return out;
}

/**
 * A random permutation of 0..n-1 drawn from n stream words, identical to the GPU's
 * `randperm(n, { generator: gen })` from the same state: indices sorted by (word_i, i). (A sort
 * rather than Fisher-Yates so host and GPU shuffles agree; O(n log n), ~5 ms for n = 60,000.)
 * Moves `gen` as `randperm` does.
 */
export function randpermHost(n: number, gen: Generator = defaultGenerator): Int32Array {
  checkCount('randpermHost', n);
  if (n > 2 ** 31) throw new Error(`randpermHost: n = ${n} exceeds the i32 index range`);
  const w = hostWords(n, gen);
  const out = new Int32Array(n);
  if (n <= 2 ** 21) {
    // word * 2^21 + i < 2^53 is exact, and orders by (word, i): a numeric typed-array sort.
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = w[i] * 2097152 + i;
    keys.sort();
    for (let i = 0; i < n; i++) out[i] = keys[i] % 2097152;
    return out;
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => w[a] - w[b] || a - b);
  for (let i = 0; i < n; i++) out[i] = idx[i];
  return out;
}
