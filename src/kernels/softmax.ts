/**
 * Softmax, log-softmax and logsumexp (shaders/softmax.wgsl), numerically stable: one online pass
 * gives each row's max and sum of exp(x - max). Inputs may be strided views (read in place);
 * outputs are new contiguous tensors. f32 only.
 */
import { dispatch } from '../dispatch.js';
import { fmt, stridesOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { fillInto } from './elementwise.js';
import { planRows, reduceAxes, reducedShape, rowGeometry, type RowPath } from './rows.js';
import type { Axes } from './reduce.js';

/** The ops softmax.wgsl implements, by its MODE override. */
const MODE = { softmax: 0, logSoftmax: 1, logsumexp: 2 } as const;

/** One softmax-family launch. */
export interface SoftmaxSpec {
  op: keyof typeof MODE;
  x: Tensor;
  /** softmax / logSoftmax: one axis; logsumexp: any set (undefined = all). */
  axes?: Axes;
  /** logsumexp only. */
  keepdim?: boolean;
  /** Force a kernel shape (tests); default: chosen from the adapter and the shapes. */
  path?: RowPath;
}

/** Launches one softmax-family kernel and returns its result (a new contiguous tensor). */
export function launchSoftmax(spec: SoftmaxSpec): Tensor {
  const { op, x } = spec;
  if (x.dtype !== 'f32') {
    throw new Error(`${op}: dtype ${x.dtype} not supported (expected f32), shape ${fmt(x.shape)}`);
  }
  const lse = op === 'logsumexp';
  if (!lse && typeof spec.axes !== 'number') {
    throw new Error(`${op}: expects one axis, got ${String(spec.axes)} for shape ${fmt(x.shape)}`);
  }
  const axes = reduceAxes(op, spec.axes, x.shape);
  const out = Tensor.empty(lse ? reducedShape(x.shape, axes, spec.keepdim ?? false) : x.shape, 'f32');
  if (out.size === 0) return out;
  const len = axes.reduce((n, i) => n * x.shape[i], 1);
  if (len === 0) {
    fillInto(out, -Infinity); // logsumexp of nothing; softmax outputs are empty with their axis
    return out;
  }
  const g = rowGeometry(op, x, axes, lse ? undefined : stridesOf(x.shape));
  const plan = planRows(op, g.rows, g.len, spec.path);
  dispatch({
    op,
    shader: 'softmax',
    entry: `softmax_${plan.entry}`,
    slots: plan.slots,
    overrides: { WG: plan.wg, MODE: MODE[op] },
    inputs: [x],
    outputs: [out],
    params: g.params,
    workgroups: plan.workgroups,
  });
  return out;
}

/** exp(x - max) / sum(exp(x - max)) along `axis` (default the last). A row of only -inf gives NaN. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return launchSoftmax({ op: 'softmax', x, axes: axis });
}

/** log(softmax(x)) along `axis` (default the last), computed as (x - max) - log(sum(exp(x - max))). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return launchSoftmax({ op: 'logSoftmax', x, axes: axis });
}

/** log(sum(exp(x))) over `axes` (default all) without overflow; -inf for an empty or all -inf row. */
export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return launchSoftmax({ op: 'logsumexp', x, axes, keepdim });
}
