// The fused contrastive losses against the float64 reference: forward values and finite
// differences of every backward on small odd shapes (sizes that divide no tile), analytic float64
// gradients on larger ones, both kernel strategies (CPU-SIMD where the adapter has subgroups, and
// the portable GPU one), strided operands read in place, the memory-bank and queue kernels, a
// no-leak check of a loss step, and the one-line errors.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { checkOp, type RefArr } from '../helpers/check_op.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';
import { integers, uniform } from '../helpers/rand.js';
import {
  clipRef, cpcRef, infoNCERowsGradRef, infoNCERowsRef, instDiscNceRef, instDiscSoftmaxRef, mocoRef, mocoV3Ref, normalizeRows,
  ntXentRef, updateMemoryRef,
} from '../reference/contrastive.js';

const rt = await gpu();
afterAll(() => printReport('contrastive'));

type Strategy = wg.ContrastiveStrategy;
// WEBGRAD_TEST_STRATEGIES narrows the list (the SwiftShader project runs only cpu-simd at subgroup size 4).
const strategies: Strategy[] = (rt?.hasFeature('subgroups') && rt.strategy === 'cpu-simd' ? ['cpu-simd', 'gpu'] as Strategy[] : ['gpu'] as Strategy[])
  .filter((s) => !process.env.WEBGRAD_TEST_STRATEGIES || process.env.WEBGRAD_TEST_STRATEGIES.split(',').includes(s));

const i32 = (shape: number[], data: ArrayLike<number>) => ({ shape, data, dtype: 'i32' as const });

describe.skipIf(!rt).each(strategies)('contrastive losses, %s strategy', (strategy) => {
  it('ntXent: forward and finite differences (2N = 6, d = 3; 2N = 34, d = 17)', async () => {
    for (const [n2, d, tau] of [[6, 3, 0.5], [34, 17, 0.1], [8, 4, 0.2]]) {
      await checkOp(`ntXent [${n2},${d}] τ=${tau} ${strategy}`, [[n2, d]], (z) => ntXentRef(z, tau),
        (z) => wg.ntXent(z, { temperature: tau, strategy }));
    }
  });

  it('infoNCE: shift, masked diagonal, index positives, extra positive, batched strided operands', async () => {
    await checkOp(`infoNCE shift [7,5]x[11,5] ${strategy}`, [[7, 5], [11, 5]],
      (a, b) => infoNCERowsRef(a, b, { scale: 2, shift: 3 }),
      (a, b) => wg.infoNCE(a, b, { temperature: 0.5, positive: 3, reduction: 'none', strategy }));
    await checkOp(`infoNCE diag [9,8]x[9,8] ${strategy}`, [[9, 8], [9, 8]],
      (a, b) => infoNCERowsRef(a, b, { scale: 1 / 0.3, diag: true, shift: 2 }),
      (a, b) => wg.infoNCE(a, b, { temperature: 0.3, maskDiagonal: true, positive: 2, reduction: 'none', strategy }));
    const pos = [4, 0, 2, 2, 1, 3];
    await checkOp(`infoNCE index [6,7]x[5,7] ${strategy}`, [[6, 7], [5, 7], i32([6], pos)],
      (a, b) => infoNCERowsRef(a, b, { posIndex: pos }),
      (a, b, p) => wg.infoNCE(a, b, { positive: p, reduction: 'none', strategy }));
    await checkOp(`infoNCE extra [5,6]x[13,6] ${strategy}`, [[5, 6], [13, 6], [5]],
      (a, b, e) => infoNCERowsRef(a, b, { scale: 4, extra: e.data }),
      (a, b, e) => wg.infoNCE(a, b, { temperature: 0.25, extraPositive: e, reduction: 'none', strategy }));
    // a given as [M, batch, d] and b as [d, batch, nb]: both read through their strides.
    const perm = (x: RefArr, p: number[]) => {
      const s = p.map((i) => x.shape[i]);
      const st = [x.shape[1] * x.shape[2], x.shape[2], 1];
      const out = new Float64Array(x.data.length);
      let o = 0;
      for (let i = 0; i < s[0]; i++) for (let j = 0; j < s[1]; j++) for (let k = 0; k < s[2]; k++) {
        out[o++] = x.data[i * st[p[0]] + j * st[p[1]] + k * st[p[2]]];
      }
      return { data: out, shape: s };
    };
    await checkOp(`infoNCE batched strided [5,3,6]x[6,3,9] ${strategy}`, [[5, 3, 6], [6, 3, 9]],
      (a, b) => infoNCERowsRef(perm(a, [1, 0, 2]), perm(b, [1, 2, 0]), { shift: 1, diag: true }),
      (a, b) => wg.infoNCE(wg.permute(a, [1, 0, 2]), wg.permute(b, [1, 2, 0]), { positive: 1, maskDiagonal: true, reduction: 'none', strategy }));
  });

  it('larger odd shapes against analytic float64 gradients (2N = 130, d = 128 and 17; a queue layout)', async () => {
    const cases = [
      { M: 130, nb: 130, d: 128, same: true, o: { scale: 10, diag: true, shift: 65 } },
      { M: 130, nb: 130, d: 17, same: true, o: { scale: 2, diag: true, shift: 65 } },
      { M: 37, nb: 203, d: 20, same: false, o: { scale: 3, shift: 5 } },
    ];
    for (const [ci, c] of cases.entries()) {
      const A = uniform(c.M * c.d, 100 + ci);
      const B = c.same ? A : uniform(c.nb * c.d, 200 + ci);
      const G = uniform(c.M, 300 + ci);
      const a = wg.tensor(A, { shape: [c.M, c.d] });
      a.requiresGrad = true;
      // b stored transposed ([d, nb], as a MoCo queue) and read through a transposed view.
      const bT = c.same ? a : wg.tensor(Float32Array.from({ length: c.nb * c.d }, (_, i) => B[(i % c.nb) * c.d + Math.floor(i / c.nb)]), { shape: [c.d, c.nb] });
      bT.requiresGrad = true;
      const out = wg.scope(() => {
        const b = c.same ? a : wg.transpose(bT, 0, 1);
        const rows = wg.infoNCE(a, b, { temperature: 1 / c.o.scale, maskDiagonal: c.o.diag, positive: c.o.shift, reduction: 'none', strategy });
        wg.backward(rows, wg.tensor(G, { shape: [c.M] }));
        return rows;
      });
      const ra = { data: Float64Array.from(A), shape: [c.M, c.d] };
      const rb = { data: Float64Array.from(B), shape: [c.nb, c.d] };
      const name = `infoNCE large ${strategy}`;
      expectClose(`${name} fwd`, await out.data(), infoNCERowsRef(ra, rb, c.o).data, { rtol: 2e-5, atol: 2e-5 });
      const grads = infoNCERowsGradRef(ra, rb, c.o, G);
      const da = c.same ? grads.da.map((v, i) => v + grads.db[i]) : grads.da;
      const gmax = Math.max(1, ...da.map(Math.abs));
      expectClose(`${name} grad`, await a.grad!.data(), da, { rtol: 1e-4, atol: 2e-5 * gmax });
      if (!c.same) {
        const dbT = Float64Array.from({ length: c.nb * c.d }, (_, i) => grads.db[(i % c.nb) * c.d + Math.floor(i / c.nb)]);
        expectClose(`${name} grad`, await bT.grad!.data(), dbT, { rtol: 1e-4, atol: 2e-5 * Math.max(1, ...dbT.map(Math.abs)) });
      }
      for (const t of [out, a, bT]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
  });

  it('mocoLoss, mocoV3Loss, clipLoss, cpcInfoNCE: forward and finite differences', async () => {
    await checkOp(`mocoLoss [5,6] K=13 ${strategy}`, [[5, 6], { shape: [5, 6], constant: true }, [6, 13]],
      (q, k, queue) => mocoRef(q, k, queue, 0.2),
      (q, k, queue) => wg.mocoLoss(q, k, queue, { temperature: 0.2, strategy }));
    await checkOp(`mocoV3Loss [6,5] ${strategy}`, [[6, 5], [6, 5], { shape: [6, 5], constant: true }, { shape: [6, 5], constant: true }],
      (q1, q2, k1, k2) => mocoV3Ref(q1, q2, k1, k2, 0.2),
      (q1, q2, k1, k2) => wg.mocoV3Loss(q1, q2, k1, k2, { temperature: 0.2, strategy }));
    await checkOp(`clipLoss [7,5] ${strategy}`, [[7, 5], [7, 5], { shape: [], data: [1.3] }],
      (i, t, s) => clipRef(i, t, s.data[0]),
      (i, t, s) => wg.clipLoss(i, t, s, { strategy }));
    await checkOp(`cpcInfoNCE [3,5,4] K=2 ${strategy}`, [[3, 5, 4], [3, 5, 6], [6, 4], [6, 4]],
      (c, z, w1, w2) => cpcRef(c, z, [w1, w2]),
      (c, z, w1, w2) => wg.cpcInfoNCE(c, z, [w1, w2], { strategy }));
  });
});

describe.skipIf(!rt)('memory bank and queue', () => {
  it('instDiscLoss softmax and NCE forms: forward and finite differences', async () => {
    const [N, d, n, K] = [5, 6, 11, 4];
    const memData = normalizeRows(uniform(n * d, 7), n, d);
    const index = Array.from(integers(N, 8, 0, n));
    const neg = Array.from(integers(N * K, 9, 0, n));
    const mem = { shape: [n, d], data: memData, constant: true };
    await checkOp('instDiscLoss softmax', [[N, d], mem, i32([N], index), i32([N, K], neg)],
      (v, m) => instDiscSoftmaxRef(v, m, index, neg, K, 0.1),
      (v, m, i, g) => wg.instDiscLoss(v, m, i, g, { temperature: 0.1 }));
    // The NCE normaliser is given (a constant for the gradient, as in the op with a fixed Z).
    await checkOp('instDiscLoss nce', [[N, d], mem, i32([N], index), i32([N, K], neg)],
      (v, m) => instDiscNceRef(v, m, index, neg, K, 0.1, n, 1e-7, 3.5),
      (v, m, i, g) => wg.instDiscLoss(v, m, i, g, { temperature: 0.1, form: 'nce', nData: n, normalizer: 3.5 }));
    // Without a given Z, the forward uses the batch estimate.
    const v = wg.tensor(uniform(N * 8, 10), { shape: [N, 8] });
    const m8 = wg.tensor(Float32Array.from(normalizeRows(uniform(n * 8, 11), n, 8)), { shape: [n, 8] });
    const it = wg.tensor(index, { dtype: 'i32' });
    const nt = wg.tensor(neg, { shape: [N, K], dtype: 'i32' });
    const l = wg.instDiscLoss(v, m8, it, nt, { form: 'nce', nData: n });
    const want = instDiscNceRef({ data: Float64Array.from(await v.data()), shape: [N, 8] }, { data: Float64Array.from(await m8.data()), shape: [n, 8] }, index, neg, K, 0.07, n, 1e-7);
    expectClose('instDiscLoss nce fwd', [await l.item()], want.data, { rtol: 1e-5, atol: 1e-5 });
    for (const t of [v, m8, it, nt, l]) t.dispose();
  });

  it('updateMemoryBank and enqueue write in place (wrapping)', async () => {
    const [n, d, N] = [9, 5, 4];
    const mem0 = normalizeRows(uniform(n * d, 1), n, d);
    const memory = wg.tensor(Float32Array.from(mem0), { shape: [n, d] });
    const index = [7, 0, 3, 8];
    const v = uniform(N * d, 2);
    const vt = wg.tensor(v, { shape: [N, d] });
    const it = wg.tensor(index, { dtype: 'i32' });
    wg.updateMemoryBank(memory, it, vt, 0.5);
    expectClose('updateMemoryBank', await memory.data(), updateMemoryRef({ data: mem0, shape: [n, d] }, index, v, 0.5), { rtol: 1e-6, atol: 1e-6 });

    const [C, K] = [3, 10];
    const q0 = uniform(C * K, 3);
    const queue = wg.tensor(q0, { shape: [C, K] });
    const keys = uniform(N * C, 4);
    const kt = wg.tensor(keys, { shape: [N, C] });
    expect(wg.enqueue(queue, kt, 8)).toBe(2);
    const want = Float64Array.from(q0);
    for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) want[c * K + ((8 + i) % K)] = keys[i * C + c];
    expectClose('enqueue', await queue.data(), want, { rtol: 0, atol: 0 });
    for (const t of [memory, vt, it, queue, kt]) t.dispose();
  });
});

describe.skipIf(!rt)('a contrastive training step', () => {
  it('ntXent + mocoLoss + enqueue through a linear layer leaks no buffers', async () => {
    const w = wg.keep(wg.tensor(uniform(12 * 16, 5), { shape: [16, 12] }));
    w.requiresGrad = true;
    const x = wg.keep(wg.tensor(uniform(10 * 12, 6), { shape: [10, 12] }));
    const queue = wg.keep(wg.tensor(uniform(16 * 20, 7), { shape: [16, 20] }));
    let ptr = 0;
    const step = () => wg.scope(() => {
      const z = wg.matmul(x, w, { transB: true });
      const q = wg.slice(z, 0, 0, 5);
      const k = wg.slice(z, 0, 5, 10);
      wg.backward(wg.add(wg.ntXent(z), wg.mocoLoss(q, k, queue)));
      ptr = wg.noGrad(() => wg.enqueue(queue, wg.normalize(k), ptr));
      w.grad?.dispose();
      w.grad = null;
    });
    await expectNoLeak(step, { steps: 10 });
    for (const t of [w, x, queue]) t.dispose();
  });
});

describe.skipIf(!rt)('contrastive errors', () => {
  it('name the op and the shapes', () => {
    const z = wg.zeros([5, 4]);
    expect(() => wg.ntXent(z)).toThrow(/^ntXent: expects z f32 \[2N, d\].*got f32 \[5,4\]$/);
    expect(() => wg.infoNCE(wg.zeros([3, 4]), wg.zeros([3, 5]))).toThrow(/^contrastive: feature dims differ, a \[3,4\], b \[3,5\]$/);
    expect(() => wg.infoNCE(wg.zeros([3, 4]), wg.zeros([3, 4]), { extraPositive: wg.zeros([2]) })).toThrow(/extra logits must be f32 \[3\], got f32 \[2\]/);
    expect(() => wg.infoNCE(wg.zeros([3, 4]), wg.zeros([3, 4]), { temperature: 0 })).toThrow(/^infoNCE: temperature must be > 0/);
    expect(() => wg.mocoLoss(wg.zeros([3, 4]), wg.zeros([3, 4]), wg.zeros([5, 8]))).toThrow(/^mocoLoss: expects q \[N, C\], k \[N, C\] and queue \[C, K\], got .*queue f32 \[5,8\]$/);
    expect(() => wg.enqueue(wg.zeros([4, 3]), wg.zeros([5, 4]), 0)).toThrow(/^enqueue: 5 keys do not fit in a queue of 3/);
    expect(() => wg.cpcInfoNCE(wg.zeros([2, 3, 4]), wg.zeros([2, 3, 5]), [wg.zeros([5, 4]), wg.zeros([5, 4]), wg.zeros([5, 4])])).toThrow(/^cpcInfoNCE: needs 1 <= K < T predictors, got K = 3 with T = 3$/);
    expect(() => wg.instDiscLoss(wg.zeros([3, 4]), wg.zeros([6, 4]), wg.zeros([3], 'i32'), wg.zeros([3, 2], 'i32'), { form: 'nce' })).toThrow(/^instDiscLoss: the 'nce' form needs nData/);
  });
});
