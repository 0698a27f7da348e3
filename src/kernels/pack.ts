/**
 * The vec4 row packing of the CPU-SIMD kernels (shaders/pack_vec4.wgsl): a strided f32 operand
 * written as contiguous vec4 rows along its reduction axis, zero-padded to a multiple of 4, for
 * the kernels that load one vec4 per lane (matmul_simd, contrastive_simd) when the operand cannot
 * be read in place.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Batch dims the packer decomposes (the shader's pshape / pstr hold 8). */
export const PACK_MAX_BATCH_RANK = 8;

/** The operand layout {@link packVec4Rows} reads: element strides of `src` from `src.offset`. */
export interface PackLayout {
  /** Rows per matrix (R). */
  rows: number;
  /** Length of the reduction axis (K); rows are padded to ceil(K / 4) vec4s. */
  k: number;
  /** Element stride between rows and along K. */
  rowStride: number;
  kStride: number;
  /** The matrices: their batch shape and element strides (0 repeats a matrix); [] for one. */
  batchShape: readonly number[];
  batchStrides: readonly number[];
}

/**
 * Returns a new f32 tensor [count * rows * ceil(k / 4) * 4] holding the operand as vec4 rows:
 * matrix i (row-major over `batchShape`), row r, vec4 k4 at vec4 index (i * rows + r) * K4 + k4.
 * `op` names the caller in errors and dispatch labels.
 */
export function packVec4Rows(op: string, src: Tensor, l: PackLayout): Tensor {
  if (src.dtype !== 'f32') throw new Error(`${op}: packVec4Rows needs an f32 operand, got ${src.dtype} ${fmt(src.shape)}`);
  if (l.batchShape.length !== l.batchStrides.length || l.batchShape.length > PACK_MAX_BATCH_RANK) {
    throw new Error(`${op}: packVec4Rows takes up to ${PACK_MAX_BATCH_RANK} batch dims with one stride each, got shape ${fmt(l.batchShape)} and strides ${fmt(l.batchStrides)}`);
  }
  const K4 = Math.ceil(l.k / 4);
  const count = l.batchShape.reduce((x, y) => x * y, 1);
  const n = count * l.rows * K4;
  const packed = Tensor.empty([n * 4], 'f32');
  if (n === 0) return packed;
  dispatch({
    op: `${op}.pack`,
    shader: 'pack_vec4',
    entry: 'pack',
    inputs: [src],
    outputs: [packed],
    params: new Params()
      .u32(n, l.rows, l.k, K4)
      .u32(l.rowStride, l.kStride, src.offset, l.batchShape.length)
      .u32Array(l.batchShape, PACK_MAX_BATCH_RANK, 1)
      .u32Array(l.batchStrides, PACK_MAX_BATCH_RANK),
    workgroups: Math.ceil(n / 64),
  });
  return packed;
}
