/**
 * The CPU-SIMD strategy of matmul (shaders/matmul_simd.wgsl), for adapters whose shaders run on
 * CPU SIMD units (lavapipe, SwiftShader). A workgroup is one subgroup; operands are read as vec4s
 * along K, so each is either used in place (K-contiguous, K % 4 == 0, vec4-aligned) or first
 * packed into vec4 rows along K (pack.ts; B transposed, K zero-padded). The register tile
 * (SG*RA rows x SG*CB columns) is chosen from the shape.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { ACTIVATION_EXPR, foldGrid, MAX_BATCH_RANK, type MatmulGeometry } from './matmul.js';
import { packVec4Rows } from './pack.js';


/** An operand as the gemm entry reads it: a vec4 buffer, its offset, row stride and batch strides (vec4 units). */
interface Vec4Operand {
  buffer: Tensor;
  offset: number;
  rowStride: number;
  batchStrides: number[];
  /** A packed copy owned by this call (disposed after the dispatch is recorded). */
  temp: boolean;
}

/**
 * Returns the operand as vec4 rows along K: in place when the layout allows, else packed.
 * rows/rs: the operand's row count and element row stride (M, sam for A; N, sbn for B);
 * ks: its element stride along K; bs: its batch strides over g.batchShape.
 */
function vec4Operand(g: MatmulGeometry, t: Tensor, rows: number, rs: number, ks: number, bs: number[]): Vec4Operand {
  const K4 = Math.ceil(g.K / 4);
  const aligned = (v: number) => v % 4 === 0;
  if (ks === 1 && aligned(g.K) && aligned(rs) && aligned(t.offset) && bs.every(aligned)) {
    return { buffer: t, offset: t.offset / 4, rowStride: rs / 4, batchStrides: bs.map((s) => s / 4), temp: false };
  }
  // Pack the operand's own matrices: the batch dims where it is not broadcast.
  const own = g.batchShape.map((_, i) => i).filter((i) => bs[i] !== 0);
  const pshape = own.map((i) => g.batchShape[i]);
  const packed = packVec4Rows('matmul', t, {
    rows, k: g.K, rowStride: rs, kStride: ks, batchShape: pshape, batchStrides: own.map((i) => bs[i]),
  });
  // Packed batch strides over the full batch shape: contiguous over the operand's own dims, 0 elsewhere.
  const batchStrides = new Array<number>(g.batchShape.length).fill(0);
  let acc = rows * K4;
  for (let j = own.length - 1; j >= 0; j--) {
    batchStrides[own[j]] = acc;
    acc *= pshape[j];
  }
  return { buffer: packed, offset: 0, rowStride: K4, batchStrides, temp: true };
}

let forcedTile: { RA: number; CB: number } | null = null;

/** Forces the register tile of every CPU-SIMD matmul (tests and tuning); null restores the choice by shape. */
export function forceSimdTile(tile: { RA: number; CB: number } | null): void {
  forcedTile = tile;
}

/**
 * Register tile for a shape: RA row groups and CB column groups of SG lanes each, grown while the
 * output still fills them, up to a 32 x 32 tile and 128 accumulators per lane (lavapipe, SG 8:
 * 32 x 32 measured fastest, 16 x 32 next; SwiftShader, SG 4: 16 x 32).
 */
export function simdTile(M: number, N: number, sg: number): { RA: number; CB: number } {
  const MAX_TILE = 32;
  const MAX_ACC = 128;
  let RA = 1;
  let CB = 1;
  for (;;) {
    if (N > sg * CB && sg * CB * 2 <= MAX_TILE && RA * sg * CB * 2 <= MAX_ACC) CB *= 2;
    else if (M > sg * RA && sg * RA * 2 <= MAX_TILE && RA * 2 * sg * CB <= MAX_ACC) RA *= 2;
    else return { RA, CB };
  }
}

/** Launches the CPU-SIMD matmul for a validated geometry (see `MatmulGeometry`). */
export function launchMatmulSimd(g: MatmulGeometry): void {
  const rt = runtime();
  const SG = rt.subgroupSize;
  if (!rt.hasFeature('subgroups') || SG < 1 || rt.acquired.info.subgroupMinSize !== rt.acquired.info.subgroupMaxSize) {
    throw new Error(`matmul: the 'cpu-simd' strategy needs the 'subgroups' feature with one fixed subgroup size; use strategy 'gpu'`);
  }
  const A = vec4Operand(g, g.a, g.M, g.sam, g.sak, g.bsa);
  const B = vec4Operand(g, g.b, g.N, g.sbn, g.sbk, g.bsb);
  const { RA, CB } = forcedTile ?? simdTile(g.M, g.N, SG);
  const tilesM = Math.ceil(g.M / (SG * RA));
  const tilesN = Math.ceil(g.N / (SG * CB));
  const params = new Params()
    .u32(g.M, g.N, Math.ceil(g.K / 4), g.nb)
    .u32(A.rowStride, B.rowStride, A.offset, B.offset)
    .u32(tilesN, tilesM, g.batchShape.length, g.bias ? g.bias.offset : 0)
    .u32Array(g.batchShape, MAX_BATCH_RANK, 1)
    .u32Array(A.batchStrides, MAX_BATCH_RANK)
    .u32Array(B.batchStrides, MAX_BATCH_RANK);
  dispatch({
    op: 'matmul',
    shader: 'matmul_simd',
    entry: 'gemm',
    slots: { SG, RA, CB, ACT: ACTIVATION_EXPR[g.activation] },
    overrides: { HAS_BIAS: g.bias ? 1 : 0 },
    inputs: [A.buffer, B.buffer, g.bias ?? rt.dummy],
    outputs: [g.out],
    params,
    workgroups: foldGrid('matmul', [tilesN * tilesM * g.nb, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
  });
  if (A.temp) A.buffer.dispose();
  if (B.temp) B.buffer.dispose();
}
