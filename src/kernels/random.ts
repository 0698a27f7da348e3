/**
 * Launchers for shaders/random.wgsl: the Philox4x32-10 stream and its distributions, and the
 * GPU randperm (random keys + bitonic sort). A launch reads call words 0..n-1 of the stream of
 * (seed, offset), i.e. stream words offset .. offset + n - 1; the generator state (which offset a
 * call gets) lives in src/random.ts.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import type { DType } from '../dtype.js';
import { sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

const WG = 64;
const U64 = (1n << 64n) - 1n;
const U32 = 0xffffffffn;

/** Where a launch reads the stream: the 64-bit key and the first stream word. */
export interface StreamPosition {
  /** Philox key: low word = key0, high word = key1 (taken mod 2^64). */
  seed: bigint;
  /** Index of the first stream word this launch reads (any value in [0, 2^66)). */
  offset: bigint;
}

/** The distribution an elementwise random launch draws. */
export type RandomKind =
  | { kind: 'bits' }
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'normal'; mean: number; std: number }
  | { kind: 'int'; low: number; high: number }
  | { kind: 'bernoulli'; p: number };

const ENTRY: Record<RandomKind['kind'], [string, DType]> = {
  bits: ['random_bits', 'u32'],
  uniform: ['random_uniform', 'f32'],
  normal: ['random_normal', 'f32'],
  int: ['random_int', 'i32'],
  bernoulli: ['random_bernoulli', 'f32'],
};

interface Fields {
  n: number;
  pos?: StreamPosition;
  range?: number;
  low?: number;
  a?: number;
  b?: number;
  j?: number;
  k?: number;
}

/** The uniform `Params` of random.wgsl: n, key, offset % 4, offset / 4 (64-bit), then the rest. */
function randomParams(f: Fields): Params {
  const seed = (f.pos?.seed ?? 0n) & U64;
  const offset = f.pos?.offset ?? 0n;
  const block = offset >> 2n;
  if (offset < 0n || block > U64) {
    throw new Error(`random: stream offset ${offset} outside [0, 2^66)`);
  }
  return new Params()
    .u32(f.n, Number(seed & U32), Number(seed >> 32n), Number(offset & 3n))
    .u32(Number(block & U32), Number(block >> 32n), f.range ?? 0)
    .i32(f.low ?? 0)
    .f32(f.a ?? 0, f.b ?? 0)
    .u32(f.j ?? 0, f.k ?? 0);
}

/**
 * Fills a new contiguous tensor of `shape` with the distribution `dist`, element i drawn from
 * call word i (normal: the pair 2k, 2k + 1 of words gives elements 2k, 2k + 1).
 */
export function launchRandom(
  op: string,
  shape: Shape,
  dist: RandomKind,
  pos: StreamPosition,
): Tensor {
  const [entry, dtype] = ENTRY[dist.kind];
  const out = Tensor.empty(shape, dtype);
  const n = sizeOf(shape);
  if (n === 0) return out;
  if (n > 0xfffffff0) throw new Error(`${op}: ${n} elements exceed one launch (2^32 - 16)`);
  let range = 0;
  let low = 0;
  let a = 0;
  let b = 0;
  switch (dist.kind) {
    case 'uniform':
      [a, b] = [dist.low, dist.high - dist.low];
      break;
    case 'normal':
      [a, b] = [dist.mean, dist.std];
      break;
    case 'int':
      low = dist.low;
      range = (dist.high - dist.low) % 2 ** 32; // 2^32 is passed as 0
      break;
    case 'bernoulli':
      a = dist.p;
      break;
  }
  const params = randomParams({ n, pos, range, low, a, b });
  dispatch({
    op, shader: 'random', entry, overrides: { WG },
    inputs: [null], outputs: [out], params,
    workgroups: Math.ceil(Math.ceil(n / 4) / WG),
  });
  return out;
}

/**
 * Number of dispatches `launchRandperm(n)` records: 1 (keys) + L(L+1)/2 (bitonic stages) + 1
 * (gather), with 2^L = the padded length max(4, next power of two >= n); 0 for n = 0.
 * For n = 10^6: L = 20, 212 dispatches.
 */
export function randpermDispatches(n: number): number {
  if (n === 0) return 0;
  const L = Math.log2(paddedLength(n));
  return 2 + (L * (L + 1)) / 2;
}

const paddedLength = (n: number): number => Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(n, 1))));

/**
 * A random permutation of 0..n-1 (i32): key i = call word i, padded with (0xffffffff, i >= n)
 * to a power of two, sorted by (key, index) with a bitonic network, indices read back in order.
 * Ties between equal keys keep index order, so the result is a pure function of (seed, offset).
 */
export function launchRandperm(op: string, n: number, pos: StreamPosition): Tensor {
  const out = Tensor.empty([n], 'i32');
  if (n === 0) return out;
  const P = paddedLength(n);
  if (P > 2 ** 31) throw new Error(`${op}: n = ${n} is too large (padded length above 2^31)`);
  const kv = Tensor.empty([P, 2], 'u32'); // [P, 2] = (key, index)
  try {
    dispatch({
      op, shader: 'random', entry: 'random_perm_init', overrides: { WG },
      inputs: [null], outputs: [kv], params: randomParams({ n, pos, j: P }),
      workgroups: Math.ceil(P / 4 / WG),
    });
    for (let k = 2; k <= P; k *= 2) {
      for (let j = k / 2; j >= 1; j /= 2) {
        dispatch({
          op, shader: 'random', entry: 'random_perm_sort', overrides: { WG },
          inputs: [null], outputs: [kv], params: randomParams({ n: P / 2, j, k }),
          workgroups: Math.ceil(P / 2 / WG),
        });
      }
    }
    dispatch({
      op, shader: 'random', entry: 'random_perm_out', overrides: { WG },
      inputs: [kv], outputs: [out], params: randomParams({ n }),
      workgroups: Math.ceil(n / WG),
    });
  } catch (e) {
    out.dispose();
    throw e;
  } finally {
    kv.dispose(); // goes back to the pool only after the batch that uses it is submitted
  }
  return out;
}
