/**
 * Differentiable reductions over any set of axes (sum, mean, max, min, variance) and the
 * non-differentiable argmax / argmin. Forward runs src/kernels/reduce.ts; every backward rule
 * brings the gradient back to the input's shape by viewing it with the reduced dims kept as 1
 * and broadcasting it along them.
 */
import { binary } from '../../src/kernels/elementwise.js';
import { launchReduce, argmax as argmaxK, argmin as argminK, type Axes, type VarianceOptions } from '../../src/kernels/reduce.js';
import { reduceAxes, reducedShape } from '../../src/kernels/rows.js';
import type { Tensor } from '../../src/tensor.js';
import { expand, reshape } from '../../src/views.js';
import { defineOp, type OpContext } from '../op.js';

/** What a reduction's backward needs: the input's shape, the reduced axes (normalised), their size. */
export interface ReduceData {
  shape: readonly number[];
  axes: number[];
  len: number;
}

/** The {@link ReduceData} of reducing `x` over `axes` (validated as the kernels do). */
export function reduceData(op: string, x: Tensor, axes: Axes): ReduceData {
  const a = reduceAxes(op, axes, x.shape);
  return { shape: x.shape, axes: a, len: a.reduce((n, i) => n * x.shape[i], 1) };
}

function remember(ctx: OpContext, op: string, x: Tensor, axes: Axes): ReduceData {
  const d = reduceData(op, x, axes);
  ctx.data.r = d;
  return d;
}

/** `t` (the reduced shape, with or without kept dims) viewed with the reduced dims as 1. */
export function keptDims(t: Tensor, d: ReduceData): Tensor {
  return reshape(t, reducedShape(d.shape, d.axes, true));
}

/** `g` broadcast back over the reduced dims to the input's shape (a stride-0 view). */
export function spread(g: Tensor, d: ReduceData): Tensor {
  return expand(keptDims(g, d), d.shape);
}

/** Sum over `axes` (default all); i32 and u32 sums keep their dtype (and wrap on overflow). */
export const sum = defineOp({
  name: 'sum',
  forward(ctx, x: Tensor, axes?: Axes, keepdim: boolean = false) {
    const y = launchReduce({ op: 'sum', x, axes, keepdim }); // validates first: the kernel's errors
    remember(ctx, 'sum', x, axes);
    return y;
  },
  // dx = g broadcast over the reduced dims
  backward: (ctx, g) => [spread(g, ctx.data.r as ReduceData)],
});

/** Mean over `axes` (default all); f32 only. The mean of an empty axis is NaN. */
export const mean = defineOp({
  name: 'mean',
  forward(ctx, x: Tensor, axes?: Axes, keepdim: boolean = false) {
    const y = launchReduce({ op: 'mean', x, axes, keepdim }); // validates first: the kernel's errors
    remember(ctx, 'mean', x, axes);
    return y;
  },
  // dx = g / n broadcast over the reduced dims (n = number of reduced elements)
  backward(ctx, g) {
    const d = ctx.data.r as ReduceData;
    return [spread(binary('div', g, d.len), d)];
  },
});

function extremum(op: 'max' | 'min') {
  return defineOp({
    name: op,
    forward(ctx, x: Tensor, axes?: Axes, keepdim: boolean = false) {
      const y = launchReduce({ op, x, axes, keepdim });
      remember(ctx, op, x, axes);
      if (ctx.needsGrad(0)) ctx.save(x, y);
      return y;
    },
    // dx = g [x == y] / #{x == y}: the arg-extremum gets g, ties share it evenly (torch.amax/amin)
    backward(ctx, g) {
      const d = ctx.data.r as ReduceData;
      const [x, y] = ctx.saved;
      const hit = binary('eq', x, keptDims(y, d)); // broadcasts over the reduced dims
      const count = launchReduce({ op: 'sum', x: hit, axes: d.axes, keepdim: true });
      return [binary('mul', hit, binary('div', keptDims(g, d), count))];
    },
  });
}

/** Maximum over `axes` (default all); the gradient goes to the maxima, split evenly on ties. */
export const max = extremum('max');
/** Minimum over `axes` (default all); the gradient goes to the minima, split evenly on ties. */
export const min = extremum('min');

/**
 * Variance over `axes` (default all), two-pass; f32 only. The divisor is
 * max(0, n - correction): correction 1 (default) is unbiased as torch.var, 0 the population variance.
 */
export const variance = defineOp({
  name: 'variance',
  forward(ctx, x: Tensor, axes?: Axes, opts: VarianceOptions = {}) {
    const y = launchReduce({ op: 'var', x, axes, keepdim: opts.keepdim, correction: opts.correction });
    remember(ctx, 'var', x, axes);
    if (ctx.needsGrad(0)) ctx.save(x);
    ctx.data.correction = opts.correction ?? 1;
    return y;
  },
  // dx = 2 g (x - mean(x)) / max(0, n - correction)
  backward(ctx, g) {
    const d = ctx.data.r as ReduceData;
    const x = ctx.saved[0];
    const m = launchReduce({ op: 'mean', x, axes: d.axes, keepdim: true });
    const scale = binary('div', binary('mul', keptDims(g, d), 2), Math.max(0, d.len - (ctx.data.correction as number)));
    return [binary('mul', binary('sub', x, m), scale)];
  },
});

/**
 * Index (i32) of the maximum along `axis`, or in the flattened tensor when `axis` is undefined;
 * the first one on ties. Not differentiable: the result carries no gradient.
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argmaxK(x, axis, keepdim);
}

/** Index (i32) of the minimum along `axis` (or flattened); the first one on ties. No gradient. */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argminK(x, axis, keepdim);
}

export type { Axes, VarianceOptions };
