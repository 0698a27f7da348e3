// Float64 references of F.batch_norm and F.layer_norm (naive loops, two-pass moments).
import type { Arr } from './matmul.js';

/** Options of batchNormRef: batch statistics (training) or the given running ones. */
export interface BnRefOptions {
  training: boolean;
  eps?: number;
  runningMean?: ArrayLike<number>;
  runningVar?: ArrayLike<number>;
}

/** Per-channel mean and biased / unbiased variance of x [N, C, ...] over every dim but 1. */
export function channelMoments(x: Arr): { mean: Float64Array; varBiased: Float64Array; varUnbiased: Float64Array } {
  const [n, c] = x.shape;
  const s = x.data.length / (n * c);
  const m = n * s;
  const mean = new Float64Array(c);
  const v = new Float64Array(c);
  for (let ci = 0; ci < c; ci++) {
    let acc = 0;
    for (let ni = 0; ni < n; ni++) for (let k = 0; k < s; k++) acc += x.data[(ni * c + ci) * s + k];
    mean[ci] = acc / m;
    let sq = 0;
    for (let ni = 0; ni < n; ni++) for (let k = 0; k < s; k++) sq += (x.data[(ni * c + ci) * s + k] - mean[ci]) ** 2;
    v[ci] = sq;
  }
  return { mean, varBiased: v.map((q) => q / m), varUnbiased: v.map((q) => q / (m - 1)) };
}

/** y = (x - mean) / sqrt(var + eps) * w + b per channel of x [N, C, ...]; w and b may be null. */
export function batchNormRef(x: Arr, w: Arr | null, b: Arr | null, o: BnRefOptions): { data: Float64Array; shape: number[] } {
  const [n, c] = x.shape;
  const s = x.data.length / (n * c);
  let mean: ArrayLike<number>;
  let variance: ArrayLike<number>;
  if (o.training) {
    const mo = channelMoments(x);
    mean = mo.mean;
    variance = mo.varBiased;
  } else {
    mean = o.runningMean!;
    variance = o.runningVar!;
  }
  const out = new Float64Array(x.data.length);
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      const rstd = 1 / Math.sqrt(variance[ci] + (o.eps ?? 1e-5));
      for (let k = 0; k < s; k++) {
        const i = (ni * c + ci) * s + k;
        out[i] = (x.data[i] - mean[ci]) * rstd * (w ? w.data[ci] : 1) + (b ? b.data[ci] : 0);
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** y = (x - mean) / sqrt(var + eps) * w + b over the trailing `k` dims of x; w and b may be null. */
export function layerNormRef(x: Arr, k: number, w: Arr | null, b: Arr | null, eps = 1e-5): { data: Float64Array; shape: number[] } {
  const d = x.shape.slice(x.shape.length - k).reduce((p, q) => p * q, 1);
  const rows = x.data.length / d;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x.data[r * d + j] / d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x.data[r * d + j] - mean) ** 2 / d;
    const rstd = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < d; j++) {
      out[r * d + j] = (x.data[r * d + j] - mean) * rstd * (w ? w.data[j] : 1) + (b ? b.data[j] : 0);
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** Analytic float64 gradients of batchNormRef for upstream dy: dx, dw = Σ dy x̂, db = Σ dy per channel. */
export function batchNormGradRef(x: Arr, w: Arr | null, dy: ArrayLike<number>, o: BnRefOptions): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [n, c] = x.shape;
  const s = x.data.length / (n * c);
  const m = n * s;
  const mo = o.training ? channelMoments(x) : null;
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(c);
  const db = new Float64Array(c);
  const at = (ni: number, ci: number, k: number) => (ni * c + ci) * s + k;
  for (let ci = 0; ci < c; ci++) {
    const mean = mo ? mo.mean[ci] : o.runningMean![ci];
    const rstd = 1 / Math.sqrt((mo ? mo.varBiased[ci] : o.runningVar![ci]) + (o.eps ?? 1e-5));
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k);
        db[ci] += dy[i];
        dw[ci] += dy[i] * (x.data[i] - mean) * rstd;
      }
    }
    const g = w ? w.data[ci] : 1;
    for (let ni = 0; ni < n; ni++) {
      for (let k = 0; k < s; k++) {
        const i = at(ni, ci, k);
        const xh = (x.data[i] - mean) * rstd;
        dx[i] = g * rstd * (o.training ? dy[i] - (db[ci] + xh * dw[ci]) / m : dy[i]);
      }
    }
  }
  return { dx, dw, db };
}

/** Analytic float64 gradients of layerNormRef for upstream dy: dx, dw = Σ_rows dy x̂, db = Σ_rows dy. */
export function layerNormGradRef(x: Arr, k: number, w: Arr | null, dy: ArrayLike<number>, eps = 1e-5): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const d = x.shape.slice(x.shape.length - k).reduce((p, q) => p * q, 1);
  const rows = x.data.length / d;
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x.data[r * d + j] / d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x.data[r * d + j] - mean) ** 2 / d;
    const rstd = 1 / Math.sqrt(v + eps);
    const xh = (j: number) => (x.data[r * d + j] - mean) * rstd;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const g = dy[r * d + j] * (w ? w.data[j] : 1);
      sg += g;
      sgx += g * xh(j);
      dw[j] += dy[r * d + j] * xh(j);
      db[j] += dy[r * d + j];
    }
    for (let j = 0; j < d; j++) dx[r * d + j] = rstd * (dy[r * d + j] * (w ? w.data[j] : 1) - sg / d - xh(j) * sgx / d);
  }
  return { dx, dw, db };
}
