/**
 * Elementwise ops: unary, binary and ternary maps with NumPy broadcasting over strided inputs,
 * one shader (shaders/elementwise.wgsl) whose EXPR slot is the op's scalar expression.
 * Numbers mix with tensors (`add(x, 1)`) and take the tensor's dtype. Comparisons return f32 0/1.
 */
import { dispatch } from '../dispatch.js';
import { Params } from '../command_batch.js';
import type { DType } from '../dtype.js';
import { broadcastShapes, broadcastStrides, fmt, isContiguous, sameShape, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

const WG = 64;
const MAX_RANK = 8;

/** A tensor or a plain number broadcast as a scalar. */
export type Operand = Tensor | number;

/**
 * Merges adjacent dims that every operand walks contiguously, and drops size-1 dims, so most
 * calls reach the kernel with rank <= 3 and the rank limit of 8 is rarely approached.
 */
export function collapseDims(shape: Shape, strides: readonly Shape[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const ss: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => ss[k][last] === s[i] * shape[i])) {
      dims[last] *= shape[i];
      strides.forEach((s, k) => (ss[k][last] = s[i]));
    } else {
      dims.push(shape[i]);
      strides.forEach((s, k) => ss[k].push(s[i]));
    }
  }
  return { shape: dims, strides: ss };
}

function scalarBits(op: string, v: number, dtype: DType): number {
  if (dtype === 'f32') return new Uint32Array(new Float32Array([v]).buffer)[0];
  if (!Number.isInteger(v)) throw new Error(`${op}: scalar ${v} is not a valid ${dtype}`);
  if (dtype === 'u32' && v < 0) throw new Error(`${op}: scalar ${v} is not a valid u32`);
  return v >>> 0;
}

interface MapSpec {
  op: string;
  inputs: readonly Tensor[];
  expr: string;
  outDtype: DType;
  scalars?: readonly number[];
  /** Write into this (possibly strided) view instead of a new contiguous tensor. */
  out?: Tensor;
  /** Shape to broadcast inputs to (default: broadcast of the inputs). */
  shape?: Shape;
}

/** Launches one elementwise map; returns the output tensor. */
export function launchMap(spec: MapSpec): Tensor {
  const { op, inputs } = spec;
  const outShape = spec.shape ?? spec.out?.shape ?? broadcastShapes(op, ...inputs.map((t) => t.shape));
  const out = spec.out ?? Tensor.empty(outShape, spec.outDtype);
  if (spec.out && !sameShape(spec.out.shape, outShape)) {
    throw new Error(`${op}: output view ${fmt(spec.out.shape)} does not match shape ${fmt(outShape)}`);
  }
  if (spec.out && spec.out.dtype !== spec.outDtype) {
    throw new Error(`${op}: output dtype ${spec.out.dtype} differs from ${spec.outDtype}`);
  }
  const n = sizeOf(outShape);
  if (n === 0) return out;
  for (const t of inputs) broadcastShapes(op, t.shape, outShape); // validates
  const strides = [...inputs.map((t) => broadcastStrides(t.shape, t.strides, outShape)), out.strides];
  const flatOf = (t: Tensor) => sameShape(t.shape, outShape) && isContiguous(t.shape, t.strides);
  const c = collapseDims(outShape, strides);
  if (c.shape.length > MAX_RANK) throw new Error(`${op}: rank ${c.shape.length} after merging dims exceeds ${MAX_RANK}`);
  let flat = 0;
  inputs.forEach((t, i) => (flat |= flatOf(t) ? 1 << i : 0));
  for (let i = inputs.length; i < 3; i++) flat |= 1 << i;
  if (flatOf(out)) flat |= 8;
  const zero = new Array<number>(MAX_RANK).fill(0);
  const st = (i: number) => (i < inputs.length ? c.strides[i] : zero);
  const off = (i: number) => (i < inputs.length ? inputs[i].offset : 0);
  const sc = spec.scalars ?? [];
  const params = new Params()
    .u32(n, c.shape.length, flat, out.offset)
    .u32(off(0), off(1), off(2), sc[0] ?? 0)
    .u32(sc[1] ?? 0, 0, 0, 0)
    .u32Array(c.shape, MAX_RANK, 1)
    .u32Array(st(0), MAX_RANK)
    .u32Array(st(1), MAX_RANK)
    .u32Array(st(2), MAX_RANK)
    .u32Array(c.strides[inputs.length], MAX_RANK);
  const ty = (i: number) => (i < inputs.length ? inputs[i].dtype : 'f32');
  dispatch({
    op,
    shader: 'elementwise',
    entry: `map${inputs.length}`,
    slots: { TA: ty(0), TB: ty(1), TC: ty(2), TO: out.dtype, EXPR: spec.expr },
    overrides: { WG },
    inputs: [inputs[0] ?? null, inputs[1] ?? null, inputs[2] ?? null],
    outputs: [out],
    params,
    workgroups: Math.ceil(n / WG),
  });
  return out;
}

/** Scalar expression of an op over operand expressions `a`, `b` and WGSL type `T`. */
type Expr1 = (a: string, T: string) => string;
type Expr2 = (a: string, b: string, T: string) => string;

interface UnaryDef {
  expr: Expr1;
  /** Dtypes allowed (default: f32 only). */
  dtypes?: readonly DType[];
}

const NUM: readonly DType[] = ['f32', 'i32', 'u32'];
const SIGNED: readonly DType[] = ['f32', 'i32'];

const UNARY = {
  neg: { expr: (a) => `-${a}`, dtypes: SIGNED },
  abs: { expr: (a) => `abs(${a})`, dtypes: NUM },
  exp: { expr: (a) => `exp(${a})` },
  log: { expr: (a) => `log(${a})` },
  sqrt: { expr: (a) => `sqrt(${a})` },
  rsqrt: { expr: (a) => `inverseSqrt(${a})` },
  relu: { expr: (a, T) => `max(${a}, ${T}(0))`, dtypes: SIGNED },
  gelu: { expr: (a) => `0.5 * ${a} * (1.0 + erf_s(${a} * 0.70710678118654752))` },
  geluTanh: { expr: (a) => `0.5 * ${a} * (1.0 + tanh_s(0.79788456080286536 * (${a} + 0.044715 * ${a} * ${a} * ${a})))` },
  sigmoid: { expr: (a) => `sigmoid_s(${a})` },
  tanh: { expr: (a) => `tanh_s(${a})` },
  square: { expr: (a) => `${a} * ${a}`, dtypes: NUM },
  sign: { expr: (a) => `sign(${a})`, dtypes: SIGNED },
} satisfies Record<string, UnaryDef>;

export type UnaryName = keyof typeof UNARY;

function checkDtype(op: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) throw new Error(`${op}: dtype ${t.dtype} not supported (expected ${allowed.join(' or ')})`);
}

/** Applies the unary op `name` elementwise. */
export function unary(name: UnaryName, x: Tensor): Tensor {
  const def: UnaryDef = UNARY[name];
  checkDtype(name, x, def.dtypes ?? ['f32']);
  return launchMap({ op: name, inputs: [x], expr: def.expr('a', x.dtype), outDtype: x.dtype });
}

interface BinaryDef {
  expr: Expr2;
  dtypes?: readonly DType[];
  /** Output dtype (default: the inputs'). */
  out?: DType;
}

const cmp = (o: string): BinaryDef => ({ expr: (a, b) => `select(0.0, 1.0, ${a} ${o} ${b})`, dtypes: NUM, out: 'f32' });

const BINARY = {
  add: { expr: (a, b) => `${a} + ${b}`, dtypes: NUM },
  sub: { expr: (a, b) => `${a} - ${b}`, dtypes: NUM },
  mul: { expr: (a, b) => `${a} * ${b}`, dtypes: NUM },
  div: { expr: (a, b) => `${a} / ${b}`, dtypes: NUM },
  pow: { expr: (a, b) => `pow_s(${a}, ${b})` },
  maximum: { expr: (a, b) => `max(${a}, ${b})`, dtypes: NUM },
  minimum: { expr: (a, b) => `min(${a}, ${b})`, dtypes: NUM },
  eq: cmp('=='),
  ne: cmp('!='),
  lt: cmp('<'),
  le: cmp('<='),
  gt: cmp('>'),
  ge: cmp('>='),
  // Fused backward rules (a = upstream gradient, b = the forward input x or output y).
  reluBwd: { expr: (g, x) => `select(0.0, ${g}, ${x} > 0.0)` },
  geluBwd: { expr: (g, x) => `${g} * (0.5 * (1.0 + erf_s(${x} * 0.70710678118654752)) + ${x} * 0.39894228040143268 * exp(-0.5 * ${x} * ${x}))` },
  geluTanhBwd: {
    expr: (g, x) => `${g} * gelu_tanh_grad(${x})`,
  },
  sigmoidBwd: { expr: (g, y) => `${g} * ${y} * (1.0 - ${y})` },
  tanhBwd: { expr: (g, y) => `${g} * (1.0 - ${y} * ${y})` },
} satisfies Record<string, BinaryDef>;

export type BinaryName = keyof typeof BINARY;

/** Applies the binary op `name` with broadcasting; either side may be a number. */
export function binary(name: BinaryName, x: Operand, y: Operand): Tensor {
  const def: BinaryDef = BINARY[name];
  const allowed = def.dtypes ?? ['f32'];
  if (typeof x === 'number' && typeof y === 'number') {
    throw new Error(`${name}: at least one operand must be a tensor (got two numbers)`);
  }
  if (x instanceof Tensor && y instanceof Tensor) {
    if (x.dtype !== y.dtype) {
      throw new Error(`${name}: dtypes differ, ${x.dtype} ${fmt(x.shape)} and ${y.dtype} ${fmt(y.shape)}; cast one with cast()`);
    }
    checkDtype(name, x, allowed);
    return launchMap({ op: name, inputs: [x, y], expr: def.expr('a', 'b', x.dtype), outDtype: def.out ?? x.dtype });
  }
  const t = (x instanceof Tensor ? x : y) as Tensor;
  const s = (x instanceof Tensor ? y : x) as number;
  checkDtype(name, t, allowed);
  const sv = `bitcast<${t.dtype}>(p.s0)`;
  const expr = x instanceof Tensor ? def.expr('a', sv, t.dtype) : def.expr(sv, 'a', t.dtype);
  return launchMap({ op: name, inputs: [t], expr, outDtype: def.out ?? t.dtype, scalars: [scalarBits(name, s, t.dtype)] });
}

/** `cond ? a : b` elementwise with broadcasting; `cond` of any dtype (nonzero is true). */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ref = a instanceof Tensor ? a : b instanceof Tensor ? b : null;
  const dtype: DType = ref?.dtype ?? 'f32';
  if (a instanceof Tensor && b instanceof Tensor && a.dtype !== b.dtype) {
    throw new Error(`where: dtypes differ, ${a.dtype} ${fmt(a.shape)} and ${b.dtype} ${fmt(b.shape)}`);
  }
  const inputs = [cond, ...[a, b].filter((v): v is Tensor => v instanceof Tensor)];
  const scalars: number[] = [];
  const term = (v: Operand, name: string): string => {
    if (v instanceof Tensor) return name;
    scalars.push(scalarBits('where', v, dtype));
    return `bitcast<${dtype}>(p.s${scalars.length - 1})`;
  };
  const ta = term(a, 'b');
  const tb = term(b, a instanceof Tensor ? 'c' : 'b');
  const expr = `select(${tb}, ${ta}, a != ${cond.dtype}(0))`;
  return launchMap({ op: 'where', inputs, expr, outDtype: dtype, scalars });
}

/** Clamps to [lo, hi] (either bound may be omitted), as min(max(x, lo), hi). */
export function clamp(x: Tensor, lo?: number, hi?: number): Tensor {
  checkDtype('clamp', x, NUM);
  const T = x.dtype;
  let expr = 'a';
  const scalars: number[] = [];
  if (lo !== undefined) {
    scalars.push(scalarBits('clamp', lo, T));
    expr = `max(${expr}, bitcast<${T}>(p.s0))`;
  }
  if (hi !== undefined) {
    scalars.push(scalarBits('clamp', hi, T));
    expr = `min(${expr}, bitcast<${T}>(p.s${scalars.length - 1}))`;
  }
  return launchMap({ op: 'clamp', inputs: [x], expr, outDtype: T, scalars });
}

/** Converts to another dtype (f32 -> int truncates toward zero, as WGSL and PyTorch do). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return launchMap({ op: 'cast', inputs: [x], expr: `${dtype}(a)`, outDtype: dtype });
}

/** `t` itself when contiguous at offset 0 (kernels that index from 0 read it in place), else a contiguous copy (`temp`: the caller disposes it). */
export function flatAux(t: Tensor): { t: Tensor; temp: boolean } {
  if (t.isContiguous && t.offset === 0) return { t, temp: false };
  return { t: copy(t), temp: true };
}

/** A contiguous copy (returns a new tensor even when `x` is already contiguous). */
export function copy(x: Tensor): Tensor {
  return launchMap({ op: 'copy', inputs: [x], expr: 'a', outDtype: x.dtype });
}

/** Copies `src` (broadcast to `dst`'s shape) into the view `dst`, which may be strided. */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (src.dtype !== dst.dtype) throw new Error(`copyInto: dtypes differ, ${src.dtype} into ${dst.dtype}`);
  launchMap({ op: 'copyInto', inputs: [src], expr: 'a', outDtype: dst.dtype, out: dst });
}

/** Sets every element of the view `dst` to `value`. */
export function fillInto(dst: Tensor, value: number): void {
  launchMap({
    op: 'fill', inputs: [], expr: `bitcast<${dst.dtype}>(p.s0)`, outDtype: dst.dtype, out: dst,
    scalars: [scalarBits('fill', value, dst.dtype)],
  });
}

