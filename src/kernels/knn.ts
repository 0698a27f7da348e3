/**
 * Per-row top-k selection (shaders/knn.wgsl) for the kNN monitor in models/eval.ts: the k largest
 * values of each row of a similarity block with their column indices, sorted descending; equal
 * values keep ascending column order (a stable descending sort), so results are deterministic.
 * Not differentiable (evaluation only).
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Largest k the kernel's private lists hold. */
export const TOPK_MAX = 1024;

/** The private-list capacity compiled for `k`: the next power of two >= max(k, 32), so few pipelines exist. */
const capacity = (k: number): number => Math.max(32, 2 ** Math.ceil(Math.log2(k)));

/**
 * Top-k along the last axis of `x` [rows, n] (f32, any strides: a transposed view of an [n, rows]
 * block is the fast layout on CPU adapters, where one SIMD group's rows are then adjacent):
 * returns `values` f32 [rows, k] in descending order and `indices` i32 [rows, k], ties broken by
 * the lower column index. A NaN ranks below every number. Needs 1 <= k <= min(n, 1024).
 */
export function topkRows(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  const op = 'topkRows';
  if (x.dtype !== 'f32' || x.rank !== 2) throw new Error(`${op}: x must be an f32 [rows, n] tensor, got ${x.dtype} ${fmt(x.shape)}`);
  const [rows, n] = x.shape;
  if (!Number.isInteger(k) || k < 1 || k > n || k > TOPK_MAX) {
    throw new Error(`${op}: k must be an integer in [1, min(n, ${TOPK_MAX})], got k=${k} for x ${fmt(x.shape)}`);
  }
  const values = Tensor.empty([rows, k]);
  const indices = Tensor.empty([rows, k], 'i32');
  // One invocation per row: small workgroups on CPU adapters spread the rows over the cores.
  const wg = runtime().strategy === 'cpu-simd' ? 8 : 64;
  dispatch({
    op,
    shader: 'knn',
    entry: 'knn_topk',
    slots: { KMAX: capacity(k) },
    overrides: { WG: wg },
    inputs: [x],
    outputs: [values, indices],
    params: new Params().u32(rows, n, k, x.offset, x.strides[0], x.strides[1], 0, 0),
    workgroups: Math.ceil(rows / wg),
  });
  return { values, indices };
}
