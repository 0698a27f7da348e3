/**
 * Launchers of shaders/optim.wgsl: the fused optimizer updates over flat parameter groups (SGD,
 * AdamW, LARS: one dispatch per group), the EMA update of target networks, and clipping by the
 * global gradient norm. The optimizer classes that own flat groups live in models/optim.ts; this
 * file only validates, packs uniforms and segment tables, and dispatches.
 */
import { Params } from '../command_batch.js';
import { tensor } from '../creation.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt, sameShape, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { copyInto } from './elementwise.js';

const WG = 256;
/** Elements one optim_sumsq workgroup reduces (PER_THREAD * WG in optim.wgsl). */
const CHUNK = 4 * WG;
/** u32 words per segment-table row (SEG in optim.wgsl). */
const SEG = 8;

/** Segment flag: the parameter has a gradient this step (others are left untouched). */
export const SEG_ACTIVE = 1;
/** Segment flag (SGD): the momentum buffer starts as the gradient in this step. */
export const SEG_FIRST = 2;
/** Segment flag (LARS): no trust-ratio adaptation and no weight decay. */
export const SEG_EXCLUDED = 4;

/** One parameter's slice of a flat group buffer, as the update kernel sees it this step. */
export interface Segment {
  start: number;
  len: number;
  /** SEG_ACTIVE | SEG_FIRST | SEG_EXCLUDED bits. */
  flags: number;
  /** Per-parameter f32 scalars (AdamW: step size lr / (1 - b1^t), and sqrt(1 - b2^t)). */
  c0?: number;
  c1?: number;
}

/**
 * Uploads a segment table (8 u32 per segment, sorted by start, the first at 0) into a new u32
 * tensor. It is written with `queue.writeBuffer` into a buffer no recorded command uses yet, so a
 * fresh table per step is safe; dispose it after the dispatch.
 */
export function segmentTable(op: string, segs: readonly Segment[]): Tensor {
  const u = new Uint32Array(Math.max(1, segs.length) * SEG);
  const f = new Float32Array(u.buffer);
  let end = 0;
  segs.forEach((s, k) => {
    if (s.start !== end) throw new Error(`${op}: segment ${k} starts at ${s.start}, expected ${end} (segments must tile the buffer in order)`);
    end += s.len;
    u[k * SEG] = s.start;
    u[k * SEG + 1] = s.len;
    u[k * SEG + 2] = s.flags;
    f[k * SEG + 4] = s.c0 ?? 0;
    f[k * SEG + 5] = s.c1 ?? 0;
  });
  return tensor(u, { dtype: 'u32' });
}

/**
 * Copies `src` (any strides, same dtype) into `flat[offset, offset + src.size)`: a buffer-to-buffer
 * copy when `src` is contiguous (no dispatch), else one elementwise copy dispatch.
 */
export function gatherInto(flat: Tensor, offset: number, src: Tensor): void {
  if (src.size === 0) return;
  if (offset + src.size > flat.size) {
    throw new Error(`gatherInto: ${fmt(src.shape)} at offset ${offset} overruns the flat buffer of ${flat.size}`);
  }
  if (src.isContiguous && src.dtype === flat.dtype && src.buffer !== flat.buffer) {
    runtime().batch.copy(src.buffer, src.offset * 4, flat.buffer, (flat.offset + offset) * 4, src.size * 4);
    return;
  }
  const v = flat.view(src.shape, stridesOf(src.shape), flat.offset + offset);
  try {
    copyInto(v, src);
  } finally {
    v.dispose();
  }
}

/** Fields of optim.wgsl's `Params` (unset ones are 0). */
interface Fields {
  n: number;
  nseg?: number;
  offA?: number;
  offB?: number;
  lr?: number;
  momentum?: number;
  dampening?: number;
  wd?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  eta?: number;
  nesterov?: boolean;
  base?: number;
  maxNorm?: number;
  mix?: number;
}

function pack(v: Fields): Params {
  return new Params()
    .u32(v.n, v.nseg ?? 0, v.offA ?? 0, v.offB ?? 0)
    .f32(v.lr ?? 0, v.momentum ?? 0, v.dampening ?? 0, v.wd ?? 0)
    .f32(v.beta1 ?? 0, v.beta2 ?? 0, v.eps ?? 0, v.eta ?? 0)
    .u32(v.nesterov ? 1 : 0, v.base ?? 0)
    .f32(v.maxNorm ?? 0, v.mix ?? 0);
}

/** A flat group as the update kernels bind it: params, gathered grads and state, each [n] at offset 0. */
export interface FlatBuffers {
  param: Tensor;
  grad: Tensor;
}

function checkFlat(op: string, b: FlatBuffers, state: readonly (Tensor | null)[]): number {
  const n = b.param.size;
  for (const t of [b.param, b.grad, ...state]) {
    if (t && (t.offset !== 0 || t.size !== n || t.dtype !== 'f32')) {
      throw new Error(`${op}: flat buffers must be f32 [${n}] at offset 0, got ${t.dtype} ${fmt(t.shape)} at ${t.offset}`);
    }
  }
  return n;
}

/** Hyperparameters of {@link launchSgd} (torch.optim.SGD). */
export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One fused SGD update of a flat group; `buf` is the momentum buffer (null when momentum is 0). */
export function launchSgd(b: FlatBuffers, buf: Tensor | null, table: Tensor, nseg: number, h: SgdHyper): void {
  const n = checkFlat('SGD', b, [buf]);
  if (h.momentum !== 0 && !buf) throw new Error('SGD: momentum is nonzero but no momentum buffer was given');
  dispatch({
    op: 'SGD.step', shader: 'optim', entry: 'optim_sgd', overrides: { WG },
    inputs: [b.grad, table], outputs: [b.param, buf ?? runtime().dummy, null],
    params: pack({ n, nseg, lr: h.lr, momentum: h.momentum, dampening: h.dampening, wd: h.weightDecay, nesterov: h.nesterov }),
    workgroups: Math.ceil(n / WG),
  });
}

/** Hyperparameters of {@link launchAdamW} (torch.optim.AdamW; bias corrections are per segment). */
export interface AdamWHyper {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

/** One fused AdamW update of a flat group with its first and second moment buffers. */
export function launchAdamW(b: FlatBuffers, expAvg: Tensor, expAvgSq: Tensor, table: Tensor, nseg: number, h: AdamWHyper): void {
  const n = checkFlat('AdamW', b, [expAvg, expAvgSq]);
  dispatch({
    op: 'AdamW.step', shader: 'optim', entry: 'optim_adamw', overrides: { WG },
    inputs: [b.grad, table], outputs: [b.param, expAvg, expAvgSq],
    params: pack({ n, nseg, lr: h.lr, wd: h.weightDecay, beta1: h.betas[0], beta2: h.betas[1], eps: h.eps }),
    workgroups: Math.ceil(n / WG),
  });
}

/** Hyperparameters of {@link launchLars}. */
export interface LarsHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Trust coefficient η. */
  eta: number;
  nesterov: boolean;
}

/** One fused LARS update of a flat group: one workgroup per segment (norms, then the update). */
export function launchLars(b: FlatBuffers, buf: Tensor, table: Tensor, nseg: number, h: LarsHyper): void {
  const n = checkFlat('LARS', b, [buf]);
  dispatch({
    op: 'LARS.step', shader: 'optim', entry: 'optim_lars', overrides: { WG },
    inputs: [b.grad, table], outputs: [b.param, buf, null],
    params: pack({ n, nseg, lr: h.lr, momentum: h.momentum, wd: h.weightDecay, eta: h.eta, nesterov: h.nesterov }),
    workgroups: n === 0 ? 0 : nseg,
  });
}

/** target = m target + (1 - m) online, in place; both contiguous f32 of the same shape. */
export function launchEma(target: Tensor, online: Tensor, m: number): void {
  if (!sameShape(target.shape, online.shape)) {
    throw new Error(`emaUpdate: target ${fmt(target.shape)} and online ${fmt(online.shape)} differ`);
  }
  for (const t of [target, online]) {
    if (!t.isContiguous || t.dtype !== 'f32') throw new Error(`emaUpdate: tensors must be contiguous f32, got ${t.dtype} ${fmt(t.shape)}`);
  }
  dispatch({
    op: 'emaUpdate', shader: 'optim', entry: 'optim_ema', overrides: { WG },
    inputs: [online, null], outputs: [target, null, null],
    params: pack({ n: target.size, offA: online.offset, offB: target.offset, momentum: m, mix: 1 - m }),
    workgroups: Math.ceil(target.size / WG),
  });
}

/**
 * The global L2 norm of `xs` (contiguous f32 tensors) as a 0-d tensor, after scaling every x in
 * place by min(1, maxNorm / (norm + 1e-6)) (torch.nn.utils.clip_grad_norm_). Dispatches: one
 * partial-sum pass per tensor, one final reduction, and one scaling pass per tensor (none when
 * maxNorm is +Infinity, which only measures the norm).
 */
export function clipByGlobalNorm(xs: readonly Tensor[], maxNorm: number): Tensor {
  for (const x of xs) {
    if (!x.isContiguous || x.dtype !== 'f32') throw new Error(`clipGradNorm: gradients must be contiguous f32, got ${x.dtype} ${fmt(x.shape)}`);
  }
  const chunks = xs.map((x) => Math.ceil(x.size / CHUNK));
  const total = chunks.reduce((s, c) => s + c, 0);
  const partials = Tensor.empty([Math.max(1, total)]);
  const res = Tensor.empty([2]); // [norm, clip coefficient]
  let base = 0;
  xs.forEach((x, i) => {
    dispatch({
      op: 'clipGradNorm', shader: 'optim', entry: 'optim_sumsq', overrides: { WG },
      inputs: [x, null], outputs: [partials, null, null],
      params: pack({ n: x.size, offA: x.offset, base }),
      workgroups: chunks[i],
    });
    base += chunks[i];
  });
  dispatch({
    op: 'clipGradNorm', shader: 'optim', entry: 'optim_norm', overrides: { WG },
    inputs: [partials, null], outputs: [res, null, null],
    params: pack({ n: total, maxNorm }),
    workgroups: 1,
  });
  partials.dispose();
  if (maxNorm !== Infinity) {
    for (const x of xs) {
      dispatch({
        op: 'clipGradNorm', shader: 'optim', entry: 'optim_scale', overrides: { WG },
        inputs: [res, null], outputs: [x, null, null],
        params: pack({ n: x.size, offB: x.offset }),
        workgroups: Math.ceil(x.size / WG),
      });
    }
  }
  const norm = res.view([], [], 0);
  res.dispose();
  return norm;
}
