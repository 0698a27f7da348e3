// Float64 references of the contrastive losses (naive loops over the full similarity matrix).
import type { Arr } from './matmul.js';

type Out = { data: Float64Array; shape: number[] };

/** Rows of x [R, d] L2-normalised, x / max(||x||, 1e-12). */
export function normalizeRows(x: ArrayLike<number>, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[i * d + k] ** 2;
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < d; k++) out[i * d + k] = x[i * d + k] / n;
  }
  return out;
}

/** Options of {@link infoNCERowsRef}, as infoNCE's. */
export interface RowsRefOptions {
  scale?: number;
  diag?: boolean;
  /** Positive column (i + shift) mod nb, or per-row indices. */
  shift?: number;
  posIndex?: ArrayLike<number>;
  /** Per-row extra positive logit (times scale). */
  extra?: ArrayLike<number>;
}

/**
 * Per-row losses lse_i - s_i,pos of S = scale A B^T per batch: a [batch?, M, d], b [batch?, nb, d]
 * (row-major); the result has a's row shape.
 */
export function infoNCERowsRef(a: Arr, b: Arr, o: RowsRefOptions = {}): Out {
  const r = a.shape.length;
  const batch = r === 3 ? a.shape[0] : 1;
  const M = a.shape[r - 2];
  const d = a.shape[r - 1];
  const nb = b.shape[r - 2];
  const scale = o.scale ?? 1;
  const out = new Float64Array(batch * M);
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < M; i++) {
      const logits: number[] = [];
      let sp = NaN;
      const pos = o.extra ? -1 : o.posIndex ? o.posIndex[bi * M + i] : (i + (o.shift ?? 0)) % nb;
      for (let j = 0; j < nb; j++) {
        if (o.diag && j === i) continue;
        let s = 0;
        for (let k = 0; k < d; k++) s += a.data[(bi * M + i) * d + k] * b.data[(bi * nb + j) * d + k];
        s *= scale;
        logits.push(s);
        if (j === pos) sp = s;
      }
      if (o.extra) {
        sp = scale * o.extra[bi * M + i];
        logits.push(sp);
      }
      const m = Math.max(...logits);
      let sum = 0;
      for (const s of logits) sum += Math.exp(s - m);
      out[bi * M + i] = m + Math.log(sum) - sp;
    }
  }
  return { data: out, shape: a.shape.slice(0, -1) };
}

const meanOf = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / x.length;
const scalar = (v: number): Out => ({ data: Float64Array.of(v), shape: [] });

/** NT-Xent of z [2N, d]: normalise, cosine / tau, diagonal masked, positive (i + N) mod 2N, mean. */
export function ntXentRef(z: Arr, tau: number): Out {
  const [n2, d] = z.shape;
  const zn = { data: normalizeRows(z.data, n2, d), shape: [n2, d] };
  return scalar(meanOf(infoNCERowsRef(zn, zn, { scale: 1 / tau, diag: true, shift: n2 / 2 }).data));
}

/** MoCo: q, k normalised; logits [q.k, q queue] / tau (queue [C, K]); label 0; mean. */
export function mocoRef(q: Arr, k: Arr, queue: Arr, tau: number): Out {
  const [N, C] = q.shape;
  const K = queue.shape[1];
  const qn = normalizeRows(q.data, N, C);
  const kn = normalizeRows(k.data, N, C);
  const qt = new Float64Array(K * C);
  for (let c = 0; c < C; c++) for (let j = 0; j < K; j++) qt[j * C + c] = queue.data[c * K + j];
  const lpos = new Float64Array(N);
  for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) lpos[i] += qn[i * C + c] * kn[i * C + c];
  return scalar(meanOf(infoNCERowsRef({ data: qn, shape: [N, C] }, { data: qt, shape: [K, C] }, { scale: 1 / tau, extra: lpos }).data));
}

/** MoCo v3: ctr(q1, k2) + ctr(q2, k1), ctr = 2 tau CE(n(q) n(k)^T / tau, arange). */
export function mocoV3Ref(q1: Arr, q2: Arr, k1: Arr, k2: Arr, tau: number): Out {
  const [N, C] = q1.shape;
  const ctr = (q: Arr, k: Arr) => {
    const qn = { data: normalizeRows(q.data, N, C), shape: [N, C] };
    const kn = { data: normalizeRows(k.data, N, C), shape: [N, C] };
    return 2 * tau * meanOf(infoNCERowsRef(qn, kn, { scale: 1 / tau }).data);
  };
  return scalar(ctr(q1, k2) + ctr(q2, k1));
}

/** InstDisc logits [N, K+1] / tau of normalised v against memory rows [index[i], neg[i, :]]. */
function instDiscLogits(v: Arr, memory: Arr, index: ArrayLike<number>, neg: ArrayLike<number>, K: number, tau: number): Float64Array {
  const [N, d] = v.shape;
  const vn = normalizeRows(v.data, N, d);
  const out = new Float64Array(N * (K + 1));
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= K; j++) {
      const r = j === 0 ? index[i] : neg[i * K + j - 1];
      let s = 0;
      for (let k = 0; k < d; k++) s += vn[i * d + k] * memory.data[r * d + k];
      out[i * (K + 1) + j] = s / tau;
    }
  }
  return out;
}

/** InstDisc softmax form: CE with label 0 over the K+1 logits, mean over N. */
export function instDiscSoftmaxRef(v: Arr, memory: Arr, index: ArrayLike<number>, neg: ArrayLike<number>, K: number, tau: number): Out {
  const N = v.shape[0];
  const l = instDiscLogits(v, memory, index, neg, K, tau);
  let total = 0;
  for (let i = 0; i < N; i++) {
    const row = Array.from(l.subarray(i * (K + 1), (i + 1) * (K + 1)));
    const m = Math.max(...row);
    total += m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0)) - row[0];
  }
  return scalar(total / N);
}

/**
 * InstDisc NCE form (lemniscate NCEAverage + NCECriterion): P = exp(logit) / Z with
 * Z = mean(exp(logits)) * nData (or `z`), c = K / nData;
 * loss = -(sum_i log(P_i0 / (P_i0 + c + eps)) + sum_ij log(c / (P_ij + c + eps))) / N.
 * Z is a constant for the gradient in the real op; this reference recomputes it (finite
 * differences then see its dependence), so pass `z` when differentiating.
 */
export function instDiscNceRef(v: Arr, memory: Arr, index: ArrayLike<number>, neg: ArrayLike<number>, K: number, tau: number, nData: number, eps: number, z?: number): Out {
  const N = v.shape[0];
  const x = instDiscLogits(v, memory, index, neg, K, tau).map(Math.exp);
  const Z = z ?? meanOf(x) * nData;
  const c = K / nData;
  let s = 0;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= K; j++) {
      const P = x[i * (K + 1) + j] / Z;
      s += j === 0 ? Math.log(P / (P + c + eps)) : Math.log(c / (P + c + eps));
    }
  }
  return scalar(-s / N);
}

/** memory[index[i]] <- normalize(m memory[index[i]] + (1 - m) v[i]) on a copy. */
export function updateMemoryRef(memory: Arr, index: ArrayLike<number>, v: ArrayLike<number>, m: number): Float64Array {
  const d = memory.shape[1];
  const out = Float64Array.from(memory.data);
  for (let i = 0; i < index.length; i++) {
    const r = index[i];
    const w = Array.from({ length: d }, (_, k) => m * memory.data[r * d + k] + (1 - m) * v[i * d + k]);
    const n = Math.max(Math.sqrt(w.reduce((s, x) => s + x * x, 0)), 1e-12);
    for (let k = 0; k < d; k++) out[r * d + k] = w[k] / n;
  }
  return out;
}

/** CLIP: logits = exp(ls) n(img) n(txt)^T; (CE(logits, arange) + CE(logits^T, arange)) / 2. */
export function clipRef(img: Arr, txt: Arr, logitScale: number): Out {
  const [N, d] = img.shape;
  const a = { data: normalizeRows(img.data, N, d), shape: [N, d] };
  const b = { data: normalizeRows(txt.data, N, d), shape: [N, d] };
  const s = Math.exp(logitScale);
  return scalar((meanOf(infoNCERowsRef(a, b, { scale: s }).data) + meanOf(infoNCERowsRef(b, a, { scale: s }).data)) / 2);
}

/**
 * CPC InfoNCE: pred_k = context W_k^T; for t < T - k, CE(pred[:, t] z[:, t+k]^T, arange(N)),
 * batch mean; mean over all (k, t) terms.
 */
export function cpcRef(context: Arr, z: Arr, ws: readonly Arr[]): Out {
  const [N, T, dc] = context.shape;
  const dz = z.shape[2];
  let total = 0;
  let terms = 0;
  ws.forEach((w, i) => {
    const k = i + 1;
    for (let t = 0; t < T - k; t++) {
      const a = new Float64Array(N * dz);
      const b = new Float64Array(N * dz);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < dz; o++) {
          let s = 0;
          for (let c = 0; c < dc; c++) s += context.data[(n * T + t) * dc + c] * w.data[o * dc + c];
          a[n * dz + o] = s;
          b[n * dz + o] = z.data[(n * T + t + k) * dz + o];
        }
      }
      total += meanOf(infoNCERowsRef({ data: a, shape: [N, dz] }, { data: b, shape: [N, dz] }).data);
      terms++;
    }
  });
  return scalar(total / terms);
}

/**
 * Analytic gradients of sum_i g_i loss_i for {@link infoNCERowsRef}: dA = scale dS B,
 * dB = scale dS^T A, d extra_i = scale g_i (p_extra - 1), dS_ij = g_i (softmax_ij - [j == pos]).
 */
export function infoNCERowsGradRef(a: Arr, b: Arr, o: RowsRefOptions, g: ArrayLike<number>): { da: Float64Array; db: Float64Array; de: Float64Array } {
  const r = a.shape.length;
  const batch = r === 3 ? a.shape[0] : 1;
  const M = a.shape[r - 2];
  const d = a.shape[r - 1];
  const nb = b.shape[r - 2];
  const scale = o.scale ?? 1;
  const da = new Float64Array(batch * M * d);
  const db = new Float64Array(batch * nb * d);
  const de = new Float64Array(batch * M);
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < M; i++) {
      const pos = o.extra ? -1 : o.posIndex ? o.posIndex[bi * M + i] : (i + (o.shift ?? 0)) % nb;
      const s = new Float64Array(nb);
      let m = -Infinity;
      for (let j = 0; j < nb; j++) {
        let v = 0;
        for (let k = 0; k < d; k++) v += a.data[(bi * M + i) * d + k] * b.data[(bi * nb + j) * d + k];
        s[j] = v * scale;
        if (!(o.diag && j === i)) m = Math.max(m, s[j]);
      }
      const se = o.extra ? scale * o.extra[bi * M + i] : -Infinity;
      m = Math.max(m, se);
      let sum = o.extra ? Math.exp(se - m) : 0;
      for (let j = 0; j < nb; j++) if (!(o.diag && j === i)) sum += Math.exp(s[j] - m);
      const gi = g[bi * M + i];
      for (let j = 0; j < nb; j++) {
        if (o.diag && j === i) continue;
        const c = scale * gi * (Math.exp(s[j] - m) / sum - (j === pos ? 1 : 0));
        for (let k = 0; k < d; k++) {
          da[(bi * M + i) * d + k] += c * b.data[(bi * nb + j) * d + k];
          db[(bi * nb + j) * d + k] += c * a.data[(bi * M + i) * d + k];
        }
      }
      if (o.extra) de[bi * M + i] = scale * gi * (Math.exp(se - m) / sum - 1);
    }
  }
  return { da, db, de };
}
