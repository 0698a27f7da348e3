// Float64 reference of torch.nn.functional.cross_entropy with integer labels and label smoothing.
import type { Arr } from './matmul.js';
import { softmaxRef } from './reduce.js';

/** loss_i = -(1 - ε) logp[i, y_i] - ε mean_c logp[i, c], reduced by 'mean' | 'sum' | 'none'. */
export function crossEntropyRef(logits: Arr, labels: ArrayLike<number>, reduction: 'mean' | 'sum' | 'none' = 'mean', eps = 0): { data: Float64Array; shape: number[] } {
  const [n, c] = logits.shape;
  const logp = softmaxRef(logits.data, [n, c], 1, true);
  const per = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let k = 0; k < c; k++) mean += logp[i * c + k] / c;
    per[i] = -(1 - eps) * logp[i * c + labels[i]] - eps * mean;
  }
  if (reduction === 'none') return { data: per, shape: [n] };
  const s = per.reduce((a, b) => a + b, 0);
  return { data: Float64Array.of(reduction === 'sum' ? s : s / n), shape: [] };
}
