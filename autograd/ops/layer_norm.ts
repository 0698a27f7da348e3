/**
 * Differentiable LayerNorm (F.layer_norm) over the trailing dims: a fused forward that saves
 * each row's mean and rstd, and a fused backward (dx in one dispatch, dγ and dβ together in one).
 */
import { launchLayerNormBwd, launchLayerNormFwd } from '../../src/kernels/layer_norm.js';
import type { Tensor } from '../../src/tensor.js';
import { defineOp } from '../op.js';

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias, with mean and biased var over the trailing
 * `normalizedShape` dims of x (a number: the last dim). weight and bias have normalizedShape and
 * are optional (elementwise_affine=False, or bias=False).
 */
export const layerNorm = defineOp({
  name: 'layerNorm',
  forward(
    ctx,
    x: Tensor,
    normalizedShape: number | readonly number[],
    weight: Tensor | null = null,
    bias: Tensor | null = null,
    eps: number = 1e-5,
  ) {
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    const { y, stats } = launchLayerNormFwd({ x, normalizedShape: shape, weight, bias, eps });
    if (ctx.needs.some(Boolean)) {
      ctx.save(x, stats, ...(weight ? [weight] : []));
      ctx.data.shape = shape;
    }
    stats.dispose();
    return y;
  },
  // x̂ = (x - mean) rstd, g = dy γ:  dx = rstd (g - mean(g) - x̂ mean(g x̂)),  dγ = Σ_rows dy x̂,  dβ = Σ_rows dy
  backward(ctx, dy) {
    const [x, stats, weight] = ctx.saved;
    const g = launchLayerNormBwd({
      x, dy, weight, stats, normalizedShape: ctx.data.shape as number[],
      needInput: ctx.needsGrad(0), needParams: ctx.needsGrad(2) || ctx.needsGrad(3),
    });
    return [g.dx, null, ctx.needsGrad(2) ? g.dweight : null, ctx.needsGrad(3) ? g.dbias : null, null];
  },
});
