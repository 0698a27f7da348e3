// Float64 references for the copying shape ops (slice, expand, concat, stack, pad) over
// row-major arrays; reshape-like ops are the identity on the data and permute is permuteRef.
import { mapRef, size, stridesOf, type Shape } from './core.js';
import type { Arr } from './matmul.js';
import { viewRef } from './reduce.js';

type Out = { data: Float64Array; shape: number[] };

/** x[..., start:end:step, ...] along `axis` with Python's rules for negative and out-of-range bounds. */
export function sliceRef(x: Arr, axis: number, start = 0, end?: number, step = 1): Out {
  const n = x.shape[axis];
  const clamp = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = clamp(start);
  const len = Math.max(0, Math.ceil((clamp(end ?? n) - s) / step));
  const shape = x.shape.map((d, i) => (i === axis ? len : d));
  const st = stridesOf(x.shape);
  const strides = st.map((v, i) => (i === axis ? v * step : v));
  return { data: viewRef(x.data, shape, strides, len > 0 ? s * st[axis] : 0), shape };
}

/** x broadcast to `shape`. */
export function expandRef(x: Arr, shape: Shape): Out {
  return mapRef([x, { data: new Float64Array(size(shape)), shape }], (a) => a);
}

/** Tensors joined along an existing axis. */
export function concatRef(xs: readonly Arr[], axis: number): Out {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  const outer = size(shape.slice(0, axis));
  const out = new Float64Array(size(shape));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const block = size(x.shape.slice(axis));
      for (let i = 0; i < block; i++) out[k++] = x.data[o * block + i];
    }
  }
  return { data: out, shape };
}

/** Same-shaped tensors joined along a new axis. */
export function stackRef(xs: readonly Arr[], axis: number): Out {
  const expanded = xs.map((x) => ({ data: x.data, shape: [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)] }));
  return concatRef(expanded, axis);
}

/** Constant padding; pads[i] = [before, after] for the leading dims. */
export function padRef(x: Arr, pads: readonly (readonly [number, number])[], value = 0): Out {
  const shape = x.shape.map((d, i) => d + (pads[i] ? pads[i][0] + pads[i][1] : 0));
  const out = new Float64Array(size(shape)).fill(value);
  const so = stridesOf(shape);
  const n = size(x.shape);
  for (let k = 0; k < n; k++) {
    let rem = k;
    let at = 0;
    for (let d = x.shape.length - 1; d >= 0; d--) {
      const i = rem % x.shape[d];
      rem = Math.floor(rem / x.shape[d]);
      at += (i + (pads[d]?.[0] ?? 0)) * so[d];
    }
    out[at] = x.data[k];
  }
  return { data: out, shape };
}
