// Float64 references for models/ssl/losses.ts and models/eval.ts: the BYOL / SimSiam losses,
// per-row top-k (stable descending order), the weighted kNN vote, the collapse figure and the
// cumulative-average BatchNorm statistics.
import type { Arr } from './matmul.js';

/** Row i of a row-major [rows, d] array, L2-normalised with norm floor eps (F.normalize). */
function unitRow(x: ArrayLike<number>, d: number, i: number, eps: number): Float64Array {
  const r = new Float64Array(d);
  let s = 0;
  for (let j = 0; j < d; j++) s += x[i * d + j] ** 2;
  const norm = Math.max(Math.sqrt(s), eps);
  for (let j = 0; j < d; j++) r[j] = x[i * d + j] / norm;
  return r;
}

/** cos(p_i, z_i) per row of two [B, D] arrays (each row normalised with floor eps). */
export function rowCosines(p: Arr, z: Arr, eps: number): Float64Array {
  const [b, d] = p.shape;
  const out = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    const u = unitRow(p.data, d, i, eps);
    const v = unitRow(z.data, d, i, eps);
    for (let j = 0; j < d; j++) out[i] += u[j] * v[j];
  }
  return out;
}

const meanOf = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
};

/** BYOL: mean(2 - 2 cos(p1, z2)) + mean(2 - 2 cos(p2, z1)). */
export function byolRef(p1: Arr, p2: Arr, z1: Arr, z2: Arr): number {
  return 4 - 2 * meanOf(rowCosines(p1, z2, 1e-12)) - 2 * meanOf(rowCosines(p2, z1, 1e-12));
}

/** SimSiam's D(p, z) = -mean cos(p, z). */
export const negativeCosineRef = (p: Arr, z: Arr, eps = 1e-8): number => -meanOf(rowCosines(p, z, eps));

/** SimSiam: D(p1, z2) / 2 + D(p2, z1) / 2. */
export const simsiamRef = (p1: Arr, p2: Arr, z1: Arr, z2: Arr): number => (negativeCosineRef(p1, z2) + negativeCosineRef(p2, z1)) / 2;

/** Top-k of each row of x [rows, n]: a stable descending sort (equal values: lower column first). */
export function topkRef(x: ArrayLike<number>, rows: number, n: number, k: number): { values: Float64Array; indices: Int32Array } {
  const values = new Float64Array(rows * k);
  const indices = new Int32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => x[r * n + b] - x[r * n + a] || a - b);
    for (let t = 0; t < k; t++) {
      values[r * k + t] = x[r * n + order[t]];
      indices[r * k + t] = order[t];
    }
  }
  return { values, indices };
}

/**
 * Weighted kNN predictions (InstDisc / lightly): cosine similarities in float64, the top k by a
 * stable descending sort, class scores Σ exp(s / τ), the lowest class among equal best scores.
 * Returns [m, ks.length] row-major.
 */
export function knnRef(
  train: ArrayLike<number>, trainLabels: ArrayLike<number>, test: ArrayLike<number>, d: number,
  ks: readonly number[], tau: number, classes: number,
): Int32Array {
  const n = trainLabels.length;
  const m = test.length / d;
  const bank = Array.from({ length: n }, (_, i) => unitRow(train, d, i, 1e-12));
  const out = new Int32Array(m * ks.length);
  for (let q = 0; q < m; q++) {
    const u = unitRow(test, d, q, 1e-12);
    const sims = bank.map((v) => v.reduce((s, x, j) => s + x * u[j], 0));
    const kmax = Math.max(...ks);
    const { values, indices } = topkRef(sims, 1, n, kmax);
    ks.forEach((k, ki) => {
      const score = new Float64Array(classes);
      for (let t = 0; t < k; t++) score[trainLabels[indices[t]]] += Math.exp(values[t] / tau);
      let best = 0;
      for (let c = 1; c < classes; c++) if (score[c] > score[best]) best = c;
      out[q * ks.length + ki] = best;
    });
  }
  return out;
}

/** Mean over dims of the unbiased std over rows of the L2-normalised rows of z [b, d]. */
export function collapseRef(z: ArrayLike<number>, b: number, d: number): number {
  const rows = Array.from({ length: b }, (_, i) => unitRow(z, d, i, 1e-12));
  let total = 0;
  for (let j = 0; j < d; j++) {
    const mu = rows.reduce((s, r) => s + r[j], 0) / b;
    const v = rows.reduce((s, r) => s + (r[j] - mu) ** 2, 0) / (b - 1);
    total += Math.sqrt(v);
  }
  return total / d;
}

/**
 * Running statistics after reset + forwarding `batches` with momentum None (PyTorch's cumulative
 * average): the plain mean over batches of each batch's channel mean and unbiased variance.
 * Each batch is [N, C, ...].
 */
export function cumulativeBnRef(batches: readonly Arr[]): { mean: Float64Array; var: Float64Array } {
  const c = batches[0].shape[1];
  const mean = new Float64Array(c);
  const vr = new Float64Array(c);
  for (const x of batches) {
    const [n] = x.shape;
    const s = x.data.length / (n * c);
    for (let ci = 0; ci < c; ci++) {
      let acc = 0;
      for (let ni = 0; ni < n; ni++) for (let k = 0; k < s; k++) acc += x.data[(ni * c + ci) * s + k];
      const mu = acc / (n * s);
      let sq = 0;
      for (let ni = 0; ni < n; ni++) for (let k = 0; k < s; k++) sq += (x.data[(ni * c + ci) * s + k] - mu) ** 2;
      mean[ci] += mu / batches.length;
      vr[ci] += sq / (n * s - 1) / batches.length;
    }
  }
  return { mean, var: vr };
}
