/**
 * Indexed reads and writes along one axis (shaders/gather.wgsl): indexSelect, gather, scatterAdd,
 * indexAdd and oneHot, with PyTorch's semantics. All inputs may be strided views; results are new
 * contiguous tensors (scatterAdd and indexAdd never modify `target`).
 *
 * Indices are i32. Out-of-range indices (negative, or >= the size along the axis) cannot raise
 * on the GPU as torch does: indexSelect and gather read 0 for them, and scatterAdd, indexAdd and
 * oneHot skip them. Validate indices on the CPU first where that matters.
 */
import { dispatch } from '../dispatch.js';
import { Params } from '../command_batch.js';
import { zeros } from '../creation.js';
import type { DType } from '../dtype.js';
import { fmt, normAxis, sameShape, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { collapseDims, copy } from './elementwise.js';

const WG = 64;
const MAX_RANK = 8;

type Entry = 'gather_read' | 'gather_add_f32' | 'gather_add_int' | 'gather_put_one';

/** One walk over an iteration shape; see the header of shaders/gather.wgsl for the offsets. */
interface IndexedSpec {
  op: string;
  entry: Entry;
  shape: Shape;
  index: Tensor;
  si: readonly number[];
  src: Tensor | null;
  ss: readonly number[];
  svS: number;
  dst: Tensor;
  so: readonly number[];
  svO: number;
  /** Size along the axis: valid indices are 0 <= v < bound. */
  bound: number;
}

function launchIndexed(s: IndexedSpec): void {
  const n = sizeOf(s.shape);
  if (n === 0) return;
  const c = collapseDims(s.shape, [s.si, s.ss, s.so]);
  if (c.shape.length > MAX_RANK) throw new Error(`${s.op}: rank ${c.shape.length} after merging dims exceeds ${MAX_RANK}`);
  const params = new Params()
    .u32(n, c.shape.length, s.bound, s.index.offset)
    .u32(s.src?.offset ?? 0, s.dst.offset, s.svS, s.svO)
    .u32Array(c.shape, MAX_RANK, 1)
    .u32Array(c.strides[0], MAX_RANK)
    .u32Array(c.strides[1], MAX_RANK)
    .u32Array(c.strides[2], MAX_RANK);
  const read = s.entry === 'gather_read';
  dispatch({
    op: s.op,
    shader: 'gather',
    entry: s.entry,
    overrides: { WG },
    inputs: [s.src, s.index],
    outputs: read ? [null, s.dst] : [s.dst, null],
    params,
    workgroups: Math.ceil(n / WG),
  });
}

function checkIndex(op: string, index: Tensor, oneD: boolean): void {
  if (index.dtype !== 'i32' || (oneD && index.rank !== 1)) {
    throw new Error(`${op}: index must be ${oneD ? 'a 1-D ' : ''}i32 tensor, got ${index.dtype} ${fmt(index.shape)}`);
  }
}

function checkAxis(op: string, x: Tensor, axis: number, name: string): number {
  if (x.rank === 0) throw new Error(`${op}: ${name} needs at least 1 dim, ${name}=${fmt(x.shape)}`);
  return normAxis(op, axis, x.shape);
}

/** `s` with entry `a` set to `v`. */
const withAt = (s: readonly number[], a: number, v: number): number[] => s.map((x, i) => (i === a ? v : x));

const ADD_DTYPES: readonly DType[] = ['f32', 'i32', 'u32'];

/**
 * Selects entries of `x` along `axis` (torch.index_select): out has x's shape with dim `axis`
 * replaced by index.length, and out[..., i, ...] = x[..., index[i], ...]. `index` is 1-D i32;
 * an out-of-range index reads 0.
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const op = 'indexSelect';
  const a = checkAxis(op, x, axis, 'x');
  checkIndex(op, index, true);
  const shape = withAt(x.shape, a, index.shape[0]);
  const out = Tensor.empty(shape, x.dtype);
  launchIndexed({
    op, entry: 'gather_read', shape, bound: x.shape[a],
    index, si: withAt(new Array<number>(shape.length).fill(0), a, index.strides[0]),
    src: x, ss: withAt(x.strides, a, 0), svS: x.strides[a],
    dst: out, so: out.strides, svO: 0,
  });
  return out;
}

/**
 * Gathers along `axis` (torch.gather): out has index's shape and
 * out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (likewise for other axes). `index` is i32 of
 * x's rank with index.shape[d] <= x.shape[d] for d != axis; an out-of-range index reads 0.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const op = 'gather';
  const a = checkAxis(op, x, axis, 'x');
  checkIndex(op, index, false);
  if (index.rank !== x.rank || index.shape.some((d, i) => i !== a && d > x.shape[i])) {
    throw new Error(`${op}: index ${fmt(index.shape)} does not fit x ${fmt(x.shape)} at axis ${axis} ` +
      `(same rank, index.shape[d] <= x.shape[d] for d != axis)`);
  }
  const out = Tensor.empty(index.shape, x.dtype);
  launchIndexed({
    op, entry: 'gather_read', shape: index.shape, bound: x.shape[a],
    index, si: index.strides,
    src: x, ss: withAt(x.strides, a, 0), svS: x.strides[a],
    dst: out, so: out.strides, svO: 0,
  });
  return out;
}

function checkAdd(op: string, target: Tensor, src: Tensor): void {
  if (target.dtype !== src.dtype || !ADD_DTYPES.includes(target.dtype)) {
    throw new Error(`${op}: target ${target.dtype} ${fmt(target.shape)} and src ${src.dtype} ${fmt(src.shape)} need one dtype`);
  }
}

/**
 * target with `src` added at the positions `index` gives along `axis` (torch.scatter_add), as a
 * NEW tensor: for axis 0, out[index[i][j]][j] += src[i][j]. Duplicate indices accumulate (f32
 * through an atomic compare-exchange loop, so the summation order, and the last bits, may vary
 * between runs). `index` is i32 of target's rank with index.shape[d] <= src.shape[d] for all d
 * and <= target.shape[d] for d != axis; out-of-range indices are skipped. f32, i32 or u32.
 */
export function scatterAdd(target: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const op = 'scatterAdd';
  const a = checkAxis(op, target, axis, 'target');
  checkIndex(op, index, false);
  checkAdd(op, target, src);
  const fits = index.rank === target.rank && src.rank === target.rank &&
    index.shape.every((d, i) => d <= src.shape[i] && (i === a || d <= target.shape[i]));
  if (!fits) {
    throw new Error(`${op}: index ${fmt(index.shape)} does not fit target ${fmt(target.shape)} and src ${fmt(src.shape)} ` +
      `at axis ${axis} (same rank, index.shape[d] <= src.shape[d], and <= target.shape[d] for d != axis)`);
  }
  const out = copy(target);
  launchIndexed({
    op, entry: target.dtype === 'f32' ? 'gather_add_f32' : 'gather_add_int', shape: index.shape, bound: target.shape[a],
    index, si: index.strides,
    src, ss: src.strides, svS: 0,
    dst: out, so: withAt(out.strides, a, 0), svO: out.strides[a],
  });
  return out;
}

/**
 * target with slices of `src` added along `axis` at the positions in `index` (torch.index_add),
 * as a NEW tensor: out[..., index[i], ...] += src[..., i, ...]. `index` is 1-D i32 and src has
 * target's shape with dim `axis` replaced by index.length. Duplicates accumulate as in
 * {@link scatterAdd}; out-of-range indices are skipped. f32, i32 or u32.
 */
export function indexAdd(target: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const op = 'indexAdd';
  const a = checkAxis(op, target, axis, 'target');
  checkIndex(op, index, true);
  checkAdd(op, target, src);
  if (!sameShape(src.shape, withAt(target.shape, a, index.shape[0]))) {
    throw new Error(`${op}: src ${fmt(src.shape)} must be target ${fmt(target.shape)} with dim ${axis} = ` +
      `index length ${index.shape[0]}`);
  }
  const out = copy(target);
  launchIndexed({
    op, entry: target.dtype === 'f32' ? 'gather_add_f32' : 'gather_add_int', shape: src.shape, bound: target.shape[a],
    index, si: withAt(new Array<number>(src.rank).fill(0), a, index.strides[0]),
    src, ss: src.strides, svS: 0,
    dst: out, so: withAt(out.strides, a, 0), svO: out.strides[a],
  });
  return out;
}

/**
 * One-hot encoding (torch.nn.functional.one_hot, but f32): labels i32 [...] -> f32
 * [..., numClasses] with 1 at each label's class. A label outside [0, numClasses) gives a row of
 * zeros.
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  const op = 'oneHot';
  if (labels.dtype !== 'i32') throw new Error(`${op}: labels must be i32, got ${labels.dtype} ${fmt(labels.shape)}`);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${op}: numClasses must be a positive integer, got ${numClasses} for labels ${fmt(labels.shape)}`);
  }
  const out = zeros([...labels.shape, numClasses], 'f32');
  launchIndexed({
    op, entry: 'gather_put_one', shape: labels.shape, bound: numClasses,
    index: labels, si: labels.strides,
    src: null, ss: new Array<number>(labels.rank).fill(0), svS: 0,
    dst: out, so: out.strides.slice(0, -1), svO: 1,
  });
  return out;
}
