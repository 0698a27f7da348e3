/**
 * Differentiable 2-D pooling over NCHW tensors (PyTorch semantics, ceil_mode=False): max pool
 * (whose forward keeps the argmax per output and whose backward routes each gradient to it),
 * average pool and adaptive average pool (whose backwards spread each gradient evenly over its
 * window). The backward kernels gather per input element: deterministic, no atomics.
 */
import * as K from '../../src/kernels/pool.js';
import type { Tensor } from '../../src/tensor.js';
import { defineOp } from '../op.js';

export type { Size2, MaxPool2dOptions, AvgPool2dOptions } from '../../src/kernels/pool.js';

/**
 * Max pooling (F.max_pool2d): x [N, C, H, W] -> [N, C, OH, OW], OH = floor((H + 2p - d(k-1) - 1)/s) + 1.
 * Padding acts as -inf; stride defaults to the kernel size. Ties go to the first element of the
 * window in row-major order, which then gets the whole gradient (as PyTorch).
 */
export const maxPool2d = defineOp({
  name: 'maxPool2d',
  forward(ctx, x: Tensor, kernelSize: K.Size2, opts: K.MaxPool2dOptions = {}) {
    const g = K.poolGeometry('maxPool2d', x, kernelSize, opts);
    const { out, indices } = K.maxPool2dWithIndices(x, g);
    if (ctx.needsGrad(0)) {
      ctx.save(indices);
      ctx.data.g = g;
    }
    indices.dispose();
    return out;
  },
  // dx[n,c,idx[n,c,i,j]] += dy[n,c,i,j]
  backward: (ctx, dy) => [K.maxPool2dBackward(dy, ctx.saved[0], ctx.data.g as K.PoolGeometry), null, null],
});

/**
 * Average pooling (F.avg_pool2d): x [N, C, H, W] -> [N, C, OH, OW], OH = floor((H + 2p - k)/s) + 1.
 * Zero padding counts in the divisor unless `countIncludePad: false`; stride defaults to the kernel.
 */
export const avgPool2d = defineOp({
  name: 'avgPool2d',
  forward(ctx, x: Tensor, kernelSize: K.Size2, opts: K.AvgPool2dOptions = {}) {
    const g = K.poolGeometry('avgPool2d', x, kernelSize, opts);
    ctx.data.g = g;
    return K.avgPool2dForward(x, g);
  },
  // dx[n,c,h,w] = Σ over windows (i,j) containing (h,w) of dy[n,c,i,j] / count(i,j)
  backward: (ctx, dy) => [K.avgPool2dBackward(dy, ctx.data.g as K.PoolGeometry), null, null],
});

/**
 * Adaptive average pooling (F.adaptive_avg_pool2d): x [N, C, H, W] -> [N, C, OH, OW], output
 * (i, j) averaging rows [floor(iH/OH), ceil((i+1)H/OH)) and the likewise columns. outputSize 1
 * is global average pooling.
 */
export const adaptiveAvgPool2d = defineOp({
  name: 'adaptiveAvgPool2d',
  forward(ctx, x: Tensor, outputSize: K.Size2) {
    const g = K.adaptiveGeometry('adaptiveAvgPool2d', x, outputSize);
    ctx.data.g = g;
    return K.adaptiveAvgPool2dForward(x, g);
  },
  // dx[n,c,h,w] = Σ over windows (i,j) containing (h,w) of dy[n,c,i,j] / |window(i,j)|
  backward: (ctx, dy) => [K.adaptiveAvgPool2dBackward(dy, ctx.data.g as K.PoolGeometry), null],
});
