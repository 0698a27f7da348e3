// Elementwise kernels against the float64 reference: every unary and binary op at the edge sizes
// (1, 3, 17, 1000, 4099 in one dim at a time, zero-size dims), broadcasting, scalars, strided
// views, dtypes, and a grid above 65,535 workgroups.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { integers, uniform } from '../helpers/rand.js';
import { erf, gelu, geluTanh, mapRef, sigmoid, size } from '../reference/core.js';

const rt = await gpu();
afterAll(() => printReport('elementwise'));

export const EDGE_SHAPES: number[][] = [
  [1], [3], [17], [1000], [4099],
  [3, 1], [1, 17], [4099, 3], [3, 1000], [2, 3, 17],
  [0], [3, 0], [0, 5],
];

type Unary = [keyof typeof wg, (x: number) => number, [number, number], number?];
const UNARY: Unary[] = [
  ['neg', (x) => -x, [-3, 3]],
  ['abs', Math.abs, [-3, 3]],
  ['exp', Math.exp, [-5, 5]],
  ['log', Math.log, [0.01, 10]],
  ['sqrt', Math.sqrt, [0, 10]],
  ['rsqrt', (x) => 1 / Math.sqrt(x), [0.01, 10]],
  ['relu', (x) => Math.max(x, 0), [-3, 3]],
  ['sigmoid', sigmoid, [-20, 20]],
  ['tanh', Math.tanh, [-10, 10]],
  ['square', (x) => x * x, [-3, 3]],
  ['sign', Math.sign, [-3, 3]],
];

describe.skipIf(!rt)('elementwise unary', () => {
  for (const [name, ref, [lo, hi]] of UNARY) {
    it(`${name} at edge sizes`, async () => {
      for (const shape of EDGE_SHAPES) {
        const data = uniform(size(shape), shape.length * 1000 + size(shape), lo, hi);
        const x = wg.tensor(data, { shape });
        const y = (wg[name] as (t: wg.Tensor) => wg.Tensor)(x);
        expect(y.shape).toEqual(shape);
        expectClose(name, await y.data(), mapRef([{ data, shape }], ref).data, { rtol: 2e-6, atol: 1e-6 }, shape);
        x.dispose();
        y.dispose();
      }
    });
  }

  it('gelu (erf and tanh forms) and extreme inputs', async () => {
    const data = uniform(4099, 7, -8, 8);
    data.set([0, -0, 30, -30, 1e-8, 88, -88], 0);
    const x = wg.tensor(data);
    expectClose('gelu', await wg.gelu(x).data(), Array.from(data, gelu), { rtol: 1e-5, atol: 1e-6 });
    expectClose('geluTanh', await wg.gelu(x, { approximate: 'tanh' }).data(), Array.from(data, geluTanh), { rtol: 1e-5, atol: 1e-6 });
    expectClose('tanh', await wg.tanh(x).data(), Array.from(data, Math.tanh), { rtol: 1e-6, atol: 1e-6 });
    expectClose('sigmoid', await wg.sigmoid(x).data(), Array.from(data, sigmoid), { rtol: 1e-6, atol: 1e-7 });
    expect(Math.abs(erf(0.5) - 0.5204998778130465)).toBeLessThan(1e-15);
  });

  it('integer dtypes for neg, abs, relu', async () => {
    const data = integers(1000, 3, -50, 50);
    const x = wg.tensor(data, { dtype: 'i32' });
    expect(Array.from(await wg.neg(x).data())).toEqual(Array.from(data, (v) => -v || 0));
    expect(Array.from(await wg.abs(x).data())).toEqual(Array.from(data, Math.abs));
    expect(Array.from(await wg.relu(x).data())).toEqual(Array.from(data, (v) => Math.max(v, 0)));
    expect(() => wg.exp(x)).toThrow(/exp: dtype i32 not supported/);
  });
});

type Binary = [keyof typeof wg, (a: number, b: number) => number];
const BINARY: Binary[] = [
  ['add', (a, b) => a + b],
  ['sub', (a, b) => a - b],
  ['mul', (a, b) => a * b],
  ['div', (a, b) => a / b],
  ['maximum', Math.max],
  ['minimum', Math.min],
  ['eq', (a, b) => +(a === b)],
  ['ne', (a, b) => +(a !== b)],
  ['lt', (a, b) => +(a < b)],
  ['le', (a, b) => +(a <= b)],
  ['gt', (a, b) => +(a > b)],
  ['ge', (a, b) => +(a >= b)],
];

const PAIRS: [number[], number[]][] = [
  [[1], [1]], [[3], [3]], [[17], [1]], [[1000], [1000]], [[4099], [4099]],
  [[4099, 3], [3]], [[3, 1], [1, 1000]], [[17, 1, 3], [1, 5, 1]], [[2, 3, 4, 5], [3, 1, 5]],
  [[0, 3], [3]], [[3, 0], [3, 1]], [[], [2, 2]],
];

describe.skipIf(!rt)('elementwise binary', () => {
  for (const [name, ref] of BINARY) {
    it(`${name} with broadcasting at edge sizes`, async () => {
      for (const [sa, sb] of PAIRS) {
        // Small integer grid so comparisons see ties.
        const a = Float32Array.from(integers(size(sa), 11 + sa.length, -4, 5), (v) => v / 2);
        const b = Float32Array.from(integers(size(sb), 13 + sb.length, -4, 5), (v) => (v === 0 && name === 'div' ? 1 : v / 2));
        const ta = wg.tensor(a, { shape: sa });
        const tb = wg.tensor(b, { shape: sb });
        const out = (wg[name] as (x: wg.Tensor, y: wg.Tensor) => wg.Tensor)(ta, tb);
        const want = mapRef([{ data: a, shape: sa }, { data: b, shape: sb }], ref);
        expect(out.shape).toEqual(want.shape);
        expectClose(name, await out.data(), want.data, { rtol: 1e-6, atol: 0 }, want.shape);
        wg.scope(() => [ta, tb, out].forEach((t) => t.dispose()));
      }
    });
  }

  it('pow with negative bases, integral and fractional exponents, 0^0', async () => {
    const a = wg.tensor([-2, -2, -2, 0, 0, 2, 3, -0.5]);
    const b = wg.tensor([2, 3, 0.5, 0, 2, -1, 1.5, -2]);
    const got = await wg.pow(a, b).data();
    const want = [4, -8, NaN, 1, 0, 0.5, 3 ** 1.5, 4];
    expectClose('pow', got, want, { rtol: 1e-6 });
  });

  it('scalars on either side, and integer tensors', async () => {
    const data = uniform(17, 5, -2, 2);
    const x = wg.tensor(data);
    expectClose('add', await wg.add(x, 1.5).data(), Array.from(data, (v) => v + 1.5));
    expectClose('sub', await wg.sub(1.5, x).data(), Array.from(data, (v) => 1.5 - v));
    expectClose('div', await wg.div(1, x).data(), Array.from(data, (v) => 1 / v), { rtol: 1e-6 });
    expectClose('pow', await wg.pow(x, 2).data(), Array.from(data, (v) => v * v), { rtol: 1e-6 });
    expectClose('gt', await wg.gt(x, 0).data(), Array.from(data, (v) => +(v > 0)));
    const i = wg.tensor([7, -7, 3], { dtype: 'i32' });
    expect(Array.from(await wg.div(i, 2).data())).toEqual([3, -3, 1]);
    expect(Array.from(await wg.mul(i, wg.tensor([2, 3, 4], { dtype: 'i32' })).data())).toEqual([14, -21, 12]);
    expect(() => wg.add(i, 0.5)).toThrow(/scalar 0.5 is not a valid i32/);
    expect(() => wg.add(i, x)).toThrow(/add: dtypes differ, i32 \[3\] and f32 \[17\]/);
  });

  it('shape errors name the op and both shapes', () => {
    const a = wg.zeros([2, 3]);
    const b = wg.zeros([4]);
    expect(() => wg.add(a, b)).toThrow('add: shapes [2,3] and [4] cannot be broadcast');
  });
});

describe.skipIf(!rt)('where, clamp, cast, copies and views', () => {
  it('where with broadcasting and scalar branches', async () => {
    const c = wg.tensor([1, 0, 1, 0, 0, 1], { shape: [2, 3] });
    const a = wg.tensor([10, 20, 30]);
    const b = wg.tensor([[-1], [-2]]);
    expect(Array.from(await wg.where(c, a, b).data())).toEqual([10, -1, 30, -2, -2, 30]);
    expect(Array.from(await wg.where(c, a, 0).data())).toEqual([10, 0, 30, 0, 0, 30]);
    expect(Array.from(await wg.where(c, 5, b).data())).toEqual([5, -1, 5, -2, -2, 5]);
    expect(Array.from(await wg.where(c, 5, 7).data())).toEqual([5, 7, 5, 7, 7, 5]);
  });

  it('clamp with one or two bounds', async () => {
    const data = uniform(1000, 9, -3, 3);
    const x = wg.tensor(data);
    expectClose('clamp', await wg.clamp(x, -1, 1).data(), Array.from(data, (v) => Math.min(Math.max(v, -1), 1)));
    expectClose('clamp', await wg.clamp(x, 0).data(), Array.from(data, (v) => Math.max(v, 0)));
    expectClose('clamp', await wg.clamp(x, undefined, 0.5).data(), Array.from(data, (v) => Math.min(v, 0.5)));
  });

  it('cast between f32, i32 and u32', async () => {
    const x = wg.tensor([-2.7, -0.5, 0.5, 2.7, 100]);
    expect(Array.from(await wg.cast(x, 'i32').data())).toEqual([-2, 0, 0, 2, 100]);
    const u = wg.cast(wg.tensor([1, 2, 3], { dtype: 'i32' }), 'u32');
    expect(u.dtype).toBe('u32');
    expect(Array.from(await wg.cast(u, 'f32').data())).toEqual([1, 2, 3]);
  });

  it('ops read permuted and sliced views without copies', async () => {
    const data = uniform(4 * 5 * 6, 21);
    const x = wg.tensor(data, { shape: [4, 5, 6] });
    const p = wg.permute(x, [2, 0, 1]); // [6,4,5]
    const want = new Float64Array(120);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) want[(i * 4 + j) * 5 + k] = data[(j * 5 + k) * 6 + i] * 2;
    expectClose('mul', await wg.mul(p, 2).data(), want);
    const s = wg.slice(x, 2, 1, 6, 2); // [4,5,3]: columns 1,3,5
    const ws: number[] = [];
    for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) for (const i of [1, 3, 5]) ws.push(data[(j * 5 + k) * 6 + i] + 1);
    expectClose('add', await wg.add(s, 1).data(), ws);
  });

  it('grids above 65,535 workgroups are split', async () => {
    const n = 65_536 * 64 + 17; // 65,537 workgroups of 64
    const x = wg.arange(0, n, 1, 'i32');
    const y = wg.add(x, 1);
    const got = (await y.data()) as Int32Array;
    expect(got.length).toBe(n);
    expect(got[0]).toBe(1);
    expect(got[n - 1]).toBe(n);
    let ok = true;
    for (let i = 0; i < n; i += 997) ok &&= got[i] === i + 1;
    expect(ok).toBe(true);
  });
});
