/**
 * Differentiable BatchNorm (F.batch_norm): per-channel statistics over every dim but dim 1, fused
 * with the normalisation in one kernel, and one fused kernel for dx, dγ and dβ. In training the
 * running statistics (when given) are updated in place as PyTorch does; they never get gradients.
 */
import { launchBatchNormBwd, launchBatchNormFwd } from '../../src/kernels/batch_norm.js';
import type { Tensor } from '../../src/tensor.js';
import { defineOp } from '../op.js';

/** Options of {@link batchNorm}, as F.batch_norm (plus the module's counter). */
export interface BatchNormOptions {
  /** Normalise with the batch's statistics and update the running ones (default false: use the running ones). */
  training?: boolean;
  /** Weight of the new batch in the running statistics (default 0.1); null: cumulative average. */
  momentum?: number | null;
  eps?: number;
  /** i32 counter (one element) incremented per training call; needed when momentum is null. */
  numBatchesTracked?: Tensor | null;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1) of x [N, C, ...]. In
 * training (or without running statistics) mean and biased var come from the batch; the running
 * statistics, when given, become (1 - m) r + m s with the unbiased batch variance, in place.
 * Otherwise the running statistics normalise. weight and bias ([C]) are optional.
 */
export const batchNorm = defineOp({
  name: 'batchNorm',
  forward(
    ctx,
    x: Tensor,
    runningMean: Tensor | null,
    runningVar: Tensor | null,
    weight: Tensor | null = null,
    bias: Tensor | null = null,
    opts: BatchNormOptions = {},
  ) {
    const training = opts.training ?? false;
    const { y, stats } = launchBatchNormFwd({
      x, weight, bias, runningMean, runningVar, numBatchesTracked: opts.numBatchesTracked,
      training, momentum: opts.momentum, eps: opts.eps,
    });
    if (ctx.needs.some(Boolean)) {
      ctx.save(x, stats, ...(weight ? [weight] : []));
      ctx.data.batchStats = training;
    }
    stats.dispose();
    return y;
  },
  // x̂ = (x - mean) rstd:  dβ = Σ dy,  dγ = Σ dy x̂,
  // dx = γ rstd (dy - (dβ + x̂ dγ) / M) with batch statistics, γ rstd dy with running ones
  backward(ctx, dy) {
    const [x, stats, weight] = ctx.saved;
    const g = launchBatchNormBwd({ x, dy, weight, stats, batchStats: ctx.data.batchStats as boolean });
    return [ctx.needsGrad(0) ? g.dx : null, null, null, ctx.needsGrad(3) ? g.dweight : null, ctx.needsGrad(4) ? g.dbias : null, null];
  },
});
