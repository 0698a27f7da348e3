/**
 * The non-contrastive losses of BYOL and SimSiam, composed from differentiable ops (normalize,
 * mul, sum, mean, detach): O(B·D) each, no pairwise matrix. The targets z are detached inside,
 * so gradients reach only the predictions p (the stop-gradient both methods need).
 */
import { add, detach, mean, mul, neg, normalize, sub, sum } from '../../autograd/index.js';
import { fmt, sameShape } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';

function checkPair(op: string, p: Tensor, z: Tensor): void {
  if (p.rank !== 2 || !sameShape(p.shape, z.shape) || p.dtype !== 'f32' || z.dtype !== 'f32') {
    throw new Error(`${op}: p and z must be f32 [B, D] of one shape, got p=${p.dtype} ${fmt(p.shape)} z=${z.dtype} ${fmt(z.shape)}`);
  }
}

/** Row-wise cosine similarity [B] of p and sg(z), each row normalised with norm floor `eps`. */
function cosineToTarget(p: Tensor, z: Tensor, eps: number): Tensor {
  return sum(mul(normalize(p, { eps }), normalize(detach(z), { eps })), [1]);
}

/**
 * BYOL's symmetric regression loss (Grill et al. 2020, arXiv:2006.07733):
 * mean_i(2 - 2 cos(p1_i, sg(z2_i))) + mean_i(2 - 2 cos(p2_i, sg(z1_i))), where p are the online
 * predictions and z the target projections (stop-gradient: z1, z2 never get gradients).
 * All four are f32 [B, D]; returns a scalar.
 */
export function byolLoss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor): Tensor {
  for (const [p, z] of [[p1, z2], [p2, z1]] as const) checkPair('byolLoss', p, z);
  checkPair('byolLoss', p1, p2);
  const side = (p: Tensor, z: Tensor) => mean(sub(2, mul(cosineToTarget(p, z, 1e-12), 2)));
  return add(side(p1, z2), side(p2, z1));
}

/**
 * SimSiam's D(p, z) = -mean_i cos(p_i, sg(z_i)) (Chen & He 2021, arXiv:2011.10566), as
 * `-F.cosine_similarity(p, z.detach(), dim=1).mean()`: each row is normalised with norm floor
 * `eps` (default 1e-8, PyTorch's cosine_similarity eps). p, z: f32 [B, D]; returns a scalar.
 */
export function negativeCosine(p: Tensor, z: Tensor, eps = 1e-8): Tensor {
  checkPair('negativeCosine', p, z);
  return neg(mean(cosineToTarget(p, z, eps)));
}

/**
 * SimSiam's symmetric loss: D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2, with D = {@link negativeCosine}.
 * p are the predictor outputs, z the projections of the two views; all f32 [B, D]. Gradients
 * reach z only through p = predictor(z) (the stop-gradient that prevents collapse).
 */
export function simsiamLoss(p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor): Tensor {
  checkPair('simsiamLoss', p1, p2);
  return mul(add(negativeCosine(p1, z2), negativeCosine(p2, z1)), 0.5);
}
