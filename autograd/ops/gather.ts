/**
 * Differentiable indexed reads and writes along one axis: indexSelect and gather (whose
 * gradients add g back at the read positions, so repeated indices accumulate), scatterAdd and
 * indexAdd (whose gradients read g at the written positions). Indices never get gradients;
 * oneHot has none. Out-of-range indices read 0 and are skipped on write, in both directions.
 */
import { zeros } from '../../src/creation.js';
import { copyInto } from '../../src/kernels/elementwise.js';
import * as K from '../../src/kernels/gather.js';
import { sameShape } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { slice } from '../../src/views.js';
import { defineOp } from '../op.js';

/** An indexed read whose gradient scatters g back into zeros of x's shape with `scatter`. */
function indexedRead(
  name: string,
  read: (x: Tensor, axis: number, index: Tensor) => Tensor,
  scatter: (target: Tensor, axis: number, index: Tensor, src: Tensor) => Tensor,
) {
  return defineOp({
    name,
    forward(ctx, x: Tensor, axis: number, index: Tensor) {
      const out = read(x, axis, index);
      if (ctx.needsGrad(0)) ctx.save(index);
      ctx.data.axis = axis;
      ctx.data.shape = x.shape;
      return out;
    },
    backward: (ctx, g) => [scatter(zeros(ctx.data.shape as number[]), ctx.data.axis as number, ctx.saved[0], g), null, null],
  });
}

/**
 * Selects entries of `x` along `axis` (torch.index_select): out[..., i, ...] = x[..., index[i], ...].
 * `index` is 1-D i32; an out-of-range index reads 0.
 */
// dx = indexAdd(zeros(x.shape), axis, index, g)
export const indexSelect = indexedRead('indexSelect', K.indexSelect, K.indexAdd);

/**
 * Gathers along `axis` (torch.gather): out has index's shape and out[i][j] = x[index[i][j]][j] for
 * axis 0 (likewise for other axes). `index` is i32 of x's rank; an out-of-range index reads 0.
 */
// dx = scatterAdd(zeros(x.shape), axis, index, g)
export const gather = indexedRead('gather', K.gather, K.scatterAdd);

/** `g` gathered at `index` and zero-padded to `shape` (the src of a scatterAdd may exceed index). */
function gatherPadded(g: Tensor, axis: number, index: Tensor, shape: readonly number[]): Tensor {
  const got = K.gather(g, axis, index);
  if (sameShape(got.shape, shape)) return got;
  const out = zeros(shape);
  let view = out;
  got.shape.forEach((d, i) => (view = slice(view, i, 0, d)));
  copyInto(view, got);
  return out;
}

/**
 * `target` with `src` added at the positions `index` gives along `axis` (torch.scatter_add), as a
 * new tensor: for axis 0, out[index[i][j]][j] += src[i][j]. Duplicates accumulate (f32 through
 * atomics, so the last bits may vary between runs); out-of-range indices are skipped.
 */
export const scatterAdd = defineOp({
  name: 'scatterAdd',
  forward(ctx, target: Tensor, axis: number, index: Tensor, src: Tensor) {
    const out = K.scatterAdd(target, axis, index, src);
    if (ctx.needsGrad(3)) ctx.save(index);
    ctx.data.axis = axis;
    ctx.data.srcShape = src.shape;
    return out;
  },
  // dtarget = g,  dsrc = gather(g, axis, index) (zero where src was not read)
  backward(ctx, g) {
    const src = ctx.needsGrad(3) ? gatherPadded(g, ctx.data.axis as number, ctx.saved[0], ctx.data.srcShape as number[]) : null;
    return [ctx.needsGrad(0) ? g : null, null, null, src];
  },
});

/**
 * `target` with slices of `src` added along `axis` at the positions in `index` (torch.index_add),
 * as a new tensor: out[..., index[i], ...] += src[..., i, ...]. Duplicates accumulate.
 */
export const indexAdd = defineOp({
  name: 'indexAdd',
  forward(ctx, target: Tensor, axis: number, index: Tensor, src: Tensor) {
    const out = K.indexAdd(target, axis, index, src);
    if (ctx.needsGrad(3)) ctx.save(index);
    ctx.data.axis = axis;
    return out;
  },
  // dtarget = g,  dsrc = indexSelect(g, axis, index)
  backward(ctx, g) {
    const src = ctx.needsGrad(3) ? K.indexSelect(g, ctx.data.axis as number, ctx.saved[0]) : null;
    return [ctx.needsGrad(0) ? g : null, null, null, src];
  },
});

/**
 * One-hot encoding (torch.nn.functional.one_hot, but f32): labels i32 [...] -> f32
 * [..., numClasses]. A label outside [0, numClasses) gives a row of zeros. Not differentiable.
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return K.oneHot(labels, numClasses);
}
