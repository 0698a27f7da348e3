/**
 * Batched matrix product (shaders/matmul.wgsl): a [..., M, K] · b [..., K, N] -> [..., M, N] in
 * f32, with NumPy broadcasting of the batch dims and torch.matmul's rules for 1-D operands.
 * Operands are read through their strides (views, permutes, slices, broadcasts), and the
 * transpose flags swap the strides the kernel reads: nothing is copied.
 */
import { dispatch } from '../dispatch.js';
import { Params } from '../command_batch.js';
import { runtime } from '../runtime.js';
import { broadcastStrides, fmt, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { collapseDims } from './elementwise.js';
import { launchMatmulSimd } from './matmul_simd.js';
import { launchMatmulTiled } from './matmul_tiled.js';

/** Invocations per workgroup along N and M; each computes a 4x4 tile of C. */
const WG_X = 8;
const WG_Y = 8;
const TILE_N = 4 * WG_X;
const TILE_M = 4 * WG_Y;
/** Batch dims a kernel takes after merging. */
export const MAX_BATCH_RANK = 8;

/** Activations the matmul epilogue can apply after the bias. */
export type Activation = 'none' | 'relu' | 'gelu' | 'gelu_tanh' | 'sigmoid' | 'tanh';

/** WGSL expression of the activation applied to `v` (helpers from common.wgsl). */
export const ACTIVATION_EXPR: Readonly<Record<Activation, string>> = {
  none: 'v',
  relu: 'max(v, 0.0)',
  gelu: '0.5 * v * (1.0 + erf_s(v * 0.70710678118654752))',
  gelu_tanh: '0.5 * v * (1.0 + tanh_s(0.79788456080286536 * (v + 0.044715 * v * v * v)))',
  sigmoid: 'sigmoid_s(v)',
  tanh: 'tanh_s(v)',
};

/** Which matmul kernels to use: per adapter by default (see `Strategy`), or the simple reference kernel. */
export type MatmulStrategy = 'cpu-simd' | 'gpu' | 'simple';

/**
 * Options of {@link matmul}: `transA` reads `a` as [..., K, M] and `transB` reads `b` as
 * [..., N, K]; `bias` ([N]) and `activation` form the fused epilogue act(a·b + bias);
 * `strategy` overrides the kernel family chosen for the adapter.
 */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  activation?: Activation;
  strategy?: MatmulStrategy;
}

/**
 * Everything a matmul kernel launcher needs, after validation: the logical problem
 * C[bi] = act(A[bi] · B[bi] + bias) for bi over the broadcast batch, with A [M, K] element
 * (m, k) at a.offset + boffA(bi) + m*sam + k*sak, B [K, N] element (k, n) at
 * b.offset + boffB(bi) + k*sbk + n*sbn, and boff*(bi) the batch index decomposed over
 * `batchShape` (collapsed, rank <= 8) with strides `bsa` / `bsb`. C is `out`, contiguous
 * [nb, M, N]. M, N, K and nb are all > 0 except K, which may be 0 (C = act(bias) or zeros).
 */
export interface MatmulGeometry {
  a: Tensor;
  b: Tensor;
  out: Tensor;
  M: number;
  N: number;
  K: number;
  nb: number;
  batchShape: number[];
  bsa: number[];
  bsb: number[];
  sam: number;
  sak: number;
  sbk: number;
  sbn: number;
  bias: Tensor | null;
  activation: Activation;
}

/** The operands' roles after 1-D promotion, transposes and batch broadcasting. */
interface MatmulPlan {
  /** Output shape, with the dims of promoted 1-D operands removed. */
  out: number[];
  /** Broadcast batch shape. */
  batch: number[];
  M: number;
  K: number;
  N: number;
}

function errShapes(a: Shape, b: Shape, opts: MatmulOptions): string {
  const flags = [opts.transA ? 'transA' : '', opts.transB ? 'transB' : ''].filter(Boolean).join(', ');
  return `a=${fmt(a)} b=${fmt(b)}${flags ? ` (${flags})` : ''}`;
}

function plan(aShape: Shape, bShape: Shape, opts: MatmulOptions): MatmulPlan {
  const shapes = errShapes(aShape, bShape, opts);
  if (aShape.length === 0 || bShape.length === 0) {
    throw new Error(`matmul: both operands need at least 1 dim, ${shapes}`);
  }
  if ((opts.transA && aShape.length === 1) || (opts.transB && bShape.length === 1)) {
    throw new Error(`matmul: a transpose flag needs a matrix operand, not a vector, ${shapes}`);
  }
  const ra = aShape.length;
  const rb = bShape.length;
  // torch.matmul: a 1-D a is a row [1, K]; a 1-D b is a column [K, 1].
  const M = ra === 1 ? 1 : aShape[opts.transA ? ra - 1 : ra - 2];
  const Ka = ra === 1 ? aShape[0] : aShape[opts.transA ? ra - 2 : ra - 1];
  const Kb = rb === 1 ? bShape[0] : bShape[opts.transB ? rb - 1 : rb - 2];
  const N = rb === 1 ? 1 : bShape[opts.transB ? rb - 2 : rb - 1];
  if (Ka !== Kb) throw new Error(`matmul: inner dims differ, ${shapes}`);
  const ba = aShape.slice(0, Math.max(0, ra - 2));
  const bb = bShape.slice(0, Math.max(0, rb - 2));
  const r = Math.max(ba.length, bb.length);
  const batch = new Array<number>(r).fill(1);
  for (const s of [ba, bb]) {
    s.forEach((d, i) => {
      const j = r - s.length + i;
      if (d === batch[j] || d === 1) return;
      if (batch[j] !== 1) throw new Error(`matmul: batch dims cannot be broadcast, ${shapes}`);
      batch[j] = d;
    });
  }
  const out = [...batch];
  if (ra > 1) out.push(M);
  if (rb > 1) out.push(N);
  return { out, batch, M, K: Ka, N };
}

/**
 * Output shape of {@link matmul} for operands of shapes `aShape`, `bShape` (pure; no GPU).
 * Throws one line naming the shapes when the inner dims differ or the batch dims do not broadcast.
 */
export function matmulShape(aShape: Shape, bShape: Shape, opts: MatmulOptions = {}): number[] {
  return plan(aShape, bShape, opts).out;
}

/** Strides of the logical [M, K] (or [K, N]) matrix of an operand: [row stride, column stride]. */
function matrixStrides(t: Tensor, isA: boolean, trans: boolean): [number, number] {
  const s = t.strides;
  const r = t.rank;
  if (r === 1) return isA ? [0, s[0]] : [s[0], 0];
  return trans ? [s[r - 1], s[r - 2]] : [s[r - 2], s[r - 1]];
}

/** Folds a workgroup count into a grid whose dimensions stay within `max` (x fastest). */
export function foldGrid(op: string, grid: [number, number, number], max: number): [number, number, number] {
  if (grid.every((g) => g <= max)) return grid;
  const total = grid[0] * grid[1] * grid[2];
  // The shader linearises the grid in u32.
  if (total > 0xffffffff) throw new Error(`${op}: ${total} workgroups exceed the 2^32 a u32 grid index can address`);
  const x = Math.min(total, max);
  const rest = Math.ceil(total / x);
  const y = Math.min(rest, max);
  const z = Math.ceil(rest / y);
  if (z > max) throw new Error(`${op}: ${total} workgroups exceed ${max}^3`);
  return [x, y, z];
}

/**
 * Batched matrix product, as `torch.matmul`: a [..., M, K] · b [..., K, N] -> [..., M, N] (f32).
 * Leading batch dims broadcast NumPy-style ([2,1,M,K] · [3,K,N] -> [2,3,M,N]). A 1-D `a` is a
 * row vector and a 1-D `b` a column vector; that dim is removed from the result ([K]·[K] -> []).
 * `transA` reads `a` as [..., K, M] and `transB` reads `b` as [..., N, K], both transposed,
 * without copying; any strided view is read in place. `bias` ([N]) and `activation` are fused
 * into the kernel's epilogue. K = 0 gives act(bias) (zeros without a bias).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const g = matmulGeometry(a, b, opts);
  if (!g) return Tensor.empty(matmulShape(a.shape, b.shape, opts), 'f32');
  const strategy = opts.strategy ?? runtime().strategy;
  if (strategy === 'cpu-simd') launchMatmulSimd(g);
  else if (strategy === 'gpu') launchMatmulTiled(g);
  else launchMatmulSimple(g);
  return g.out;
}

/** Validates operands and options and builds the geometry; null when the output is empty. */
export function matmulGeometry(a: Tensor, b: Tensor, opts: MatmulOptions = {}): MatmulGeometry | null {
  if (a.dtype !== 'f32' || b.dtype !== 'f32') {
    throw new Error(`matmul: f32 operands only, got a ${a.dtype} ${fmt(a.shape)} and b ${b.dtype} ${fmt(b.shape)}`);
  }
  const { out: outShape, batch, M, K, N } = plan(a.shape, b.shape, opts);
  const bias = opts.bias ?? null;
  if (bias && (bias.dtype !== 'f32' || bias.rank !== 1 || bias.shape[0] !== N)) {
    throw new Error(`matmul: bias must be f32 [${N}], got ${bias.dtype} ${fmt(bias.shape)} (${errShapes(a.shape, b.shape, opts)})`);
  }
  const activation = opts.activation ?? 'none';
  if (!(activation in ACTIVATION_EXPR)) throw new Error(`matmul: unknown activation '${activation}'`);
  const nb = sizeOf(batch);
  if (nb * M * N === 0) return null;
  const bsa = broadcastStrides(a.shape.slice(0, Math.max(0, a.rank - 2)), a.strides.slice(0, Math.max(0, a.rank - 2)), batch);
  const bsb = broadcastStrides(b.shape.slice(0, Math.max(0, b.rank - 2)), b.strides.slice(0, Math.max(0, b.rank - 2)), batch);
  const c = collapseDims(batch, [bsa, bsb]);
  if (c.shape.length > MAX_BATCH_RANK) {
    throw new Error(`matmul: ${c.shape.length} batch dims after merging exceed ${MAX_BATCH_RANK}, a=${fmt(a.shape)} b=${fmt(b.shape)}`);
  }
  const [sam, sak] = matrixStrides(a, true, !!opts.transA);
  const [sbk, sbn] = matrixStrides(b, false, !!opts.transB);
  const out = Tensor.empty(outShape, 'f32');
  return {
    a, b, out, M, N, K, nb, batchShape: c.shape, bsa: c.strides[0], bsb: c.strides[1],
    sam, sak, sbk, sbn, bias, activation,
  };
}

/**
 * Records a strided GEMM kernel that uses shaders/gemm.wgsl's uniform and epilogue (the simple and
 * the tiled strategy): a grid of output tiles of tileM x tileN, folded within the grid limits.
 */
export function launchGemm(
  g: MatmulGeometry, shader: string, entry: string, overrides: Record<string, number>, tileM: number, tileN: number,
): void {
  const { M, N, K, nb } = g;
  const tilesN = Math.ceil(N / tileN);
  const tilesM = Math.ceil(M / tileM);
  const params = new Params()
    .u32(M, N, K, nb)
    .u32(g.sam, g.sak, g.sbk, g.sbn)
    .u32(g.a.offset, g.b.offset, g.batchShape.length, tilesN)
    .u32(tilesM, g.bias ? g.bias.offset : 0, 0, 0)
    .u32Array(g.batchShape, MAX_BATCH_RANK, 1)
    .u32Array(g.bsa, MAX_BATCH_RANK)
    .u32Array(g.bsb, MAX_BATCH_RANK);
  const rt = runtime();
  dispatch({
    op: 'matmul',
    shader,
    entry,
    slots: { ACT: ACTIVATION_EXPR[g.activation] },
    overrides: { ...overrides, HAS_BIAS: g.bias ? 1 : 0 },
    inputs: [g.a, g.b, g.bias ?? rt.dummy],
    outputs: [g.out],
    params,
    workgroups: foldGrid('matmul', [tilesN, tilesM, nb], rt.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** The simple strategy: a 4x4 register tile per invocation, every operand read through its strides. */
export function launchMatmulSimple(g: MatmulGeometry): void {
  launchGemm(g, 'matmul', 'matmul_tile', { WG_X, WG_Y }, TILE_M, TILE_N);
}
