/**
 * Differentiable fused attention: `scaledDotProductAttention` (q, k, v as [B, H, T, hd]) and
 * `attentionQKV` (timm's packed qkv projection [B, T, 3D] in, [B, T, D] out, gradient written
 * straight into one [B, T, 3D] tensor). Both run src/kernels/attention.ts: one dispatch forward,
 * two backward, no T x T matrix stored.
 */
import { launchAttentionBwd, launchAttentionFwd, type AttentionStrategy } from '../../src/kernels/attention.js';
import { fmt } from '../../src/shape.js';
import { Tensor } from '../../src/tensor.js';
import { contiguous } from '../../src/views.js';
import { defineOp, type OpContext } from '../op.js';

/** Options of the fused attention ops. */
export interface AttentionOptions {
  /**
   * Additive f32 mask broadcastable to [B, H, Tq, Tk] (e.g. [Tq, Tk]), added to the scaled scores
   * (-Infinity removes a key). It receives no gradient.
   */
  mask?: Tensor | null;
  /** Causal masking: query i attends to keys j <= i (PyTorch's is_causal, top-left aligned). */
  causal?: boolean;
  /** Score scale (default 1 / sqrt(hd)). */
  scale?: number;
  /** Kernel variant (default: the adapter's strategy). */
  strategy?: AttentionStrategy;
}

interface AttnData {
  mask: Tensor | null;
  causal: boolean;
  scale: number;
  strategy?: AttentionStrategy;
}

/** A [B, H, T, hd] view of [B, T, H*hd] memory starting at element `offset`, rows `rowStride` apart. */
function headsView(t: Tensor, B: number, H: number, T: number, hd: number, rowStride: number, offset: number): Tensor {
  return t.view([B, H, T, hd], [T * rowStride, hd, rowStride, 1], t.offset + offset);
}

/** A unit-stride-last version of g (a copy only when needed). */
const unitLast = (g: Tensor): Tensor => (g.shape[g.rank - 1] <= 1 || g.strides[g.rank - 1] === 1 ? g : contiguous(g));

/** The options with their defaults filled in (scale 1 / sqrt(hd)). */
function resolve(o: AttentionOptions, hd: number): AttnData {
  return { mask: o.mask ?? null, causal: o.causal ?? false, scale: o.scale ?? 1 / Math.sqrt(hd), strategy: o.strategy };
}

/** Records the resolved options and, when a gradient is needed, the tensors backward reads (mask last). */
function saveFor(ctx: OpContext, o: AttnData, ts: Tensor[]): void {
  ctx.data.attn = o;
  if (ctx.needs.some(Boolean)) ctx.save(...ts, ...(o.mask ? [o.mask] : []));
}

const sdpaOp = defineOp({
  name: 'scaledDotProductAttention',
  forward(ctx, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions) {
    if (q.rank !== 4) throw new Error(`scaledDotProductAttention: expects q [B, H, Tq, hd], got ${fmt(q.shape)}`);
    const [B, H, Tq, hd] = q.shape;
    const qa = unitLast(q), ka = unitLast(k), va = unitLast(v);
    const mem = Tensor.empty([B, Tq, H * hd]);
    const out = headsView(mem, B, H, Tq, hd, H * hd, 0);
    mem.dispose();
    const o = resolve(opts, hd);
    const stats = launchAttentionFwd({ q: qa, k: ka, v: va, ...o }, out);
    saveFor(ctx, o, [qa, ka, va, out, stats]);
    for (const [a, b] of [[qa, q], [ka, k], [va, v]]) if (a !== b) a.dispose();
    stats.dispose();
    return out;
  },
  backward(ctx, g) {
    const [q, k, v, out, stats, mask] = ctx.saved;
    const d = { ...(ctx.data.attn as AttnData), mask: mask ?? null };
    const [B, H, Tq, hd] = q.shape;
    const Tk = k.shape[2];
    const dq = Tensor.empty([B, H, Tq, hd]);
    const dkv = Tensor.empty([2, B, H, Tk, hd]);
    const n = B * H * Tk * hd;
    const dk = dkv.view([B, H, Tk, hd], [H * Tk * hd, Tk * hd, hd, 1], 0);
    const dv = dkv.view([B, H, Tk, hd], [H * Tk * hd, Tk * hd, hd, 1], n);
    dkv.dispose();
    const go = unitLast(g);
    launchAttentionBwd({ q, k, v, ...d, out, stats, gradOut: go, dq, dk, dv });
    if (go !== g) go.dispose();
    return [dq, dk, dv, null];
  },
});

/**
 * softmax(scale · q kᵀ + mask) v for q [B, H, Tq, hd], k and v [B, H, Tk, hd] (any strides with a
 * unit last stride; others are copied), as torch.nn.functional.scaled_dot_product_attention.
 * Fused: the Tq x Tk scores are never stored, forward or backward. Returns [B, H, Tq, hd] as a
 * view of [B, Tq, H, hd] memory, so `transpose(1, 2)` then `reshape([B, Tq, H*hd])` is free.
 * A query row whose every key is masked returns zeros (PyTorch: NaN). Differentiable in q, k, v.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  return sdpaOp(q, k, v, opts);
}

const qkvOp = defineOp({
  name: 'attentionQKV',
  forward(ctx, qkv: Tensor, heads: number, opts: AttentionOptions) {
    if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0 || !Number.isInteger(heads) || heads < 1 || (qkv.shape[2] / 3) % heads !== 0) {
      throw new Error(`attentionQKV: expects qkv [B, T, 3*D] with D divisible by heads, got ${fmt(qkv.shape)} and heads ${heads}`);
    }
    const x = qkv.isContiguous ? qkv : contiguous(qkv);
    const [B, T, D3] = x.shape;
    const D = D3 / 3;
    const hd = D / heads;
    const [q, k, v] = [0, D, 2 * D].map((off) => headsView(x, B, heads, T, hd, D3, off));
    const out = Tensor.empty([B, T, D]);
    const o4 = headsView(out, B, heads, T, hd, D, 0);
    const o = resolve(opts, hd);
    const stats = launchAttentionFwd({ q, k, v, ...o }, o4);
    saveFor(ctx, o, [x, out, stats]);
    ctx.data.heads = heads;
    for (const t of [q, k, v, o4, stats]) t.dispose();
    if (x !== qkv) x.dispose();
    return out;
  },
  backward(ctx, g) {
    const [x, out, stats, mask] = ctx.saved;
    const d = { ...(ctx.data.attn as AttnData), mask: mask ?? null };
    const heads = ctx.data.heads as number;
    const [B, T, D3] = x.shape;
    const D = D3 / 3;
    const hd = D / heads;
    const go = g.isContiguous ? g : contiguous(g);
    const dx = Tensor.empty([B, T, D3]);
    const v4 = (t: Tensor, rs: number, off: number) => headsView(t, B, heads, T, hd, rs, off);
    const views = [v4(x, D3, 0), v4(x, D3, D), v4(x, D3, 2 * D), v4(out, D, 0), v4(go, D, 0), v4(dx, D3, 0), v4(dx, D3, D), v4(dx, D3, 2 * D)];
    const [q, k, v, o4, g4, dq, dk, dv] = views;
    launchAttentionBwd({ q, k, v, ...d, out: o4, stats, gradOut: g4, dq, dk, dv });
    for (const t of views) t.dispose();
    if (go !== g) go.dispose();
    return [dx, null, null];
  },
});

/**
 * Multi-head self-attention on a packed projection: `qkv` [B, T, 3D] with features ordered
 * [q (all heads) | k | v], head-major inside each (timm's `qkv(x).reshape(B, T, 3, H, hd)`), gives
 * softmax(scale · q kᵀ + mask) v for every head, merged back to [B, T, D] (heads concatenated, as
 * timm's `transpose(1, 2).reshape(B, T, D)`). One forward dispatch and two backward; the gradient
 * is one [B, T, 3D] tensor written in place. Differentiable in qkv.
 */
export function attentionQKV(qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  return qkvOp(qkv, heads, opts);
}
