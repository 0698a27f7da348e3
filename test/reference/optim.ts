// Float64 references for the optimizers: PyTorch's torch.optim.SGD / AdamW loops and SimCLR's LARS,
// one parameter at a time, with per-parameter state. A null gradient skips the parameter (PyTorch's
// `if p.grad is None: continue`): no decay, no state change, no step count.

/** One parameter's values and its state, in float64. */
export interface RefParam {
  w: Float64Array;
  state: Record<string, Float64Array>;
  step: number;
}

export const refParam = (w: ArrayLike<number>): RefParam => ({ w: Float64Array.from(w), state: {}, step: 0 });

const slot = (p: RefParam, name: string): Float64Array => (p.state[name] ??= new Float64Array(p.w.length));
const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** torch.optim.SGD step. */
export function sgdRef(p: RefParam, g: ArrayLike<number> | null, h: { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean }): void {
  if (!g) return;
  p.step++;
  const buf = h.momentum !== 0 ? slot(p, 'momentum_buffer') : null;
  for (let i = 0; i < p.w.length; i++) {
    let d = g[i] + h.weightDecay * p.w[i];
    if (buf) {
      buf[i] = p.step === 1 ? d : h.momentum * buf[i] + (1 - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p.w[i] -= h.lr * d;
  }
}

/** torch.optim.AdamW step. */
export function adamwRef(p: RefParam, g: ArrayLike<number> | null, h: { lr: number; betas: readonly [number, number]; eps: number; weightDecay: number }): void {
  if (!g) return;
  p.step++;
  const [b1, b2] = h.betas;
  const m = slot(p, 'exp_avg');
  const v = slot(p, 'exp_avg_sq');
  const bc1 = 1 - b1 ** p.step;
  const bc2 = 1 - b2 ** p.step;
  for (let i = 0; i < p.w.length; i++) {
    p.w[i] *= 1 - h.lr * h.weightDecay;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    p.w[i] -= (h.lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + h.eps);
  }
}

/** LARS step as SimCLR's TF code (momentum buffer holds lr·trust·g'). */
export function larsRef(p: RefParam, g: ArrayLike<number> | null, h: { lr: number; momentum: number; weightDecay: number; eta: number; nesterov: boolean }, excluded: boolean): void {
  if (!g) return;
  p.step++;
  const wd = excluded ? 0 : h.weightDecay;
  const d = Array.from(g, (x, i) => x + wd * p.w[i]);
  const wn = norm(p.w);
  const dn = norm(d);
  const trust = !excluded && wn > 0 && dn > 0 ? (h.eta * wn) / dn : 1;
  const v = slot(p, 'momentum_buffer');
  for (let i = 0; i < p.w.length; i++) {
    v[i] = h.momentum * v[i] + h.lr * trust * d[i];
    p.w[i] -= h.nesterov ? h.momentum * v[i] + h.lr * trust * d[i] : v[i];
  }
}
