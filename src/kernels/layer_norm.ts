/**
 * LayerNorm kernels (shaders/layer_norm.wgsl): normalisation over the last dims with optional
 * affine weight and bias, fused forward (saving each row's mean and rstd) and a fused backward
 * (dx in one dispatch; dγ and dβ in one more, plus a sum over row chunks when there are several).
 * f32; inputs that are not contiguous are copied first; outputs are new contiguous tensors.
 */
import { Params } from '../command_batch.js';
import { zeros } from '../creation.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt, sameShape, sizeOf, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { copy } from './elementwise.js';
import { orDummy, planNorm, vecWidth } from './moments.js';
import { sum } from './reduce.js';
import type { RowPath } from './rows.js';

const INPUTS = ['x', 'dy', 'gamma', 'beta', 'saved'] as const;
const OUTPUTS = ['out', 'stats', 'dgamma', 'dbeta'] as const;
type Bound = Partial<Record<(typeof INPUTS)[number] | (typeof OUTPUTS)[number], Tensor | GPUBuffer>>;

/** Inputs and outputs in layer_norm.wgsl's binding order; absent ones leave gaps. */
const bind = (b: Bound) => ({ inputs: INPUTS.map((k) => b[k] ?? null), outputs: OUTPUTS.map((k) => b[k] ?? null) });

/** Threads per workgroup of layer_norm_bwd_params. */
const PARAMS_WG = 64;

/** Rows and row length D of `x` normalised over its trailing `normalizedShape`; throws with shapes. */
export function layerNormGeometry(op: string, x: Tensor, normalizedShape: readonly number[]): { rows: number; len: number } {
  const k = normalizedShape.length;
  if (x.dtype !== 'f32') throw new Error(`${op}: expects an f32 input, got ${x.dtype} ${fmt(x.shape)}`);
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), normalizedShape)) {
    throw new Error(`${op}: input ${fmt(x.shape)} does not end in normalized shape ${fmt(normalizedShape)}`);
  }
  return { rows: sizeOf(x.shape.slice(0, x.rank - k)), len: sizeOf(normalizedShape) };
}

function checkParam(op: string, name: string, t: Tensor | null, normalizedShape: readonly number[]): void {
  if (t && (t.dtype !== 'f32' || !sameShape(t.shape, normalizedShape))) {
    throw new Error(`${op}: ${name} must be f32 ${fmt(normalizedShape)}, got ${t.dtype} ${fmt(t.shape)}`);
  }
}

/** `t` itself when contiguous, else a contiguous copy (temp: dispose it after the dispatch). */
function dense(t: Tensor): { t: Tensor; temp: boolean } {
  return t.isContiguous ? { t, temp: false } : { t: copy(t), temp: true };
}

function params(rows: number, len: number, ch: 1 | 4, chunk: number, off: number[], eps: number, w: Tensor | null, b: Tensor | null): Params {
  return new Params()
    .u32(rows, len / ch, len, chunk)
    .u32(...off.map((o) => o / ch))
    .u32(w ? 1 : 0, b ? 1 : 0)
    .f32(eps)
    .u32(0);
}

/** One LayerNorm forward. */
export interface LayerNormFwdSpec {
  op?: string;
  x: Tensor; // [..., ...normalizedShape]
  normalizedShape: readonly number[];
  weight?: Tensor | null; // normalizedShape
  bias?: Tensor | null; // normalizedShape
  eps?: number;
  /** Force a kernel shape (tests); default: chosen from the adapter and the shapes. */
  path?: RowPath;
}

/** Runs LayerNorm forward: y (contiguous, x's shape) and stats [rows, 4] = (k, m, rstd, 0): mean = k + m (see layer_norm.wgsl). */
export function launchLayerNormFwd(spec: LayerNormFwdSpec): { y: Tensor; stats: Tensor } {
  const op = spec.op ?? 'layerNorm';
  const { normalizedShape, weight = null, bias = null } = spec;
  const eps = spec.eps ?? 1e-5;
  const { rows, len } = layerNormGeometry(op, spec.x, normalizedShape);
  checkParam(op, 'weight', weight, normalizedShape);
  checkParam(op, 'bias', bias, normalizedShape);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  const y = Tensor.empty(spec.x.shape, 'f32');
  const stats = Tensor.empty([rows, 4], 'f32');
  if (y.size === 0) return { y, stats };
  const x = dense(spec.x);
  const ch = vecWidth(len, x.t.offset, weight?.offset ?? 0, bias?.offset ?? 0);
  const plan = planNorm(op, rows, len / ch, ch, spec.path);
  dispatch({
    op, shader: 'layer_norm', entry: 'layer_norm_fwd', slots: plan.slots, overrides: plan.overrides,
    params: params(rows, len, ch, 0, [x.t.offset, 0, weight?.offset ?? 0, bias?.offset ?? 0], eps, weight, bias),
    ...bind({ x: x.t, gamma: orDummy(weight), beta: orDummy(bias), out: y, stats }),
    workgroups: plan.workgroups,
  });
  if (x.temp) x.t.dispose();
  return { y, stats };
}

/** One LayerNorm backward. */
export interface LayerNormBwdSpec {
  op?: string;
  x: Tensor;
  dy: Tensor; // x's shape
  normalizedShape: readonly number[];
  weight?: Tensor | null;
  /** The forward's stats [rows, 4] = (k, m, rstd, 0). */
  stats: Tensor;
  /** Which gradients to compute: dx, and dweight/dbias (one dispatch gives both). */
  needInput: boolean;
  needParams: boolean;
  path?: RowPath;
}

/** Gradients of LayerNorm: dx (contiguous, x's shape), dweight and dbias (normalizedShape); null where not asked. */
export function launchLayerNormBwd(spec: LayerNormBwdSpec): { dx: Tensor | null; dweight: Tensor | null; dbias: Tensor | null } {
  const op = spec.op ?? 'layerNorm';
  const { normalizedShape, weight = null } = spec;
  const { rows, len } = layerNormGeometry(op, spec.x, normalizedShape);
  if (!sameShape(spec.dy.shape, spec.x.shape) || spec.dy.dtype !== 'f32') {
    throw new Error(`${op}: backward got dy ${spec.dy.dtype} ${fmt(spec.dy.shape)} for input ${fmt(spec.x.shape)}`);
  }
  checkParam(op, 'weight', weight, normalizedShape);
  if (spec.stats.size !== 4 * rows) throw new Error(`${op}: stats ${fmt(spec.stats.shape)} do not match input ${fmt(spec.x.shape)}`);
  const out = { dx: null as Tensor | null, dweight: null as Tensor | null, dbias: null as Tensor | null };
  if (spec.x.size === 0) {
    if (spec.needInput) out.dx = Tensor.empty(spec.x.shape, 'f32');
    if (spec.needParams) [out.dweight, out.dbias] = [zeros(normalizedShape), zeros(normalizedShape)];
    return out;
  }
  const x = dense(spec.x);
  const dy = dense(spec.dy);
  const stats = spec.stats.offset === 0 ? dense(spec.stats) : { t: copy(spec.stats), temp: true };
  const ch = vecWidth(len, x.t.offset, dy.t.offset, weight?.offset ?? 0);
  const off = [x.t.offset, dy.t.offset, weight?.offset ?? 0, 0];
  const common = { op, shader: 'layer_norm' };
  if (spec.needInput) {
    out.dx = Tensor.empty(spec.x.shape, 'f32');
    const plan = planNorm(op, rows, len / ch, ch, spec.path);
    dispatch({
      ...common, entry: 'layer_norm_bwd', slots: plan.slots, overrides: plan.overrides,
      params: params(rows, len, ch, 0, off, 0, weight, null),
      ...bind({ x: x.t, dy: dy.t, gamma: orDummy(weight), saved: stats.t, out: out.dx }),
      workgroups: plan.workgroups,
    });
  }
  if (spec.needParams) {
    // Enough (column, chunk) invocations to fill the adapter; each sums its chunk of rows.
    const cols = len / ch;
    const target = runtime().strategy === 'cpu-simd' ? 256 : 16384;
    const chunk = Math.ceil(rows / Math.min(rows, Math.max(1, Math.ceil(target / cols))));
    const chunks = Math.ceil(rows / chunk);
    const parts = [Tensor.empty([chunks, ...normalizedShape], 'f32'), Tensor.empty([chunks, ...normalizedShape], 'f32')];
    dispatch({
      ...common, entry: 'layer_norm_bwd_params', slots: { SG: 0, XOR: 'xor_wg(v, m, lid)', V: ch === 4 ? 'vec4<f32>' : 'f32', CH: ch },
      overrides: { WG: PARAMS_WG, ROW: 0 }, params: params(rows, len, ch, chunk, off, 0, null, null),
      ...bind({ x: x.t, dy: dy.t, saved: stats.t, dgamma: parts[0], dbeta: parts[1] }),
      workgroups: [Math.ceil(cols / PARAMS_WG), chunks, 1],
    });
    const [dw, db] = parts.map((t) => (chunks > 1 ? sum(t, 0) : t.view(normalizedShape, stridesOf(normalizedShape), 0)));
    for (const t of parts) t.dispose();
    out.dweight = dw;
    out.dbias = db;
  }
  for (const r of [x, dy, stats]) if (r.temp) r.t.dispose();
  return out;
}
