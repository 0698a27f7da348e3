/**
 * Shape ops. Views (reshape of contiguous data, permute, transpose, slice, expand, squeeze,
 * unsqueeze) share storage and launch nothing; concat, stack and pad write through strided
 * views with the elementwise copy kernel.
 */
import type { DType } from './dtype.js';
import { copy, copyInto, fillInto } from './kernels/elementwise.js';
import { broadcastShapes, broadcastStrides, checkShape, fmt, normAxis, sameShape, sizeOf, stridesOf, type Shape } from './shape.js';
import { Tensor } from './tensor.js';

/** A contiguous tensor with the same values: a new view of `x` when it already is, else a copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x.view(x.shape, x.strides, x.offset) : copy(x);
}

/** Same values, new shape (one dim may be -1). A view when `x` is contiguous, else a copy. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1);
  const infer = shape.length - known.length;
  checkShape('reshape', known);
  if (infer > 1) throw new Error(`reshape: more than one -1 in ${fmt(shape)}`);
  const rest = sizeOf(known);
  const s = shape.map((d) => (d === -1 ? (rest === 0 ? 0 : x.size / rest) : d));
  if (sizeOf(s) !== x.size || !s.every(Number.isInteger)) throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  if (x.isContiguous) return x.view(s, stridesOf(s), x.offset);
  const c = copy(x);
  const v = c.view(s, stridesOf(s), 0);
  c.dispose();
  return v;
}

/** Flattens dims [start, end] into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const a = normAxis('flatten', start, x.shape);
  const b = normAxis('flatten', end, x.shape);
  return reshape(x, [...x.shape.slice(0, a), sizeOf(x.shape.slice(a, b + 1)), ...x.shape.slice(b + 1)]);
}

/** Reorders dims: out.shape[i] = x.shape[perm[i]]. A view. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis('permute', a, x.shape));
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(`permute: [${perm.join(',')}] is not a permutation of the dims of ${fmt(x.shape)}`);
  }
  return x.view(p.map((a) => x.shape[a]), p.map((a) => x.strides[a]), x.offset);
}

/** Swaps two dims (default: the last two). A view. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const i = normAxis('transpose', a, x.shape);
  const j = normAxis('transpose', b, x.shape);
  const perm = x.shape.map((_, k) => (k === i ? j : k === j ? i : k));
  return permute(x, perm);
}

/** Elements start, start+step, ... below end along `axis` (Python slice rules; negatives count from the end). A view. */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const a = normAxis('slice', axis, x.shape);
  const n = x.shape[a];
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const clampIdx = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = clampIdx(start);
  const e = clampIdx(end ?? n);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const shape = [...x.shape];
  shape[a] = len;
  const strides = [...x.strides];
  strides[a] = x.strides[a] * step;
  return x.view(shape, strides, x.offset + (len > 0 ? s * x.strides[a] : 0));
}

/** Broadcasts size-1 dims to `shape` (-1 keeps a dim). A view with stride 0. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead] : d));
  const b = broadcastShapes('expand', x.shape, target);
  if (!sameShape(b, target)) throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
  return x.view(target, broadcastStrides(x.shape, x.strides, target), x.offset);
}

/** Inserts a size-1 dim at `axis`. A view. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, [...x.shape, 1]);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < x.rank ? x.strides[a] * x.shape[a] : 1);
  return x.view(shape, strides, x.offset);
}

/** Removes size-1 dims (all, or the given ones). A view. */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list = axes === undefined ? null : (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis('squeeze', a, x.shape));
  for (const a of list ?? []) {
    if (x.shape[a] !== 1) throw new Error(`squeeze: dim ${a} of ${fmt(x.shape)} is not 1`);
  }
  const keep = x.shape.map((d, i) => (list ? !list.includes(i) : d !== 1));
  return x.view(x.shape.filter((_, i) => keep[i]), x.strides.filter((_, i) => keep[i]), x.offset);
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const a = normAxis('concat', axis, xs[0].shape);
  const dtype: DType = xs[0].dtype;
  for (const t of xs) {
    const ok = t.rank === xs[0].rank && t.dtype === dtype && t.shape.every((d, i) => i === a || d === xs[0].shape[i]);
    if (!ok) throw new Error(`concat: shapes ${xs.map((x) => `${fmt(x.shape)}:${x.dtype}`).join(', ')} differ outside axis ${axis}`);
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const out = Tensor.empty(shape, dtype);
  let at = 0;
  for (const t of xs) {
    const dst = slice(out, a, at, at + t.shape[a]);
    copyInto(dst, t);
    dst.dispose();
    at += t.shape[a];
  }
  return out;
}

/** Joins same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: no tensors');
  for (const t of xs) {
    if (!sameShape(t.shape, xs[0].shape)) throw new Error(`stack: shapes ${xs.map((x) => fmt(x.shape)).join(', ')} differ`);
  }
  const a = normAxis('stack', axis, [...xs[0].shape, 1]);
  const views = xs.map((t) => unsqueeze(t, a));
  const out = concat(views, a);
  for (const v of views) v.dispose();
  return out;
}

/** Constant padding: `pads[i] = [before, after]` for each dim i (fewer pairs pad the leading dims only). */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  if (pads.length > x.rank) throw new Error(`pad: ${pads.length} pad pairs for shape ${fmt(x.shape)}`);
  for (const [b, e] of pads) {
    if (!Number.isInteger(b) || !Number.isInteger(e) || b < 0 || e < 0) {
      throw new Error(`pad: pads must be non-negative integers, got [${pads.map((p) => `[${p}]`).join(',')}]`);
    }
  }
  const shape = x.shape.map((d, i) => d + (pads[i] ? pads[i][0] + pads[i][1] : 0));
  const out = Tensor.empty(shape, x.dtype);
  fillInto(out, value);
  let inner = out.view(out.shape, out.strides, 0);
  pads.forEach(([b], i) => {
    const next = slice(inner, i, b, b + x.shape[i]);
    inner.dispose();
    inner = next;
  });
  copyInto(inner, x);
  inner.dispose();
  return out;
}
