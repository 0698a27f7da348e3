/**
 * Reductions over any set of axes (shaders/reduce.wgsl): sum, mean, max, min, var, and argmax /
 * argmin over one axis or all elements. Inputs may be strided views (read in place). The result
 * is a new contiguous tensor; `keepdim` keeps each reduced dim as size 1. Semantics follow
 * PyTorch: sum of i32 stays i32, max/min/arg ops pick the first index on ties and propagate NaN,
 * reducing an empty axis gives sum 0 and mean/var NaN, and max/min/arg ops throw. Reducing over no
 * axis (`[]`) reduces rows of one element: a copy (var: 0 / (1 - correction)).
 */
import { dispatch } from '../dispatch.js';
import type { DType } from '../dtype.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';
import { fillInto } from './elementwise.js';
import { planRows, reduceAxes, reducedShape, rowGeometry, type RowPath } from './rows.js';

/** The reductions reduce.wgsl implements. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'var' | 'argmax' | 'argmin';

/** Axes to reduce: one, several, or undefined for all. Negative axes count from the end. */
export type Axes = number | readonly number[] | undefined;

interface KernelDef {
  /** reduce.wgsl OP: 0 sum, 1 max, 2 min, 3 var. */
  OP: number;
  /** reduce.wgsl FINAL: 0 value, 1 value / div, 2 index. */
  FINAL: number;
  dtypes: readonly DType[];
}

const NUM: readonly DType[] = ['f32', 'i32', 'u32'];
const F32: readonly DType[] = ['f32'];
const KERNEL: Record<ReduceOp, KernelDef> = {
  sum: { OP: 0, FINAL: 0, dtypes: NUM },
  mean: { OP: 0, FINAL: 1, dtypes: F32 },
  max: { OP: 1, FINAL: 0, dtypes: NUM },
  min: { OP: 2, FINAL: 0, dtypes: NUM },
  var: { OP: 3, FINAL: 1, dtypes: F32 },
  argmax: { OP: 1, FINAL: 2, dtypes: NUM },
  argmin: { OP: 2, FINAL: 2, dtypes: NUM },
};

/** A reduction to launch. */
export interface ReduceSpec {
  op: ReduceOp;
  x: Tensor;
  axes?: Axes;
  keepdim?: boolean;
  /** var only: the divisor is max(0, n - correction); default 1 (unbiased). */
  correction?: number;
  /** Force a kernel shape (tests); default: chosen from the adapter and the shapes. */
  path?: RowPath;
}

/** Launches one reduction and returns its result (a new contiguous tensor). */
export function launchReduce(spec: ReduceSpec): Tensor {
  const { op, x } = spec;
  const k = KERNEL[op];
  if (!k.dtypes.includes(x.dtype)) {
    const want = k.dtypes.join(' or ');
    throw new Error(`${op}: dtype ${x.dtype} not supported (expected ${want}), shape ${fmt(x.shape)}`);
  }
  const axes = reduceAxes(op, spec.axes, x.shape);
  const outShape = reducedShape(x.shape, axes, spec.keepdim ?? false);
  const len = axes.reduce((n, i) => n * x.shape[i], 1);
  if (len === 0 && k.OP !== 0 && k.OP !== 3) {
    const where = `shape ${fmt(x.shape)} axes [${axes.join(',')}]`;
    throw new Error(`${op}: cannot reduce over a zero-size dimension, ${where}`);
  }
  const correction = spec.correction ?? 1;
  if (!Number.isFinite(correction)) throw new Error(`${op}: correction must be a finite number, got ${correction}`);
  const out = Tensor.empty(outShape, k.FINAL === 2 ? 'i32' : x.dtype);
  if (out.size === 0) return out;
  if (len === 0) {
    fillInto(out, op === 'sum' ? 0 : NaN);
    return out;
  }
  const g = rowGeometry(op, x, axes);
  const plan = planRows(op, g.rows, g.len, spec.path);
  const div = op === 'mean' ? len : op === 'var' ? Math.max(0, len - correction) : 1;
  dispatch({
    op,
    shader: 'reduce',
    entry: `reduce_${plan.entry}`,
    slots: { T: x.dtype, TO: out.dtype, ...plan.slots },
    overrides: { WG: plan.wg, OP: k.OP, FINAL: k.FINAL, FLOAT: x.dtype === 'f32' ? 1 : 0 },
    inputs: [x],
    outputs: [out],
    params: g.params.f32(div).u32(0, 0, 0),
    workgroups: plan.workgroups,
  });
  return out;
}

/** Sum over `axes` (default all); i32 and u32 sums keep their dtype (and wrap on overflow). */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return launchReduce({ op: 'sum', x, axes, keepdim });
}

/** Mean over `axes` (default all); f32 only. The mean of an empty axis is NaN. */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return launchReduce({ op: 'mean', x, axes, keepdim });
}

/** Maximum over `axes` (default all); NaN if any element is NaN. Throws for an empty axis. */
export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return launchReduce({ op: 'max', x, axes, keepdim });
}

/** Minimum over `axes` (default all); NaN if any element is NaN. Throws for an empty axis. */
export function min(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return launchReduce({ op: 'min', x, axes, keepdim });
}

/** Options of {@link variance}. */
export interface VarianceOptions {
  /** The divisor is max(0, n - correction): 1 (default) is unbiased as torch.var, 0 the population variance. */
  correction?: number;
  keepdim?: boolean;
}

/** Variance over `axes` (default all), two-pass (mean, then squared deviations); f32 only. */
export function variance(x: Tensor, axes?: Axes, opts: VarianceOptions = {}): Tensor {
  return launchReduce({ op: 'var', x, axes, keepdim: opts.keepdim, correction: opts.correction });
}

/**
 * Index (i32) of the maximum along `axis`, or in the flattened tensor when `axis` is undefined;
 * the first one on ties, the first NaN if any.
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return launchReduce({ op: 'argmax', x, axes: axis, keepdim });
}

/** Index (i32) of the minimum along `axis` (or flattened); the first one on ties, the first NaN if any. */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return launchReduce({ op: 'argmin', x, axes: axis, keepdim });
}
