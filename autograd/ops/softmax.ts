/**
 * Differentiable softmax, log-softmax (along any one axis) and logsumexp (over any axes).
 * Forward runs the numerically stable kernels of src/kernels/softmax.ts; the backward rules are
 * short compositions of elementwise ops and one row sum, reading the saved output.
 */
import { binary, unary } from '../../src/kernels/elementwise.js';
import { launchReduce, type Axes } from '../../src/kernels/reduce.js';
import { logSoftmax as logSoftmaxK, logsumexp as logsumexpK, softmax as softmaxK } from '../../src/kernels/softmax.js';
import { normAxis } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { defineOp } from '../op.js';
import { keptDims, reduceData, type ReduceData } from './reduce.js';

/** exp(x - max) / sum(exp(x - max)) along `axis` (default the last). */
export const softmax = defineOp({
  name: 'softmax',
  forward(ctx, x: Tensor, axis: number = -1) {
    const y = softmaxK(x, axis);
    if (ctx.needsGrad(0)) {
      ctx.save(y);
      ctx.data.axis = normAxis('softmax', axis, x.shape);
    }
    return y;
  },
  // dx = y (g - sum(g y, axis))
  backward(ctx, g) {
    const y = ctx.saved[0];
    const gy = binary('mul', g, y);
    const s = launchReduce({ op: 'sum', x: gy, axes: ctx.data.axis as number, keepdim: true });
    return [binary('sub', gy, binary('mul', y, s))];
  },
});

/** log(softmax(x)) along `axis` (default the last), computed as (x - max) - log(sum(exp(x - max))). */
export const logSoftmax = defineOp({
  name: 'logSoftmax',
  forward(ctx, x: Tensor, axis: number = -1) {
    const y = logSoftmaxK(x, axis);
    if (ctx.needsGrad(0)) {
      ctx.save(y);
      ctx.data.axis = normAxis('logSoftmax', axis, x.shape);
    }
    return y;
  },
  // dx = g - exp(y) sum(g, axis)
  backward(ctx, g) {
    const y = ctx.saved[0];
    const s = launchReduce({ op: 'sum', x: g, axes: ctx.data.axis as number, keepdim: true });
    return [binary('sub', g, binary('mul', unary('exp', y), s))];
  },
});

/** log(sum(exp(x))) over `axes` (default all) without overflow; -inf for an empty or all -inf row. */
export const logsumexp = defineOp({
  name: 'logsumexp',
  forward(ctx, x: Tensor, axes?: Axes, keepdim: boolean = false) {
    const y = logsumexpK(x, axes, keepdim);
    if (ctx.needsGrad(0)) {
      ctx.save(x, y);
      ctx.data.r = reduceData('logsumexp', x, axes);
    }
    return y;
  },
  // dx = g exp(x - y): g times the softmax over the reduced axes
  backward(ctx, g) {
    const [x, y] = ctx.saved;
    const r = ctx.data.r as ReduceData;
    return [binary('mul', keptDims(g, r), unary('exp', binary('sub', x, keptDims(y, r))))];
  },
});
