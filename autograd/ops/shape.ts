/**
 * Differentiable shape ops. Forward is src/views.ts, so views stay views (reshape of contiguous
 * data, flatten, permute, transpose, slice, expand, squeeze, unsqueeze launch nothing); concat,
 * stack and pad copy. A gradient is a view of the upstream gradient wherever the inverse is a
 * view (reshape, permute, transpose, pad's and concat's slices); slice writes g into zeros.
 */
import { zeros } from '../../src/creation.js';
import { copy as copyK, copyInto } from '../../src/kernels/elementwise.js';
import { normAxis, type Shape } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import * as V from '../../src/views.js';
import { defineOp } from '../op.js';

const shapeOf = (ctx: { data: Record<string, unknown> }) => ctx.data.shape as readonly number[];

/** A view-like op whose gradient is g reshaped back to the input's shape. */
function reshaping<A extends unknown[]>(name: string, fwd: (x: Tensor, ...args: A) => Tensor) {
  return defineOp({
    name,
    forward(ctx, x: Tensor, ...args: A) {
      ctx.data.shape = x.shape;
      return fwd(x, ...args);
    },
    // dx = reshape(g, x.shape)
    backward: (ctx, g) => [V.reshape(g, shapeOf(ctx))],
  });
}

/** Same values, new shape (one dim may be -1). A view when `x` is contiguous, else a copy. */
export const reshape: (x: Tensor, shape: Shape) => Tensor = reshaping('reshape', V.reshape);
/** Flattens dims [start, end] (default all) into one. */
export const flatten: (x: Tensor, start?: number, end?: number) => Tensor = reshaping('flatten', V.flatten);
/** Inserts a size-1 dim at `axis`. A view. */
export const unsqueeze: (x: Tensor, axis: number) => Tensor = reshaping('unsqueeze', V.unsqueeze);
/** Removes size-1 dims (all, or the given ones). A view. */
export const squeeze: (x: Tensor, axes?: number | readonly number[]) => Tensor = reshaping('squeeze', V.squeeze);

/** Reorders dims: out.shape[i] = x.shape[perm[i]]. A view. */
export const permute = defineOp({
  name: 'permute',
  forward(ctx, x: Tensor, perm: readonly number[]) {
    const out = V.permute(x, perm);
    ctx.data.perm = perm.map((a) => normAxis('permute', a, x.shape));
    return out;
  },
  // dx = permute(g, perm⁻¹)
  backward(ctx, g) {
    const perm = ctx.data.perm as number[];
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [V.permute(g, inv)];
  },
});

/** Swaps two dims (default: the last two). A view. */
export const transpose = defineOp({
  name: 'transpose',
  forward(ctx, x: Tensor, a: number = -2, b: number = -1) {
    ctx.data.ab = [a, b];
    return V.transpose(x, a, b);
  },
  // dx = transpose(g, a, b)
  backward(ctx, g) {
    const [a, b] = ctx.data.ab as [number, number];
    return [V.transpose(g, a, b)];
  },
});

/** Elements start, start+step, ... below end along `axis` (Python slice rules). A view. */
export const slice = defineOp({
  name: 'slice',
  forward(ctx, x: Tensor, axis: number, start: number = 0, end?: number, step: number = 1) {
    ctx.data.shape = x.shape;
    ctx.data.args = [axis, start, end, step];
    return V.slice(x, axis, start, end, step);
  },
  // dx = zeros(x.shape) with g written at the sliced positions
  backward(ctx, g) {
    const [axis, start, end, step] = ctx.data.args as [number, number, number | undefined, number];
    const dx = zeros(shapeOf(ctx));
    copyInto(V.slice(dx, axis, start, end, step), g);
    return [dx];
  },
});

/** Broadcasts size-1 dims to `shape` (-1 keeps a dim). A view with stride 0. */
export const expand = defineOp({
  name: 'expand',
  forward: (_ctx, x: Tensor, shape: Shape) => V.expand(x, shape),
  // dx = g summed over the expanded dims (done by the tape's generic un-broadcasting)
  backward: (_ctx, g) => [g],
});

/** A contiguous tensor with the same values: a new view of `x` when it already is, else a copy. */
export const contiguous = defineOp({
  name: 'contiguous',
  forward: (_ctx, x: Tensor) => V.contiguous(x),
  // dx = g
  backward: (_ctx, g) => [g],
});

/** A contiguous copy (a new tensor even when `x` is already contiguous). */
export const copy = defineOp({
  name: 'copy',
  forward: (_ctx, x: Tensor) => copyK(x),
  // dx = g
  backward: (_ctx, g) => [g],
});

/** Tensors as trailing arguments (so the tape sees each one) for concat and stack. */
const concatOp = defineOp({
  name: 'concat',
  forward(ctx, axis: number, ...xs: Tensor[]) {
    const out = V.concat(xs, axis);
    ctx.data.axis = normAxis('concat', axis, xs[0].shape);
    ctx.data.sizes = xs.map((t) => t.shape[ctx.data.axis as number]);
    return out;
  },
  // dx_i = the slice of g along axis that x_i filled
  backward(ctx, g) {
    const a = ctx.data.axis as number;
    let at = 0;
    const gs = (ctx.data.sizes as number[]).map((n, i) => {
      const s = ctx.needsGrad(i + 1) ? V.slice(g, a, at, at + n) : null;
      at += n;
      return s;
    });
    return [null, ...gs];
  },
});

const stackOp = defineOp({
  name: 'stack',
  forward(ctx, axis: number, ...xs: Tensor[]) {
    const out = V.stack(xs, axis);
    ctx.data.axis = normAxis('stack', axis, [...(xs[0]?.shape ?? []), 1]);
    return out;
  },
  // dx_i = g[..., i, ...] along the new axis
  backward(ctx, g) {
    const a = ctx.data.axis as number;
    const gs = Array.from({ length: g.shape[a] }, (_, i) => (ctx.needsGrad(i + 1) ? V.squeeze(V.slice(g, a, i, i + 1), a) : null));
    return [null, ...gs];
  },
});

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  return concatOp(axis, ...xs);
}

/** Joins same-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: no tensors');
  return stackOp(axis, ...xs);
}

/** Constant padding: `pads[i] = [before, after]` for dim i (fewer pairs pad the leading dims only). */
export const pad = defineOp({
  name: 'pad',
  forward(ctx, x: Tensor, pads: readonly (readonly [number, number])[], value: number = 0) {
    ctx.data.shape = x.shape;
    ctx.data.pads = pads;
    return V.pad(x, pads, value);
  },
  // dx = g with the padding cut off (a view)
  backward(ctx, g) {
    const pads = ctx.data.pads as readonly (readonly [number, number])[];
    let v = g;
    pads.forEach(([b], i) => (v = V.slice(v, i, b, b + shapeOf(ctx)[i])));
    return [v];
  },
});
