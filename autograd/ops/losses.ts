/**
 * Loss functions. crossEntropy is one recorded op: forward is log-softmax + gather (+ the label
 * smoothing term), and backward is the closed form softmax - target, so no [N, C] intermediate
 * besides the saved log-probabilities is kept.
 */
import { binary, unary } from '../../src/kernels/elementwise.js';
import { gather as gatherK, oneHot } from '../../src/kernels/gather.js';
import { launchReduce } from '../../src/kernels/reduce.js';
import { logSoftmax as logSoftmaxK } from '../../src/kernels/softmax.js';
import { scope } from '../../src/scope.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { reshape } from '../../src/views.js';
import { defineOp } from '../op.js';

/** Options of {@link crossEntropy}, as torch.nn.functional.cross_entropy. */
export interface CrossEntropyOptions {
  /** 'mean' (default) over the batch, 'sum', or 'none' for the per-sample losses [N]. */
  reduction?: 'mean' | 'sum' | 'none';
  /** ε in [0, 1]: the target is (1 - ε) one-hot + ε / C (default 0). */
  labelSmoothing?: number;
}

interface CeData {
  n: number;
  c: number;
  eps: number;
  reduction: 'mean' | 'sum' | 'none';
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const;

const crossEntropyOp = defineOp({
  name: 'crossEntropy',
  forward(ctx, logits: Tensor, labels: Tensor, opts: CrossEntropyOptions) {
    const shapes = `logits ${logits.dtype} ${fmt(logits.shape)}, labels ${labels.dtype} ${fmt(labels.shape)}`;
    if (logits.dtype !== 'f32' || logits.rank !== 2 || labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
      throw new Error(`crossEntropy: expects logits f32 [N, C] and labels i32 [N], got ${shapes}`);
    }
    const eps = opts.labelSmoothing ?? 0;
    const reduction = opts.reduction ?? 'mean';
    if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps} (${shapes})`);
    if (!REDUCTIONS.includes(reduction)) throw new Error(`crossEntropy: unknown reduction '${reduction}' (${shapes})`);
    const [n, c] = logits.shape;
    const { out, logp } = scope(() => {
      const logp = logSoftmaxK(logits, 1);
      const picked = reshape(gatherK(logp, 1, reshape(labels, [n, 1])), [n]);
      // loss_i = -(1 - ε) logp[i, y_i] - ε mean_c logp[i, c]
      let per = binary('mul', picked, -(1 - eps));
      if (eps > 0) per = binary('sub', per, binary('mul', launchReduce({ op: 'mean', x: logp, axes: 1 }), eps));
      const out = reduction === 'none' ? per : launchReduce({ op: reduction, x: per });
      return { out, logp };
    });
    if (ctx.needsGrad(0)) ctx.save(logp, labels);
    logp.dispose();
    ctx.data.ce = { n, c, eps, reduction } satisfies CeData;
    return out;
  },
  // dlogits = (softmax(x) - (1 - ε) onehot(y) - ε / C) g_i,  g_i = g (sum), g / N (mean), g[i] (none)
  backward(ctx, g) {
    const { n, c, eps, reduction } = ctx.data.ce as CeData;
    const [logp, labels] = ctx.saved;
    const target = binary('add', binary('mul', oneHot(labels, c), 1 - eps), eps / c);
    const gi = reduction === 'none' ? reshape(g, [n, 1]) : reduction === 'mean' ? binary('div', g, n) : g;
    return [binary('mul', binary('sub', unary('exp', logp), target), gi), null, null];
  },
});

/**
 * Cross-entropy of `logits` [N, C] against integer class `labels` (i32 [N], each in [0, C)), as
 * torch.nn.functional.cross_entropy: log-softmax over classes, then the negative log-likelihood
 * of the label, with label smoothing (1 - ε)·nll + ε·mean_c(-log p_c) and reduction 'mean'
 * (default), 'sum' or 'none' ([N]). Differentiable in the logits.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return crossEntropyOp(logits, labels, opts);
}
