/**
 * The EMA update of target networks (momentum encoders, teachers): target = m·target + (1 - m)·online
 * over parameters, fused in shaders/optim.wgsl (optim_ema).
 */
import { noGrad } from '../autograd/grad_mode.js';
import { launchEma } from '../src/kernels/optim.js';
import { fmt, sameShape } from '../src/shape.js';
import type { Tensor } from '../src/tensor.js';

/** A [total] view over `ts` when they are contiguous, consecutive slices of one storage; else null. */
function span(ts: readonly Tensor[]): Tensor | null {
  if (ts.length === 0) return null;
  let end = ts[0].offset;
  for (const t of ts) {
    if (t.storage !== ts[0].storage || !t.isContiguous || t.offset !== end) return null;
    end += t.size;
  }
  return ts[0].view([end - ts[0].offset], [1], ts[0].offset);
}

/**
 * EMA of parameters: target = m·target + (1 - m)·online, in place, for momentum encoders and
 * teachers (parameters only: BatchNorm running statistics come from the target's own forward
 * passes). One fused dispatch when both sides are flat spans with the same layout (an optimizer
 * group, or `flattenParams`), else one dispatch per tensor. Runs under noGrad.
 */
export function emaUpdate(target: Iterable<Tensor>, online: Iterable<Tensor>, m: number): void {
  const ts = [...target];
  const os = [...online];
  if (ts.length !== os.length) throw new Error(`emaUpdate: ${ts.length} target tensors but ${os.length} online tensors`);
  if (!(m >= 0 && m <= 1)) throw new Error(`emaUpdate: momentum must be in [0, 1], got ${m}`);
  ts.forEach((t, i) => {
    if (!sameShape(t.shape, os[i].shape)) throw new Error(`emaUpdate: tensor ${i}: target ${fmt(t.shape)} and online ${fmt(os[i].shape)} differ`);
  });
  noGrad(() => {
    const st = span(ts);
    const so = st && span(os);
    if (st && so) {
      launchEma(st, so, m);
    } else {
      ts.forEach((t, i) => launchEma(t, os[i], m));
    }
    st?.dispose();
    so?.dispose();
  });
}
