/** The functional op API (no autograd yet): thin, documented wrappers over the kernel launchers. */
import { binary, unary, type Operand } from './kernels/elementwise.js';
import type { Tensor } from './tensor.js';

export { where, clamp, cast, copy } from './kernels/elementwise.js';
export type { Operand } from './kernels/elementwise.js';

/** -x */
export const neg = (x: Tensor): Tensor => unary('neg', x);
/** |x| */
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** e^x */
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unary('log', x);
/** Square root. */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1 / sqrt(x) */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** GELU: exact (erf) by default, or the tanh approximation with `approximate: 'tanh'`. */
export const gelu = (x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor =>
  unary(opts.approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
/** 1 / (1 + e^-x) */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
/** x * x */
export const square = (x: Tensor): Tensor => unary('square', x);
/** -1, 0 or 1 */
export const sign = (x: Tensor): Tensor => unary('sign', x);

/** a + b (broadcasting; either may be a number). */
export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
/** a - b */
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
/** a * b */
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
/** a / b */
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
/** a ** b (negative bases with integral exponents as PyTorch). */
export const pow = (a: Operand, b: Operand): Tensor => binary('pow', a, b);
/** Elementwise maximum. */
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
/** Elementwise minimum. */
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
/** a == b as f32 0/1. */
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b);
/** a != b as f32 0/1. */
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b);
/** a < b as f32 0/1. */
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b);
/** a <= b as f32 0/1. */
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b);
/** a > b as f32 0/1. */
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b);
/** a >= b as f32 0/1. */
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b);

export { matmul, matmulShape, type MatmulOptions } from './kernels/matmul.js';
export { indexSelect, gather, scatterAdd, indexAdd, oneHot } from './kernels/gather.js';
export { sum, mean, max, min, variance, argmax, argmin, type Axes, type VarianceOptions } from './kernels/reduce.js';
export { softmax, logSoftmax, logsumexp } from './kernels/softmax.js';
