// The ViT options the goldens (vit_goldens.test.ts) do not cover: timm's key names, shapes and
// published parameter counts for ViT-Ti/S/B at patch 16 / 224 px (built, counted, disposed: no
// forward), the MAE token-subset encoder against the full encoder on the gathered tokens, the
// frozen (MoCo v3) patch projection under an SGD step, a training step without buffer leaks, the
// head options, DropPath, causal attention, and shape errors.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import {
  Attention, DropPath, SGD, VisionTransformer, sincosPosEmbed2d, vitBase, vitSmall, vitTiny,
} from '../../models/index.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';

const rt = await gpu();

const gen = (seed: number) => new wg.Generator(seed);
const arr = async (t: wg.Tensor) => Array.from(await t.data());
const count = (m: { parameters(): wg.Tensor[] }) => m.parameters().reduce((n, p) => n + p.size, 0);

/** timm's state_dict (names and shapes, in order) of a patch-16 ViT with a class token, learned pos_embed and a head. */
function timmKeys(D: number, depth: number, img: number, classes: number): [string, number[]][] {
  const N = (img / 16) ** 2;
  const keys: [string, number[]][] = [
    ['cls_token', [1, 1, D]], ['pos_embed', [1, N + 1, D]], ['patch_embed.proj.weight', [D, 3, 16, 16]], ['patch_embed.proj.bias', [D]],
  ];
  for (let i = 0; i < depth; i++) {
    const b = `blocks.${i}.`;
    keys.push(
      [`${b}norm1.weight`, [D]], [`${b}norm1.bias`, [D]], [`${b}attn.qkv.weight`, [3 * D, D]], [`${b}attn.qkv.bias`, [3 * D]],
      [`${b}attn.proj.weight`, [D, D]], [`${b}attn.proj.bias`, [D]], [`${b}norm2.weight`, [D]], [`${b}norm2.bias`, [D]],
      [`${b}mlp.fc1.weight`, [4 * D, D]], [`${b}mlp.fc1.bias`, [4 * D]], [`${b}mlp.fc2.weight`, [D, 4 * D]], [`${b}mlp.fc2.bias`, [D]],
    );
  }
  keys.push(['norm.weight', [D]], ['norm.bias', [D]], ['head.weight', [classes, D]], ['head.bias', [classes]]);
  return keys;
}

/** A small ViT for the behavioural tests: 16x16 images, patch 4 (16 patches), D 32, 2 blocks, 2 heads. */
const small = (opts: ConstructorParameters<typeof VisionTransformer>[0] = {}) => new VisionTransformer({
  imgSize: 16, patchSize: 4, inChans: 3, embedDim: 32, depth: 2, numHeads: 2, numClasses: 0, generator: gen(7), ...opts,
});

describe.skipIf(!rt)('VisionTransformer', () => {
  it.each([
    ['tiny', vitTiny, 192, 5_717_416],
    ['small', vitSmall, 384, 22_050_664],
    ['base', vitBase, 768, 86_567_656],
  ] as const)('ViT-%s/16 at 224 px has timm\'s keys, shapes and parameter count', async (_name, make, D, expected) => {
    const vit = make({ generator: gen(1) });
    try {
      expect([...vit.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(timmKeys(D, 12, 224, 1000));
      expect(count(vit)).toBe(expected);
      expect(vit.namedBuffers()).toEqual([]);
    } finally {
      vit.dispose();
      // Drop the freed weights from the pool, so they do not fill its free-bytes cap and make the
      // later no-leak check see buffers destroyed and re-created.
      await wg.sync();
      rt!.pool.trim();
    }
  });

  it('sincos: pos_embed is a buffer (saved, not trained) with a zero class row; MAE\'s table', async () => {
    const vit = small({ posEmbed: 'sincos' });
    try {
      expect(vit.namedBuffers().map(([k]) => k)).toEqual(['pos_embed']);
      expect(vit.namedParameters().map(([k]) => k)).not.toContain('pos_embed');
      expect([...vit.stateDict().keys()]).toContain('pos_embed');
      const pe = await arr(vit.posEmbed);
      expect(pe.slice(0, 32).every((v) => v === 0)).toBe(true);
      // Patch (row 1, col 2) of the 4x4 grid: [sin(2ω), cos(2ω), sin(ω), cos(ω)], ω_k = 10000^(-k/8).
      const row = pe.slice((1 + 1 * 4 + 2) * 32, (1 + 1 * 4 + 2 + 1) * 32);
      const w = (k: number) => 10000 ** (-k / 8);
      for (let k = 0; k < 8; k++) {
        expect(row[k]).toBeCloseTo(Math.sin(2 * w(k)), 6);
        expect(row[8 + k]).toBeCloseTo(Math.cos(2 * w(k)), 6);
        expect(row[16 + k]).toBeCloseTo(Math.sin(w(k)), 6);
        expect(row[24 + k]).toBeCloseTo(Math.cos(w(k)), 6);
      }
      // A non-square grid: rows follow the row-major patch order.
      const t = sincosPosEmbed2d(8, 2, 3, { classToken: false });
      expect(t.length).toBe(6 * 8);
      expect(t[(1 * 3 + 2) * 8]).toBeCloseTo(Math.sin(2), 6);
      expect(t[(1 * 3 + 2) * 8 + 4]).toBeCloseTo(Math.sin(1), 6);
    } finally {
      vit.dispose();
    }
  });

  it('forwardMasked (MAE) equals the encoder on the gathered embedded tokens, with no mask', async () => {
    const vit = small();
    const B = 2;
    const N = vit.numPatches;
    const K = 5;
    const keepRows = [[3, 0, 15, 7, 9], [12, 1, 2, 11, 4]];
    const x = wg.randn([B, 3, 16, 16], { generator: gen(3) });
    const keep = wg.tensor(Int32Array.from(keepRows.flat()), { shape: [B, K], dtype: 'i32' });
    try {
      const [got, want, full, allKept] = wg.scope(() => {
        const tokens = vit.embed(x); // [B, 1 + N, D]
        const idx = wg.tensor(Int32Array.from(keepRows.flatMap((r, b) => [b * (N + 1), ...r.map((p) => b * (N + 1) + 1 + p)])), { dtype: 'i32' });
        const gathered = wg.reshape(wg.indexSelect(wg.reshape(tokens, [B * (N + 1), 32]), 0, idx), [B, K + 1, 32]);
        const everyPatch = wg.tensor(Int32Array.from({ length: B * N }, (_, i) => i % N), { shape: [B, N], dtype: 'i32' });
        return [vit.forwardMasked(x, keep), vit.encode(gathered), vit.forwardFeatures(x), vit.forwardMasked(x, everyPatch)];
      });
      expect(got.shape).toEqual([B, K + 1, 32]);
      const [g, w] = [await arr(got), await arr(want)];
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - w[i])).toBeLessThan(1e-5);
      // Keeping every patch in order is the full encoder.
      const [f, a] = [await arr(full), await arr(allKept)];
      for (let i = 0; i < f.length; i++) expect(Math.abs(f[i] - a[i])).toBeLessThan(1e-5);
      // The dropped patches really are absent (a mask-free subset differs from the full sequence's rows).
      expect(Math.abs(g[32] - f[(1 + 3) * 32])).toBeGreaterThan(1e-4);
      for (const t of [got, want, full, allKept]) t.dispose();

      // Gradients reach only the kept patches' pos_embed rows (and the class row).
      wg.scope(() => wg.backward(wg.sum(vit.forwardMasked(x, keep))));
      const gp = await arr(vit.posEmbed.grad!);
      const kept = new Set([0, ...keepRows.flat().map((p) => p + 1)]);
      for (let t = 0; t <= N; t++) {
        const rowNorm = gp.slice(t * 32, (t + 1) * 32).reduce((s, v) => s + Math.abs(v), 0);
        if (kept.has(t)) expect(rowNorm, `pos_embed row ${t}`).toBeGreaterThan(0);
        else expect(rowNorm, `pos_embed row ${t}`).toBe(0);
      }
      expect(() => vit.forwardMasked(x, wg.zeros([B, K]))).toThrow(/keep must be i32 \[B, K\].*f32 \[2,5\]/);
      expect(() => vit.forwardMasked(x, wg.zeros([B, N + 1], 'i32'))).toThrow(/K <= 16 patches/);
    } finally {
      vit.zeroGrad();
      vit.dispose();
      x.dispose();
      keep.dispose();
    }
  });

  it('a frozen patch projection (MoCo v3) gets no gradient and no SGD update; the rest trains', async () => {
    const vit = small({ frozenPatchEmbed: true, posEmbed: 'sincos', numClasses: 4 });
    const x = wg.randn([2, 3, 16, 16], { generator: gen(5) });
    const opt = new SGD(vit.namedParameters(), { lr: 0.5, momentum: 0.9, weightDecay: 0.1 });
    try {
      const proj = vit.patchEmbed.proj;
      expect(proj.weight.requiresGrad).toBe(false);
      expect(proj.bias!.requiresGrad).toBe(false);
      expect([...vit.stateDict().keys()]).toContain('patch_embed.proj.weight');
      const before = await Promise.all([proj.weight, proj.bias!, vit.posEmbed, vit.blocks[0].attn.qkv.weight].map(arr));
      for (let s = 0; s < 2; s++) {
        wg.scope(() => wg.backward(wg.sum(wg.square(vit.forward(x)))));
        expect(proj.weight.grad).toBeNull();
        expect(proj.bias!.grad).toBeNull();
        expect(vit.blocks[0].attn.qkv.weight.grad).not.toBeNull();
        opt.step();
        opt.zeroGrad();
      }
      const after = await Promise.all([proj.weight, proj.bias!, vit.posEmbed, vit.blocks[0].attn.qkv.weight].map(arr));
      expect(after[0]).toEqual(before[0]);
      expect(after[1]).toEqual(before[1]);
      expect(after[2]).toEqual(before[2]);
      expect(after[3]).not.toEqual(before[3]);
    } finally {
      opt.dispose();
      vit.dispose();
      x.dispose();
    }
  });

  it('a training step (forward, backward, SGD step) leaks no GPU buffer', async () => {
    const vit = small({ numClasses: 3, dropPathRate: 0.1 });
    const x = wg.randn([2, 3, 16, 16], { generator: gen(9) });
    const labels = wg.tensor(Int32Array.from([0, 2]), { dtype: 'i32' });
    const opt = new SGD(vit.parameters(), { lr: 0.01, momentum: 0.9 });
    try {
      await expectNoLeak(() => {
        wg.scope(() => wg.backward(wg.crossEntropy(vit.forward(x), labels)));
        opt.step();
        opt.zeroGrad();
      }, { warmup: 2, steps: 5 });
    } finally {
      opt.dispose();
      vit.dispose();
      x.dispose();
      labels.dispose();
    }
  });

  it('heads: forward gives logits, resetClassifier(0) the pooled class token, avg pooling the patch mean', async () => {
    const vit = small({ numClasses: 5 });
    const x = wg.randn([2, 3, 16, 16], { generator: gen(11) });
    try {
      const logits = vit.forward(x);
      expect(logits.shape).toEqual([2, 5]);
      expect([...vit.stateDict().keys()].slice(-2)).toEqual(['head.weight', 'head.bias']);
      vit.resetClassifier(0);
      expect([...vit.stateDict().keys()].filter((k) => k.startsWith('head'))).toEqual([]);
      const tokens = vit.forwardFeatures(x);
      const pooled = vit.forward(x);
      expect(pooled.shape).toEqual([2, 32]);
      const [t, p] = [await arr(tokens), await arr(pooled)];
      for (let b = 0; b < 2; b++) {
        for (let d = 0; d < 32; d++) expect(p[b * 32 + d]).toBeCloseTo(t[b * 17 * 32 + d], 6);
      }
      for (const u of [logits, tokens, pooled]) u.dispose();
      const avg = small({ classToken: false });
      expect(avg.globalPool).toBe('avg');
      expect(avg.posEmbed.shape).toEqual([1, 16, 32]);
      const [ft, pa] = [avg.forwardFeatures(x), avg.forward(x)];
      const [a, q] = [await arr(ft), await arr(pa)];
      for (let d = 0; d < 32; d++) {
        let s = 0;
        for (let n = 0; n < 16; n++) s += a[n * 32 + d];
        expect(q[d]).toBeCloseTo(s / 16, 5);
      }
      for (const u of [ft, pa]) u.dispose();
      avg.dispose();
    } finally {
      vit.dispose();
      x.dispose();
    }
  });

  it('a wrong input size or channel count is an error naming both shapes', () => {
    const vit = new VisionTransformer({ imgSize: 32, patchSize: 4, embedDim: 32, depth: 1, numHeads: 2, numClasses: 0, generator: gen(1) });
    try {
      expect(() => vit.forward(wg.zeros([2, 3, 28, 28]))).toThrow(/input \[2,3,28,28\] must be \[B, 3, 32, 32\]/);
      expect(() => vit.forward(wg.zeros([2, 1, 32, 32]))).toThrow(/input \[2,1,32,32\] must be \[B, 3, 32, 32\]/);
      expect(() => vit.encode(wg.zeros([2, 5, 16]))).toThrow(/tokens \[2,5,16\] must be \[B, T, 32\]/);
      expect(() => new VisionTransformer({ imgSize: 30, patchSize: 4 })).toThrow(/30x30 must be a positive multiple of the patch size 4/);
      expect(() => new VisionTransformer({ embedDim: 32, numHeads: 3 })).toThrow(/not divisible by numHeads 3/);
      expect(() => new Attention(32, { numHeads: 2, attnDrop: 0.1 })).toThrow(/attnDrop/);
    } finally {
      vit.dispose();
    }
  });

  it('Attention passes causal through: the first token sees only itself', async () => {
    const attn = new Attention(16, { numHeads: 2, generator: gen(2) });
    const x = wg.randn([1, 4, 16], { generator: gen(4) });
    try {
      const [a, b] = wg.scope(() => [attn.forward(x, { causal: true }), attn.forward(wg.slice(x, 1, 0, 1))]);
      const [pa, pb] = [await arr(a), await arr(b)];
      for (let d = 0; d < 16; d++) expect(pa[d]).toBeCloseTo(pb[d], 5);
      a.dispose();
      b.dispose();
    } finally {
      attn.dispose();
      x.dispose();
    }
  });

  it('DropPath drops whole samples in training and is the identity in eval', async () => {
    const dp = new DropPath(0.5, { generator: gen(3) });
    const x = wg.ones([64, 2, 3]);
    try {
      const y = dp.forward(x);
      const v = await arr(y);
      let dropped = 0;
      for (let b = 0; b < 64; b++) {
        const row = v.slice(b * 6, (b + 1) * 6);
        expect(row.every((u) => u === row[0]) && (row[0] === 0 || row[0] === 2)).toBe(true);
        if (row[0] === 0) dropped++;
      }
      expect(dropped).toBeGreaterThan(10);
      expect(dropped).toBeLessThan(54);
      y.dispose();
      dp.eval();
      expect(dp.forward(x)).toBe(x);
    } finally {
      x.dispose();
    }
  });
});
