/**
 * Fused scaled-dot-product attention (shaders/attention_fwd.wgsl, attention_bwd_q.wgsl,
 * attention_bwd_kv.wgsl): one dispatch forward and two backward, whatever the sequence length,
 * and no Tq x Tk matrix in memory (online softmax forward, recomputation backward). Operands are
 * [B, H, T, hd] views with any strides whose last one is 1, so a packed timm `qkv` output and a
 * [B, T, H, hd] output are read and written in place.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Kernel variant: 'cpu-simd' shares key rows by subgroupBroadcast, 'gpu' lets every invocation load its own. */
export type AttentionStrategy = 'cpu-simd' | 'gpu';

/** Inputs of the fused kernels, all [B, H, T, hd] views (last stride 1). */
export interface AttentionArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Additive f32 mask broadcastable to [B, H, Tq, Tk], or null. */
  mask: Tensor | null;
  causal: boolean;
  scale: number;
  strategy?: AttentionStrategy;
  /** Forces the rows per invocation (tuning and tests). */
  rows?: number;
}

const dims4 = (t: Tensor) => t.shape as [number, number, number, number];

/** Validates shapes and returns B, H, Tq, Tk, hd. */
export function attentionShape(op: string, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null) {
  const all = `q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)}${mask ? `, mask ${fmt(mask.shape)}` : ''}`;
  for (const t of [q, k, v]) {
    if (t.rank !== 4 || t.dtype !== 'f32') throw new Error(`${op}: expects f32 q, k, v of shape [B, H, T, hd], got ${all}`);
  }
  const [B, H, Tq, hd] = dims4(q);
  const Tk = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== hd || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== Tk || v.shape[3] !== hd) {
    throw new Error(`${op}: q, k, v must agree as [B, H, Tq, hd], [B, H, Tk, hd], [B, H, Tk, hd], got ${all}`);
  }
  if (hd === 0 || Tk === 0) throw new Error(`${op}: empty head dim or key sequence (${all})`);
  if (mask) {
    if (mask.dtype !== 'f32' || mask.rank < 2 || mask.rank > 4) {
      throw new Error(`${op}: the mask must be an additive f32 tensor broadcastable to [B, H, Tq, Tk], got ${all}`);
    }
    const full = [B, H, Tq, Tk];
    const off = 4 - mask.rank;
    mask.shape.forEach((d, i) => {
      if (d !== 1 && d !== full[off + i]) throw new Error(`${op}: mask not broadcastable to [${full.join(',')}] (${all})`);
    });
  }
  return { B, H, Tq, Tk, hd };
}

/** (offset, sB, sH, sT) of a 4-D operand in elements, or null when its last stride is not 1. */
function desc(t: Tensor): number[] | null {
  if (t.shape[3] > 1 && t.strides[3] !== 1) return null;
  return [t.offset, t.strides[0], t.strides[1], t.strides[2]];
}

let forcedRows: number | null = null;

/** Forces the rows per invocation of every attention kernel (tuning and tests); null restores the choice by head dim. */
export function forceAttentionRows(rows: number | null): void {
  forcedRows = rows;
}

/**
 * Rows per invocation. More rows share each broadcast key row (the cost on lavapipe) at the price
 * of registers and JIT time. Measured at hd 64, T 1024, [8, 3] heads (lavapipe, quiet machine):
 * forward 553 / 385 / 225 ms and backward 1380 / 1100 / 906 ms at R = 1 / 2 / 4, but the first
 * compile of R = 4 at hd 64 takes about 2 minutes (Mesa then caches it on disk).
 */
function rowsFor(hd4: number, sg: number): number {
  if (sg === 1) return 1;
  return hd4 <= 16 ? 4 : hd4 <= 32 ? 2 : 1;
}

interface Plan {
  slots: Record<string, string | number>;
  rows: number;
  wg: number;
  vec: boolean;
}

function plan(args: AttentionArgs, hd: number, operands: Tensor[]): Plan {
  const rt = runtime();
  const strategy = args.strategy ?? (rt.strategy === 'cpu-simd' ? 'cpu-simd' : 'gpu');
  const simd = strategy === 'cpu-simd';
  if (simd && (!rt.hasFeature('subgroups') || rt.subgroupSize < 1 || rt.acquired.info.subgroupMinSize !== rt.acquired.info.subgroupMaxSize)) {
    throw new Error(`attention: the 'cpu-simd' strategy needs the 'subgroups' feature with one fixed subgroup size; use strategy 'gpu'`);
  }
  const sg = simd ? rt.subgroupSize : 1;
  const wg = simd ? sg : 64;
  const hd4 = Math.ceil(hd / 4);
  const vec = hd % 4 === 0 && operands.every((t) => desc(t)!.every((x) => x % 4 === 0));
  const rows = args.rows ?? forcedRows ?? rowsFor(hd4, sg);
  return {
    rows,
    wg,
    vec,
    slots: {
      ENABLE: simd ? 'enable subgroups;' : '',
      SG: sg, WG: wg, R: rows, HD4: hd4,
      VEC: vec ? 1 : 0, SCL: vec ? 0 : 1,
      BC: simd ? 'subgroupBroadcast' : 'pick',
    },
  };
}

/** Writes the Attn uniform: sizes, then the (offset, sB, sH, sT) of q k v o dO dq dk dv, then the mask's. */
function params(
  s: { B: number; H: number; Tq: number; Tk: number; hd: number },
  tiles: number, args: AttentionArgs, vec: boolean, ops: (Tensor | null)[],
): Params {
  const unit = vec ? 4 : 1;
  const p = new Params()
    .u32(s.Tq, s.Tk, s.hd, s.H)
    .u32(s.B * s.H, tiles).f32(args.scale).u32(args.causal ? 1 : 0);
  const m = args.mask;
  const mshape = m ? [...new Array(4 - m.rank).fill(1), ...m.shape] : [];
  const mstr = m ? [...new Array(4 - m.rank).fill(0), ...m.strides].map((st, i) => (mshape[i] === 1 ? 0 : st)) : [0, 0, 0, 0];
  p.u32(m ? 1 : 0, mstr[3], 0, 0);
  for (const t of ops) p.u32(...(t ? desc(t)!.map((x) => x / unit) : [0, 0, 0, 0]));
  p.u32(m ? m.offset : 0, mstr[0], mstr[1], mstr[2]);
  return p;
}

/** Number of workgroups of B*H*tiles, with tiles over `rows` rows. */
const tilesOf = (n: number, pl: Plan) => Math.ceil(n / (pl.wg * pl.rows));

/**
 * Forward: writes softmax(scale q k^T + mask) v into `out` (a [B, H, Tq, hd] view, last stride 1)
 * and returns the stats tensor [2, B*H, Tq] (row log-sum-exp first; the backward fills the rest).
 */
export function launchAttentionFwd(args: AttentionArgs, out: Tensor): Tensor {
  const { q, k, v, mask } = args;
  const s = attentionShape('attention', q, k, v, mask);
  for (const t of [q, k, v, out]) {
    if (!desc(t)) throw new Error(`attention: operands need a unit stride along the head dim, got strides [${t.strides.join(',')}]`);
  }
  const stats = Tensor.empty([2, s.B * s.H, s.Tq]);
  const pl = plan(args, s.hd, [q, k, v, out]);
  const tiles = tilesOf(s.Tq, pl);
  dispatch({
    op: 'attention',
    shader: 'attention_fwd',
    entry: 'main',
    slots: pl.slots,
    inputs: [q, k, v, mask ?? runtime().dummy],
    outputs: [out, stats],
    params: params(s, tiles, args, pl.vec, [q, k, v, out, null, null, null, null]),
    workgroups: s.B * s.H * tiles,
  });
  return stats;
}

/** Backward operands: the forward's output and stats, the output gradient, and where to write dq, dk, dv. */
export interface AttentionBwdArgs extends AttentionArgs {
  out: Tensor;
  stats: Tensor;
  gradOut: Tensor;
  /** dq, a [B, H, Tq, hd] view; dk and dv: [B, H, Tk, hd] views of ONE storage (written by one kernel). */
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

/** Backward: two dispatches, dq first (it also writes D = rowsum(dO * O) into stats), then dk and dv. */
export function launchAttentionBwd(a: AttentionBwdArgs): void {
  const s = attentionShape('attention backward', a.q, a.k, a.v, a.mask);
  const ops = [a.q, a.k, a.v, a.out, a.gradOut, a.dq, a.dk, a.dv];
  for (const t of ops) {
    if (!desc(t)) throw new Error(`attention backward: operands need a unit stride along the head dim, got strides [${t.strides.join(',')}]`);
  }
  if (a.dk.storage !== a.dv.storage) throw new Error('attention backward: dk and dv must be views of one storage');
  const pl = plan(a, s.hd, ops);
  const dummy = runtime().dummy;
  const tq = tilesOf(s.Tq, pl);
  dispatch({
    op: 'attention backward',
    shader: 'attention_bwd_q',
    entry: 'main',
    slots: pl.slots,
    inputs: [a.q, a.k, a.v, a.mask ?? dummy, a.out, a.gradOut],
    outputs: [a.dq, a.stats],
    params: params(s, tq, a, pl.vec, ops),
    workgroups: s.B * s.H * tq,
  });
  const tk = tilesOf(s.Tk, pl);
  dispatch({
    op: 'attention backward',
    shader: 'attention_bwd_kv',
    entry: 'main',
    slots: { ...pl.slots, BCF: pl.slots.BC === 'pick' ? 'pickf' : 'subgroupBroadcast' },
    inputs: [a.q, a.k, a.v, a.mask ?? dummy, a.gradOut, a.stats],
    outputs: [a.dk],
    params: params(s, tk, a, pl.vec, ops),
    workgroups: s.B * s.H * tk,
  });
}
