// Float64 reference of scaled-dot-product attention (naive: full score matrix, two-pass softmax).
import type { Arr } from './matmul.js';

/** Options of attentionRef. */
export interface AttnRefOptions {
  scale?: number;
  causal?: boolean;
  /** Additive mask values broadcast from `maskShape` (right-aligned) to [B, H, Tq, Tk]. */
  mask?: Arr;
}

/** softmax(scale q k^T + mask) v for q [B, H, Tq, hd], k, v [B, H, Tk, hd]; fully masked rows give 0. */
export function attentionRef(q: Arr, k: Arr, v: Arr, o: AttnRefOptions = {}): { data: Float64Array; shape: number[] } {
  const [B, H, Tq, hd] = q.shape;
  const Tk = k.shape[2];
  const scale = o.scale ?? 1 / Math.sqrt(hd);
  const out = new Float64Array(B * H * Tq * hd);
  const ms = o.mask ? [...new Array(4 - o.mask.shape.length).fill(1), ...o.mask.shape] : [];
  const maskAt = (b: number, h: number, i: number, j: number): number => {
    if (!o.mask) return 0;
    const idx = [b, h, i, j].map((x, d) => (ms[d] === 1 ? 0 : x));
    return o.mask.data[((idx[0] * ms[1] + idx[1]) * ms[2] + idx[2]) * ms[3] + idx[3]];
  };
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const bh = b * H + h;
    for (let i = 0; i < Tq; i++) {
      let mx = -Infinity;
      for (let j = 0; j < Tk; j++) {
        let d = 0;
        for (let e = 0; e < hd; e++) d += q.data[(bh * Tq + i) * hd + e] * k.data[(bh * Tk + j) * hd + e];
        s[j] = o.causal && j > i ? -Infinity : scale * d + maskAt(b, h, i, j);
        mx = Math.max(mx, s[j]);
      }
      if (mx === -Infinity) continue;
      let sum = 0;
      for (let j = 0; j < Tk; j++) sum += (s[j] = Math.exp(s[j] - mx));
      for (let j = 0; j < Tk; j++) {
        const p = s[j] / sum;
        if (p === 0) continue;
        for (let e = 0; e < hd; e++) out[(bh * Tq + i) * hd + e] += p * v.data[(bh * Tk + j) * hd + e];
      }
    }
  }
  return { data: out, shape: [B, H, Tq, hd] };
}

/** The packed form: qkv [B, T, 3D] (features [q | k | v], head-major) -> [B, T, D]. */
export function attentionQKVRef(qkv: Arr, heads: number, o: AttnRefOptions = {}): { data: Float64Array; shape: number[] } {
  const [B, T, D3] = qkv.shape;
  const D = D3 / 3;
  const hd = D / heads;
  const part = (which: number) => {
    const d = new Float64Array(B * heads * T * hd);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) for (let e = 0; e < hd; e++) {
      d[((b * heads + h) * T + t) * hd + e] = qkv.data[(b * T + t) * D3 + which * D + h * hd + e];
    }
    return { data: d, shape: [B, heads, T, hd] };
  };
  const r = attentionRef(part(0), part(1), part(2), o);
  const out = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) for (let e = 0; e < hd; e++) {
    out[(b * T + t) * D + h * hd + e] = r.data[((b * heads + h) * T + t) * hd + e];
  }
  return { data: out, shape: [B, T, D] };
}
