// Float64 references for 2-D pooling over NCHW arrays (PyTorch semantics, ceil_mode=False).
// Naive loops written from the definitions (windows enumerated per output), independent of the
// kernels' gather-per-input backward.
import { size } from './core.js';
import type { Arr } from './matmul.js';

type Out = { data: Float64Array; shape: number[] };
type P2 = readonly [number, number];

/** Pooling hyperparameters, all as [h, w] pairs. */
export interface PoolRefOptions {
  kernel: P2;
  stride?: P2;
  padding?: P2;
  dilation?: P2;
  countIncludePad?: boolean;
}

const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

function geometry(x: Arr, o: PoolRefOptions) {
  const [N, C, H, W] = x.shape;
  const s = o.stride ?? o.kernel;
  const p = o.padding ?? [0, 0];
  const d = o.dilation ?? [1, 1];
  const OH = outSize(H, o.kernel[0], s[0], p[0], d[0]);
  const OW = outSize(W, o.kernel[1], s[1], p[1], d[1]);
  return { N, C, H, W, OH, OW, s, p, d, shape: [N, C, OH, OW] };
}

/**
 * F.max_pool2d with its indices (flat h*W + w within the plane; the first maximum in row-major
 * window order; padding never wins).
 */
export function maxPool2dRef(x: Arr, o: PoolRefOptions): Out & { indices: Int32Array } {
  const { N, C, H, W, OH, OW, s, p, d, shape } = geometry(x, o);
  const data = new Float64Array(size(shape));
  const indices = new Int32Array(data.length).fill(-1);
  let k = 0;
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++, k++) {
        let best = -Infinity;
        for (let a = 0; a < o.kernel[0]; a++) {
          for (let b = 0; b < o.kernel[1]; b++) {
            const h = i * s[0] - p[0] + a * d[0];
            const w = j * s[1] - p[1] + b * d[1];
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x.data[(nc * H + h) * W + w];
            if (indices[k] < 0 || v > best || Number.isNaN(v)) {
              best = v;
              indices[k] = h * W + w;
            }
          }
        }
        data[k] = best;
      }
    }
  }
  return { data, shape, indices };
}

/** F.avg_pool2d (count_include_pad default true). */
export function avgPool2dRef(x: Arr, o: PoolRefOptions): Out {
  const { N, C, H, W, OH, OW, s, p, shape } = geometry(x, o);
  const data = new Float64Array(size(shape));
  let k = 0;
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++, k++) {
        let sum = 0;
        let inside = 0;
        for (let a = 0; a < o.kernel[0]; a++) {
          for (let b = 0; b < o.kernel[1]; b++) {
            const h = i * s[0] - p[0] + a;
            const w = j * s[1] - p[1] + b;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            sum += x.data[(nc * H + h) * W + w];
            inside++;
          }
        }
        data[k] = sum / ((o.countIncludePad ?? true) ? o.kernel[0] * o.kernel[1] : inside);
      }
    }
  }
  return { data, shape };
}

/** F.adaptive_avg_pool2d: output (i, j) averages rows [floor(iH/OH), ceil((i+1)H/OH)), likewise columns. */
export function adaptiveAvgPool2dRef(x: Arr, out: P2): Out {
  const [N, C, H, W] = x.shape;
  const [OH, OW] = out;
  const shape = [N, C, OH, OW];
  const data = new Float64Array(size(shape));
  let k = 0;
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < OH; i++) {
      const h0 = Math.floor((i * H) / OH);
      const h1 = Math.ceil(((i + 1) * H) / OH);
      for (let j = 0; j < OW; j++, k++) {
        const w0 = Math.floor((j * W) / OW);
        const w1 = Math.ceil(((j + 1) * W) / OW);
        let sum = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) sum += x.data[(nc * H + h) * W + w];
        data[k] = sum / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return { data, shape };
}

/** dx of max pooling for upstream dy: dy scattered to the reference's argmax positions. */
export function maxPool2dGradRef(x: Arr, o: PoolRefOptions, dy: ArrayLike<number>): Float64Array {
  const { indices } = maxPool2dRef(x, o);
  const [N, C, H, W] = x.shape;
  const dx = new Float64Array(N * C * H * W);
  const per = indices.length / (N * C);
  for (let k = 0; k < indices.length; k++) {
    if (indices[k] >= 0) dx[Math.floor(k / per) * H * W + indices[k]] += dy[k];
  }
  return dx;
}
