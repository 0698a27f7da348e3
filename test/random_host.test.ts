// The host Philox stream (src/random_host.ts) against the BigInt CPU oracle (bit-exact words) and
// against the GPU's randomBits / rand / randint / randperm from the same generator state, and the
// rule that host and GPU draws share one generator (offsets advance identically).
import { describe, expect, it } from 'vitest';
import { Generator, rand, randint, randomBits, randperm } from '../src/random.js';
import { hostRandint, hostUniform, hostWords, hostWordsAt, randpermHost } from '../src/random_host.js';
import { gpu } from './helpers/gpu.js';
import { randintRef, randpermRef, randRef, streamWords } from './reference/philox.js';

const rt = await gpu();

const SEEDS: bigint[] = [0n, 1n, 0xdeadbeefcafebaben, (1n << 64n) - 1n];
// Aligned, unaligned, and a block counter whose low word wraps into the high word.
const OFFSETS: bigint[] = [0n, 1n, 3n, 4n, 4n * 0xffffffffn - 2n];
const SIZES = [0, 1, 3, 17, 1000, 4099];
const gen = (seed: bigint, offset: bigint) => new Generator().setState({ seed, offset });

describe('host Philox stream', () => {
  it('is bit-identical to the BigInt reference for seeds x offsets x sizes', () => {
    for (const seed of SEEDS) {
      for (const offset of OFFSETS) {
        for (const n of SIZES) {
          const got = hostWordsAt({ seed, offset }, n);
          const want = streamWords(seed, offset, n);
          expect(got.length).toBe(n);
          const bad = want.findIndex((w, i) => got[i] !== w);
          expect(bad, `seed ${seed} offset ${offset} n ${n}: word ${bad}`).toBe(-1);
        }
      }
    }
    // The 64-bit block counter wraps to 0 at the end of the stream, as on the GPU.
    const last = (1n << 66n) - 2n;
    expect(Array.from(hostWordsAt({ seed: 9n, offset: last }, 6))).toEqual(
      [...streamWords(9n, last, 2), ...streamWords(9n, 0n, 4)]);
  });

  it('advances the generator like GPU calls; derived values follow the reference rules', () => {
    const g = new Generator(42);
    const a = hostWords(5, g);
    expect(g.offset).toBe(8n);
    const b = hostWords(5, g);
    expect(g.offset).toBe(16n);
    expect(Array.from(a)).toEqual(Array.from(streamWords(42n, 0n, 5)));
    expect(Array.from(b)).toEqual(Array.from(streamWords(42n, 8n, 5)));
    const u = hostUniform(1000, gen(7n, 3n));
    expect(Array.from(u)).toEqual(randRef(streamWords(7n, 3n, 1000), 0, 1));
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    for (const [lo, hi] of [[0, 10], [-5, 5], [3, 1_000_000_007], [-(2 ** 31), 2 ** 31 - 1], [-(2 ** 31), 2 ** 31]]) {
      expect(Array.from(hostRandint(lo, hi, 500, gen(11n, 1n))), `randint(${lo}, ${hi})`).toEqual(
        randintRef(streamWords(11n, 1n, 500), lo, hi));
    }
    for (const n of [0, 1, 17, 4099]) {
      expect(Array.from(randpermHost(n, gen(5n, 2n)))).toEqual(randpermRef(streamWords(5n, 2n, n)));
    }
    // Seed 444's first 4099 words hold a tie: (word, index) order decides, as on the GPU.
    expect(Array.from(randpermHost(4099, gen(444n, 0n)))).toEqual(randpermRef(streamWords(444n, 0n, 4099)));
    expect(() => hostWords(-1)).toThrow(/hostWords: n must be a non-negative integer/);
    expect(() => hostRandint(3, 3, 2)).toThrow(/hostRandint: need integers/);
  });

  it('is fast: 60,000-element permutation and 4M words in well under a second', () => {
    const t0 = performance.now();
    const p = randpermHost(60_000, new Generator(1));
    const t1 = performance.now();
    hostWords(1 << 22, new Generator(2));
    const t2 = performance.now();
    expect(Int32Array.from(p).sort().every((v, i) => v === i)).toBe(true);
    console.log(`randpermHost(60000): ${(t1 - t0).toFixed(1)} ms; hostWords(4M): ${(t2 - t1).toFixed(0)} ms`);
    expect(t2 - t1).toBeLessThan(5000);
  });
});

describe.skipIf(!rt)('host stream vs GPU', () => {
  it('randomBits, rand, randint and randperm equal the host draws from the same state', async () => {
    for (const seed of [0n, 0xdeadbeefcafebaben]) {
      for (const offset of [0n, 3n, 4n * 0xffffffffn - 2n]) {
        for (const n of [1, 17, 4099]) {
          const gh = gen(seed, offset);
          const gd = gen(seed, offset);
          expect(Array.from(await randomBits([n], { generator: gd }).data())).toEqual(Array.from(hostWords(n, gh)));
          expect(Array.from(await rand([n], { generator: gd }).data())).toEqual(Array.from(hostUniform(n, gh)));
          expect(Array.from(await randint(-7, 1000, [n], { generator: gd }).data())).toEqual(Array.from(hostRandint(-7, 1000, n, gh)));
          expect(Array.from(await randperm(n, { generator: gd }).data())).toEqual(Array.from(randpermHost(n, gh)));
          expect(gh.offset).toBe(gd.offset);
        }
      }
    }
  });

  it('host and GPU draws interleave on one generator and replay from the seed', async () => {
    const run = async () => {
      const g = new Generator(123);
      const h1 = hostWords(6, g);
      const d1 = await randomBits([5], { generator: g }).data();
      const h2 = randpermHost(9, g);
      return [Array.from(h1), Array.from(d1), Array.from(h2), g.offset];
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first[1]).toEqual(Array.from(streamWords(123n, 8n, 5)));
    expect(first[3]).toBe(8n + 8n + 12n);
  });
});
