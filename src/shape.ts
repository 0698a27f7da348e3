/** Pure shape arithmetic: sizes, strides, broadcasting, axis normalisation. No GPU here. */

export type Shape = readonly number[];

/** `[2,3]` formatted as in error messages. */
export const fmt = (s: Shape): string => `[${s.join(',')}]`;

/** Number of elements (1 for a scalar shape `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** True when (shape, strides) addresses elements in plain row-major order. */
export function isContiguous(shape: Shape, strides: Shape): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

/** Validates a user-supplied shape: non-negative integers. */
export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape ${fmt(shape)}`);
  }
}

/** NumPy broadcasting of several shapes; throws one line naming the op and all shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast`);
    }
  }
  return out;
}

/** Strides that read a tensor of (shape, strides) as if it had the broadcast shape `to`. */
export function broadcastStrides(shape: Shape, strides: Shape, to: Shape): number[] {
  const out = new Array<number>(to.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const j = to.length - shape.length + i;
    out[j] = shape[i] === 1 && to[j] !== 1 ? 0 : strides[i];
  }
  return out;
}

/** Resolves a possibly negative axis against `rank`; throws naming the op and the shape. */
export function normAxis(op: string, axis: number, shape: Shape): number {
  const r = shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= Math.max(r, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for shape ${fmt(shape)}`);
  }
  return a;
}

/** Resolves an axis list (undefined = all axes), sorted and without duplicates. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, shape: Shape): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = [...new Set(list.map((a) => normAxis(op, a, shape)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`${op}: repeated axis in [${list.join(',')}] for shape ${fmt(shape)}`);
  return out;
}

/** Shapes equal element by element. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
