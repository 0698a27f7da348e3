/**
 * Launchers of the fused contrastive-loss kernels (shaders/contrastive_simd.wgsl, the CPU-SIMD
 * strategy, and shaders/contrastive.wgsl, the portable GPU strategy); the memory-bank and queue
 * kernels are in memory_bank.ts.
 *
 * The core is a row-wise cross-entropy over a similarity matrix that is never stored: for each
 * batch b and row i of A [M, d], the logits are s_ij = scale * A_i . B_j over the rows j of
 * B [nb, d] (optionally masking j == i, optionally joined by an extra per-row logit
 * scale * e_i that is then the positive); the forward streams over column tiles with an online
 * max / sum and writes lse_i and loss_i = lse_i - s_i,pos(i); the backward recomputes the tiles
 * and writes dA = scale dS B and dB = scale dS^T A with dS_ij = g_i (softmax_ij - [j == pos(i)]),
 * in one pass over row blocks when A and B are the same tensor (S symmetric), else one pass over
 * row blocks of A and one over row blocks of B.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';
import { flatAux } from './elementwise.js';
import { foldGrid } from './matmul.js';
import { packVec4Rows } from './pack.js';

const WG = 64;

/** Which kernels run the fused loss: per adapter by default (see `Strategy`). */
export type ContrastiveStrategy = 'cpu-simd' | 'gpu';

/** An operand [batch?, rows, d] as element strides (batch stride 0 without a batch dim). */
interface Operand3 {
  t: Tensor;
  batch: number;
  rows: number;
  d: number;
  bs: number;
  rs: number;
  ks: number;
}

function operand3(op: string, name: string, t: Tensor): Operand3 {
  if (t.dtype !== 'f32' || (t.rank !== 2 && t.rank !== 3)) {
    throw new Error(`${op}: ${name} must be f32 [rows, d] or [batch, rows, d], got ${t.dtype} ${fmt(t.shape)}`);
  }
  const r = t.rank;
  return {
    t,
    batch: r === 3 ? t.shape[0] : 1,
    rows: t.shape[r - 2],
    d: t.shape[r - 1],
    bs: r === 3 ? t.strides[0] : 0,
    rs: t.strides[r - 2],
    ks: t.strides[r - 1],
  };
}

/** One fused contrastive loss: S = scale * A B^T per batch, rows of A against rows of B. */
export interface ContrastiveSpec {
  /** [M, d] or [batch, M, d], any strides. */
  a: Tensor;
  /** [nb, d] or [batch, nb, d], any strides. */
  b: Tensor;
  /** Per-row extra logit e ([M] or [batch, M]; the logit is scale * e), the positive; or null. */
  extra: Tensor | null;
  scale: number;
  /** Mask column j == i. */
  diag: boolean;
  /** Positive column of row i: (i + shift) mod nb (unused with `extra` or `posIndex`). */
  shift: number;
  /** Positive column per row, i32 [M] or [batch, M]; or null. */
  posIndex: Tensor | null;
  strategy?: ContrastiveStrategy;
}

/** The validated problem. */
interface Problem {
  op: string;
  A: Operand3;
  B: Operand3;
  batch: number;
  M: number;
  nb: number;
  d: number;
  extra: Tensor | null;
  posIndex: Tensor | null;
  scale: number;
  diag: boolean;
  shift: number;
  simd: boolean;
}

const OP = 'contrastive';


function problem(spec: ContrastiveSpec): Problem {
  const A = operand3(OP, 'a', spec.a);
  const B = operand3(OP, 'b', spec.b);
  const shapes = `a ${fmt(spec.a.shape)}, b ${fmt(spec.b.shape)}`;
  if (spec.a.rank !== spec.b.rank) throw new Error(`${OP}: a and b need the same rank, got ${shapes}`);
  if (A.batch !== B.batch) throw new Error(`${OP}: batch dims differ, ${shapes}`);
  if (A.d !== B.d) throw new Error(`${OP}: feature dims differ, ${shapes}`);
  if (A.rows === 0 || B.rows === 0 || A.d === 0 || A.batch === 0) throw new Error(`${OP}: empty operand, ${shapes}`);
  const rowShape = spec.a.shape.slice(0, -1);
  const same = (t: Tensor) => t.shape.length === rowShape.length && t.shape.every((v, i) => v === rowShape[i]);
  if (spec.extra && (spec.extra.dtype !== 'f32' || !same(spec.extra))) {
    throw new Error(`${OP}: extra logits must be f32 ${fmt(rowShape)}, got ${spec.extra.dtype} ${fmt(spec.extra.shape)} (${shapes})`);
  }
  if (spec.posIndex && (spec.posIndex.dtype !== 'i32' || !same(spec.posIndex))) {
    throw new Error(`${OP}: positive indices must be i32 ${fmt(rowShape)}, got ${spec.posIndex.dtype} ${fmt(spec.posIndex.shape)} (${shapes})`);
  }
  if (!Number.isInteger(spec.shift) || spec.shift < 0) throw new Error(`${OP}: shift must be an integer >= 0, got ${spec.shift}`);
  if (!Number.isFinite(spec.scale)) throw new Error(`${OP}: scale must be finite, got ${spec.scale}`);
  const rt = runtime();
  const strategy = spec.strategy ?? rt.strategy;
  const simd = strategy === 'cpu-simd';
  if (simd && (!rt.hasFeature('subgroups') || rt.subgroupSize < 1 || rt.acquired.info.subgroupMinSize !== rt.acquired.info.subgroupMaxSize)) {
    throw new Error(`${OP}: the 'cpu-simd' strategy needs the 'subgroups' feature with one fixed subgroup size; use strategy 'gpu'`);
  }
  return {
    op: OP, A, B, batch: A.batch, M: A.rows, nb: B.rows, d: A.d, extra: spec.extra, posIndex: spec.posIndex,
    scale: spec.scale, diag: spec.diag, shift: spec.shift % B.rows, simd,
  };
}

/** An operand as the SIMD kernels read it: vec4 rows (in place, or a packed copy). */
interface Vec4Rows {
  t: Tensor;
  off: number;
  rs: number;
  bs: number;
  temp: boolean;
}

function vec4Rows(o: Operand3, D4: number): Vec4Rows {
  const a4 = (v: number) => v % 4 === 0;
  if (o.ks === 1 && a4(o.d) && a4(o.rs) && a4(o.bs) && a4(o.t.offset)) {
    return { t: o.t, off: o.t.offset / 4, rs: o.rs / 4, bs: o.bs / 4, temp: false };
  }
  const packed = packVec4Rows(OP, o.t, { rows: o.rows, k: o.d, rowStride: o.rs, kStride: o.ks, batchShape: [o.batch], batchStrides: [o.bs] });
  return { t: packed, off: 0, rs: D4, bs: o.rows * D4, temp: true };
}

let forcedTile: { RA: number; CB: number } | null = null;

/** Forces the register tile of the CPU-SIMD contrastive kernels (tests and tuning); null restores the choice by shape. */
export function forceContrastiveTile(tile: { RA: number; CB: number } | null): void {
  forcedTile = tile;
}

/**
 * Register tile of the SIMD kernels: RA own row groups x CB other row groups of SG rows. Lavapipe
 * (SG 8): up to 16 x 32. SwiftShader (SG 4) compiles the 2 x 4 groups' unrolled kernels for
 * minutes (measured: 2 x 2 in 0.4 s, 2 x 4 not done after 150 s), so small subgroups stop at 2 x 2.
 */
function simdTile(own: number, other: number, sg: number): { RA: number; CB: number } {
  if (forcedTile) return forcedTile;
  const RA = own > sg ? 2 : 1;
  const CB = other > 2 * sg && sg >= 8 ? 4 : other > sg ? 2 : 1;
  return { RA, CB };
}

/** The flags shared by forward and backward. */
function flags(p: Problem): Record<string, number> {
  return { DIAG: p.diag ? 1 : 0, POS_INDEX: p.posIndex && !p.extra ? 1 : 0, EXTRA: p.extra ? 1 : 0 };
}

/** Forward result: per-row losses and log-sum-exps, both [batch, M] contiguous (f32). */
export interface ContrastiveForward {
  loss: Tensor;
  lse: Tensor;
}

/**
 * The fused forward: per row of A, loss = lse - positive logit (shape of A without its last
 * dim), and lse (same shape), saved for the backward.
 */
export function contrastiveForward(spec: ContrastiveSpec): ContrastiveForward {
  const p = problem(spec);
  const rowShape = spec.a.shape.slice(0, -1);
  const loss = Tensor.empty(rowShape, 'f32');
  const lse = Tensor.empty(rowShape, 'f32');
  const rt = runtime();
  const ex = p.extra ? flatAux(p.extra) : null;
  const pi = p.posIndex ? flatAux(p.posIndex) : null;
  const aux = [ex?.t ?? rt.dummy, pi?.t ?? rt.dummy];
  if (p.simd) {
    const SG = rt.subgroupSize;
    const D4 = Math.ceil(p.d / 4);
    const { RA, CB } = simdTile(p.M, p.nb, SG);
    const X = vec4Rows(p.A, D4);
    const Y = spec.a === spec.b ? X : vec4Rows(p.B, D4);
    const tiles = Math.ceil(p.M / (SG * RA));
    dispatch({
      op: OP,
      shader: 'contrastive_simd',
      entry: 'fwd',
      slots: { SG, RA, CB },
      overrides: flags(p),
      inputs: [X.t, Y.t, ...aux],
      outputs: [lse, loss],
      params: new Params()
        .u32(p.M, p.nb, D4, p.batch)
        .u32(X.rs, X.bs, X.off, tiles)
        .u32(Y.rs, Y.bs, Y.off, p.M)
        .u32(p.nb, p.shift, 0).f32(p.scale),
      workgroups: foldGrid(OP, [tiles * p.batch, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
    });
    if (X.temp) X.t.dispose();
    if (Y.temp && Y !== X) Y.t.dispose();
  } else {
    dispatch({
      op: OP,
      shader: 'contrastive',
      entry: 'rows_fwd',
      overrides: { WG, ...flags(p) },
      inputs: [p.A.t, p.B.t, ...aux],
      outputs: [lse, loss],
      params: portableParams(p, p.A, p.B, p.M, p.nb),
      workgroups: p.batch * p.M,
    });
  }
  if (ex?.temp) ex.t.dispose();
  if (pi?.temp) pi.t.dispose();
  return { loss, lse };
}

function portableParams(p: Problem, X: Operand3, Y: Operand3, own: number, other: number): Params {
  return new Params()
    .u32(own, other, p.d, p.batch)
    .u32(X.rs, X.bs, X.t.offset, X.ks)
    .u32(Y.rs, Y.bs, Y.t.offset, Y.ks)
    .u32(p.M, p.nb, p.shift).f32(p.scale);
}

/** Which gradients {@link contrastiveBackward} computes. */
export interface ContrastiveWants {
  a: boolean;
  b: boolean;
}

/**
 * The fused backward: given the forward's `lse` and the upstream gradient `g` of the per-row
 * losses (both of A's row shape), returns dA and dB (shapes of a and b; null where not wanted).
 * When a and b are the same tensor and both are wanted, dA holds dA + dB (one pass over the
 * symmetric S) and dB is null.
 */
export function contrastiveBackward(
  spec: ContrastiveSpec, lse: Tensor, g: Tensor, wants: ContrastiveWants,
): { da: Tensor | null; db: Tensor | null } {
  const p = problem(spec);
  const rt = runtime();
  const gi = flatAux(g);
  const li = flatAux(lse);
  const pi = p.posIndex && !p.extra ? flatAux(p.posIndex) : null;
  const sym = wants.a && wants.b && spec.a === spec.b;
  const run = (X: Operand3, Y: Operand3, own: number, other: number, ownTerm: boolean, otherTerm: boolean): Tensor => {
    const fl = { ...flags(p), OWN_TERM: ownTerm ? 1 : 0, OTHER_TERM: otherTerm ? 1 : 0 };
    const aux = [li.t, gi.t, pi?.t ?? rt.dummy];
    if (p.simd) {
      const SG = rt.subgroupSize;
      const D4 = Math.ceil(p.d / 4);
      const { RA, CB } = simdTile(own, other, SG);
      const Xv = vec4Rows(X, D4);
      const Yv = X.t === Y.t ? Xv : vec4Rows(Y, D4);
      const tiles = Math.ceil(own / (SG * RA));
      const out = Tensor.empty([p.batch, own, D4 * 4], 'f32');
      dispatch({
        op: `${OP}.backward`,
        shader: 'contrastive_simd',
        entry: 'bwd',
        slots: { SG, RA, CB },
        overrides: fl,
        inputs: [Xv.t, Yv.t, ...aux],
        outputs: [out],
        params: new Params()
          .u32(own, other, D4, p.batch)
          .u32(Xv.rs, Xv.bs, Xv.off, tiles)
          .u32(Yv.rs, Yv.bs, Yv.off, p.M)
          .u32(p.nb, p.shift, 0).f32(p.scale),
        workgroups: foldGrid(OP, [tiles * p.batch, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
      });
      if (Xv.temp) Xv.t.dispose();
      if (Yv.temp && Yv !== Xv) Yv.t.dispose();
      const shape = X.t.rank === 3 ? [p.batch, own, p.d] : [own, p.d];
      const strides = X.t.rank === 3 ? [own * D4 * 4, D4 * 4, 1] : [D4 * 4, 1];
      const v = out.view(shape, strides, 0);
      out.dispose();
      return v;
    }
    const out = Tensor.empty(X.t.shape, 'f32');
    dispatch({
      op: `${OP}.backward`,
      shader: 'contrastive',
      entry: 'rows_bwd',
      overrides: { WG, ...fl },
      inputs: [X.t, Y.t, ...aux],
      outputs: [out],
      params: portableParams(p, X, Y, own, other),
      workgroups: p.batch * own,
    });
    return out;
  };
  let da: Tensor | null = null;
  let db: Tensor | null = null;
  if (sym) {
    da = run(p.A, p.A, p.M, p.M, true, true);
  } else {
    if (wants.a) da = run(p.A, p.B, p.M, p.nb, true, false);
    if (wants.b) db = run(p.B, p.A, p.nb, p.M, false, true);
  }
  for (const t of [gi, li, pi]) if (t?.temp) t.t.dispose();
  return { da, db };
}
