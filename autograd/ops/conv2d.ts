/**
 * Differentiable 2-D convolution (src/kernels/conv2d.ts), as `F.conv2d`: stride, zero padding,
 * dilation, groups and a bias fused into the forward kernel. The backward computes only the
 * gradients asked for, from what the forward saved: dx needs w, dw needs x.
 */
import {
  conv2d as conv2dK, conv2dBackward, conv2dShape, type Conv2dOptions, type Conv2dStrategy,
} from '../../src/kernels/conv2d.js';
import type { Tensor } from '../../src/tensor.js';
import { defineOp } from '../op.js';

type Flags = Omit<Conv2dOptions, 'bias'>;

interface Conv2dData {
  xShape: readonly number[];
  wShape: readonly number[];
  opts: Flags;
  kept: { x: boolean; w: boolean };
}

const conv2dOp = defineOp({
  name: 'conv2d',
  forward(ctx, x: Tensor, w: Tensor, bias: Tensor | null, opts: Flags) {
    const y = conv2dK(x, w, { ...opts, bias });
    if (ctx.needs.length === 0) return y;
    const kept = { x: ctx.needsGrad(1), w: ctx.needsGrad(0) };
    if (kept.x) ctx.save(x);
    if (kept.w) ctx.save(w);
    ctx.data.c = { xShape: x.shape, wShape: w.shape, opts, kept } satisfies Conv2dData;
    return y;
  },
  // dx = conv_transpose2d(dy, w)   dw[o,c,kh,kw] = Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n,c,oh·s-p+kh·d,..]   dbias = Σ_{n,oh,ow} dy
  backward(ctx, g) {
    const { xShape, wShape, opts, kept } = ctx.data.c as Conv2dData;
    const s = [...ctx.saved];
    const x = kept.x ? s.shift()! : null;
    const w = kept.w ? s.shift()! : null;
    const r = conv2dBackward(x, w, g, xShape, wShape, opts, {
      dx: ctx.needsGrad(0), dw: ctx.needsGrad(1), dbias: ctx.needsGrad(2),
    });
    return [r.dx, r.dw, r.dbias, null];
  },
});

/**
 * 2-D convolution, as `torch.nn.functional.conv2d`: x [N, C, H, W], w [O, C/groups, KH, KW],
 * optional bias [O] -> [N, O, Ho, Wo], differentiable in x, w and bias. `stride`, `padding`
 * (numbers, [H, W] pairs, 'valid' or 'same'), `dilation` and `groups` follow PyTorch
 * (groups = C is a depthwise convolution); `strategy` overrides the kernel family.
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  const { bias, ...flags } = opts;
  return conv2dOp(x, w, bias ?? null, flags);
}

export { conv2dShape, type Conv2dOptions, type Conv2dStrategy };
