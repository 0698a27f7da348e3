// Philox4x32-10 on the CPU (Salmon et al. 2011; Random123's philox4x32_R with R = 10): the oracle
// for shaders/random.wgsl. Products use BigInt (independent of the shader's 16-bit limbs); the
// derived floats are float64 from the same integers. Stream: word w of seed s is lane w % 4 of
// philox(counter = (w/4 low, w/4 high, 0, 0), key = (s low, s high)).

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const MASK32 = 0xffffffffn;

/** [hi, lo] of the 64-bit product a * b. */
export function mulhilo(a: bigint, b: number): [number, number] {
  const p = a * BigInt(b >>> 0);
  return [Number(p >> 32n), Number(p & MASK32)];
}

/** Philox4x32-10 of a 4-word counter and 2-word key (all u32). */
export function philox4x32_10(ctr: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = ctr.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** Words offset .. offset + n - 1 of the stream of `seed` (taken mod 2^64). */
export function streamWords(seed: bigint, offset: bigint, n: number): Uint32Array {
  const s = BigInt.asUintN(64, seed);
  const key = [Number(s & MASK32), Number(s >> 32n)];
  const out = new Uint32Array(n);
  let cached = -1n;
  let blk: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = offset + BigInt(i);
    const b = w >> 2n;
    if (b !== cached) {
      blk = philox4x32_10([Number(b & MASK32), Number((b >> 32n) & MASK32), 0, 0], key);
      cached = b;
    }
    out[i] = blk[Number(w & 3n)];
  }
  return out;
}

/** (w >> 8) * 2^-24 in [0, 1). */
export const unit = (w: number): number => (w >>> 8) * 2 ** -24;

export const randRef = (words: Uint32Array, low: number, high: number): number[] =>
  Array.from(words, (w) => low + (high - low) * unit(w));

/**
 * Box-Muller: pair k = (words 2k, 2k+1) -> elements 2k (cos), 2k+1 (sin); the first n elements.
 * `words` must hold the whole last pair (n rounded up to even), as the kernel reads it.
 */
export function randnRef(words: Uint32Array, n: number, mean: number, std: number): number[] {
  if (words.length < n + (n % 2)) throw new Error('randnRef: words must cover the last pair');
  const out: number[] = [];
  for (let i = 0; i < n; i += 2) {
    const u1 = unit(words[i]) + 2 ** -24;
    const u2 = unit(words[i + 1]);
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = 2 * Math.PI * u2;
    out.push(mean + std * r * Math.cos(t), mean + std * r * Math.sin(t));
  }
  return out.slice(0, n);
}

/** low + floor(w * (high - low) / 2^32): Lemire's multiply-shift. */
export const randintRef = (words: Uint32Array, low: number, high: number): number[] =>
  Array.from(words, (w) => low + Number((BigInt(w) * BigInt(high - low)) >> 32n));

/** 1 where unit(w) < p (p rounded to f32 as the kernel receives it). */
export const bernoulliRef = (words: Uint32Array, p: number): number[] =>
  Array.from(words, (w) => (unit(w) < Math.fround(p) ? 1 : 0));

/** The permutation randperm computes: indices sorted by (word, index). */
export function randpermRef(words: Uint32Array): number[] {
  return Array.from(words, (_, i) => i).sort((a, b) => words[a] - words[b] || a - b);
}
