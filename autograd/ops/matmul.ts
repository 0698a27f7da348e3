/**
 * Differentiable batched matmul with the fused bias + activation epilogue. The backward products
 * use the kernel's transpose flags on the saved operands, never transposed copies; broadcast
 * batch dims are summed back by the tape. An activation whose derivative is a function of its
 * output (relu, sigmoid, tanh) stays fused; for gelu, when a gradient is needed, the product is
 * recorded without it and the differentiable gelu op is applied on top.
 */
import { binary } from '../../src/kernels/elementwise.js';
import { matmul as matmulK, matmulShape, type Activation, type MatmulOptions, type MatmulStrategy } from '../../src/kernels/matmul.js';
import { launchReduce } from '../../src/kernels/reduce.js';
import { Tensor } from '../../src/tensor.js';
import { reshape, squeeze } from '../../src/views.js';
import { isGradEnabled } from '../grad_mode.js';
import { defineOp } from '../op.js';
import { gelu } from './elementwise.js';

/** Activations whose derivative the backward reads off the saved output y. */
const FROM_OUTPUT: Partial<Record<Activation, 'reluBwd' | 'sigmoidBwd' | 'tanhBwd'>> = {
  relu: 'reluBwd', sigmoid: 'sigmoidBwd', tanh: 'tanhBwd',
};

type Flags = Omit<MatmulOptions, 'bias'>;

interface MatmulData {
  aShape: readonly number[];
  bShape: readonly number[];
  opts: Flags;
  /** Which of a, b, y were saved (in that order). */
  kept: { a: boolean; b: boolean; y: boolean };
}

const matmulOp = defineOp({
  name: 'matmul',
  forward(ctx, a: Tensor, b: Tensor, bias: Tensor | null, opts: Flags) {
    const act = opts.activation ?? 'none';
    const y = matmulK(a, b, { ...opts, bias: bias ?? undefined });
    if (ctx.needs.length === 0) return y;
    if (act !== 'none' && !FROM_OUTPUT[act]) {
      throw new Error(`matmul: activation '${act}' has no fused backward; call matmul() (it records gelu separately)`);
    }
    const kept = { a: ctx.needsGrad(1), b: ctx.needsGrad(0), y: act !== 'none' };
    if (kept.a) ctx.save(a);
    if (kept.b) ctx.save(b);
    if (kept.y) ctx.save(y);
    ctx.data.m = { aShape: a.shape, bShape: b.shape, opts, kept } satisfies MatmulData;
    return y;
  },
  // dZ = g act'(Z);  with A' = op(a), B' = op(b):  dA' = dZ·B'ᵀ,  dB' = A'ᵀ·dZ,  dbias = Σ_rows dZ
  backward(ctx, g) {
    const { aShape, bShape, opts, kept } = ctx.data.m as MatmulData;
    const { transA = false, transB = false, strategy } = opts;
    const s = [...ctx.saved];
    const a = kept.a ? s.shift()! : null;
    const b = kept.b ? s.shift()! : null;
    const y = kept.y ? s.shift()! : null;
    const act = opts.activation ?? 'none';
    const dz = y ? binary(FROM_OUTPUT[act]!, g, y) : g;
    // torch.matmul's 1-D operands, promoted to [1, K] (a) and [K, 1] (b); dz gets both dims back.
    const a1 = aShape.length === 1;
    const b1 = bShape.length === 1;
    const a2 = a && a1 ? reshape(a, [1, aShape[0]]) : a;
    const b2 = b && b1 ? reshape(b, [bShape[0], 1]) : b;
    const dz2 = reshape(dz, matmulShape(a1 ? [1, aShape[0]] : aShape, b1 ? [bShape[0], 1] : bShape, opts));
    const mm = (x: Tensor, w: Tensor, tA: boolean, tB: boolean) => matmulK(x, w, { transA: tA, transB: tB, strategy });
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (ctx.needsGrad(0)) {
      da = transA ? mm(b2!, dz2, transB, true) : mm(dz2, b2!, false, !transB); // [..., K, M] or [..., M, K]
      if (a1) da = squeeze(da, -2);
    }
    if (ctx.needsGrad(1)) {
      db = transB ? mm(dz2, a2!, true, transA) : mm(a2!, dz2, !transA, false); // [..., N, K] or [..., K, N]
      if (b1) db = squeeze(db, -1);
    }
    let dbias: Tensor | null = null;
    if (ctx.needsGrad(2)) {
      const rows = dz2.shape.slice(0, -1).map((_, i) => i);
      dbias = launchReduce({ op: 'sum', x: dz2, axes: rows });
    }
    return [da, db, dbias, null];
  },
});

/**
 * Batched matrix product, as `torch.matmul`: a [..., M, K] · b [..., K, N] -> [..., M, N] (f32),
 * differentiable in a, b and bias. Leading batch dims broadcast; a 1-D `a` is a row and a 1-D
 * `b` a column (that dim is removed from the result). `transA` reads `a` as [..., K, M] and
 * `transB` reads `b` as [..., N, K] without copying; `bias` ([N]) and `activation` are fused
 * into the kernel's epilogue: act(a·b + bias).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { bias, ...flags } = opts;
  const act = flags.activation ?? 'none';
  const needs = isGradEnabled() && [a, b, bias].some((t) => t instanceof Tensor && t.requiresGrad);
  if (needs && (act === 'gelu' || act === 'gelu_tanh')) {
    const z = matmulOp(a, b, bias ?? null, { ...flags, activation: 'none' });
    return gelu(z, { approximate: act === 'gelu_tanh' ? 'tanh' : 'none' });
  }
  return matmulOp(a, b, bias ?? null, flags);
}

/** a · bᵀ without materialising the transpose. */
export const matmulNT = (a: Tensor, b: Tensor): Tensor => matmul(a, b, { transB: true });
/** aᵀ · b without materialising the transpose. */
export const matmulTN = (a: Tensor, b: Tensor): Tensor => matmul(a, b, { transA: true });

export { matmulShape, type Activation, type MatmulOptions, type MatmulStrategy };
