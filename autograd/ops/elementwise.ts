/**
 * Differentiable elementwise ops. Forward runs the elementwise kernels; each backward rule sits
 * under its op with its math in one line. Broadcasting is undone by the tape, not here, and the
 * tape runs every rule inside a scope, so a rule's temporaries need no disposing.
 */
import { binary, cast as castK, clamp as clampK, unary, where as whereK, type Operand } from '../../src/kernels/elementwise.js';
import type { DType } from '../../src/dtype.js';
import { Tensor } from '../../src/tensor.js';
import { defineOp, type OpContext } from '../op.js';

const T = (v: Operand): v is Tensor => v instanceof Tensor;

/** a + b (broadcasting; either may be a number). */
export const add = defineOp({
  name: 'add',
  forward: (_ctx, a: Operand, b: Operand) => binary('add', a, b),
  // da = g, db = g
  backward: (_ctx, g) => [g, g],
});

/** a - b */
export const sub = defineOp({
  name: 'sub',
  forward: (_ctx, a: Operand, b: Operand) => binary('sub', a, b),
  // da = g, db = -g
  backward: (ctx, g) => [g, ctx.needsGrad(1) ? unary('neg', g) : null],
});

/** a * b */
export const mul = defineOp({
  name: 'mul',
  forward(ctx, a: Operand, b: Operand) {
    if (ctx.needsGrad(0) && T(b)) ctx.save(b);
    if (ctx.needsGrad(1) && T(a)) ctx.save(a);
    ctx.data.a = T(a) ? null : a;
    ctx.data.b = T(b) ? null : b;
    return binary('mul', a, b);
  },
  // da = g b, db = g a
  backward(ctx, g) {
    const saved = [...ctx.saved];
    const bv = ctx.needsGrad(0) ? (ctx.data.b as number | null) ?? saved.shift()! : null;
    const av = ctx.needsGrad(1) ? (ctx.data.a as number | null) ?? saved.shift()! : null;
    return [bv !== null ? binary('mul', g, bv) : null, av !== null ? binary('mul', g, av) : null];
  },
});

/** a / b */
export const div = defineOp({
  name: 'div',
  forward(ctx, a: Operand, b: Operand) {
    ctx.data.a = a;
    ctx.data.b = b;
    if (T(a)) ctx.save(a);
    if (T(b)) ctx.save(b);
    return binary('div', a, b);
  },
  // da = g / b, db = -g a / b^2
  backward(ctx, g) {
    const saved = [...ctx.saved];
    const a = T(ctx.data.a as Operand) ? saved.shift()! : (ctx.data.a as number);
    const b = T(ctx.data.b as Operand) ? saved.shift()! : (ctx.data.b as number);
    const da = ctx.needsGrad(0) ? binary('div', g, b) : null;
    let db: Tensor | null = null;
    if (ctx.needsGrad(1)) db = unary('neg', binary('mul', g, binary('div', a, binary('mul', b, b))));
    return [da, db];
  },
});

/** a ** b (PyTorch's rules for negative bases). */
export const pow = defineOp({
  name: 'pow',
  forward(ctx, a: Operand, b: Operand) {
    ctx.data.a = a;
    ctx.data.b = b;
    const out = binary('pow', a, b);
    if (T(a)) ctx.save(a);
    if (T(b)) ctx.save(b);
    ctx.save(out);
    return out;
  },
  // da = g b a^(b-1), db = g a^b ln a
  backward(ctx, g) {
    const saved = [...ctx.saved];
    const a = T(ctx.data.a as Operand) ? saved.shift()! : (ctx.data.a as number);
    const b = T(ctx.data.b as Operand) ? saved.shift()! : (ctx.data.b as number);
    const out = saved.shift()!;
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (ctx.needsGrad(0)) {
      const bm1 = typeof b === 'number' ? b - 1 : binary('sub', b, 1);
      da = binary('mul', g, binary('mul', b, binary('pow', a, bm1)));
    }
    if (ctx.needsGrad(1)) db = binary('mul', g, binary('mul', out, typeof a === 'number' ? Math.log(a) : unary('log', a)));
    return [da, db];
  },
});

function tieSplit(name: 'maximum' | 'minimum') {
  return defineOp({
    name,
    forward(ctx, a: Operand, b: Operand) {
      ctx.data.a = a;
      ctx.data.b = b;
      if (T(a)) ctx.save(a);
      if (T(b)) ctx.save(b);
      return binary(name, a, b);
    },
    // The chosen side gets g; ties split g evenly (as PyTorch).
    backward(ctx, g) {
      const saved = [...ctx.saved];
      const a = T(ctx.data.a as Operand) ? saved.shift()! : (ctx.data.a as number);
      const b = T(ctx.data.b as Operand) ? saved.shift()! : (ctx.data.b as number);
      const win = binary(name === 'maximum' ? 'gt' : 'lt', a, b);
      const tie = binary('eq', a, b);
      const wa = binary('add', win, binary('mul', tie, 0.5));
      return [ctx.needsGrad(0) ? binary('mul', g, wa) : null, ctx.needsGrad(1) ? binary('mul', g, binary('sub', 1, wa)) : null];
    },
  });
}

/** Elementwise maximum (ties share the gradient). */
export const maximum = tieSplit('maximum');
/** Elementwise minimum (ties share the gradient). */
export const minimum = tieSplit('minimum');

/** A unary op whose derivative is a function of its input x or output y. */
function unaryOp(name: Parameters<typeof unary>[0], grad: (ctx: OpContext, g: Tensor) => Tensor, saves: 'x' | 'y' | 'none') {
  return defineOp({
    name,
    forward(ctx, x: Tensor) {
      const y = unary(name, x);
      if (ctx.needsGrad(0)) {
        if (saves === 'x') ctx.save(x);
        if (saves === 'y') ctx.save(y);
      }
      return y;
    },
    backward: (ctx, g) => [grad(ctx, g)],
  });
}

const s0 = (ctx: OpContext) => ctx.saved[0];
/** -x */
export const neg = unaryOp('neg', (_c, g) => unary('neg', g), 'none'); // dx = -g
/** |x| */
export const abs = unaryOp('abs', (c, g) => binary('mul', g, unary('sign', s0(c))), 'x'); // dx = g sign(x)
/** e^x */
export const exp = unaryOp('exp', (c, g) => binary('mul', g, s0(c)), 'y'); // dx = g y
/** Natural log. */
export const log = unaryOp('log', (c, g) => binary('div', g, s0(c)), 'x'); // dx = g / x
/** Square root. */
export const sqrt = unaryOp('sqrt', (c, g) => binary('div', g, binary('mul', s0(c), 2)), 'y'); // dx = g / (2y)
/** 1 / sqrt(x) */
export const rsqrt = unaryOp('rsqrt', (c, g) => {
  const y = s0(c);
  return binary('mul', g, binary('mul', binary('mul', binary('mul', y, y), y), -0.5)); // dx = -g y^3 / 2
}, 'y');
/** max(x, 0) */
export const relu = unaryOp('relu', (c, g) => binary('reluBwd', g, s0(c)), 'x'); // dx = g [x > 0]
const geluErf = unaryOp('gelu', (c, g) => binary('geluBwd', g, s0(c)), 'x'); // dx = g (Φ(x) + x φ(x))
const geluTanh = unaryOp('geluTanh', (c, g) => binary('geluTanhBwd', g, s0(c)), 'x');
/** GELU: exact (erf) by default, or the tanh approximation with `approximate: 'tanh'`. */
export const gelu = (x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor =>
  opts.approximate === 'tanh' ? geluTanh(x) : geluErf(x);
/** 1 / (1 + e^-x) */
export const sigmoid = unaryOp('sigmoid', (c, g) => binary('sigmoidBwd', g, s0(c)), 'y'); // dx = g y (1 - y)
/** tanh(x) */
export const tanh = unaryOp('tanh', (c, g) => binary('tanhBwd', g, s0(c)), 'y'); // dx = g (1 - y^2)
/** x * x */
export const square = unaryOp('square', (c, g) => binary('mul', g, binary('mul', s0(c), 2)), 'x'); // dx = 2 g x

/** -1, 0 or 1 (not recorded: its gradient is zero). */
export const sign = (x: Tensor): Tensor => unary('sign', x);

/** Clamps to [lo, hi] (either may be omitted); the gradient passes where lo <= x <= hi. */
export const clamp = defineOp({
  name: 'clamp',
  forward(ctx, x: Tensor, lo?: number, hi?: number) {
    if (ctx.needsGrad(0)) ctx.save(x);
    ctx.data.lo = lo;
    ctx.data.hi = hi;
    return clampK(x, lo, hi);
  },
  backward(ctx, g) {
    const x = ctx.saved[0];
    const lo = ctx.data.lo as number | undefined;
    const hi = ctx.data.hi as number | undefined;
    let m: Tensor = g;
    if (lo !== undefined) m = binary('mul', m, binary('ge', x, lo));
    if (hi !== undefined) m = binary('mul', m, binary('le', x, hi));
    return [m];
  },
});

/** `cond ? a : b` with broadcasting; the gradient flows to the branch taken. */
export const where = defineOp({
  name: 'where',
  forward(ctx, cond: Tensor, a: Operand, b: Operand) {
    ctx.save(cond);
    return whereK(cond, a, b);
  },
  backward(ctx, g) {
    const c = ctx.saved[0];
    return [null, ctx.needsGrad(1) ? whereK(c, g, 0) : null, ctx.needsGrad(2) ? whereK(c, 0, g) : null];
  },
});

/** Converts to another dtype; differentiable only f32 -> f32. */
export const cast = defineOp({
  name: 'cast',
  forward: (_c, x: Tensor, dtype: DType) => castK(x, dtype),
  backward: (_c, g) => [g],
});

// Comparisons produce 0/1 masks and are not recorded: nothing flows back (as PyTorch's bool outputs).
/** a == b as f32 0/1 (no gradient). */
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b);
/** a != b as f32 0/1 (no gradient). */
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b);
/** a < b as f32 0/1 (no gradient). */
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b);
/** a <= b as f32 0/1 (no gradient). */
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b);
/** a > b as f32 0/1 (no gradient). */
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b);
/** a >= b as f32 0/1 (no gradient). */
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b);
