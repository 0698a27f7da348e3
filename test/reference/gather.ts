// Float64 references for the gather family (PyTorch semantics), with webgrad's rule for
// out-of-range indices: reads give 0, writes are skipped. Row-major arrays, naive loops.
import { size, stridesOf, type Shape } from './core.js';
import type { Arr } from './matmul.js';

type Out = { data: Float64Array; shape: number[] };

/** Multi-index of the k-th element of `shape`. */
function unravel(k: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = k % shape[d];
    k = Math.floor(k / shape[d]);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: Shape): number {
  const st = stridesOf(shape);
  return idx.reduce((o, v, d) => o + v * st[d], 0);
}
const inRange = (v: number, n: number): boolean => v >= 0 && v < n;

/** torch.index_select(x, axis, index). */
export function indexSelectRef(x: Arr, axis: number, index: ArrayLike<number>): Out {
  const shape = x.shape.map((d, i) => (i === axis ? index.length : d));
  const out = new Float64Array(size(shape));
  for (let k = 0; k < out.length; k++) {
    const idx = unravel(k, shape);
    const v = index[idx[axis]];
    if (!inRange(v, x.shape[axis])) continue;
    idx[axis] = v;
    out[k] = x.data[ravel(idx, x.shape)];
  }
  return { data: out, shape };
}

/** torch.gather(x, axis, index). */
export function gatherRef(x: Arr, axis: number, index: Arr): Out {
  const shape = [...index.shape];
  const out = new Float64Array(size(shape));
  for (let k = 0; k < out.length; k++) {
    const idx = unravel(k, shape);
    const v = index.data[k];
    if (!inRange(v, x.shape[axis])) continue;
    idx[axis] = v;
    out[k] = x.data[ravel(idx, x.shape)];
  }
  return { data: out, shape };
}

/** torch.scatter_add(target, axis, index, src), out of place. */
export function scatterAddRef(target: Arr, axis: number, index: Arr, src: Arr): Out {
  const out = Float64Array.from(target.data as ArrayLike<number>);
  for (let k = 0; k < size(index.shape); k++) {
    const idx = unravel(k, index.shape);
    const s = src.data[ravel(idx, src.shape)];
    const v = index.data[k];
    if (!inRange(v, target.shape[axis])) continue;
    idx[axis] = v;
    out[ravel(idx, target.shape)] += s;
  }
  return { data: out, shape: [...target.shape] };
}

/** torch.index_add(target, axis, index, src), out of place. */
export function indexAddRef(target: Arr, axis: number, index: ArrayLike<number>, src: Arr): Out {
  const out = Float64Array.from(target.data as ArrayLike<number>);
  for (let k = 0; k < size(src.shape); k++) {
    const idx = unravel(k, src.shape);
    const v = index[idx[axis]];
    if (!inRange(v, target.shape[axis])) continue;
    idx[axis] = v;
    out[ravel(idx, target.shape)] += src.data[k];
  }
  return { data: out, shape: [...target.shape] };
}

/** F.one_hot(labels, numClasses) as float; an out-of-range label gives a zero row. */
export function oneHotRef(labels: Arr, numClasses: number): Out {
  const n = size(labels.shape);
  const out = new Float64Array(n * numClasses);
  for (let k = 0; k < n; k++) {
    const v = labels.data[k];
    if (inRange(v, numClasses)) out[k * numClasses + v] = 1;
  }
  return { data: out, shape: [...labels.shape, numClasses] };
}
