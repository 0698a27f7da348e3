// Fused attention (src/kernels/attention.ts) against the float64 reference, forward and backward
// (finite differences), for both kernel variants: odd sizes that fill no tile (Tq, Tk not
// multiples of the subgroup or the rows per workgroup), head dims that are not multiples of 4
// (scalar mode), cross-attention (Tq != Tk), causal and additive masks (broadcast, -Infinity
// entries, fully masked rows), strided inputs, and the packed qkv entry.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import type { AttentionStrategy } from '../../src/kernels/attention.js';
import { checkOp } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { rng } from '../helpers/rand.js';
import { attentionQKVRef, attentionRef } from '../reference/attention.js';

const rt = await gpu();
afterAll(() => printReport('attention'));

// WEBGRAD_TEST_STRATEGIES narrows the list (the SwiftShader project runs only cpu-simd at subgroup size 4).
const STRATEGIES = (process.env.WEBGRAD_TEST_STRATEGIES?.split(',') ?? ['cpu-simd', 'gpu']) as AttentionStrategy[];
const usable = (s: AttentionStrategy) => !!rt && (s !== 'cpu-simd' || (rt.hasFeature('subgroups') && rt.acquired.info.subgroupMinSize === rt.acquired.info.subgroupMaxSize));
const FD = { grad: { rtol: 1e-3, atol: 1e-4 } };

/** A mask of shape `shape` with values in [-2, 2) and every 7th entry -Infinity. */
function maskSpec(shape: number[], seed: number) {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, constant: true, data: Array.from({ length: n }, (_, i) => (i % 7 === 3 ? -Infinity : Math.fround(4 * r() - 2))) };
}

for (const strategy of STRATEGIES) describe.skipIf(!usable(strategy))(`attention (${strategy})`, () => {
  const sdpa = (o: wg.AttentionOptions = {}) => (q: wg.Tensor, k: wg.Tensor, v: wg.Tensor, m?: wg.Tensor) =>
    wg.scaledDotProductAttention(q, k, v, { ...o, mask: m ?? o.mask, strategy });

  it('self- and cross-attention at odd sizes, vec4 and scalar head dims', async () => {
    const cases: [number[], number][] = [
      [[1, 1, 5, 4], 5], [[2, 3, 17, 8], 9], [[1, 2, 13, 3], 13], [[1, 1, 37, 20], 41], [[1, 1, 1, 1], 1],
      // The portable variant compiles fast: one more scalar head dim there.
      ...(strategy === 'gpu' ? [[[2, 1, 3, 6], 70] as [number[], number]] : []),
    ];
    for (const [[B, H, Tq, hd], Tk] of cases) {
      await checkOp(`attention ${strategy} q[${B},${H},${Tq},${hd}] Tk ${Tk}`, [[B, H, Tq, hd], [B, H, Tk, hd], [B, H, Tk, hd]],
        (q, k, v) => attentionRef(q, k, v), sdpa(), FD);
    }
  });

  it('causal, additive masks (broadcast, -Infinity), custom scale', async () => {
    await checkOp(`attention ${strategy} causal`, [[2, 2, 19, 8], [2, 2, 19, 8], [2, 2, 19, 8]],
      (q, k, v) => attentionRef(q, k, v, { causal: true }), sdpa({ causal: true }), FD);
    await checkOp(`attention ${strategy} mask [Tq,Tk]`, [[2, 2, 11, 5], [2, 2, 9, 5], [2, 2, 9, 5], maskSpec([11, 9], 1)],
      (q, k, v, m) => attentionRef(q, k, v, { mask: m }), sdpa(), FD);
    await checkOp(`attention ${strategy} mask [B,1,Tq,Tk] + causal + scale`, [[2, 3, 10, 4], [2, 3, 10, 4], [2, 3, 10, 4], maskSpec([2, 1, 10, 10], 2)],
      (q, k, v, m) => attentionRef(q, k, v, { mask: m, causal: true, scale: 0.7 }), sdpa({ causal: true, scale: 0.7 }), FD);
  });

  it('a fully masked query row gives zeros and zero gradients', async () => {
    const mask = wg.tensor([0, 0, 0, -Infinity, -Infinity, -Infinity, 0, -Infinity, 0], { shape: [3, 3] });
    const x = (s: number) => wg.randn([1, 1, 3, 4], { generator: new wg.Generator(s) });
    const [q, k, v] = [x(1), x(2), x(3)];
    for (const t of [q, k, v]) t.requiresGrad = true;
    const y = wg.scaledDotProductAttention(q, k, v, { mask, strategy });
    wg.backward(y, wg.onesLike(y));
    const out = await y.data();
    expect(Array.from(out.slice(4, 8), Math.abs)).toEqual([0, 0, 0, 0]);
    const ref = attentionRef({ data: Float64Array.from(await q.data()), shape: [1, 1, 3, 4] }, { data: Float64Array.from(await k.data()), shape: [1, 1, 3, 4] },
      { data: Float64Array.from(await v.data()), shape: [1, 1, 3, 4] }, { mask: { data: Float64Array.from(await mask.data()), shape: [3, 3] } });
    expectClose('attention fully-masked fwd', out, ref.data, { rtol: 2e-5, atol: 1e-5 });
    expect(Array.from((await q.grad!.data()).slice(4, 8), Math.abs)).toEqual([0, 0, 0, 0]);
    for (const t of [q, k, v, y, mask]) t.dispose();
  });

  it('strided inputs: head-major views and a non-unit last stride', async () => {
    // q as a [B, T, H, hd] tensor permuted to [B, H, T, hd]; v with hd strided (copied internally).
    await checkOp(`attention ${strategy} permuted views`, [[2, 7, 3, 8], [2, 3, 8, 7], [2, 3, 7, 8]],
      (q, k, v) => {
        const perm = (a: typeof q, p: number[]) => {
          const s = a.shape, out = new Float64Array(a.data.length), ns = p.map((i) => s[i]);
          const st = [s[1] * s[2] * s[3], s[2] * s[3], s[3], 1];
          for (let i0 = 0; i0 < ns[0]; i0++) for (let i1 = 0; i1 < ns[1]; i1++) for (let i2 = 0; i2 < ns[2]; i2++) for (let i3 = 0; i3 < ns[3]; i3++) {
            const idx = [i0, i1, i2, i3];
            const src = p.reduce((acc, d, j) => acc + idx[j] * st[d], 0);
            out[((i0 * ns[1] + i1) * ns[2] + i2) * ns[3] + i3] = a.data[src];
          }
          return { data: out, shape: ns };
        };
        return attentionRef(perm(q, [0, 2, 1, 3]), perm(k, [0, 1, 3, 2]), v);
      },
      (q, k, v) => wg.scaledDotProductAttention(wg.permute(q, [0, 2, 1, 3]), wg.permute(k, [0, 1, 3, 2]), v, { strategy }), FD);
  });

  it('packed qkv [B, T, 3D] -> [B, T, D], heads 1..4, vec4 and scalar', async () => {
    for (const [B, T, D, heads] of [[2, 9, 32, 4], [1, 13, 12, 3], [3, 5, 6, 2], [1, 33, 16, 1]]) {
      await checkOp(`attentionQKV ${strategy} [${B},${T},${3 * D}] heads ${heads}`, [[B, T, 3 * D]],
        (x) => attentionQKVRef(x, heads), (x) => wg.attentionQKV(x, heads, { strategy }), FD);
    }
    await checkOp(`attentionQKV ${strategy} causal`, [[2, 10, 24]], (x) => attentionQKVRef(x, 2, { causal: true }),
      (x) => wg.attentionQKV(x, 2, { causal: true, strategy }), FD);
  });
});

describe.skipIf(!rt)('attention errors', () => {
  it('names the shapes', () => {
    const q = wg.zeros([1, 2, 3, 4]);
    const k = wg.zeros([1, 2, 5, 4]);
    const bad = wg.zeros([1, 2, 6, 4]);
    expect(() => wg.scaledDotProductAttention(q, k, bad)).toThrow('attention: q, k, v must agree as [B, H, Tq, hd], [B, H, Tk, hd], [B, H, Tk, hd], got q [1,2,3,4], k [1,2,5,4], v [1,2,6,4]');
    expect(() => wg.scaledDotProductAttention(q, k, k, { mask: wg.zeros([4, 5]) })).toThrow('attention: mask not broadcastable to [1,2,3,5]');
    expect(() => wg.attentionQKV(wg.zeros([2, 3, 10]), 2)).toThrow('attentionQKV: expects qkv [B, T, 3*D] with D divisible by heads, got [2,3,10] and heads 2');
    for (const t of [q, k, bad]) t.dispose();
  });
});
