#!/usr/bin/env node
// bench/matmul.mjs: webgrad's matmul next to TensorFlow.js (tfjs-backend-webgpu) and jax-js (WebGPU),
// in one process, on one Dawn instance (the same adapter), plus the CPU GEMM ceiling quoted from
// ../shared/peers/results.md when that file is readable.
//
//   npm run bench:setup && npm run bench:matmul
//   node bench/matmul.mjs [--sizes 256,1024,vit-qkv,8x3x197x64x197] [--runs 5] [--peers tfjs,jax]
//                         [--json out/bench-matmul.json] [--quiet-timeout 60]
//
// Every side is timed the same way: from the op call to the result read back to the CPU (webgrad
// `await wg.matmul(a, b).data()`, tfjs `await tf.matMul(a, b).data()`, jax-js
// `await np.matmul(a, b).data()`), inputs created and uploaded before, results disposed after the
// clock stops; median of --runs runs after 2 warm-ups, per shape and side, each side's timed runs
// gated on bench/waitquiet.sh. GFLOP/s = 2·M·N·K·batch / median time. Each side's result is checked
// against float64 dot products at sampled entries, and each peer's whole result against webgrad's,
// so a broken kernel or peer shows as WRONG instead of winning.
import * as wg from '../dist/node.js';
import {
  fmt3, fmtErr, formatTable, loadPeers, median, MIN_RUNS, parseBenchArgs, quietGate, quotedCpuCeiling, randomF32, writeJson,
} from './common.mjs';

const WARMUPS = 2;
/** Entries of C checked against a float64 dot product on every side. */
const F64_SAMPLES = 64;

/** Named shapes: ViT-tiny (dim 192, MLP 768, 3 heads of 64, 197 tokens) at batch 8 (8·~1024 rows). */
const NAMED = {
  'vit-qkv': { batch: [], M: 8192, K: 192, N: 576, note: 'ViT-tiny qkv' },
  'vit-proj': { batch: [], M: 8192, K: 192, N: 192, note: 'ViT-tiny attn proj' },
  'vit-fc2': { batch: [], M: 8192, K: 768, N: 192, note: 'ViT-tiny MLP fc2' },
  'vit-attn': { batch: [8, 3], M: 197, K: 64, N: 197, note: 'attention scores, batch 8 x 3 heads' },
};
const DEFAULT_SIZES = '128,256,512,1024,2048,vit-qkv,vit-proj,vit-fc2,vit-attn';

/**
 * Parses one --sizes token: N (square N³), a name of NAMED, MxKxN, or B1x..xMxKxN (leading batch
 * dims). Returns { batch, M, K, N, note, label }.
 */
function parseShape(tok) {
  const named = NAMED[tok];
  const dims = named ? null : tok.split('x').map(Number);
  let s;
  if (named) s = { ...named };
  else if (dims.length === 1) s = { batch: [], M: dims[0], K: dims[0], N: dims[0], note: 'square' };
  else if (dims.length >= 3) s = { batch: dims.slice(0, -3), M: dims.at(-3), K: dims.at(-2), N: dims.at(-1), note: '' };
  if (!s || ![...s.batch, s.M, s.K, s.N].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`--sizes: cannot read '${tok}' (use N, MxKxN, B..xMxKxN or one of ${Object.keys(NAMED).join(', ')})`);
  }
  const b = s.batch.length ? `${s.batch.join('·')} x ` : '';
  s.label = `${b}[${s.M}x${s.K}]·[${s.K}x${s.N}]${s.note ? ` ${s.note}` : ''}`;
  s.nb = s.batch.reduce((x, y) => x * y, 1);
  s.flop = 2 * s.M * s.N * s.K * s.nb;
  return s;
}

/** Largest |x - y| over two results, Infinity when their lengths differ. */
function maxAbsDiff(x, y) {
  if (x.length !== y.length) return Infinity;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= m)) m = d; // NaN propagates as NaN
  }
  return m;
}

/**
 * Largest |C - ref| over F64_SAMPLES entries, ref a float64 dot product of the float32 inputs.
 * Entries are picked by a fixed stride pattern so every side is checked at the same places.
 */
function f64SampleErr(s, A, B, C) {
  const total = s.nb * s.M * s.N;
  if (C.length !== total) return Infinity;
  let m = 0;
  for (let j = 0; j < F64_SAMPLES; j++) {
    const idx = j === F64_SAMPLES - 1 ? total - 1 : Math.floor((j * 2654435761) % total);
    const bi = Math.floor(idx / (s.M * s.N)), r = idx % (s.M * s.N), i = Math.floor(r / s.N), n = r % s.N;
    let acc = 0;
    const ao = (bi * s.M + i) * s.K, bo = bi * s.K * s.N + n;
    for (let k = 0; k < s.K; k++) acc += A[ao + k] * B[bo + k * s.N];
    const d = Math.abs(C[idx] - acc);
    if (!(d <= m)) m = d;
  }
  return m;
}

/** Tolerance for an f32 result of a K-long reduction of products of values in [-1, 1). */
const tolerance = (K) => 1e-4 + 2e-5 * K;

/**
 * A side: `upload` creates the inputs on its device (before timing), `run` is the timed part (op
 * call to data on the CPU) and returns { data, dispose }, `free` releases the inputs.
 */
function webgradSide() {
  return {
    name: 'webgrad',
    async upload(s, A, B) {
      const a = wg.tensor(A, { shape: [...s.batch, s.M, s.K] });
      const b = wg.tensor(B, { shape: [...s.batch, s.K, s.N] });
      await wg.sync(); // the writeBuffer uploads are done before the clock starts
      return { a, b };
    },
    async run({ a, b }) {
      const c = wg.matmul(a, b);
      return { data: await c.data(), dispose: () => c.dispose() };
    },
    free({ a, b }) { a.dispose(); b.dispose(); },
  };
}

function tfjsSide(tf) {
  return {
    name: 'tfjs',
    async upload(s, A, B) {
      // tfjs-webgpu copies tensor data to the GPU at its first use, i.e. in the first warm-up.
      return { a: tf.tensor(A, [...s.batch, s.M, s.K], 'float32'), b: tf.tensor(B, [...s.batch, s.K, s.N], 'float32') };
    },
    async run({ a, b }) {
      const c = tf.matMul(a, b);
      return { data: await c.data(), dispose: () => c.dispose() };
    },
    free({ a, b }) { a.dispose(); b.dispose(); },
  };
}

function jaxSide(jax) {
  const np = jax.numpy;
  return {
    name: 'jax-js',
    async upload(s, A, B) {
      const a = np.array(A, { shape: [...s.batch, s.M, s.K], dtype: np.float32 });
      const b = np.array(B, { shape: [...s.batch, s.K, s.N], dtype: np.float32 });
      await a.blockUntilReady(); // does not consume a reference
      await b.blockUntilReady();
      return { a, b };
    },
    async run({ a, b }) {
      // jax-js arrays are moved into ops: `.ref` keeps the inputs alive; data() disposes c itself.
      const c = np.matmul(a.ref, b.ref);
      return { data: await c.data(), dispose: () => {} };
    },
    free({ a, b }) { a.dispose(); b.dispose(); },
  };
}

/** Uploads, warms up, waits for a quiet machine, times `runs` runs; returns the side's record. */
async function measure(side, s, A, B, opts) {
  const rec = { side: side.name, times_ms: [], median_ms: null, gflops: null, quiet: null, error: null, data: null };
  let inp = null;
  try {
    inp = await side.upload(s, A, B);
    for (let i = 0; i < WARMUPS; i++) (await side.run(inp)).dispose();
    rec.quiet = await quietGate(side.name, opts.quietTimeout);
    for (let i = 0; i < opts.runs; i++) {
      const t0 = performance.now();
      const r = await side.run(inp);
      rec.times_ms.push(performance.now() - t0);
      rec.data = r.data;
      r.dispose();
    }
    rec.median_ms = median(rec.times_ms);
    rec.gflops = s.flop / (rec.median_ms * 1e6);
    console.log(`  ${side.name.padEnd(7)} median ${rec.median_ms.toFixed(2)} ms = ${fmt3(rec.gflops)} GFLOP/s ` +
      `(runs ${rec.times_ms.map((t) => t.toFixed(1)).join(' ')} ms)`);
  } catch (e) {
    rec.error = (e?.message ?? String(e)).split('\n')[0];
    console.log(`  ${side.name.padEnd(7)} ERROR: ${rec.error}`);
  } finally {
    if (inp) { try { side.free(inp); } catch { /* the error above is the one to report */ } }
  }
  return rec;
}

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/matmul.mjs [--sizes ${DEFAULT_SIZES}] [--runs N>=${MIN_RUNS}] ` +
      '[--peers tfjs,jax|none] [--json out/bench-matmul.json] [--quiet-timeout seconds, 0 = no gate]',
    options: { sizes: { type: 'string', default: DEFAULT_SIZES } },
  });
  const shapes = values.sizes.split(',').map((t) => t.trim()).filter(Boolean).map(parseShape);
  return { shapes, ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/matmul  ${started}  node ${process.version}  runs ${opts.runs} after ${WARMUPS} warm-ups`);
  const rt = await wg.init();
  console.log(rt.describe());
  console.log(`webgrad matmul kernel strategy: ${rt.strategy}${rt.subgroupSize ? ` (subgroup size ${rt.subgroupSize})` : ''}`);

  // Peers: loaded on webgrad's Dawn instance; one that fails to load is skipped, with the reason.
  const loaded = await loadPeers(rt, opts.peers);
  const peerInfo = loaded.info;
  const sides = [webgradSide()];
  if (loaded.tfjs) sides.push(tfjsSide(loaded.tfjs.tf));
  if (loaded.jax) sides.push(jaxSide(loaded.jax.jax));
  const ceiling = quotedCpuCeiling();
  console.log();

  const results = [];
  for (const [si, s] of opts.shapes.entries()) {
    console.log(`${s.label}: ${(s.flop / 1e9).toPrecision(3)} GFLOP`);
    const A = randomF32(s.nb * s.M * s.K, 1000 + 2 * si);
    const B = randomF32(s.nb * s.K * s.N, 1001 + 2 * si);
    const recs = {};
    for (const side of sides) recs[side.name] = await measure(side, s, A, B, opts);
    // Correctness: every side at sampled entries vs float64; every peer's whole result vs webgrad's.
    const tol = tolerance(s.K);
    const ref = recs.webgrad.data;
    for (const r of Object.values(recs)) {
      if (!r.data) continue;
      r.f64_err = f64SampleErr(s, A, B, r.data);
      r.vs_webgrad = r.side === 'webgrad' || !ref ? null : maxAbsDiff(r.data, ref);
      r.ok = r.f64_err <= tol && (r.vs_webgrad === null || recs.webgrad.f64_err > tol || r.vs_webgrad <= tol);
      if (!r.ok) console.log(`  ${r.side.padEnd(7)} WRONG RESULT: max|Δ| vs f64 ${fmtErr(r.f64_err)}, vs webgrad ${fmtErr(r.vs_webgrad)} (tolerance ${fmtErr(tol)})`);
      delete r.data;
    }
    results.push({ shape: s, tolerance: tol, sides: recs });
  }

  printTable(results, opts.peers);
  if (ceiling) {
    console.log(`\nCPU ceiling, quoted from ${ceiling.file} (numpy + OpenBLAS f32 GEMM measured there${ceiling.date ? ` on ${ceiling.date}` : ''}; ` +
      'NOT measured by this run):');
    console.log(`  "${ceiling.ceiling}"${ceiling.cpu ? `  [CPU: ${ceiling.cpu}]` : ''}`);
  }
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), strategy: rt.strategy,
      warmups: WARMUPS, runs: opts.runs, peers: peerInfo, cpu_ceiling_quoted: ceiling,
      results: results.map(({ shape: { batch, M, K, N, label, flop }, tolerance: tol, sides: recs }) =>
        ({ label, batch, M, K, N, flop, tolerance: tol, sides: recs })),
    });
  }
  const webgradWrong = results.some((r) => r.sides.webgrad.ok === false);
  process.exit(webgradWrong ? 1 : 0); // exit explicitly: Dawn keeps handles that hold the event loop
}

/** The summary table: GFLOP/s per side, webgrad/peer ratios (> 1: webgrad faster), the checks. */
function printTable(results, peers) {
  const cell = (r) => (!r ? 'n/a' : r.error ? 'error' : r.ok === false ? `${fmt3(r.gflops)} WRONG` : fmt3(r.gflops));
  const valid = (r) => r && !r.error && r.ok !== false && r.gflops;
  const ratio = (w, p) => (valid(w) && valid(p) ? `${fmt3(w.gflops / p.gflops)}x` : '—');
  const rows = results.map(({ shape, sides: x }) => [
    shape.label, cell(x.webgrad), cell(x.tfjs), cell(x['jax-js']), ratio(x.webgrad, x.tfjs), ratio(x.webgrad, x['jax-js']),
    fmtErr(x.webgrad.f64_err), fmtErr(x.tfjs?.vs_webgrad), fmtErr(x['jax-js']?.vs_webgrad),
  ]);
  console.log(`\nGFLOP/s = 2·M·N·K·batch / median(op call -> result on the CPU); ratio > 1: webgrad faster` +
    `${peers.length ? '' : ' (no peers)'}. err/diff = max abs difference (f64: sampled float64 dot products).`);
  console.log(formatTable(['shape', 'webgrad GFLOP/s', 'tfjs GFLOP/s', 'jax-js GFLOP/s', 'webgrad/tfjs', 'webgrad/jax',
    'wg err vs f64', 'tfjs diff vs wg', 'jax diff vs wg'], rows));
  const errors = results.flatMap(({ shape, sides: x }) => Object.values(x).filter((r) => r.error).map((r) => `${shape.label} ${r.side}: ${r.error}`));
  if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
}

main().catch((e) => {
  console.error(`bench/matmul: ${e?.message ?? e}`);
  process.exit(2);
});
