// Float64 reference for matmul (torch.matmul semantics): naive loops over row-major arrays.
import { broadcast, size, stridesOf, type Shape } from './core.js';

export interface Arr {
  data: ArrayLike<number>;
  shape: Shape;
}

/** Row-major data of the permutation of `x` (out.shape[i] = x.shape[perm[i]]). */
export function permuteRef(x: Arr, perm: readonly number[]): { data: Float64Array; shape: number[] } {
  const shape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const n = size(shape);
  const out = new Float64Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let rem = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    let src = 0;
    perm.forEach((p, d) => (src += idx[d] * xs[p]));
    out[k] = x.data[src];
  }
  return { data: out, shape };
}

/** Swaps the last two dims. */
const swapLast = (x: Arr): Arr => {
  const r = x.shape.length;
  return permuteRef(x, [...Array(r - 2).keys(), r - 1, r - 2]);
};

/** torch.matmul(a', b') with a' = a transposed when transA (likewise b), in float64. */
export function matmulRef(a: Arr, b: Arr, opts: { transA?: boolean; transB?: boolean } = {}): { data: Float64Array; shape: number[] } {
  let A = opts.transA ? swapLast(a) : a;
  let B = opts.transB ? swapLast(b) : b;
  const vecA = A.shape.length === 1;
  const vecB = B.shape.length === 1;
  if (vecA) A = { data: A.data, shape: [1, A.shape[0]] };
  if (vecB) B = { data: B.data, shape: [B.shape[0], 1] };
  const [M, K] = A.shape.slice(-2);
  const [K2, N] = B.shape.slice(-2);
  if (K !== K2) throw new Error('reference: inner dims differ');
  const ba = A.shape.slice(0, -2);
  const bb = B.shape.slice(0, -2);
  const batch = broadcast(ba, bb);
  const nb = size(batch);
  const out = new Float64Array(nb * M * N);
  const bidx = new Array<number>(batch.length).fill(0);
  // Index of a batch entry in an operand with batch shape s (size-1 dims broadcast).
  const bOffset = (s: Shape): number => {
    let k = 0;
    let stride = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      const j = batch.length - s.length + i;
      if (s[i] !== 1) k += bidx[j] * stride;
      stride *= s[i];
    }
    return k;
  };
  for (let t = 0; t < nb; t++) {
    let rem = t;
    for (let d = batch.length - 1; d >= 0; d--) {
      bidx[d] = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
    }
    const oa = bOffset(ba) * M * K;
    const ob = bOffset(bb) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.data[oa + m * K + k] * B.data[ob + k * N + n];
        out[(t * M + m) * N + n] = s;
      }
    }
  }
  const shape = [...batch];
  if (!vecA) shape.push(M);
  if (!vecB) shape.push(N);
  return { data: out, shape };
}

