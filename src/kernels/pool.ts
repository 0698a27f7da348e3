/**
 * 2-D pooling over NCHW tensors (shaders/pool.wgsl) with PyTorch's semantics: max pool (padding
 * acts as -inf, optional dilation, argmax indices), average pool (count_include_pad by default)
 * and adaptive average pool, each with its backward. Output sizes use floor mode
 * (ceil_mode=False). Inputs may be strided views (read in place); results are new contiguous
 * tensors. f32 only.
 *
 * The backwards gather per input element (each input sums over the outputs whose windows cover
 * it) rather than scattering per output, so they need no atomics and are deterministic; see the
 * header of shaders/pool.wgsl.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { fmt, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

const WG = 64;

/** A size given for both spatial dims, or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Options of max pooling (nn.MaxPool2d). */
export interface MaxPool2dOptions {
  /** Window step (default: the kernel size). */
  stride?: Size2;
  /** Implicit -inf padding on each side (default 0); at most half the kernel size. */
  padding?: Size2;
  /** Spacing between window elements (default 1). */
  dilation?: Size2;
}

/** Options of average pooling (nn.AvgPool2d). */
export interface AvgPool2dOptions {
  /** Window step (default: the kernel size). */
  stride?: Size2;
  /** Implicit zero padding on each side (default 0); at most half the kernel size. */
  padding?: Size2;
  /** Divide by the full window size, padding included (default true, as PyTorch), or by the in-bounds count. */
  countIncludePad?: boolean;
}

/** A pooling window resolved against an input shape: what forward and backward share. */
export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  countIncludePad: boolean;
  /** The input shape [N, C, H, W] and the output shape [N, C, OH, OW]. */
  inShape: readonly number[];
  outShape: readonly number[];
}

function pair(op: string, what: string, v: Size2, min: number, x: Shape): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && v.length !== 2) || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`${op}: ${what} must be ${min > 0 ? 'positive' : 'non-negative'} integers, got ${JSON.stringify(v)} for input ${fmt(x)}`);
  }
  return p;
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: dtype ${x.dtype} not supported (expected f32), shape ${fmt(x.shape)}`);
  if (x.rank !== 4) throw new Error(`${op}: expects an NCHW input of rank 4, got ${fmt(x.shape)}`);
  if (x.shape[1] === 0 || x.shape[2] === 0 || x.shape[3] === 0) {
    throw new Error(`${op}: input ${fmt(x.shape)} has a zero-size C, H or W dim (only N may be 0)`);
  }
}

/**
 * Resolves a max or average pooling window for input x (PyTorch's checks): kernel, stride and
 * dilation positive, padding at most half the kernel, and an output of at least 1x1.
 */
export function poolGeometry(op: string, x: Tensor, kernelSize: Size2, opts: MaxPool2dOptions & AvgPool2dOptions = {}): PoolGeometry {
  checkInput(op, x);
  const kernel = pair(op, 'kernelSize', kernelSize, 1, x.shape);
  const stride = pair(op, 'stride', opts.stride ?? kernel, 1, x.shape);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0, x.shape);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1, x.shape);
  if (padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2) {
    throw new Error(`${op}: padding ${fmt(padding)} must be at most half the kernel ${fmt(kernel)}, input ${fmt(x.shape)}`);
  }
  const [N, C, H, W] = x.shape;
  const out = (i: number, n: number) => Math.floor((n + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i]) + 1;
  const outShape = [N, C, out(0, H), out(1, W)];
  if (outShape[2] < 1 || outShape[3] < 1) {
    throw new Error(`${op}: output would be ${fmt(outShape)} (empty) for input ${fmt(x.shape)} with kernel ${fmt(kernel)}, ` +
      `stride ${fmt(stride)}, padding ${fmt(padding)}, dilation ${fmt(dilation)}`);
  }
  return { kernel, stride, padding, dilation, countIncludePad: opts.countIncludePad ?? true, inShape: [...x.shape], outShape };
}

/** The adaptive geometry: output [N, C, OH, OW] for input x and outputSize (OH, OW >= 1). */
export function adaptiveGeometry(op: string, x: Tensor, outputSize: Size2): PoolGeometry {
  checkInput(op, x);
  const [OH, OW] = pair(op, 'outputSize', outputSize, 1, x.shape);
  const one: [number, number] = [1, 1];
  const zero: [number, number] = [0, 0];
  return {
    kernel: one, stride: one, padding: zero, dilation: one, countIncludePad: true,
    inShape: [...x.shape], outShape: [x.shape[0], x.shape[1], OH, OW],
  };
}

type Entry = 'max_fwd' | 'max_bwd' | 'avg_fwd' | 'avg_bwd' | 'adaptive_fwd' | 'adaptive_bwd';

/**
 * One launch: `src` is the strided operand (x forward, dy backward), `dst` the contiguous result
 * (y, or dx), `idx` the argmax indices (written by max_fwd, read by max_bwd).
 */
function launch(op: string, entry: Entry, g: PoolGeometry, src: Tensor, dst: Tensor, idx: Tensor | null): void {
  const n = dst.size;
  if (n === 0) return;
  const [, C, H, W] = g.inShape;
  const [, , OH, OW] = g.outShape;
  const params = new Params()
    .u32(n, C, H, W)
    .u32(OH, OW, g.countIncludePad ? 1 : 0, src.offset)
    .i32(...g.kernel, ...g.stride)
    .i32(...g.padding, ...g.dilation)
    .u32(...src.strides);
  const bwd = entry.endsWith('bwd');
  dispatch({
    op,
    shader: 'pool',
    entry: `pool_${entry}`,
    overrides: { WG },
    inputs: [src, bwd ? idx : null],
    outputs: [dst, bwd ? null : idx],
    params,
    workgroups: Math.ceil(n / WG),
  });
}

function checkGrad(op: string, dy: Tensor, g: PoolGeometry): void {
  if (dy.dtype !== 'f32' || dy.rank !== 4 || !dy.shape.every((d, i) => d === g.outShape[i])) {
    throw new Error(`${op}: gradient ${dy.dtype} ${fmt(dy.shape)} must be f32 ${fmt(g.outShape)} (the output of input ${fmt(g.inShape)})`);
  }
}

/**
 * Max pooling with its argmax: out [N, C, OH, OW] and indices (i32, same shape) holding the flat
 * position h*W + w of each maximum within its input plane, as torch's return_indices. Ties go to
 * the first element in row-major window order; NaN propagates.
 */
export function maxPool2dWithIndices(x: Tensor, g: PoolGeometry): { out: Tensor; indices: Tensor } {
  const out = Tensor.empty(g.outShape, 'f32');
  const indices = Tensor.empty(g.outShape, 'i32');
  launch('maxPool2d', 'max_fwd', g, x, out, indices);
  return { out, indices };
}

/** dx [N, C, H, W] of max pooling: each dy element goes to the input its index names. */
export function maxPool2dBackward(dy: Tensor, indices: Tensor, g: PoolGeometry): Tensor {
  const op = 'maxPool2dBackward';
  checkGrad(op, dy, g);
  if (indices.dtype !== 'i32' || !indices.isContiguous || sizeOf(indices.shape) !== sizeOf(g.outShape)) {
    throw new Error(`${op}: indices ${indices.dtype} ${fmt(indices.shape)} must be contiguous i32 ${fmt(g.outShape)}`);
  }
  const dx = Tensor.empty(g.inShape, 'f32');
  launch(op, 'max_bwd', g, dy, dx, indices);
  return dx;
}

/** Average pooling: each output is the mean of its window (see {@link AvgPool2dOptions}). */
export function avgPool2dForward(x: Tensor, g: PoolGeometry): Tensor {
  const out = Tensor.empty(g.outShape, 'f32');
  launch('avgPool2d', 'avg_fwd', g, x, out, null);
  return out;
}

/** dx of average pooling: each dy element spread evenly over its window (padding takes its share). */
export function avgPool2dBackward(dy: Tensor, g: PoolGeometry): Tensor {
  checkGrad('avgPool2dBackward', dy, g);
  const dx = Tensor.empty(g.inShape, 'f32');
  launch('avgPool2dBackward', 'avg_bwd', g, dy, dx, null);
  return dx;
}

/**
 * Adaptive average pooling to g.outShape: output (i, j) averages rows
 * [floor(i*H/OH), ceil((i+1)*H/OH)) and the likewise columns (torch's windows; 1x1 is global
 * average pooling).
 */
export function adaptiveAvgPool2dForward(x: Tensor, g: PoolGeometry): Tensor {
  const out = Tensor.empty(g.outShape, 'f32');
  launch('adaptiveAvgPool2d', 'adaptive_fwd', g, x, out, null);
  return out;
}

/** dx of adaptive average pooling: each dy element spread evenly over its window. */
export function adaptiveAvgPool2dBackward(dy: Tensor, g: PoolGeometry): Tensor {
  checkGrad('adaptiveAvgPool2dBackward', dy, g);
  const dx = Tensor.empty(g.inShape, 'f32');
  launch('adaptiveAvgPool2dBackward', 'adaptive_bwd', g, dy, dx, null);
  return dx;
}

/** Max pooling of an NCHW tensor (F.max_pool2d, ceil_mode=False): out [N, C, OH, OW]. */
export function maxPool2d(x: Tensor, kernelSize: Size2, opts: MaxPool2dOptions = {}): Tensor {
  const { out, indices } = maxPool2dWithIndices(x, poolGeometry('maxPool2d', x, kernelSize, opts));
  indices.dispose();
  return out;
}

/** Average pooling of an NCHW tensor (F.avg_pool2d, ceil_mode=False): out [N, C, OH, OW]. */
export function avgPool2d(x: Tensor, kernelSize: Size2, opts: AvgPool2dOptions = {}): Tensor {
  return avgPool2dForward(x, poolGeometry('avgPool2d', x, kernelSize, opts));
}

/** Adaptive average pooling of an NCHW tensor to outputSize (F.adaptive_avg_pool2d). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  return adaptiveAvgPool2dForward(x, adaptiveGeometry('adaptiveAvgPool2d', x, outputSize));
}
