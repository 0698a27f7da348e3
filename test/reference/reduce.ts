// Float64 references for the reduction and softmax families. Naive loops over row-major arrays:
// for each output element, the row of reduced elements in row-major order of the reduced dims.
import { size, stridesOf, type Shape } from './core.js';

export type ReduceRefOp = 'sum' | 'mean' | 'max' | 'min' | 'var' | 'argmax' | 'argmin' | 'logsumexp';

/** Output shape: kept dims, or 1 at each reduced position with keepdim. */
export function reducedShapeRef(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Resolves axes as PyTorch does: undefined = all, negatives from the end; sorted. */
export function axesRef(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
}

/** The rows of reducing `shape` over `axes`: one array of flat input indices per output element. */
export function rowsOf(shape: Shape, axes: readonly number[]): number[][] {
  const st = stridesOf(shape);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const walk = (dims: readonly number[]): number[] => {
    // Flat offsets of every multi-index over `dims`, row-major.
    let offs = [0];
    for (const d of dims) {
      const next: number[] = [];
      for (const o of offs) for (let i = 0; i < shape[d]; i++) next.push(o + i * st[d]);
      offs = next;
    }
    return offs;
  };
  const inner = walk(axes);
  return walk(kept).map((base) => inner.map((o) => base + o));
}

const isNan = Number.isNaN;

/** One row's reduction in float64. */
export function reduceRow(op: ReduceRefOp, v: readonly number[], correction = 1): number {
  const n = v.length;
  switch (op) {
    case 'sum':
      return v.reduce((a, b) => a + b, 0);
    case 'mean':
      return n === 0 ? NaN : v.reduce((a, b) => a + b, 0) / n;
    case 'var': {
      if (n === 0) return NaN;
      const m = v.reduce((a, b) => a + b, 0) / n;
      const ss = v.reduce((a, b) => a + (b - m) * (b - m), 0);
      return ss / Math.max(0, n - correction);
    }
    case 'max':
    case 'min':
    case 'argmax':
    case 'argmin': {
      if (n === 0) throw new Error(`reference ${op}: empty row`);
      const better = op === 'max' || op === 'argmax' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
      let best = 0;
      for (let i = 1; i < n; i++) {
        if (isNan(v[best])) break;
        if (isNan(v[i]) || better(v[i], v[best])) best = i;
      }
      return op === 'argmax' || op === 'argmin' ? best : v[best];
    }
    case 'logsumexp': {
      const m = Math.max(-Infinity, ...v);
      if (m === -Infinity) return -Infinity;
      return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
    }
  }
}

/** Reduces `data` (row-major over `shape`) over `axes` (normalised); float64 results. */
export function reduceRef(
  op: ReduceRefOp,
  data: ArrayLike<number>,
  shape: Shape,
  axes: readonly number[],
  opts: { keepdim?: boolean; correction?: number } = {},
): { data: Float64Array; shape: number[] } {
  const rows = rowsOf(shape, axes);
  const out = Float64Array.from(rows, (r) => reduceRow(op, r.map((i) => data[i]), opts.correction));
  return { data: out, shape: reducedShapeRef(shape, axes, opts.keepdim ?? false) };
}

/** softmax or log-softmax along `axis` (normalised) in float64, with PyTorch's -inf rules. */
export function softmaxRef(data: ArrayLike<number>, shape: Shape, axis: number, log = false): Float64Array {
  const out = new Float64Array(size(shape));
  for (const r of rowsOf(shape, [axis])) {
    const v = r.map((i) => data[i]);
    const m = Math.max(-Infinity, ...v);
    const s = v.reduce((a, b) => a + Math.exp(b - m), 0); // NaN for a row of only -inf, as PyTorch
    r.forEach((i, k) => (out[i] = log ? v[k] - m - Math.log(s) : Math.exp(v[k] - m) / s));
  }
  return out;
}

/** The values a strided view (shape, strides, offset) of a flat buffer shows, row-major. */
export function viewRef(data: ArrayLike<number>, shape: Shape, strides: readonly number[], offset: number): Float64Array {
  const out = new Float64Array(size(shape));
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let rem = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    out[k] = data[offset + idx.reduce((a, c, d) => a + c * strides[d], 0)];
  }
  return out;
}
