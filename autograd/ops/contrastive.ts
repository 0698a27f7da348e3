/**
 * Contrastive losses on one fused kernel family (src/kernels/contrastive.ts): a row-wise
 * cross-entropy over S = A B^T / τ whose logit matrix is never stored (the forward streams over
 * column tiles with an online log-sum-exp; the backward recomputes the tiles and writes dA and
 * dB directly). {@link infoNCE} is the general entry; NT-Xent (SimCLR), MoCo (v2 queue, v3
 * symmetric), CLIP and CPC are thin compositions over it with the library's differentiable ops
 * (normalize, matmul, shape views), so every gradient outside the kernel is automatic. InstDisc
 * gathers memory-bank rows inside its own kernel.
 */
import { zeros } from '../../src/creation.js';
import { binary, unary } from '../../src/kernels/elementwise.js';
import {
  contrastiveBackward, contrastiveForward, type ContrastiveSpec, type ContrastiveStrategy,
} from '../../src/kernels/contrastive.js';
import { bankLogits as bankLogitsK, bankLogitsBackward, launchBankUpdate, launchEnqueue } from '../../src/kernels/memory_bank.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { noGrad } from '../grad_mode.js';
import { defineOp } from '../op.js';
import { detach } from '../tape.js';
import { add, div, exp, log, mul, sub } from './elementwise.js';
import { crossEntropy } from './losses.js';
import { matmul } from './matmul.js';
import { normalize } from './normalize.js';
import { mean, sum } from './reduce.js';
import { permute, slice, transpose } from './shape.js';

export type { ContrastiveStrategy };

/** The kernel's configuration, passed through the op unchanged. */
interface RowsConfig {
  scale: number;
  diag: boolean;
  shift: number;
  posIndex: Tensor | null;
  strategy?: ContrastiveStrategy;
}

/** Per-row losses lse_i - s_i,pos(i) of S = scale A B^T (the fused op; see src/kernels/contrastive.ts). */
const contrastiveRows = defineOp({
  name: 'infoNCE',
  forward(ctx, a: Tensor, b: Tensor, extra: Tensor | null, cfg: RowsConfig) {
    const { loss, lse } = contrastiveForward({ a, b, extra, ...cfg });
    if (ctx.needsGrad(0) || ctx.needsGrad(1) || ctx.needsGrad(2)) {
      ctx.save(a, b, lse);
      if (extra) ctx.save(extra);
      if (cfg.posIndex) ctx.save(cfg.posIndex);
      ctx.data.hasExtra = extra !== null;
      ctx.data.same = a === b;
      ctx.data.cfg = cfg;
    }
    lse.dispose();
    return loss;
  },
  // dS_ij = g_i (softmax_ij - [j == pos(i)]); dA = scale dS B, dB = scale dS^T A (fused kernels);
  // d extra_i = scale g_i (softmax of the extra logit - 1)
  backward(ctx, g) {
    const cfg = ctx.data.cfg as RowsConfig;
    const [a, bSaved, lse, ...rest] = ctx.saved;
    const extra = ctx.data.hasExtra ? rest.shift()! : null;
    const posIndex = cfg.posIndex ? rest.shift()! : null;
    const b = ctx.data.same ? a : bSaved;
    const spec: ContrastiveSpec = { a, b, extra, ...cfg, posIndex };
    const same = ctx.data.same as boolean;
    // With a === b (both need grad then), one pass over the symmetric S gives dA + dB as `da`.
    const { da, db } = contrastiveBackward(spec, lse, g, { a: ctx.needsGrad(0), b: ctx.needsGrad(1) });
    const dsame = same && ctx.needsGrad(0);
    let de: Tensor | null = null;
    if (extra && ctx.needsGrad(2)) {
      const p = unary('exp', binary('sub', binary('mul', extra, cfg.scale), lse));
      de = binary('mul', binary('mul', g, binary('sub', p, 1)), cfg.scale);
    }
    return [da, dsame ? null : db, de, null];
  },
});

/** Options of {@link infoNCE}. */
export interface InfoNCEOptions {
  /** Logits are A·Bᵀ / temperature (default 1). */
  temperature?: number;
  /** Exclude column j == i of row i (in-batch negatives that contain the anchor itself). */
  maskDiagonal?: boolean;
  /**
   * The positive column of row i: a number s gives (i + s) mod nb (default 0: the diagonal); an
   * i32 tensor of A's row shape gives it per row (each in [0, nb); an index outside matches no
   * column, so the row's positive logit reads as 0). Ignored with `extraPositive`.
   */
  positive?: number | Tensor;
  /**
   * A per-row positive logit that joins the row as its positive (MoCo's q·k), of A's row shape;
   * its logit is extraPositive / temperature, and no column of B is then positive.
   */
  extraPositive?: Tensor;
  /** 'mean' (default) over all rows, 'sum', or 'none' (A's row shape). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Kernel strategy (default: the adapter's). */
  strategy?: ContrastiveStrategy;
}

/**
 * InfoNCE / softmax cross-entropy over a similarity matrix, fused: for each row i of `a`
 * ([M, d], or [batch, M, d] with `b` [batch, nb, d]) the logits a_i·b_j / τ over the rows j of
 * `b` (nb of them), with the positive chosen by `positive` or `extraPositive` and the anchor
 * itself optionally masked; loss_i = logsumexp_j(logits) - positive logit, reduced by
 * `reduction`. The M x nb logits are never stored. Operands are read through their strides (a
 * transposed view such as a [C, K] queue's transpose is fine). Differentiable in a, b and
 * extraPositive.
 */
export function infoNCE(a: Tensor, b: Tensor, opts: InfoNCEOptions = {}): Tensor {
  const tau = opts.temperature ?? 1;
  if (!(tau > 0)) throw new Error(`infoNCE: temperature must be > 0, got ${tau} (a ${fmt(a.shape)}, b ${fmt(b.shape)})`);
  const pos = opts.positive ?? 0;
  const nb = Math.max(1, b.shape.at(-2) ?? 1);
  if (typeof pos === 'number' && !Number.isInteger(pos)) throw new Error(`infoNCE: positive must be an integer shift or an i32 tensor, got ${pos}`);
  const cfg: RowsConfig = {
    scale: 1 / tau,
    diag: opts.maskDiagonal ?? false,
    shift: typeof pos === 'number' ? ((pos % nb) + nb) % nb : 0,
    posIndex: typeof pos === 'number' ? null : pos,
    strategy: opts.strategy,
  };
  const rows = contrastiveRows(a, b, opts.extraPositive ?? null, cfg);
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return rows;
  if (reduction !== 'mean' && reduction !== 'sum') throw new Error(`infoNCE: unknown reduction '${String(reduction)}'`);
  return reduction === 'mean' ? mean(rows) : sum(rows);
}

/** Options of {@link ntXent}. */
export interface NtXentOptions {
  /** τ (default 0.5, SimCLR's CIFAR value; 0.1 at large batch on ImageNet). */
  temperature?: number;
  strategy?: ContrastiveStrategy;
}

/**
 * SimCLR's NT-Xent loss (Chen et al. 2020) of z [2N, d] = cat(view-1 embeddings, view-2
 * embeddings): rows are L2-normalised inside, logits are cosine similarities / τ with the
 * self-similarity masked, the positive of row i is row (i + N) mod 2N, and the loss is the
 * cross-entropy averaged over the 2N rows. Fused: no 2N x 2N matrix is stored, and the backward is
 * one pass over the symmetric similarity matrix. Differentiable in z.
 */
export function ntXent(z: Tensor, opts: NtXentOptions = {}): Tensor {
  if (z.dtype !== 'f32' || z.rank !== 2 || z.shape[0] % 2 !== 0 || z.shape[0] === 0) {
    throw new Error(`ntXent: expects z f32 [2N, d] (both views concatenated, an even row count), got ${z.dtype} ${fmt(z.shape)}`);
  }
  const zn = normalize(z);
  return infoNCE(zn, zn, {
    temperature: opts.temperature ?? 0.5, maskDiagonal: true, positive: z.shape[0] / 2, strategy: opts.strategy,
  });
}

/** Options of {@link mocoLoss} and {@link mocoV3Loss}. */
export interface MocoOptions {
  /** τ (default 0.07 for MoCo v1/v2 as in the paper's code, 0.2 for v3 is passed explicitly). */
  temperature?: number;
  strategy?: ContrastiveStrategy;
}

/**
 * MoCo (He et al. 2020; v2: Chen et al. 2020) loss: q [N, C] and k [N, C] are L2-normalised
 * inside, k is a stop-gradient (the key encoder), the logits of row i are [q_i·k_i, q_i·queue]/τ
 * with the queue stored [C, K] (feature-major, as in the MoCo code) and read in place, the label
 * is 0 (the q·k logit), and the loss is the mean cross-entropy. Differentiable in q (and in the
 * queue when it requires grad, which MoCo never does). Update the queue afterwards with
 * {@link enqueue}. (The CPU-SIMD kernels read features as vec4s, so there the [C, K] queue is
 * packed into [K, C] rows once per call; the GPU kernels read it in place.)
 */
export function mocoLoss(q: Tensor, k: Tensor, queue: Tensor, opts: MocoOptions = {}): Tensor {
  const shapes = `q ${q.dtype} ${fmt(q.shape)}, k ${k.dtype} ${fmt(k.shape)}, queue ${queue.dtype} ${fmt(queue.shape)}`;
  if (q.rank !== 2 || k.rank !== 2 || queue.rank !== 2 || k.shape[0] !== q.shape[0] || k.shape[1] !== q.shape[1] || queue.shape[0] !== q.shape[1]) {
    throw new Error(`mocoLoss: expects q [N, C], k [N, C] and queue [C, K], got ${shapes}`);
  }
  const qn = normalize(q);
  const kn = normalize(detach(k));
  const lpos = sum(mul(qn, kn), [1]);
  return infoNCE(qn, transpose(queue, 0, 1), { temperature: opts.temperature ?? 0.07, extraPositive: lpos, strategy: opts.strategy });
}

/**
 * MoCo's queue update (no gradient): writes the N keys kNormalized [N, C] into the columns
 * ptr, ptr+1, ... (mod K) of queue [C, K] in place, the oldest entries first out (FIFO), and
 * returns the new pointer (ptr + N) mod K. The queue must be a contiguous tensor; N <= K.
 */
export function enqueue(queue: Tensor, kNormalized: Tensor, ptr: number): number {
  noGrad(() => launchEnqueue(queue, kNormalized, ptr));
  return (ptr + kNormalized.shape[0]) % queue.shape[1];
}

/** ctr(q, k) = 2τ · CE(n(q) n(k)ᵀ / τ, arange(N)) with k a stop-gradient. */
function ctr(q: Tensor, k: Tensor, tau: number, strategy?: ContrastiveStrategy): Tensor {
  const l = infoNCE(normalize(q), normalize(detach(k)), { temperature: tau, strategy });
  return mul(l, 2 * tau);
}

/**
 * MoCo v3's symmetric loss (Chen, Xie, He 2021): ctr(q1, k2) + ctr(q2, k1) with
 * ctr(q, k) = 2τ · CE(n(q) n(k)ᵀ / τ, labels arange(N)), keys from the momentum encoder
 * (stop-gradient). All four are [N, C]. Differentiable in q1 and q2.
 */
export function mocoV3Loss(q1: Tensor, q2: Tensor, k1: Tensor, k2: Tensor, opts: MocoOptions = {}): Tensor {
  const s = q1.shape;
  for (const [n, t] of [['q2', q2], ['k1', k1], ['k2', k2]] as const) {
    if (t.rank !== 2 || s.length !== 2 || t.shape[0] !== s[0] || t.shape[1] !== s[1]) {
      throw new Error(`mocoV3Loss: expects q1, q2, k1, k2 all [N, C], got q1 ${fmt(s)} and ${n} ${fmt(t.shape)}`);
    }
  }
  const tau = opts.temperature ?? 0.2;
  return add(ctr(q1, k2, tau, opts.strategy), ctr(q2, k1, tau, opts.strategy));
}

/** Memory-bank logits v_i · memory[r(i, j)] (memory a constant bank; see src/kernels/contrastive.ts). */
const bankLogits = defineOp({
  name: 'bankLogits',
  forward(ctx, v: Tensor, memory: Tensor, index: Tensor, negatives: Tensor) {
    if (memory.requiresGrad) throw new Error(`bankLogits: the memory bank ${fmt(memory.shape)} is a buffer updated by updateMemoryBank, not a parameter; it must not require grad`);
    const out = bankLogitsK(v, memory, index, negatives);
    if (ctx.needsGrad(0)) ctx.save(v, memory, index, negatives);
    return out;
  },
  // dv_i = sum_j g[i, j] memory[r(i, j)]
  backward(ctx, g) {
    const [v, memory, index, negatives] = ctx.saved;
    return [bankLogitsBackward(g, v, memory, index, negatives), null, null, null];
  },
});

/** Options of {@link instDiscLoss}. */
export interface InstDiscOptions {
  /** τ (default 0.07). */
  temperature?: number;
  /** 'softmax' (default; NCESoftmaxLoss: CE with label 0 over the K+1 logits) or 'nce'. */
  form?: 'softmax' | 'nce';
  /** The dataset size n (NCE: the noise distribution is uniform, P_n = 1/n). */
  nData?: number;
  /** NCE: the normaliser Z; default: mean(exp(logits)) · n on this batch, detached (lemniscate's first step). */
  normalizer?: number;
  /** NCE: added to the denominators, as the lemniscate code (default 1e-7). */
  eps?: number;
}

/**
 * InstDisc (Wu et al. 2018) loss over a memory bank: v [N, d] is L2-normalised inside, the
 * logits of row i are v_i · memory[index[i]] (the positive) and v_i · memory[negatives[i, j]]
 * (K negatives), over τ, with the bank rows gathered inside the kernel ([N, K+1, d] is never
 * formed). 'softmax': mean cross-entropy with label 0. 'nce': with P = exp(logit) / Z and
 * c = K / nData, loss = -(Σ_i log(P_i0 / (P_i0 + c + eps)) + Σ_ij log(c / (P_ij + c + eps))) / N.
 * memory [n, d] f32 (a buffer, no gradient), index i32 [N], negatives i32 [N, K] (valid rows).
 * Differentiable in v. Update the bank afterwards with {@link updateMemoryBank}.
 */
export function instDiscLoss(v: Tensor, memory: Tensor, index: Tensor, negatives: Tensor, opts: InstDiscOptions = {}): Tensor {
  const tau = opts.temperature ?? 0.07;
  const form = opts.form ?? 'softmax';
  if (!(tau > 0)) throw new Error(`instDiscLoss: temperature must be > 0, got ${tau}`);
  const logits = div(bankLogits(normalize(v), memory, index, negatives), tau);
  const N = v.shape[0];
  if (form === 'softmax') return crossEntropy(logits, zeros([N], 'i32'));
  if (form !== 'nce') throw new Error(`instDiscLoss: unknown form '${String(form)}' (softmax, nce)`);
  const nData = opts.nData;
  if (!(nData !== undefined && nData > 0)) throw new Error(`instDiscLoss: the 'nce' form needs nData (the dataset size) > 0, got ${nData}`);
  const K = negatives.shape[1];
  const eps = opts.eps ?? 1e-7;
  const x = exp(logits);
  const Z = opts.normalizer ?? noGrad(() => binary('mul', mean(x), nData));
  const P = div(x, Z);
  const c = K / nData;
  const p0 = slice(P, 1, 0, 1);
  const pj = slice(P, 1, 1);
  const lnPmt = log(div(p0, add(p0, c + eps)));
  const lnPon = log(div(c, add(pj, c + eps)));
  return div(add(sum(lnPmt), sum(lnPon)), -N);
}

/**
 * InstDisc's memory-bank update (no gradient), in place:
 * memory[index[i]] <- normalize(momentum · memory[index[i]] + (1 - momentum) · v[i]).
 * memory [n, d] contiguous f32, index i32 [N] (distinct, in range), v [N, d] (the normalised
 * features of the step).
 */
export function updateMemoryBank(memory: Tensor, index: Tensor, v: Tensor, momentum: number): void {
  noGrad(() => launchBankUpdate(memory, index, v, momentum));
}

/**
 * CLIP's symmetric loss (Radford et al. 2021): with logits = exp(logitScale) · n(img) n(txt)ᵀ and
 * labels arange(N), loss = (CE(logits) + CE(logitsᵀ)) / 2. imageFeatures [N, d], textFeatures
 * [N, d]; logitScale a 0-d tensor (the log of the inverse temperature; learnable). The scale
 * multiplies the normalised image features before the fused kernel, so its gradient comes from
 * the ordinary autograd ops. Differentiable in all three.
 */
export function clipLoss(imageFeatures: Tensor, textFeatures: Tensor, logitScale: Tensor, opts: { strategy?: ContrastiveStrategy } = {}): Tensor {
  const i = imageFeatures.shape;
  const t = textFeatures.shape;
  if (i.length !== 2 || t.length !== 2 || i[0] !== t[0] || i[1] !== t[1] || logitScale.rank !== 0) {
    throw new Error(`clipLoss: expects image and text features [N, d] and a 0-d logitScale, got ${fmt(i)}, ${fmt(t)}, ${fmt(logitScale.shape)}`);
  }
  const img = mul(normalize(imageFeatures), exp(logitScale));
  const txt = normalize(textFeatures);
  const perImage = infoNCE(img, txt, { strategy: opts.strategy });
  const perText = infoNCE(txt, img, { strategy: opts.strategy });
  return mul(add(perImage, perText), 0.5);
}

/**
 * CPC's InfoNCE over future steps (van den Oord et al. 2018): for k = 1..K (K = predictors.length),
 * pred = c_t W_kᵀ, and for each t < T - k the scores pred_t · z_{t+k} against the other batch
 * elements at the same target step, cross-entropy with labels arange(N); the result is the mean
 * over all (k, t) terms of the batch-mean cross-entropy. context [N, T, dc], z [N, T, dz],
 * predictors[k-1] = W_k [dz, dc] (nn.Linear weights without bias). The (t, k) blocks are read as
 * strided views of pred and z, never copied. Differentiable in all inputs.
 */
export function cpcInfoNCE(context: Tensor, z: Tensor, predictors: readonly Tensor[], opts: { strategy?: ContrastiveStrategy } = {}): Tensor {
  const c = context.shape;
  const s = z.shape;
  if (c.length !== 3 || s.length !== 3 || c[0] !== s[0] || c[1] !== s[1]) {
    throw new Error(`cpcInfoNCE: expects context [N, T, dc] and z [N, T, dz], got ${fmt(c)} and ${fmt(s)}`);
  }
  const [N, T] = c;
  if (predictors.length === 0 || predictors.length >= T) {
    throw new Error(`cpcInfoNCE: needs 1 <= K < T predictors, got K = ${predictors.length} with T = ${T}`);
  }
  predictors.forEach((w, k) => {
    if (w.rank !== 2 || w.shape[0] !== s[2] || w.shape[1] !== c[2]) {
      throw new Error(`cpcInfoNCE: predictor ${k} must be [dz, dc] = [${s[2]}, ${c[2]}], got ${fmt(w.shape)}`);
    }
  });
  let total: Tensor | null = null;
  let terms = 0;
  predictors.forEach((w, i) => {
    const k = i + 1;
    const pred = matmul(context, w, { transB: true }); // [N, T, dz]
    const a = permute(slice(pred, 1, 0, T - k), [1, 0, 2]); // [T-k, N, dz]
    const b = permute(slice(z, 1, k, T), [1, 0, 2]);
    const l = infoNCE(a, b, { reduction: 'sum', strategy: opts.strategy });
    total = total ? add(total, l) : l;
    terms += T - k;
  });
  return div(total!, N * terms);
}
