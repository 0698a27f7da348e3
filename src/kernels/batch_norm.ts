/**
 * BatchNorm kernels (shaders/batch_norm.wgsl): statistics per channel over every other dim,
 * fused with the normalisation (one dispatch in training, running statistics updated in place as
 * PyTorch does) and a fused backward (dx, dγ, dβ in one dispatch). Inputs are [N, C, ...spatial]
 * f32 and may be strided views (read in place when the spatial dims merge into one, else copied);
 * outputs are new contiguous tensors.
 */
import { Params } from '../command_batch.js';
import { zeros } from '../creation.js';
import { dispatch } from '../dispatch.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';
import { collapseDims, copy } from './elementwise.js';
import { orDummy, planNorm, vecWidth } from './moments.js';
import type { RowPath } from './rows.js';

const INPUTS = ['x', 'dy', 'gamma', 'beta', 'saved'] as const;
const OUTPUTS = ['out', 'stats', 'runMean', 'runVar', 'nbt', 'dgamma', 'dbeta'] as const;
type Bound = Partial<Record<(typeof INPUTS)[number] | (typeof OUTPUTS)[number], Tensor | GPUBuffer>>;

/** Inputs and outputs in batch_norm.wgsl's binding order; absent ones leave gaps. */
const bind = (b: Bound) => ({ inputs: INPUTS.map((k) => b[k] ?? null), outputs: OUTPUTS.map((k) => b[k] ?? null) });

/** A tensor read as [N, C, S]: its strides and offset (the spatial dims merged into S). */
interface Ncs {
  s: number;
  strides: [number, number, number];
  offset: number;
}

/** `t` as [N, C, S], or null when its spatial dims do not merge into one strided dim. */
function asNcs(t: Tensor): Ncs | null {
  const m = collapseDims(t.shape.slice(2), [t.strides.slice(2)]);
  if (m.shape.length > 1) return null;
  return { s: m.shape[0] ?? 1, strides: [t.strides[0], t.strides[1], m.strides[0][0] ?? 0], offset: t.offset };
}

/** `t` and its [N, C, S] geometry; a contiguous copy (to dispose) when the view does not merge. */
function readable(t: Tensor): { t: Tensor; g: Ncs; temp: boolean } {
  const g = asNcs(t);
  if (g) return { t, g, temp: false };
  const c = copy(t);
  return { t: c, g: asNcs(c)!, temp: true };
}

/** vec4 loads need S contiguous and every row of S starting on a multiple of 4. */
const vecOf = (g: Ncs): 1 | 4 => (g.strides[2] === 1 ? vecWidth(g.s, g.strides[0], g.strides[1], g.offset) : 1);

/** x and dy geometry in V units, then the offsets of the per-channel tensors. */
function params(n: number, c: number, gx: Ncs, gdy: Ncs | null, ch: 1 | 4): Params {
  const d = gdy ?? gx;
  const ss = (g: Ncs) => (ch === 4 ? 1 : g.strides[2]);
  return new Params()
    .u32(n, c, gx.s / ch, n * gx.s)
    .u32(gx.strides[0] / ch, gx.strides[1] / ch, ss(gx), gx.offset / ch)
    .u32(d.strides[0] / ch, d.strides[1] / ch, ss(d), d.offset / ch);
}

function checkChannel(op: string, name: string, t: Tensor | null | undefined, x: Tensor, dtype = 'f32'): void {
  if (!t) return;
  const c = x.shape[1];
  if (t.dtype !== dtype || t.size !== c || t.rank !== 1) {
    throw new Error(`${op}: ${name} must be ${dtype} [${c}] for input ${fmt(x.shape)}, got ${t.dtype} ${fmt(t.shape)}`);
  }
}

/** One BatchNorm forward. */
export interface BatchNormFwdSpec {
  op?: string;
  /** [N, C, ...spatial], f32. */
  x: Tensor;
  weight?: Tensor | null; // [C]
  bias?: Tensor | null; // [C]
  runningMean?: Tensor | null; // [C], updated in place in training
  runningVar?: Tensor | null; // [C], updated in place in training (unbiased batch variance)
  /** i32 with one element, incremented in training when the running stats are given. */
  numBatchesTracked?: Tensor | null;
  /** Normalise with the batch's statistics (updating the running ones), else with the running ones. */
  training: boolean;
  /** Weight of the new batch in the running stats (default 0.1); null: cumulative average. */
  momentum?: number | null;
  eps?: number;
  /** Force a kernel shape (tests); default: chosen from the adapter and the shapes. */
  path?: RowPath;
}

/** Runs BatchNorm forward: y (contiguous, x's shape) and stats [C, 4] = (k, m, rstd, 0) used: mean = k + m (see batch_norm.wgsl). */
export function launchBatchNormFwd(spec: BatchNormFwdSpec): { y: Tensor; stats: Tensor } {
  const op = spec.op ?? 'batchNorm';
  const { weight = null, bias = null, runningMean = null, runningVar = null, numBatchesTracked: nbt = null } = spec;
  const eps = spec.eps ?? 1e-5;
  const momentum = spec.momentum === undefined ? 0.1 : spec.momentum;
  const x0 = spec.x;
  if (x0.dtype !== 'f32' || x0.rank < 2) throw new Error(`${op}: expects an f32 input [N, C, ...], got ${x0.dtype} ${fmt(x0.shape)}`);
  for (const [name, t] of [['weight', weight], ['bias', bias], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    checkChannel(op, name, t, x0);
  }
  if (nbt && (nbt.dtype !== 'i32' || nbt.size !== 1)) throw new Error(`${op}: numBatchesTracked must be i32 with one element, got ${nbt.dtype} ${fmt(nbt.shape)}`);
  if (!runningMean !== !runningVar) throw new Error(`${op}: give both runningMean and runningVar or neither, input ${fmt(x0.shape)}`);
  if (!spec.training && !runningMean) throw new Error(`${op}: eval mode needs runningMean and runningVar, input ${fmt(x0.shape)}`);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  const [n, c] = x0.shape;
  const track = spec.training && !!runningMean;
  if (track && momentum === null && !nbt) throw new Error(`${op}: momentum null (cumulative average) needs numBatchesTracked, input ${fmt(x0.shape)}`);
  if (track && momentum !== null && !(momentum >= 0 && momentum <= 1)) throw new Error(`${op}: momentum must be in [0, 1] or null, got ${momentum}`);
  const m = x0.size / Math.max(c, 1);
  if (spec.training && m <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input ${fmt(x0.shape)}`);
  const y = Tensor.empty(x0.shape, 'f32');
  const stats = Tensor.empty([c, 4], 'f32');
  if (y.size === 0) return { y, stats };
  const { t: x, g, temp } = readable(x0);
  const ch = vecOf(g);
  const plan = planNorm(op, c, m / ch, ch, spec.path);
  const p = params(n, c, g, null, ch)
    .u32(weight?.offset ?? 0, bias?.offset ?? 0, runningMean?.offset ?? 0, runningVar?.offset ?? 0)
    .u32(nbt?.offset ?? 0, (weight ? 1 : 0) | (bias ? 2 : 0), track && momentum === null ? 1 : 0, 0)
    .f32(eps, momentum ?? 0)
    .u32(0, 0);
  const common = { op, shader: 'batch_norm', slots: plan.slots, overrides: { ...plan.overrides, TRAIN: 1 }, params: p };
  const b: Bound = { x, gamma: orDummy(weight), beta: orDummy(bias), out: y, stats };
  if (!track) {
    const entry = spec.training ? 'batch_norm_train' : 'batch_norm_eval';
    const running = spec.training ? {} : { runMean: runningMean!, runVar: runningVar! };
    dispatch({ ...common, entry, ...bind({ ...b, ...running }), workgroups: plan.workgroups });
  } else {
    // Without a counter the kernel still increments one (PyTorch's functional form has none).
    const counter = nbt ?? Tensor.empty([1], 'i32');
    if (momentum === null) dispatch({ ...common, entry: 'batch_norm_count', ...bind({ nbt: counter }), workgroups: 1 });
    const running = { runMean: runningMean!, runVar: runningVar!, nbt: counter };
    dispatch({ ...common, entry: 'batch_norm_train_track', ...bind({ ...b, ...running }), workgroups: plan.workgroups });
    if (counter !== nbt) counter.dispose();
  }
  if (temp) x.dispose();
  return { y, stats };
}

/** One BatchNorm backward. */
export interface BatchNormBwdSpec {
  op?: string;
  x: Tensor; // [N, C, ...spatial]
  dy: Tensor; // x's shape
  weight?: Tensor | null; // [C]
  /** The forward's stats [C, 4] = (k, m, rstd, 0). */
  stats: Tensor;
  /** The stats were the batch's own (training): dx gets the terms through mean and variance. */
  batchStats: boolean;
  path?: RowPath;
}

/**
 * Gradients of BatchNorm in one dispatch: dx (contiguous, x's shape), dweight and dbias [C]
 * (dγ = Σ dy x̂, dβ = Σ dy; computed whether or not the layer is affine).
 */
export function launchBatchNormBwd(spec: BatchNormBwdSpec): { dx: Tensor; dweight: Tensor; dbias: Tensor } {
  const op = spec.op ?? 'batchNorm';
  const weight = spec.weight ?? null;
  const x0 = spec.x;
  const dy0 = spec.dy;
  if (dy0.rank !== x0.rank || dy0.shape.some((d, i) => d !== x0.shape[i]) || dy0.dtype !== 'f32') {
    throw new Error(`${op}: backward got dy ${dy0.dtype} ${fmt(dy0.shape)} for input ${fmt(x0.shape)}`);
  }
  checkChannel(op, 'weight', weight, x0);
  const [n, c] = x0.shape;
  if (spec.stats.size !== 4 * c) throw new Error(`${op}: stats ${fmt(spec.stats.shape)} do not match input ${fmt(x0.shape)}`);
  const dx = Tensor.empty(x0.shape, 'f32');
  if (dx.size === 0) return { dx, dweight: zeros([c]), dbias: zeros([c]) };
  const dweight = Tensor.empty([c], 'f32');
  const dbias = Tensor.empty([c], 'f32');
  const rx = readable(x0);
  const rdy = readable(dy0);
  const ch = Math.min(vecOf(rx.g), vecOf(rdy.g)) as 1 | 4;
  const m = x0.size / c;
  const plan = planNorm(op, c, m / ch, ch, spec.path);
  const p = params(n, c, rx.g, rdy.g, ch)
    .u32(weight?.offset ?? 0, 0, 0, 0)
    .u32(0, weight ? 1 : 0, 0, 0)
    .f32(0, 0)
    .u32(0, 0);
  const stats = spec.stats.isContiguous && spec.stats.offset === 0 ? spec.stats : copy(spec.stats);
  dispatch({
    op, shader: 'batch_norm', entry: 'batch_norm_bwd', slots: plan.slots,
    overrides: { ...plan.overrides, TRAIN: spec.batchStats ? 1 : 0 }, params: p,
    ...bind({ x: rx.t, dy: rdy.t, gamma: orDummy(weight), saved: stats, out: dx, dgamma: dweight, dbeta: dbias }),
    workgroups: plan.workgroups,
  });
  for (const r of [rx, rdy]) if (r.temp) r.t.dispose();
  if (stats !== spec.stats) stats.dispose();
  return { dx, dweight, dbias };
}
