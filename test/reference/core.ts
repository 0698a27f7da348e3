// Float64 CPU references: the oracles for the kernels. Naive loops, no cleverness.
// Arrays are row-major over their shape; broadcasting follows NumPy.

export type Shape = readonly number[];

export const size = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function stridesOf(s: Shape): number[] {
  const out = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    out[i] = acc;
    acc *= s[i];
  }
  return out;
}

export function broadcast(...shapes: Shape[]): number[] {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(r).fill(1);
  for (const s of shapes) {
    s.forEach((d, i) => {
      const j = r - s.length + i;
      if (d !== 1) {
        if (out[j] !== 1 && out[j] !== d) throw new Error('reference: shapes do not broadcast');
        out[j] = d;
      }
    });
  }
  return out;
}

/** Index into an input of shape `s` for the multi-index `idx` of the broadcast output. */
function bindex(s: Shape, idx: readonly number[]): number {
  let k = 0;
  let stride = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    const j = idx.length - s.length + i;
    if (s[i] !== 1) k += idx[j] * stride;
    stride *= s[i];
  }
  return k;
}

/** Applies `f` elementwise over broadcast inputs. */
export function mapRef(inputs: { data: ArrayLike<number>; shape: Shape }[], f: (...v: number[]) => number): { data: Float64Array; shape: number[] } {
  const shape = broadcast(...inputs.map((i) => i.shape));
  const n = size(shape);
  const out = new Float64Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let rem = k;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    out[k] = f(...inputs.map((i) => i.data[bindex(i.shape, idx)]));
  }
  return { data: out, shape };
}

/** erf in float64: Taylor series below 2.5, continued fraction for erfc above. */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...)))) evaluated bottom-up.
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** x^y with PyTorch's rules for negative bases (NaN unless y is integral) and 0^0 = 1. */
export function powRef(x: number, y: number): number {
  return Math.pow(x, y);
}
