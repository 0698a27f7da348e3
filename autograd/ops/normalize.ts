/**
 * L2 normalisation along one axis, as torch.nn.functional.normalize: x / max(||x||_2, eps).
 * Composed from differentiable ops (square, sum, sqrt, clamp, div), so its backward is theirs;
 * it costs O(numel), never a pairwise matrix.
 */
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { clamp, div, sqrt, square } from './elementwise.js';
import { sum } from './reduce.js';

/** Options of {@link normalize}. */
export interface NormalizeOptions {
  /** The axis normalised (default -1, the last). */
  dim?: number;
  /** Lower bound of the norm, as PyTorch (default 1e-12): zero rows stay zero. */
  eps?: number;
}

/**
 * Returns `x / max(||x||_2, eps)` with the norm taken along `dim` (default the last axis), as
 * `torch.nn.functional.normalize(x, p=2, dim, eps)`. Differentiable in `x`.
 */
export function normalize(x: Tensor, opts: NormalizeOptions = {}): Tensor {
  const dim = opts.dim ?? -1;
  const eps = opts.eps ?? 1e-12;
  if (x.dtype !== 'f32') throw new Error(`normalize: expects an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  const axis = dim < 0 ? dim + x.rank : dim;
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.rank) {
    throw new Error(`normalize: dim ${dim} out of range for shape ${fmt(x.shape)}`);
  }
  const norm = clamp(sqrt(sum(square(x), [axis], true)), eps);
  return div(x, norm);
}
