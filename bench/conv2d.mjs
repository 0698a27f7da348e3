#!/usr/bin/env node
// bench/conv2d.mjs: webgrad's conv2d next to TensorFlow.js (tfjs-backend-webgpu) and jax-js (WebGPU), in
// one process, on one Dawn instance (the same adapter), plus PyTorch on the CPU (bench/torch_conv2d.py,
// run as a subprocess with /usr/bin/python3 when it exists, 2 threads).
//
//   npm run bench:setup && npm run bench:conv2d
//   node bench/conv2d.mjs [--shapes layer1,layer2.s2|all] [--batch 32,128] [--runs 5] [--peers tfjs,jax]
//                         [--json out/bench-conv2d.json] [--quiet-timeout 60] [--no-torch] [--strategy gpu]
//
// Shapes: the convolutions of ResNet-18's CIFAR variant (3x3 stride-1 stem, no max-pool) on 32x32
// images, at each --batch, plus the headline N32 64->64 32x32 3x3 pad 1 (layer1 at batch 32). Two
// measurements per shape and side:
//   fwd      op call -> y on the CPU
//   fwd+bwd  op call, backward for dx and dw with the upstream gradient g -> dx and dw on the CPU
// Inputs (x, w, g uniform in [-1, 1), seeded) are created and uploaded on every side before the clock
// starts; each side runs WARMUPS warm-ups of both, waits for a quiet machine (bench/waitquiet.sh), then
// per measurement one untimed run and --runs timed runs; the figure is the median. Checks: every
// side's y, dx and dw against float64 sums at sampled positions, and every peer's y, dx, dw against
// webgrad's whole result (a disagreement is settled against float64 at its worst entry), so a broken
// kernel or peer shows as WRONG instead of winning.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as wg from '../dist/node.js';
import {
  fmt3, fmtErr, formatTable, loadPeers, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, repoRoot, writeJson,
} from './common.mjs';

const WARMUPS = 2;
/** Entries of y, dx and dw checked against float64 sums. */
const F64_SAMPLES = 64;
/** Untimed runs right before each measurement's timed ones (the first run after the gate's idle seconds is often slow). */
const REWARM = 1;

/**
 * ResNet-18 (CIFAR variant: 3x3 stride-1 stem, no max-pool) on 32x32 input: its distinct convolutions,
 * in network order (each block's other convs repeat these). Square kernels, stride and zero padding,
 * no bias, groups 1. Kept in step with SHAPES in bench/torch_conv2d.py.
 */
const SHAPES = [
  { name: 'stem', C: 3, O: 64, H: 32, k: 3, s: 1, p: 1, note: 'conv1' },
  { name: 'layer1', C: 64, O: 64, H: 32, k: 3, s: 1, p: 1, note: 'layer1.*' },
  { name: 'layer2.s2', C: 64, O: 128, H: 32, k: 3, s: 2, p: 1, note: 'layer2.0.conv1' },
  { name: 'layer2', C: 128, O: 128, H: 16, k: 3, s: 1, p: 1, note: 'layer2.*' },
  { name: 'layer2.down', C: 64, O: 128, H: 32, k: 1, s: 2, p: 0, note: 'layer2.0.downsample' },
  { name: 'layer3.s2', C: 128, O: 256, H: 16, k: 3, s: 2, p: 1, note: 'layer3.0.conv1' },
  { name: 'layer3', C: 256, O: 256, H: 8, k: 3, s: 1, p: 1, note: 'layer3.*' },
  { name: 'layer4.s2', C: 256, O: 512, H: 8, k: 3, s: 2, p: 1, note: 'layer4.0.conv1' },
  { name: 'layer4', C: 512, O: 512, H: 4, k: 3, s: 1, p: 1, note: 'layer4.*' },
];
/** The headline shape: N32 64->64 32x32 3x3 pad 1, i.e. layer1 at batch 32, whatever --batch says. */
const HEADLINE = { name: 'layer1', N: 32 };
const DEFAULT_SHAPES = 'all,headline';

/** One problem: a SHAPES entry at batch N, with its output size, FLOPs and check tolerances. */
function makeCase(shape, N) {
  const { C, O, H, k, s, p } = shape;
  const W = H;
  const Ho = Math.floor((H + 2 * p - k) / s) + 1, Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const flopFwd = 2 * N * O * Ho * Wo * C * k * k;
  const headline = N === HEADLINE.N && shape.name === HEADLINE.name;
  return {
    ...shape, N, W, Ho, Wo, headline,
    label: `${shape.name} N${N} ${C}->${O} ${k}x${k} s${s} p${p} @${H}x${W}${headline ? ' (headline)' : ''}`,
    flop: { fwd: flopFwd, fwdBwd: 3 * flopFwd }, // dx and dw cost one forward each
    // As bench/matmul.mjs: 1e-4 + 2e-5 * (length of the reduction) for sums of products of values in [-1, 1).
    tol: { y: tolerance(C * k * k), dx: tolerance(O * k * k), dw: tolerance(N * Ho * Wo) },
  };
}
function tolerance(K) { return 1e-4 + 2e-5 * K; }

/** --shapes (names of SHAPES, 'all', 'headline') x --batch -> the cases, without duplicates, in order. */
function parseCases(shapesArg, batchArg) {
  const batches = batchArg.split(',').map((t) => t.trim()).filter(Boolean).map(Number);
  if (!batches.length || !batches.every((b) => Number.isInteger(b) && b > 0)) throw new Error(`--batch: cannot read '${batchArg}' (comma list of positive integers)`);
  const byName = new Map(SHAPES.map((s) => [s.name, s]));
  const picks = [];
  for (const tok of shapesArg.split(',').map((t) => t.trim()).filter(Boolean)) {
    if (tok === 'all') for (const s of SHAPES) for (const N of batches) picks.push([s, N]);
    else if (tok === 'headline') picks.push([byName.get(HEADLINE.name), HEADLINE.N]);
    else if (byName.has(tok)) for (const N of batches) picks.push([byName.get(tok), N]);
    else throw new Error(`--shapes: unknown shape '${tok}' (${[...byName.keys()].join(', ')}, all, headline)`);
  }
  const seen = new Set();
  const cases = [];
  // Batch-major, then network order: the headline (N32) comes with the other N32 rows.
  const order = (s) => SHAPES.indexOf(s);
  picks.sort((a, b) => batches.indexOf(a[1]) - batches.indexOf(b[1]) || (a[1] - b[1]) || order(a[0]) - order(b[0]));
  for (const [s, N] of picks) {
    const key = `${s.name}@${N}`;
    if (!seen.has(key)) { seen.add(key); cases.push(makeCase(s, N)); }
  }
  return cases;
}

// ---------------------------------------------------------------- layouts and checks (CPU, untimed)

/** [d0, d1, d2, d3] row-major -> the axes in `perm` order (a 4-D transpose). */
function permute4(a, dims, perm) {
  const out = new Float32Array(a.length);
  const st = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
  const od = perm.map((i) => dims[i]);
  const ps = perm.map((i) => st[i]);
  let o = 0;
  for (let i0 = 0; i0 < od[0]; i0++) {
    for (let i1 = 0; i1 < od[1]; i1++) {
      for (let i2 = 0; i2 < od[2]; i2++) {
        let src = i0 * ps[0] + i1 * ps[1] + i2 * ps[2];
        for (let i3 = 0; i3 < od[3]; i3++, src += ps[3]) out[o++] = a[src];
      }
    }
  }
  return out;
}
const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
const OIHW_TO_HWIO = [2, 3, 1, 0];
const HWIO_TO_OIHW = [3, 2, 0, 1];

/**
 * Largest |x - y| over two results and the first entry where it occurs: { max, idx }; max is Infinity
 * when their lengths differ, NaN when one holds NaN.
 */
function maxAbsDiff(x, y) {
  if (!x || !y || x.length !== y.length) return { max: Infinity, idx: -1 };
  let m = 0, at = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= m)) { m = d; at = i; }
    if (Number.isNaN(d)) break;
  }
  return { max: m, idx: at };
}

/** F64_SAMPLES flat indices into `total` entries, by a fixed stride pattern (the last entry included). */
function sampleIdx(total) {
  return Array.from({ length: F64_SAMPLES }, (_, j) => (j === F64_SAMPLES - 1 ? total - 1 : Math.floor((j * 2654435761) % total)));
}

/** float64 y[n,o,oh,ow] = Σ_{c,i,j} x[n,c,oh·s-p+i,ow·s-p+j] · w[o,c,i,j]. */
function refY(c, X, Wt, n, o, oh, ow) {
  let acc = 0;
  for (let ci = 0; ci < c.C; ci++) {
    for (let i = 0; i < c.k; i++) {
      const h = oh * c.s - c.p + i;
      if (h < 0 || h >= c.H) continue;
      for (let j = 0; j < c.k; j++) {
        const w = ow * c.s - c.p + j;
        if (w < 0 || w >= c.W) continue;
        acc += X[((n * c.C + ci) * c.H + h) * c.W + w] * Wt[((o * c.C + ci) * c.k + i) * c.k + j];
      }
    }
  }
  return acc;
}

/** float64 dx[n,c,h,w] = Σ_{o,i,j: (h+p-i)/s = oh, (w+p-j)/s = ow in range} g[n,o,oh,ow] · w[o,c,i,j]. */
function refDx(c, Wt, G, n, ci, h, w) {
  let acc = 0;
  for (let i = 0; i < c.k; i++) {
    const th = h + c.p - i;
    if (th < 0 || th % c.s) continue;
    const oh = th / c.s;
    if (oh >= c.Ho) continue;
    for (let j = 0; j < c.k; j++) {
      const tw = w + c.p - j;
      if (tw < 0 || tw % c.s) continue;
      const ow = tw / c.s;
      if (ow >= c.Wo) continue;
      for (let o = 0; o < c.O; o++) acc += G[((n * c.O + o) * c.Ho + oh) * c.Wo + ow] * Wt[((o * c.C + ci) * c.k + i) * c.k + j];
    }
  }
  return acc;
}

/** float64 dw[o,c,i,j] = Σ_{n,oh,ow} g[n,o,oh,ow] · x[n,c,oh·s-p+i,ow·s-p+j]. */
function refDw(c, X, G, o, ci, i, j) {
  let acc = 0;
  for (let n = 0; n < c.N; n++) {
    for (let oh = 0; oh < c.Ho; oh++) {
      const h = oh * c.s - c.p + i;
      if (h < 0 || h >= c.H) continue;
      const xo = ((n * c.C + ci) * c.H + h) * c.W, go = ((n * c.O + o) * c.Ho + oh) * c.Wo;
      for (let ow = 0; ow < c.Wo; ow++) {
        const w = ow * c.s - c.p + j;
        if (w >= 0 && w < c.W) acc += G[go + ow] * X[xo + w];
      }
    }
  }
  return acc;
}

/** |data[idx] - float64| for a [d0, d1, d2, d3] result; `ref(i0, i1, i2, i3)` is the float64 value. */
function errAt(data, dims, ref, idx) {
  const i3 = idx % dims[3], i2 = Math.floor(idx / dims[3]) % dims[2];
  const i1 = Math.floor(idx / (dims[2] * dims[3])) % dims[1], i0 = Math.floor(idx / (dims[1] * dims[2] * dims[3]));
  return Math.abs(data[idx] - ref(i0, i1, i2, i3));
}

/** Largest |result - float64| at the sampled entries of a [d0, d1, d2, d3] result. */
function sampledErr(data, dims, ref) {
  const total = dims[0] * dims[1] * dims[2] * dims[3];
  if (!data || data.length !== total) return Infinity;
  let m = 0;
  for (const idx of sampleIdx(total)) {
    const d = errAt(data, dims, ref, idx);
    if (!(d <= m)) m = d;
  }
  return m;
}

// ---------------------------------------------------------------- the sides

/**
 * A side: `upload` creates x, w and g on its device (before any timing), `fwd` and `fwdBwd` are the
 * timed parts (op call -> results on the CPU, NCHW / OIHW Float32Arrays) and return { y } or
 * { dx, dw } plus `dispose` (called after the clock stops), `free` releases the inputs.
 */
function webgradSide(strategy) {
  return {
    name: 'webgrad',
    call: `y = wg.conv2d(x, w, { stride, padding${strategy ? `, strategy: '${strategy}'` : ''} }); backward(y, g); await x.grad.data(), w.grad.data()`,
    async upload(c, { X, Wt, G }) {
      const opts = { stride: c.s, padding: c.p, ...(strategy ? { strategy } : {}) };
      const x = wg.tensor(X, { shape: [c.N, c.C, c.H, c.W] });
      const w = wg.tensor(Wt, { shape: [c.O, c.C, c.k, c.k] });
      // Leaves for the fwd+bwd measurement: x requires grad, w is a parameter (as in a model).
      const xg = wg.tensor(X, { shape: [c.N, c.C, c.H, c.W] });
      xg.requiresGrad = true;
      const wp = wg.param(wg.tensor(Wt, { shape: [c.O, c.C, c.k, c.k] }));
      const g = wg.tensor(G, { shape: [c.N, c.O, c.Ho, c.Wo] });
      await wg.sync(); // the writeBuffer uploads are done before the clock starts
      return { opts, x, w, xg, wp, g };
    },
    async fwd({ opts, x, w }) {
      const y = wg.scope(() => wg.conv2d(x, w, opts));
      return { y: await y.data(), dispose: () => y.dispose() };
    },
    async fwdBwd({ opts, xg, wp, g }) {
      const y = wg.scope(() => {
        const out = wg.conv2d(xg, wp, opts);
        wg.backward(out, g);
        return out;
      });
      const [dx, dw] = await Promise.all([xg.grad.data(), wp.grad.data()]);
      return {
        dx, dw,
        dispose: () => {
          y.dispose();
          for (const t of [xg, wp]) { t.grad?.dispose(); t.grad = null; }
        },
      };
    },
    free(inp) { for (const k of ['x', 'w', 'xg', 'wp', 'g']) inp[k].dispose(); },
  };
}

function tfjsSide(tf) {
  return {
    name: 'tfjs',
    call: "NHWC / HWIO: tf.conv2d(x, w, s, pad); tf.grads((x, w) => tf.conv2d(x, w, s, pad))([x, w], g) in tf.tidy; await dx.data(), dw.data()",
    async upload(c, { X, Wt, G }) {
      // Explicit zero padding p on each side, as PyTorch and webgrad (tfjs 'same' pads 0 before / 1 after for stride 2 on even sizes).
      const pad = [[0, 0], [c.p, c.p], [c.p, c.p], [0, 0]];
      const conv = (a, b) => tf.conv2d(a, b, c.s, pad);
      // tfjs-webgpu copies tensor data to the GPU at its first use, i.e. in the first warm-up.
      return {
        conv,
        grads: tf.grads(conv),
        x: tf.tensor(permute4(X, [c.N, c.C, c.H, c.W], NCHW_TO_NHWC), [c.N, c.H, c.W, c.C], 'float32'),
        w: tf.tensor(permute4(Wt, [c.O, c.C, c.k, c.k], OIHW_TO_HWIO), [c.k, c.k, c.C, c.O], 'float32'),
        g: tf.tensor(permute4(G, [c.N, c.O, c.Ho, c.Wo], NCHW_TO_NHWC), [c.N, c.Ho, c.Wo, c.O], 'float32'),
        dims: { y: [c.N, c.Ho, c.Wo, c.O], dx: [c.N, c.H, c.W, c.C], dw: [c.k, c.k, c.C, c.O] },
      };
    },
    async fwd({ conv, x, w }) {
      const y = conv(x, w);
      return { y: await y.data(), dispose: () => y.dispose() };
    },
    async fwdBwd({ grads, x, w, g }) {
      const [dx, dw] = tf.tidy(() => grads([x, w], g)); // the forward runs, then both backprops; the rest is tidied
      const [dxd, dwd] = await Promise.all([dx.data(), dw.data()]);
      return { dx: dxd, dw: dwd, dispose: () => { dx.dispose(); dw.dispose(); } };
    },
    /** NHWC / HWIO results -> NCHW / OIHW (untimed). */
    toNchw(inp, r) {
      const d = inp.dims;
      if (r.y) r.y = permute4(r.y, d.y, NHWC_TO_NCHW);
      if (r.dx) r.dx = permute4(r.dx, d.dx, NHWC_TO_NCHW);
      if (r.dw) r.dw = permute4(r.dw, d.dw, HWIO_TO_OIHW);
      return r;
    },
    free({ x, w, g }) { x.dispose(); w.dispose(); g.dispose(); },
  };
}

function jaxSide(jax) {
  const { numpy: np, lax, vjp } = jax;
  return {
    name: 'jax-js',
    call: 'NCHW / OIHW: lax.conv(x, w, [s, s], [[p, p], [p, p]]); [y, f] = vjp(conv, [x, w]), [dx, dw] = f(g); await dx.data(), dw.data(), y.blockUntilReady()',
    async upload(c, { X, Wt, G }) {
      const strides = [c.s, c.s];
      const pad = [[c.p, c.p], [c.p, c.p]];
      const x = np.array(X, { shape: [c.N, c.C, c.H, c.W], dtype: np.float32 });
      const w = np.array(Wt, { shape: [c.O, c.C, c.k, c.k], dtype: np.float32 });
      const g = np.array(G, { shape: [c.N, c.O, c.Ho, c.Wo], dtype: np.float32 });
      for (const a of [x, w, g]) await a.blockUntilReady(); // does not consume a reference
      return { conv: (a, b) => lax.conv(a, b, strides, pad), x, w, g };
    },
    async fwd({ conv, x, w }) {
      // jax-js arrays are moved into ops: `.ref` keeps the inputs alive; data() disposes y itself.
      const y = conv(x.ref, w.ref);
      return { y: await y.data(), dispose: () => {} };
    },
    async fwdBwd({ conv, x, w, g }) {
      // Eager vjp (as grad does inside jaxjs.mjs's step, without jit, which could drop the unused forward).
      const [y, vjpFn] = vjp(conv, [x.ref, w.ref]);
      const [dx, dw] = vjpFn(g.ref);
      vjpFn.dispose();
      // y is forced too (no readback), so the forward is inside the clock whether jax-js is lazy or not.
      const [dxd, dwd] = await Promise.all([dx.data(), dw.data(), y.blockUntilReady()]);
      return { dx: dxd, dw: dwd, dispose: () => y.dispose() };
    },
    free({ x, w, g }) { x.dispose(); w.dispose(); g.dispose(); },
  };
}

/** Times `runs` runs of `fn` after REWARM untimed ones; returns { times_ms, median_ms, last } (last: the final run's results). */
async function timeRuns(fn, runs) {
  for (let i = 0; i < REWARM; i++) (await fn()).dispose();
  const times = [];
  let last = null;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await fn();
    times.push(performance.now() - t0);
    r.dispose();
    last = r;
  }
  return { times_ms: times, median_ms: median(times), last };
}

/**
 * One side on one case: upload, WARMUPS warm-ups of both measurements, the quiet gate, then the
 * timed fwd and fwd+bwd runs. Returns the record (with the last results, NCHW, under `out`).
 */
async function measure(side, c, data, opts) {
  const rec = { side: side.name, quiet: null, fwd: null, fwd_bwd: null, error: null, out: {} };
  let inp = null;
  let phase = 'upload';
  try {
    inp = await side.upload(c, data);
    phase = 'warm-up';
    for (let i = 0; i < WARMUPS; i++) { (await side.fwd(inp)).dispose(); (await side.fwdBwd(inp)).dispose(); }
    rec.quiet = await quietGate(side.name, opts.quietTimeout);
    for (const [key, fn] of [['fwd', side.fwd], ['fwd_bwd', side.fwdBwd]]) {
      phase = key;
      const t = await timeRuns(() => fn(inp), opts.runs);
      rec[key] = { times_ms: t.times_ms, median_ms: t.median_ms };
      Object.assign(rec.out, side.toNchw ? side.toNchw(inp, t.last) : t.last);
    }
    const flops = (k, f) => `${fmt3(f / (rec[k].median_ms * 1e6))} GFLOP/s`;
    console.log(`  ${side.name.padEnd(7)} fwd ${rec.fwd.median_ms.toFixed(2)} ms = ${flops('fwd', c.flop.fwd)} ` +
      `(runs ${rec.fwd.times_ms.map((t) => t.toFixed(1)).join(' ')}); fwd+bwd ${rec.fwd_bwd.median_ms.toFixed(2)} ms = ` +
      `${flops('fwd_bwd', c.flop.fwdBwd)} (runs ${rec.fwd_bwd.times_ms.map((t) => t.toFixed(1)).join(' ')})`);
  } catch (e) {
    rec.error = `${phase}: ${(e?.message ?? String(e)).split('\n')[0]}`;
    console.log(`  ${side.name.padEnd(7)} ERROR: ${rec.error}`);
  } finally {
    if (inp) { try { side.free(inp); } catch { /* the error above is the one to report */ } }
  }
  return rec;
}

/**
 * Checks of one case. Every side's y, dx and dw against float64 at F64_SAMPLES sampled entries; every
 * peer's whole y, dx, dw against webgrad's. Where a peer and webgrad disagree by more than the
 * tolerance, the entry of their largest difference is also checked against float64 for both, so the
 * side that is off there is the one found WRONG (a broken webgrad kernel cannot hide between the
 * samples when a peer computes it right). A pass is ok when every float64 error is within the
 * tolerance. Sets `checks` and `ok_fwd` / `ok_fwd_bwd` on each record and drops the results.
 */
function check(c, { X, Wt, G }, recs) {
  const dims = { y: [c.N, c.O, c.Ho, c.Wo], dx: [c.N, c.C, c.H, c.W], dw: [c.O, c.C, c.k, c.k] };
  const refs = {
    y: (n, o, oh, ow) => refY(c, X, Wt, n, o, oh, ow),
    dx: (n, ci, h, w) => refDx(c, Wt, G, n, ci, h, w),
    dw: (o, ci, i, j) => refDw(c, X, G, o, ci, i, j),
  };
  const live = Object.values(recs).filter((r) => !r.error && r.out);
  const wgr = live.find((r) => r.side === 'webgrad');
  for (const r of live) {
    r.checks = {};
    for (const k of ['y', 'dx', 'dw']) r.checks[k] = { f64_err: sampledErr(r.out[k], dims[k], refs[k]), vs_webgrad: null, ok: null };
  }
  for (const r of live) {
    if (r === wgr || !wgr) continue;
    for (const k of ['y', 'dx', 'dw']) {
      const { max, idx } = maxAbsDiff(r.out[k], wgr.out[k]);
      r.checks[k].vs_webgrad = max;
      if (max <= c.tol[k] || idx < 0) continue;
      for (const side of [r, wgr]) {
        const e = errAt(side.out[k], dims[k], refs[k], idx);
        if (!(e <= side.checks[k].f64_err)) side.checks[k].f64_err = e;
      }
    }
  }
  for (const r of live) {
    for (const k of ['y', 'dx', 'dw']) {
      const ch = r.checks[k];
      ch.ok = ch.f64_err <= c.tol[k];
      if (!ch.ok) console.log(`  ${r.side.padEnd(7)} WRONG ${k}: max|Δ| vs f64 ${fmtErr(ch.f64_err)}${ch.vs_webgrad === null ? '' : `, vs webgrad ${fmtErr(ch.vs_webgrad)}`} (tolerance ${fmtErr(c.tol[k])})`);
    }
    r.ok_fwd = r.checks.y.ok;
    r.ok_fwd_bwd = r.checks.dx.ok && r.checks.dw.ok;
  }
  for (const r of Object.values(recs)) delete r.out;
}

// ---------------------------------------------------------------- PyTorch on the CPU

/** The interpreter for torch: /usr/bin/python3 (Debian's python3-torch) when present, else python3 on PATH. */
function torchPython() { return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; }

/**
 * Runs bench/torch_conv2d.py on every case (one subprocess, 2 threads; it gates each shape on
 * waitquiet.sh itself) and returns its JSON ({ torch, threads, results: [...] }) or { error }.
 */
function runTorch(cases, opts) {
  const spec = cases.map(({ name, N, C, O, H, W, k, s, p }) => ({ name, N, C, O, H, W, k, s, p }));
  const py = torchPython();
  const args = [path.join(repoRoot, 'bench', 'torch_conv2d.py'), '--spec', JSON.stringify(spec), '--runs', String(opts.runs),
    '--threads', '2', '--quiet-timeout', String(opts.quietTimeout)];
  return new Promise((resolve) => {
    const child = execFile(py, args, { maxBuffer: 64 << 20 }, (err, stdout) => {
      const lastLine = stdout.trim().split('\n').pop() ?? '';
      let parsed = null;
      try { parsed = JSON.parse(lastLine); } catch { /* reported below */ }
      if (parsed?.error) resolve({ error: parsed.error, interpreter: py });
      else if (parsed && !err) resolve({ ...parsed, interpreter: py });
      else resolve({ error: `${py} bench/torch_conv2d.py failed: ${(err?.message ?? 'no JSON on stdout').split('\n')[0]}`, interpreter: py });
    });
    child.stderr.on('data', (d) => process.stdout.write(String(d))); // its progress lines, as they come
  });
}

// ---------------------------------------------------------------- main

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/conv2d.mjs [--shapes ${DEFAULT_SHAPES} | ${SHAPES.map((s) => s.name).join(',')}] [--batch 32,128] ` +
      `[--runs N>=${MIN_RUNS}] [--peers tfjs,jax|none] [--json out/bench-conv2d.json] [--quiet-timeout seconds, 0 = no gate] ` +
      '[--no-torch] [--strategy cpu-simd|gpu]',
    options: {
      shapes: { type: 'string', default: DEFAULT_SHAPES },
      batch: { type: 'string', default: '32' },
      'no-torch': { type: 'boolean', default: false },
      strategy: { type: 'string' },
    },
  });
  if (values.strategy && !['cpu-simd', 'gpu'].includes(values.strategy)) throw new Error(`--strategy: '${values.strategy}' (cpu-simd, gpu)`);
  return { cases: parseCases(values.shapes, values.batch), torch: !values['no-torch'], strategy: values.strategy ?? null, ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/conv2d  ${started}  node ${process.version}  ${opts.cases.length} shape(s), runs ${opts.runs} after ` +
    `${WARMUPS} warm-ups (+${REWARM} untimed after the quiet gate)`);
  const rt = await wg.init();
  console.log(rt.describe());
  console.log(`webgrad conv2d strategy: ${opts.strategy ?? `${rt.strategy} (the adapter's)`}`);
  const loaded = await loadPeers(rt, opts.peers, { tfjsGradients: true });
  const sides = [webgradSide(opts.strategy)];
  if (loaded.tfjs) sides.push(tfjsSide(loaded.tfjs.tf));
  if (loaded.jax) sides.push(jaxSide(loaded.jax.jax));
  console.log();

  const results = [];
  for (const [ci, c] of opts.cases.entries()) {
    console.log(`${c.label} [${c.note}]: fwd ${(c.flop.fwd / 1e9).toPrecision(3)} GFLOP, fwd+bwd ${(c.flop.fwdBwd / 1e9).toPrecision(3)} GFLOP`);
    const data = {
      X: randomF32(c.N * c.C * c.H * c.W, 2000 + 3 * ci),
      Wt: randomF32(c.O * c.C * c.k * c.k, 2001 + 3 * ci),
      G: randomF32(c.N * c.O * c.Ho * c.Wo, 2002 + 3 * ci),
    };
    const recs = {};
    for (const side of sides) recs[side.name] = await measure(side, c, data, opts);
    check(c, data, recs);
    results.push({ case: c, sides: recs });
  }

  // PyTorch (CPU) after the GPU sides, in one subprocess; the GPU sides are idle meanwhile.
  let torch = null;
  if (opts.torch) {
    console.log(`\ntorch (CPU): ${torchPython()} bench/torch_conv2d.py, 2 threads`);
    torch = await runTorch(opts.cases, opts);
    if (torch.error) console.log(`  torch   n/a: ${torch.error}`);
    else {
      for (const r of results) {
        const t = torch.results.find((x) => x.name === r.case.name && x.N === r.case.N);
        if (t) r.sides.torch = { side: 'torch-cpu', ...t };
      }
    }
  }

  printTable(results, opts, torch);
  const head = results.find((r) => r.case.headline);
  if (head) printHeadline(head);
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(),
      strategy: opts.strategy ?? rt.strategy, warmups: WARMUPS, rewarm: REWARM, runs: opts.runs, f64_samples: F64_SAMPLES,
      peers: loaded.info, calls: Object.fromEntries(sides.map((s) => [s.name, s.call])),
      torch: torch && { ...torch, results: undefined },
      results: results.map(({ case: c, sides: recs }) => ({
        label: c.label, name: c.name, note: c.note, headline: c.headline, N: c.N, C: c.C, O: c.O, H: c.H, W: c.W,
        k: c.k, stride: c.s, padding: c.p, Ho: c.Ho, Wo: c.Wo, flop: c.flop, tolerance: c.tol, sides: recs,
      })),
    });
  }
  const webgradWrong = results.some((r) => r.sides.webgrad.error || r.sides.webgrad.ok_fwd === false || r.sides.webgrad.ok_fwd_bwd === false);
  process.exit(webgradWrong ? 1 : 0); // exit explicitly: Dawn keeps handles that hold the event loop
}

/** A side's median for `key` ('fwd' / 'fwd_bwd'), or null when it errored or was WRONG. */
function validMs(r, key) {
  if (!r || r.error || !r[key]) return null;
  if (r.side !== 'torch-cpu' && (key === 'fwd' ? r.ok_fwd : r.ok_fwd_bwd) === false) return null;
  return r[key].median_ms;
}

/**
 * The summary: per case, one row for fwd and one for fwd+bwd: ms per side, webgrad's GFLOP/s,
 * speed ratios (peer ms / webgrad ms: > 1, webgrad faster), the checks.
 */
function printTable(results, opts, torch) {
  const cell = (r, key, ok) => (!r ? 'n/a' : r.error ? 'error' : !r[key] ? 'n/a' : `${r[key].median_ms.toFixed(2)}${ok === false ? ' WRONG' : ''}`);
  const ratio = (w, p, key) => {
    const a = validMs(w, key), b = validMs(p, key);
    return a && b ? `${fmt3(b / a)}x` : '—';
  };
  const errs = (r, ks, field) => (!r?.checks ? '—' : ks.map((k) => `${ks.length > 1 ? `${k} ` : ''}${fmtErr(r.checks[k][field])}`).join(', '));
  const rows = [];
  for (const { case: c, sides: x } of results) {
    for (const [key, pass, ks, flop] of [['fwd', 'fwd', ['y'], c.flop.fwd], ['fwd_bwd', 'fwd+bwd', ['dx', 'dw'], c.flop.fwdBwd]]) {
      const okKey = key === 'fwd' ? 'ok_fwd' : 'ok_fwd_bwd';
      const w = x.webgrad;
      const wms = validMs(w, key);
      rows.push([
        key === 'fwd' ? c.label : '', pass,
        cell(w, key, w?.[okKey]), wms ? fmt3(flop / (wms * 1e6)) : '—',
        cell(x.tfjs, key, x.tfjs?.[okKey]), cell(x['jax-js'], key, x['jax-js']?.[okKey]), cell(x.torch, key),
        ratio(w, x.tfjs, key), ratio(w, x['jax-js'], key), ratio(w, x.torch, key),
        errs(w, ks, 'f64_err'), errs(x.tfjs, ks, 'vs_webgrad'), errs(x['jax-js'], ks, 'vs_webgrad'),
      ]);
    }
  }
  const torchNote = !opts.torch ? 'torch-cpu: --no-torch' : torch?.error ? `torch-cpu n/a (${torch.error})`
    : `torch-cpu: PyTorch ${torch.torch} on the CPU, ${torch.threads} threads`;
  console.log(`\nms = median over ${opts.runs} runs of (op call -> results on the CPU): fwd reads y back, fwd+bwd reads dx and dw back. ` +
    `webgrad/peer = peer ms / webgrad ms (> 1: webgrad faster)${opts.peers.length ? '' : ' (no GPU peers)'}; ${torchNote}. ` +
    'wg err = max |webgrad - float64| at sampled entries (y; dx, dw), plus the entries where a peer disagrees; diff vs wg = max |peer - webgrad| over the whole result.');
  console.log(formatTable(['shape', 'pass', 'webgrad ms', 'webgrad GFLOP/s', 'tfjs ms', 'jax-js ms', 'torch-cpu ms',
    'webgrad/tfjs', 'webgrad/jax', 'webgrad/torch', 'wg err vs f64', 'tfjs diff vs wg', 'jax diff vs wg'], rows));
  const errors = results.flatMap(({ case: c, sides: x }) => Object.values(x).filter((r) => r.error).map((r) => `${c.label} ${r.side}: ${r.error}`));
  if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
}

function printHeadline({ case: c, sides: x }) {
  const parts = [['fwd', 'fwd'], ['fwd_bwd', 'fwd+bwd']].map(([key, pass]) => {
    const w = validMs(x.webgrad, key);
    const peers = [['tfjs', x.tfjs], ['jax-js', x['jax-js']], ['torch-cpu', x.torch]]
      .map(([n, r]) => { const ms = validMs(r, key); return ms && w ? `${n} ${ms.toFixed(2)} ms (${fmt3(ms / w)}x)` : null; })
      .filter(Boolean);
    return `${pass}: webgrad ${w ? `${w.toFixed(2)} ms` : 'n/a'}${peers.length ? `; ${peers.join(', ')}` : ''}`;
  });
  console.log(`\nheadline ${c.label.replace(' (headline)', '')}:\n  ${parts.join('\n  ')}`);
}

main().catch((e) => {
  console.error(`bench/conv2d: ${e?.message ?? e}`);
  process.exit(2);
});
