// checkOp (design.md §8): one line per case. Seeded random inputs of the given shapes go through
// webgrad's op on the GPU and through a float64 reference on the CPU:
//   1. forward: the op's output against the reference (expectClose, shapes equal);
//   2. backward: for a random r (so no gradient is symmetric by accident), the gradients of
//      L = sum(out * r) — webgrad's backward(out, r) — against central finite differences of L
//      computed on the float64 reference: dL/dx_j ≈ (L(x + h_j e_j) - L(x - h_j e_j)) / 2h_j with
//      h_j = h · max(1, |x_j|). In float64 the truncation error is O(h²) (≈1e-7 relative for
//      h = 1e-3), so the tolerance is set by the f32 forward and backward on the GPU.
// Results are recorded under the op's name (the first word of the case) for printReport().
import { expect } from 'vitest';
import * as wg from '../../src/index.node.js';
import type { DType } from '../../src/dtype.js';
import { expectClose, type Tol } from './compare.js';
import { rng } from './rand.js';

/** A float64 input as the reference sees it. */
export interface RefArr {
  data: Float64Array;
  shape: readonly number[];
}

/** The reference's result: values (row-major), optionally with their shape. */
export type RefOut = ArrayLike<number> | { data: ArrayLike<number>; shape: readonly number[] };

/** An input: a shape (uniform values in [-1, 1)), or a spec. */
export interface InputSpec {
  shape: readonly number[];
  /** Uniform range [lo, hi) (default [-1, 1)). */
  lo?: number;
  hi?: number;
  /** Seed of the values (default: derived from the case name and the input's position). */
  seed?: number;
  /** Fixed values instead of random ones (indices, labels, masks, ties). */
  data?: ArrayLike<number>;
  /** Default f32; other dtypes (indices) never get gradients. */
  dtype?: DType;
  /** Not differentiated (e.g. a 0/1 condition), though f32. */
  constant?: boolean;
  /** Points where the op has a kink (relu at 0, clamp bounds): random values within 0.02 of one move away. */
  kinks?: readonly number[];
}

/** Options of {@link checkOp}. */
export interface CheckOptions {
  /** Forward tolerance (default rtol 2e-5, atol 1e-5). */
  fwd?: Tol;
  /** Gradient tolerance; atol is scaled by max(1, max|FD gradient|) (default rtol 2e-4, atol 2e-5). */
  grad?: Tol;
  /** Relative finite-difference step (default 1e-3). */
  h?: number;
  /** Name in the error report (default: the case's first word). */
  report?: string;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function valuesOf(name: string, spec: InputSpec, i: number): Float64Array {
  const n = sizeOf(spec.shape);
  if (spec.data) {
    if (spec.data.length !== n) throw new Error(`checkOp ${name}: input ${i} has ${spec.data.length} values for shape [${spec.shape}]`);
    return Float64Array.from(spec.data);
  }
  const r = rng(spec.seed ?? hash(`${name}#${i}`));
  const lo = spec.lo ?? -1;
  const hi = spec.hi ?? 1;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let v = Math.fround(lo + (hi - lo) * r());
    for (const p of spec.kinks ?? []) if (Math.abs(v - p) < 0.02) v = Math.fround(p + (v < p ? -0.02 : 0.02));
    out[k] = v;
  }
  return out;
}

const refData = (o: RefOut): ArrayLike<number> => ('data' in o && !ArrayBuffer.isView(o) ? o.data : (o as ArrayLike<number>));

/**
 * Checks one case of an op: forward against `ref`, then every f32 input's gradient of
 * sum(op(...) * r) against central finite differences of the float64 reference.
 */
export async function checkOp(
  name: string,
  inputs: readonly (readonly number[] | InputSpec)[],
  ref: (...xs: RefArr[]) => RefOut,
  op: (...xs: wg.Tensor[]) => wg.Tensor,
  opts: CheckOptions = {},
): Promise<void> {
  const report = opts.report ?? name.split(' ')[0];
  const specs: InputSpec[] = inputs.map((s) => ('shape' in s ? s : { shape: s as readonly number[] }));
  const xs: RefArr[] = specs.map((s, i) => ({ data: valuesOf(name, s, i), shape: s.shape }));
  const diff = specs.map((s) => (s.dtype ?? 'f32') === 'f32' && !s.constant);
  const leaves = specs.map((s, i) => {
    const t = wg.tensor(Array.from(xs[i].data), { shape: s.shape, dtype: s.dtype ?? 'f32' });
    t.requiresGrad = diff[i];
    return t;
  });

  // Forward, then backward with upstream r (the gradient of sum(out * r)).
  const want = ref(...xs);
  const wantData = refData(want);
  const r = valuesOf(`${name}/r`, { shape: [wantData.length] }, 0);
  const out = wg.scope(() => {
    const y = op(...leaves);
    if (!y.requiresGrad) throw new Error(`checkOp ${name}: the output does not require grad`);
    wg.backward(y, wg.tensor(Float32Array.from(r), { shape: y.shape }));
    return y;
  });
  try {
    if ('shape' in want && !ArrayBuffer.isView(want)) expect([...out.shape], `${name}: output shape`).toEqual([...want.shape]);
    expectClose(`${report} fwd`, await out.data(), wantData, opts.fwd ?? { rtol: 2e-5, atol: 1e-5 }, out.shape);

    // Finite differences of L = sum(ref(x) * r) in float64.
    const L = () => {
      const y = refData(ref(...xs));
      let s = 0;
      for (let k = 0; k < y.length; k++) s += y[k] * r[k];
      return s;
    };
    const h = opts.h ?? 1e-3;
    for (let i = 0; i < xs.length; i++) {
      if (!diff[i]) continue;
      const x = xs[i].data;
      const fd = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const v = x[j];
        const step = h * Math.max(1, Math.abs(v));
        x[j] = v + step;
        const up = L();
        x[j] = v - step;
        const down = L();
        x[j] = v;
        fd[j] = (up - down) / (2 * step);
      }
      const g = leaves[i].grad;
      if (g) expect([...g.shape], `${name}: grad ${i} shape`).toEqual([...specs[i].shape]);
      const got = g ? await g.data() : new Float32Array(x.length);
      const tol = opts.grad ?? { rtol: 2e-4, atol: 2e-5 };
      let scale = 1;
      for (const v of fd) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
      expectClose(`${report} grad`, got, fd, { rtol: tol.rtol ?? 2e-4, atol: (tol.atol ?? 2e-5) * scale }, specs[i].shape);
    }
  } catch (e) {
    throw new Error(`checkOp ${name}: ${(e as Error).message}`);
  } finally {
    out.dispose();
    for (const t of leaves) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
