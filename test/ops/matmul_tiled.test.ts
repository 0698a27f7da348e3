// The GPU strategy of matmul (shaders/matmul_tiled.wgsl), forced with { strategy: 'gpu' }, against
// the float64 reference: 1, 3, 17, 1000, 4099 in one of M, K, N at a time, tile edges, K not a
// multiple of 4 nor of the k step, all four transposes (with and without vec4 loads), broadcast
// batch dims, permuted / sliced / expanded views (misaligned offsets, vec4 quads that reach past K),
// bias + every activation, K = 0, a folded grid. Which load path each case takes is checked too.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { matmul, matmulGeometry, matmulShape, type Activation, type MatmulOptions } from '../../src/kernels/matmul.js';
import { matmulTiledConfig, type MatmulTiledConfig } from '../../src/kernels/matmul_tiled.js';
import type { Tensor } from '../../src/tensor.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { uniform } from '../helpers/rand.js';
import { gelu, geluTanh, sigmoid, size } from '../reference/core.js';
import { matmulRef, type Arr } from '../reference/matmul.js';

const rt = await gpu();
afterAll(() => printReport('matmul (gpu strategy)'));

const GPU = { strategy: 'gpu' } as const;

/** float32 tolerance: rounding error of a K-term sum of O(1) products grows about like sqrt(K). */
const tolFor = (K: number) => ({ rtol: 1e-5, atol: 4e-6 * Math.sqrt(Math.max(K, 1)) });

const ACT_REF: Record<Activation, (v: number) => number> = {
  none: (v) => v,
  relu: (v) => Math.max(v, 0),
  gelu,
  gelu_tanh: geluTanh,
  sigmoid,
  tanh: Math.tanh,
};

/** The values of a strided view of `data` (row-major over `t.shape`), as the reference reads them. */
function viewRef(data: ArrayLike<number>, t: Tensor): Arr {
  const n = size(t.shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let src = t.offset;
    for (let d = t.rank - 1; d >= 0; d--) {
      src += (rem % t.shape[d]) * t.strides[d];
      rem = Math.floor(rem / t.shape[d]);
    }
    out[i] = data[src];
  }
  return { data: out, shape: [...t.shape] };
}

/** act(matmulRef(A, B) + bias) in float64. */
function ref(A: Arr, B: Arr, opts: MatmulOptions, bias: ArrayLike<number> | null): { data: Float64Array; shape: number[] } {
  const r = matmulRef(A, B, opts);
  const N = bias ? bias.length : 1;
  const act = ACT_REF[opts.activation ?? 'none'];
  for (let i = 0; i < r.data.length; i++) r.data[i] = act(r.data[i] + (bias ? bias[i % N] : 0));
  return r;
}

const innerDim = (aShape: readonly number[], opts: MatmulOptions): number => {
  const r = aShape.length;
  return r === 1 ? aShape[0] : aShape[opts.transA ? r - 2 : r - 1];
};

let seed = 300;

/**
 * Runs the gpu strategy on views `a`, `b` (of host data `ad`, `bd`) and compares with the reference.
 * With `withBias`, a random bias [N] is added, read from a view at a nonzero offset.
 */
async function checkViews(op: string, ad: ArrayLike<number>, a: Tensor, bd: ArrayLike<number>, b: Tensor,
  opts: MatmulOptions = {}, withBias = false): Promise<void> {
  const N = matmulShape(a.shape, b.shape, opts).at(-1) ?? 1;
  const nOut = b.rank === 1 ? 1 : N;
  let biasData: Float32Array | null = null;
  let biasBase: Tensor | null = null;
  let bias: Tensor | undefined;
  if (withBias) {
    // A bias at a nonzero offset of its buffer: the kernel must add p.off_bias.
    biasData = uniform(nOut + 3, seed++);
    biasBase = wg.tensor(biasData, { shape: [nOut + 3] });
    bias = wg.slice(biasBase, 0, 3);
  }
  const out = matmul(a, b, { ...opts, ...GPU, bias });
  const want = ref(viewRef(ad, a), viewRef(bd, b), opts, biasData ? biasData.subarray(3) : null);
  expect(out.shape, `${op} a=${a.shape} b=${b.shape}`).toEqual(want.shape);
  expectClose(op, await out.data(), want.data, tolFor(innerDim(a.shape, opts)), out.shape);
  [out, biasBase, bias].forEach((t) => t?.dispose());
}

/** Fresh random contiguous operands of these shapes through {@link checkViews}. */
async function check(op: string, aShape: number[], bShape: number[], opts: MatmulOptions = {}, withBias = false): Promise<void> {
  const ad = uniform(size(aShape), seed++);
  const bd = uniform(size(bShape), seed++);
  const a = wg.tensor(ad, { shape: aShape });
  const b = wg.tensor(bd, { shape: bShape });
  await checkViews(op, ad, a, bd, b, opts, withBias);
  [a, b].forEach((t) => t.dispose());
}

/** The launch configuration the gpu strategy picks for these operands. */
function configOf(a: Tensor, b: Tensor, opts: MatmulOptions = {}): MatmulTiledConfig {
  const g = matmulGeometry(a, b, opts)!;
  g.out.dispose();
  return matmulTiledConfig(g);
}

// The edge sizes, 1-D operands and folded grids of every strategy are in matmul.test.ts; these are
// the cases specific to the tiled kernel's tiles, k steps, load paths and epilogue offsets.
describe.skipIf(!rt)('matmul, gpu strategy (tiled)', () => {
  it('tile edges, K not a multiple of 4 nor of the k step, vec4 sizes', async () => {
    for (const [M, K, N] of [[65, 13, 66], [63, 23, 129], [64, 16, 64], [128, 37, 33], [20, 33, 36], [36, 100, 20], [1, 31, 200], [200, 19, 1], [2, 2, 2]]) {
      await check('tiled edges', [M, K], [K, N]);
    }
  });

  it('picks 64-256 invocations, the load axis of the smaller stride and vec4 loads only where aligned', () => {
    const t = (shape: number[]) => wg.zeros(shape);
    const cases: [Tensor, Tensor, MatmulOptions, Partial<MatmulTiledConfig>][] = [
      [t([64, 32]), t([32, 64]), {}, { WG_X: 16, WG_Y: 16, A_ALONG_K: 1, A_V4: 1, B_ALONG_K: 0, B_V4: 1 }],
      [t([32, 64]), t([64, 32]), { transA: true, transB: true }, { A_ALONG_K: 0, A_V4: 1, B_ALONG_K: 1, B_V4: 1 }],
      [t([5, 13]), t([13, 7]), {}, { A_ALONG_K: 1, A_V4: 0, B_ALONG_K: 0, B_V4: 0 }],
      [t([13, 5]), t([7, 13]), { transA: true, transB: true }, { A_ALONG_K: 0, A_V4: 0, B_ALONG_K: 1, B_V4: 0 }],
      [t([1, 8]), t([8, 1000]), {}, { WG_X: 16, WG_Y: 4 }],
      [t([1000, 8]), t([8, 3]), {}, { WG_X: 4, WG_Y: 16 }],
      [t([3, 8]), t([8, 3]), {}, { WG_X: 16, WG_Y: 4 }],
    ];
    for (const [a, b, opts, want] of cases) {
      const cfg = configOf(a, b, opts);
      expect(cfg, `a=${a.shape} b=${b.shape} ${JSON.stringify(opts)}`).toMatchObject(want);
      expect(cfg.WG_X * cfg.WG_Y).toBeGreaterThanOrEqual(64);
      expect(cfg.WG_X * cfg.WG_Y).toBeLessThanOrEqual(256);
      [a, b].forEach((x) => x.dispose());
    }
  });

  it('transposes are flags: all four combinations, batched, with and without vec4 loads', async () => {
    for (const [M, K, N] of [[9, 13, 11], [68, 36, 72], [5, 4099, 3]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const aShape = [2, ...(transA ? [K, M] : [M, K])];
          const bShape = [2, ...(transB ? [N, K] : [K, N])];
          await check(`tiled ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`, aShape, bShape, { transA, transB });
        }
      }
    }
  });

  it('broadcasts leading batch dims', async () => {
    await check('tiled batched', [2, 1, 7, 5], [3, 5, 6]);
    await check('tiled batched', [7, 8], [4, 8, 12]);
    await check('tiled batched', [2, 3, 7, 5], [5, 6]);
    await check('tiled batched', [4, 1, 3, 7, 5], [2, 1, 5, 6]);
    await check('tiled batched', [3, 1, 8, 20], [1, 2, 8, 36], { transA: true });
    await check('tiled batched', [2, 1, 70, 24], [3, 40, 24], { transB: true });
  });

  it('reads permuted, sliced, transposed and expanded views through their strides', async () => {
    // a: [B, M, K] as a permute of x [K, B, M]: no dim of a is contiguous.
    const [Bt, M, K, N] = [3, 7, 13, 5];
    const xd = uniform(K * Bt * M, 1);
    const x = wg.tensor(xd, { shape: [K, Bt, M] });
    const a = wg.permute(x, [1, 2, 0]);
    // b: [B, K, N] as every second column of y [B, K, 2N].
    const yd = uniform(Bt * K * 2 * N, 2);
    const y = wg.tensor(yd, { shape: [Bt, K, 2 * N] });
    const b = wg.slice(y, 2, 1, 2 * N, 2);
    expect(a.isContiguous || b.isContiguous).toBe(false);
    await checkViews('tiled views', xd, a, yd, b);
    const at = wg.transpose(a); // [B, K, M] read back with transA
    await checkViews('tiled views', xd, at, yd, b, { transA: true });

    // Slices that keep K-contiguous rows: 6 of every 8 columns (vec4 quads reaching past K, whose
    // tail holds NaNs that must not leak in: NaN * 0 is NaN), and offsets of 1 (scalar loads) and
    // 4 (vec4 loads).
    const views: Tensor[] = [x, a, y, b, at];
    const keep = (t: Tensor): Tensor => (views.push(t), t);
    const zd = uniform(40 * 8, 3).map((v, i) => (i % 8 >= 6 ? NaN : v));
    const z = keep(wg.tensor(zd, { shape: [40, 8] }));
    const wd = uniform(6 * 36, 4);
    const w = keep(wg.tensor(wd, { shape: [6, 36] }));
    const z6 = keep(wg.slice(z, 1, 0, 6));
    expect(configOf(z6, w)).toMatchObject({ A_ALONG_K: 1, A_V4: 1 });
    await checkViews('tiled views', zd, z6, wd, w);
    const fd = uniform(320, 9);
    const zflat = keep(wg.tensor(fd, { shape: [320] }));
    const a1 = keep(wg.reshape(keep(wg.slice(zflat, 0, 1, 1 + 36 * 8)), [36, 8]));
    const w8d = uniform(8 * 20, 5);
    const w8 = keep(wg.tensor(w8d, { shape: [8, 20] }));
    expect(a1.offset).toBe(1);
    expect(configOf(a1, w8)).toMatchObject({ A_ALONG_K: 1, A_V4: 0, B_V4: 1 });
    await checkViews('tiled views', fd, a1, w8d, w8);
    const a4 = keep(wg.reshape(keep(wg.slice(zflat, 0, 4, 4 + 36 * 8)), [36, 8]));
    expect(configOf(a4, w8)).toMatchObject({ A_ALONG_K: 1, A_V4: 1 });
    await checkViews('tiled views', fd, a4, w8d, w8);
    // The same 6-of-8 slice as a transposed B (K-contiguous), and as a transposed A.
    const wt = keep(wg.transpose(w));
    expect(configOf(wt, z6, { transB: true })).toMatchObject({ A_ALONG_K: 0, A_V4: 1, B_ALONG_K: 1, B_V4: 1 });
    await checkViews('tiled views', wd, wt, zd, z6, { transB: true });
    const z6t = keep(wg.transpose(z6));
    await checkViews('tiled views', zd, z6t, wd, w, { transA: true });

    // Batch strides: every second matrix of v [5, M, K] from the second on; u expanded (stride 0).
    const vd = uniform(5 * 9 * 12, 6);
    const v = keep(wg.tensor(vd, { shape: [5, 9, 12] }));
    const vs = keep(wg.slice(v, 0, 1, 5, 2));
    const ud = uniform(12 * 8, 7);
    const u = keep(wg.tensor(ud, { shape: [1, 12, 8] }));
    const ue = keep(wg.expand(u, [2, 12, 8]));
    await checkViews('tiled views', vd, vs, ud, ue);
    // A row expanded to M rows (row stride 0).
    const rd = uniform(12, 8);
    const r = keep(wg.tensor(rd, { shape: [1, 12] }));
    const re = keep(wg.expand(r, [70, 12]));
    await checkViews('tiled views', rd, re, ud, keep(wg.reshape(u, [12, 8])));
    views.forEach((t) => t.dispose());
  });

  it('fuses bias and every activation', async () => {
    const acts: Activation[] = ['none', 'relu', 'gelu', 'gelu_tanh', 'sigmoid', 'tanh'];
    for (const activation of acts) {
      await check(`tiled bias ${activation}`, [70, 37], [37, 67], { activation }, true);
      await check(`tiled bias ${activation}`, [2, 9, 20], [20, 12], { activation }, true);
      await check(`tiled ${activation}`, [33, 17], [17, 5], { activation });
    }
    await check('tiled bias tanh', [40, 8], [9, 40], { activation: 'tanh', transA: true, transB: true }, true);
  });

  it('K = 0 gives act(bias), or zeros without a bias', async () => {
    for (const [sa, sb] of [[[3, 0], [0, 7]], [[2, 65, 0], [0, 70]], [[0], [0, 5]]]) {
      for (const activation of ['none', 'sigmoid', 'gelu'] as Activation[]) {
        for (const withBias of [false, true]) {
          // Dirty pooled memory first, so that an output the kernel forgot to write would show.
          const shape = matmulShape(sa, sb);
          const junk = wg.full(shape, 5);
          await junk.data();
          junk.dispose();
          wg.flush();
          const [a, b] = [wg.zeros(sa), wg.zeros(sb)];
          await checkViews(`tiled K=0 ${activation}`, [], a, [], b, { activation }, withBias);
          [a, b].forEach((t) => t.dispose());
        }
      }
    }
  });

});
