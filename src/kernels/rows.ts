/**
 * Row geometry shared by the row-wise kernel families (reduce, softmax), the TS side of
 * shaders/rows.wgsl. Each output element reduces one "row": the reduced axes, logically moved to
 * the end. Kept dims and reduced dims are merged separately where the strides allow (so a strided
 * view is read in place, never copied), and the plan picks a kernel shape for the row count and
 * length: a serial loop per output, or one workgroup per row meeting in a subgroup or
 * workgroup-memory butterfly.
 */
import { Params } from '../command_batch.js';
import { runtime } from '../runtime.js';
import { fmt, normAxes, sizeOf, stridesOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { collapseDims } from './elementwise.js';

const MAX_RANK = 8;
/** Threads per workgroup of the serial entry points (one output per thread). */
const SERIAL_WG = 64;

/**
 * How rows are reduced: `serial` (one invocation per row), `subgroup` (one workgroup of one
 * subgroup per row, shuffles) or `tree` (one workgroup per row, workgroup-memory butterfly).
 */
export type RowPath = 'serial' | 'subgroup' | 'tree';

/**
 * Resolves reduction axes against `shape`: undefined means all, negatives count from the end,
 * duplicates and out-of-range axes throw naming the op and the shape. A 0-d tensor accepts 0 and
 * -1 and reduces over nothing.
 */
export function reduceAxes(op: string, axes: number | readonly number[] | undefined, shape: Shape): number[] {
  if (shape.length > 0) return normAxes(op, axes, shape);
  for (const a of typeof axes === 'number' ? [axes] : axes ?? []) {
    if (a !== 0 && a !== -1) throw new Error(`${op}: axis ${a} is out of range for shape ${fmt(shape)}`);
  }
  return [];
}

/** Shape of a reduction's result: the kept dims, or 1 in place of each reduced dim with `keepdim`. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** The rows of a reduction and the uniform `Params` with its `Rows` struct written. */
export interface RowGeometry {
  /** Number of rows (output elements of a reduction). */
  rows: number;
  /** Elements per row. */
  len: number;
  /** Params holding `g: Rows`; the family appends its own fields. */
  params: Params;
}

/**
 * Geometry of reducing `x` over `axes` (normalised, ascending). Rows are numbered row-major over
 * the kept dims. `outStrides` (over x's shape) addresses an output with x's shape (softmax; at
 * most one reduced axis), else the output is [rows] contiguous.
 */
export function rowGeometry(
  op: string,
  x: Tensor,
  axes: readonly number[],
  outStrides?: readonly number[],
): RowGeometry {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => x.shape[i]);
  const ko = outStrides ? kept.map((i) => outStrides[i]) : stridesOf(keptShape);
  const k = collapseDims(keptShape, [kept.map((i) => x.strides[i]), ko]);
  const ro = axes.map((i) => outStrides?.[i] ?? 0);
  const r = collapseDims(axes.map((i) => x.shape[i]), [axes.map((i) => x.strides[i]), ro]);
  const nr = r.shape.length;
  if (outStrides && nr > 1) throw new Error(`${op}: internal: strided output with ${nr} reduced dims`);
  const outer = r.shape.slice(0, Math.max(0, nr - 1));
  if (k.shape.length > MAX_RANK || outer.length > MAX_RANK) {
    const where = `shape ${fmt(x.shape)} reduced over [${axes.join(',')}]`;
    throw new Error(`${op}: ${where} needs more than ${MAX_RANK} dims after merging`);
  }
  const inner = nr > 0 ? r.shape[nr - 1] : 1;
  const rows = sizeOf(keptShape);
  const len = sizeOf(axes.map((i) => x.shape[i]));
  const params = new Params()
    .u32(rows, len, len / inner, inner)
    .u32(nr > 0 ? r.strides[0][nr - 1] : 0, nr > 0 ? r.strides[1][nr - 1] : 0, k.shape.length, outer.length)
    .u32(x.offset, 0, 0, 0)
    .u32Array(k.shape, MAX_RANK, 1)
    .u32Array(k.strides[0], MAX_RANK)
    .u32Array(k.strides[1], MAX_RANK)
    .u32Array(outer, MAX_RANK, 1)
    .u32Array(r.strides[0].slice(0, outer.length), MAX_RANK);
  return { rows, len, params };
}

/** The kernel shape chosen for a row reduction: entry suffix, slots, workgroup size and count. */
export interface RowPlan {
  path: RowPath;
  /** Entry point suffix: `<family>_serial` or `<family>_row`. */
  entry: 'serial' | 'row';
  wg: number;
  slots: { SG: number; XOR: string };
  workgroups: number;
}

/**
 * Picks serial loops for short rows or many rows (every lane busy, no barriers: what lavapipe
 * wants), else a workgroup per row: one subgroup on CPU-SIMD adapters, a workgroup-memory
 * butterfly on GPUs. `forced` overrides the choice (tests cover every path on one adapter).
 */
export function planRows(op: string, rows: number, len: number, forced?: RowPath): RowPlan {
  const rt = runtime();
  const cpu = rt.strategy === 'cpu-simd';
  const path: RowPath = forced ?? (len <= 64 || rows >= (cpu ? 128 : 8192) ? 'serial' : cpu ? 'subgroup' : 'tree');
  if (path === 'subgroup' && (!rt.hasFeature('subgroups') || rt.subgroupSize < 2)) {
    throw new Error(`${op}: the subgroup path needs the 'subgroups' feature, which this device lacks`);
  }
  const sg = path === 'subgroup';
  const slots = { SG: sg ? 1 : 0, XOR: sg ? 'subgroupShuffleXor(v, m)' : 'xor_wg(v, m, lid)' };
  if (path === 'serial') {
    return { path, entry: 'serial', wg: SERIAL_WG, slots, workgroups: Math.ceil(rows / SERIAL_WG) };
  }
  const wg = sg ? rt.subgroupSize : len >= 2048 ? 256 : 64;
  return { path, entry: 'row', wg, slots, workgroups: rows };
}
