// Batched matmul against the float64 reference: 1, 3, 17, 1000, 4099 in one of M, K, N at a time,
// K not a multiple of 4, both transposes, broadcast batch dims, 1-D operands, strided and permuted
// views (batch strides too), zero-size dims, a folded grid, and the shape errors.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { matmul as mm, matmulShape, type Activation, type MatmulOptions, type MatmulStrategy } from '../../src/kernels/matmul.js';
import { forceSimdTile, simdTile } from '../../src/kernels/matmul_simd.js';
import { gelu, geluTanh, sigmoid } from '../reference/core.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { uniform } from '../helpers/rand.js';
import { size } from '../reference/core.js';
import { matmulRef, permuteRef, type Arr } from '../reference/matmul.js';

const rt = await gpu();
afterAll(() => printReport('matmul'));

/** float32 tolerance: rounding error of a K-term sum of O(1) products grows about like sqrt(K). */
const tolFor = (K: number) => ({ rtol: 1e-5, atol: 4e-6 * Math.sqrt(Math.max(K, 1)) });

/** The reduction length of a product of these shapes. */
function innerDim(aShape: readonly number[], opts: MatmulOptions): number {
  const r = aShape.length;
  return r === 1 ? aShape[0] : aShape[opts.transA ? r - 2 : r - 1];
}

let seed = 100;

/** Runs matmul on fresh random contiguous inputs and compares with the reference. */
async function checkWith(op: string, aShape: number[], bShape: number[], opts: MatmulOptions = {}): Promise<void> {
  const A: Arr = { data: uniform(size(aShape), seed++), shape: aShape };
  const B: Arr = { data: uniform(size(bShape), seed++), shape: bShape };
  const a = wg.tensor(A.data as Float32Array, { shape: aShape });
  const b = wg.tensor(B.data as Float32Array, { shape: bShape });
  const out = mm(a, b, opts);
  const want = matmulRef(A, B, opts);
  expect(out.shape, `${op} a=${aShape} b=${bShape}`).toEqual(want.shape);
  expectClose(op, await out.data(), want.data, tolFor(innerDim(aShape, opts)), out.shape);
  [a, b, out].forEach((t) => t.dispose());
}

describe('matmulShape (pure)', () => {
  it('follows torch.matmul for batches and vectors', () => {
    expect(matmulShape([4, 3], [3, 2])).toEqual([4, 2]);
    expect(matmulShape([2, 1, 4, 3], [5, 3, 2])).toEqual([2, 5, 4, 2]);
    expect(matmulShape([3], [3])).toEqual([]);
    expect(matmulShape([3], [7, 3, 2])).toEqual([7, 2]);
    expect(matmulShape([7, 4, 3], [3])).toEqual([7, 4]);
    expect(matmulShape([3, 4], [2, 3], { transA: true, transB: true })).toEqual([4, 2]);
    expect(matmulShape([0, 4, 0], [0, 5])).toEqual([0, 4, 5]);
  });

  it('throws one line naming the shapes', () => {
    expect(() => matmulShape([4, 3], [5, 2])).toThrow(/^matmul: inner dims differ, a=\[4,3\] b=\[5,2\]$/);
    expect(() => matmulShape([4, 3], [4, 2], { transA: true, transB: true })).toThrow(
      'matmul: inner dims differ, a=[4,3] b=[4,2] (transA, transB)');
    expect(() => matmulShape([2, 4, 3], [3, 3, 5])).toThrow('matmul: batch dims cannot be broadcast, a=[2,4,3] b=[3,3,5]');
    expect(() => matmulShape([], [3])).toThrow('matmul: both operands need at least 1 dim, a=[] b=[3]');
    expect(() => matmulShape([3], [3, 2], { transA: true })).toThrow(/transpose flag needs a matrix/);
  });
});

/** The kernel families: every one runs this suite (cpu-simd only where subgroups exist). */
// WEBGRAD_TEST_STRATEGIES narrows the list (the SwiftShader project runs only cpu-simd at subgroup size 4).
const STRATEGIES = (process.env.WEBGRAD_TEST_STRATEGIES?.split(',') ?? ['simple', 'gpu', 'cpu-simd']) as MatmulStrategy[];
const usable = (s: MatmulStrategy) => !!rt && (s !== 'cpu-simd' || (rt.hasFeature('subgroups') && rt.acquired.info.subgroupMinSize === rt.acquired.info.subgroupMaxSize));

for (const strategy of STRATEGIES) describe.skipIf(!usable(strategy))(`matmul (${strategy})`, () => {
  const check = (op: string, a: number[], b: number[], opts: MatmulOptions = {}) => checkWith(`${op} [${strategy}]`, a, b, { ...opts, strategy });
  const matmul = (a: wg.Tensor, b: wg.Tensor, opts: MatmulOptions = {}) => mm(a, b, { ...opts, strategy });

  it('one of M, K, N at 1, 3, 17, 1000, 4099 with the others 5 or 7', async () => {
    for (const s of [1, 3, 17, 1000, 4099]) {
      await check('matmul', [s, 5], [5, 7]);
      await check('matmul', [5, s], [s, 7]);
      await check('matmul', [7, 5], [5, s]);
    }
  });

  it('tile edges and K not a multiple of 4', async () => {
    await check('matmul', [33, 6], [6, 35]);
    await check('matmul', [31, 9], [9, 65]);
    await check('matmul', [4, 4], [4, 4]);
    await check('matmul', [64, 2], [2, 32]);
  });

  it('transposes are flags: all four combinations, batched', async () => {
    const [M, K, N] = [9, 13, 11];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const aShape = [2, ...(transA ? [K, M] : [M, K])];
        const bShape = [2, ...(transB ? [N, K] : [K, N])];
        await check(`matmul ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`, aShape, bShape, { transA, transB });
      }
    }
  });

  it('broadcasts leading batch dims', async () => {
    await check('matmul batched', [2, 1, 7, 5], [3, 5, 6]);
    await check('matmul batched', [7, 5], [4, 5, 6]);
    await check('matmul batched', [2, 3, 7, 5], [5, 6]);
    await check('matmul batched', [1, 7, 5], [2, 1, 5, 6]);
    await check('matmul batched', [4, 1, 3, 7, 5], [2, 1, 5, 6]);
    await check('matmul batched', [3, 1, 6, 5], [1, 2, 6, 7], { transA: true });
  });

  it('1-D operands follow torch.matmul', async () => {
    await check('matmul 1-D', [13], [13]);
    await check('matmul 1-D', [13], [3, 13, 5]);
    await check('matmul 1-D', [3, 7, 13], [13]);
    await check('matmul 1-D', [7, 13], [13]);
    await check('matmul 1-D', [13], [13, 5]);
    await check('matmul 1-D', [13], [5, 13], { transB: true });
    await check('matmul 1-D', [13, 7], [13], { transA: true });
    await check('matmul 1-D', [1000], [1000]);
  });

  it('reads permuted, sliced, transposed and expanded views through their strides', async () => {
    const [B, M, K, N] = [3, 7, 13, 5];
    // a: [B, M, K] as a permute of x [K, B, M]: no dim of a is contiguous.
    const X: Arr = { data: uniform(K * B * M, 1), shape: [K, B, M] };
    const x = wg.tensor(X.data as Float32Array, { shape: X.shape });
    const a = wg.permute(x, [1, 2, 0]);
    const A = permuteRef(X, [1, 2, 0]);
    // b: [B, K, N] as every second column of y [B, K, 2N].
    const Y = uniform(B * K * 2 * N, 2);
    const y = wg.tensor(Y, { shape: [B, K, 2 * N] });
    const b = wg.slice(y, 2, 1, 2 * N, 2);
    const Bd = new Float64Array(B * K * N);
    for (let i = 0; i < B * K; i++) for (let n = 0; n < N; n++) Bd[i * N + n] = Y[i * 2 * N + 2 * n + 1];
    const Bv: Arr = { data: Bd, shape: [B, K, N] };
    expect(a.isContiguous || b.isContiguous).toBe(false);
    expectClose('matmul views', await matmul(a, b).data(), matmulRef(A, Bv).data, tolFor(K));
    // The same product through a transposed view of aᵀ, with the flag undoing it: [B, K, M] -> transA.
    const at = wg.transpose(a);
    expectClose('matmul views', await matmul(at, b, { transA: true }).data(), matmulRef(A, Bv).data, tolFor(K));
    // Batch strides: every second matrix of z [5, M, K], starting at the second (nonzero offset).
    const Z = uniform(5 * M * K, 3);
    const z = wg.tensor(Z, { shape: [5, M, K] });
    const zs = wg.slice(z, 0, 1, 5, 2);
    const Zs: Arr = { data: [...Z.slice(M * K, 2 * M * K), ...Z.slice(3 * M * K, 4 * M * K)], shape: [2, M, K] };
    const W: Arr = { data: uniform(K * N, 4), shape: [1, K, N] };
    const w = wg.tensor(W.data as Float32Array, { shape: W.shape });
    const we = wg.expand(w, [2, K, N]); // batch stride 0
    expectClose('matmul views', await matmul(zs, we).data(), matmulRef(Zs, W).data, tolFor(K));
    [x, a, y, b, at, z, zs, w, we].forEach((t) => t.dispose());
  });

  it('zero-size dims give empty results, and K = 0 gives zeros', async () => {
    for (const [sa, sb, want] of [
      [[0, 5], [5, 7], [0, 7]],
      [[3, 5], [5, 0], [3, 0]],
      [[0, 3, 5], [5, 7], [0, 3, 7]],
      [[0, 3, 5], [2, 1, 5, 7], [2, 0, 3, 7]],
    ] as number[][][]) {
      const [a, b] = [wg.zeros(sa), wg.zeros(sb)];
      const out = matmul(a, b);
      expect(out.shape).toEqual(want);
      expect((await out.data()).length).toBe(0);
      [a, b, out].forEach((t) => t.dispose());
    }
    // Dirty pooled memory first, so that an output the kernel forgot to write would show.
    for (const [sa, sb] of [[[3, 0], [0, 7]], [[2, 3, 0], [0, 4]], [[0], [0]]]) {
      const shape = matmulShape(sa, sb);
      const junk = wg.full(shape, 5);
      await junk.data();
      junk.dispose();
      wg.flush();
      const [a, b] = [wg.zeros(sa), wg.zeros(sb)];
      const out = matmul(a, b);
      expect(out.shape).toEqual(shape);
      expect(Array.from(await out.data())).toEqual(new Array(size(shape)).fill(0));
      [a, b, out].forEach((t) => t.dispose());
    }
  });

  it('folds grids above 65,535 workgroups', async () => {
    const nb = 70_000;
    await check('matmul folded', [nb, 2, 3], [3, 2]);
  });

  it('rejects non-f32 operands with one line', () => {
    const a = wg.zeros([4, 3], 'i32');
    const b = wg.zeros([3, 2]);
    expect(() => mm(a, b)).toThrow('matmul: f32 operands only, got a i32 [4,3] and b f32 [3,2]');
    expect(() => matmul(wg.zeros([4, 3]), wg.zeros([5, 2]))).toThrow('matmul: inner dims differ, a=[4,3] b=[5,2]');
  });

  it('fuses bias and every activation into the epilogue', async () => {
    const [M, K, N] = [19, 10, 37];
    const A: Arr = { data: uniform(M * K, 50, -2, 2), shape: [M, K] };
    const B: Arr = { data: uniform(K * N, 51, -2, 2), shape: [K, N] };
    const bias = uniform(N, 52);
    const [a, b, tb] = [wg.tensor(A.data as Float32Array, { shape: A.shape }), wg.tensor(B.data as Float32Array, { shape: B.shape }), wg.tensor(bias)];
    const base = matmulRef(A, B).data;
    const acts: [Activation, (v: number) => number][] = [
      ['none', (v) => v], ['relu', (v) => Math.max(v, 0)], ['gelu', gelu], ['gelu_tanh', geluTanh],
      ['sigmoid', sigmoid], ['tanh', Math.tanh],
    ];
    for (const [activation, f] of acts) {
      const want = Array.from(base, (v, i) => f(v + bias[i % N]));
      expectClose(`matmul+bias+${activation}`, await matmul(a, b, { bias: tb, activation }).data(), want, tolFor(K));
    }
    expectClose('matmul+relu', await matmul(a, b, { activation: 'relu' }).data(), Array.from(base, (v) => Math.max(v, 0)), tolFor(K));
    // K = 0: the epilogue alone, act(bias).
    const e = matmul(wg.zeros([3, 0]), wg.zeros([0, N]), { bias: tb, activation: 'relu' });
    expectClose('matmul K=0 bias', await e.data(), Array.from({ length: 3 * N }, (_, i) => Math.max(bias[i % N], 0)));
    expect(() => matmul(a, b, { bias: wg.zeros([N + 1]) })).toThrow(`matmul: bias must be f32 [${N}], got f32 [${N + 1}]`);
    [a, b, tb, e].forEach((t) => t.dispose());
  });

  it('K-contiguous operands with K % 4 == 0 (read in place by cpu-simd), at aligned and unaligned offsets', async () => {
    for (const [M, K, N] of [[33, 64, 40], [5, 8, 129], [130, 4, 3]]) {
      await check('matmul NT', [M, K], [N, K], { transB: true });
      await check('matmul NT batched', [2, M, K], [2, N, K], { transB: true });
    }
    const X = uniform(1 + 9 * 16, 60);
    const x = wg.tensor(X, { shape: [X.length] });
    const a = wg.reshape(wg.slice(x, 0, 1), [9, 16]); // offset 1: not vec4-aligned
    const W: Arr = { data: uniform(5 * 16, 61), shape: [5, 16] };
    const w = wg.tensor(W.data as Float32Array, { shape: W.shape });
    const want = matmulRef({ data: X.slice(1), shape: [9, 16] }, W, { transB: true }).data;
    expectClose('matmul offset', await matmul(a, w, { transB: true }).data(), want, tolFor(16));
  });
});

describe.skipIf(!usable('cpu-simd'))('matmul (cpu-simd) register tiles', () => {
  afterAll(() => forceSimdTile(null));
  it('every tile shape is correct at odd sizes', async () => {
    for (const [RA, CB] of [[1, 1], [1, 2], [2, 1], [2, 4], [4, 4], [4, 8]]) {
      forceSimdTile({ RA, CB });
      for (const [M, K, N] of [[1, 3, 1], [17, 5, 33], [70, 13, 9], [7, 1000, 7]]) {
        await checkWith(`matmul tile ${RA}x${CB}`, [M, K], [K, N], { strategy: 'cpu-simd' });
      }
      await checkWith(`matmul tile ${RA}x${CB}`, [3, 1, 9, 6], [2, 6, 11], { strategy: 'cpu-simd', transA: false });
    }
  });

  it('chooses tiles up to 32 x 32 and 128 accumulators per lane from the shape', () => {
    expect(simdTile(1024, 1024, 8)).toEqual({ RA: 4, CB: 4 });
    expect(simdTile(5, 1024, 8)).toEqual({ RA: 1, CB: 4 });
    expect(simdTile(1024, 3, 8)).toEqual({ RA: 4, CB: 1 });
    expect(simdTile(17, 20, 8)).toEqual({ RA: 4, CB: 4 });
    expect(simdTile(9, 9, 8)).toEqual({ RA: 2, CB: 2 });
    expect(simdTile(1024, 1024, 4)).toEqual({ RA: 4, CB: 8 });
  });
});
