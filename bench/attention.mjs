#!/usr/bin/env node
// bench/attention.mjs: webgrad's fused attention (scaledDotProductAttention: one forward dispatch, two
// backward, no T x T matrix) against the unfused composition of the library's own public ops
// (matmul q kᵀ, scale, softmax, matmul with v), with the same batching, on this process's adapter.
//
//   npm run bench:attention
//   node bench/attention.mjs [--seq 50,197,1024] [--runs 5] [--json out/bench-attention.json] [--quiet-timeout 60]
//                            [--strategy cpu-simd|gpu]
//
// Shapes: q, k, v [8, 3, T, 64] (batch 8, 3 heads of dim 64: ViT-tiny's attention), T = 50, 197, 1024.
// Two measurements per shape and side (the matmul benchmark's rule: call -> result on the CPU):
//   fwd      op call -> output on the CPU
//   fwd+bwd  op call, backward with an upstream gradient g -> dq, dk, dv on the CPU
// Inputs are created before the clock starts; each side runs WARMUPS warm-ups, waits for a quiet machine
// (bench/waitquiet.sh), then one untimed run and --runs timed runs; the figure is the median. Checks: both
// sides' outputs and gradients against each other, and sampled output rows against float64, so a broken
// kernel shows as WRONG instead of winning.
import * as wg from '../dist/node.js';
import { fmt3, fmtErr, formatTable, median, parseBenchArgs, quietGate, randomF32, writeJson } from './common.mjs';

const WARMUPS = 2;
const REWARM = 1;
const [B, H, HD] = [8, 3, 64];

const opts = parseBenchArgs({
  usage: 'node bench/attention.mjs [--seq 50,197,1024] [--runs 5] [--json FILE] [--quiet-timeout S] [--strategy cpu-simd|gpu]',
  options: { seq: { type: 'string', default: '50,197,1024' }, strategy: { type: 'string' } },
});
const seqs = opts.values.seq.split(',').map(Number);
for (const t of seqs) if (!Number.isInteger(t) || t < 1) throw new Error(`--seq: bad length '${t}'`);
const strategy = opts.values.strategy;

const rt = await wg.init();
console.log(`adapter: ${rt.describe()}`);
console.log(`shapes: q, k, v [${B}, ${H}, T, ${HD}]; runs ${opts.runs} (median), warm-ups ${WARMUPS}\n`);

/** The unfused composition from public ops. */
function unfused(q, k, v) {
  const s = wg.mul(wg.matmul(q, k, { transB: true }), 1 / Math.sqrt(HD));
  return wg.matmul(wg.softmax(s, -1), v);
}
const fused = (q, k, v) => wg.scaledDotProductAttention(q, k, v, strategy ? { strategy } : {});

/** One run: forward (and backward) then read everything back; returns ms and the results. */
async function run(fn, ins, g, backward) {
  const t0 = performance.now();
  const y = fn(...ins);
  let out;
  if (backward) {
    wg.backward(y, g);
    out = await Promise.all([y.data(), ...ins.map((t) => t.grad.data())]);
  } else {
    out = [await y.data()];
  }
  const ms = performance.now() - t0;
  y.dispose();
  for (const t of ins) if (t.grad) { t.grad.dispose(); t.grad = null; }
  return { ms, out };
}

/** Float64 attention of row i of head bh. */
function refRow(q, k, v, T, bh, i) {
  const s = new Float64Array(T);
  let mx = -Infinity;
  for (let j = 0; j < T; j++) {
    let d = 0;
    for (let e = 0; e < HD; e++) d += q[(bh * T + i) * HD + e] * k[(bh * T + j) * HD + e];
    s[j] = d / Math.sqrt(HD);
    mx = Math.max(mx, s[j]);
  }
  let sum = 0;
  for (let j = 0; j < T; j++) sum += (s[j] = Math.exp(s[j] - mx));
  const o = new Float64Array(HD);
  for (let j = 0; j < T; j++) for (let e = 0; e < HD; e++) o[e] += (s[j] / sum) * v[(bh * T + j) * HD + e];
  return o;
}

const maxAbs = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

const rows = [];
const raw = [];
for (const T of seqs) {
  const n = B * H * T * HD;
  const host = [1, 2, 3].map((s) => randomF32(n, s * 1000 + T));
  const ins = host.map((h) => {
    const t = wg.tensor(h, { shape: [B, H, T, HD] });
    t.requiresGrad = true;
    return t;
  });
  const g = wg.tensor(randomF32(n, 4000 + T), { shape: [B, H, T, HD] });
  const rec = { T, sides: {} };
  const results = {};
  for (const [name, fn] of [['fused', fused], ['unfused', unfused]]) {
    const side = { fwd: [], fwdBwd: [] };
    try {
      for (let w = 0; w < WARMUPS; w++) { await run(fn, ins, g, false); await run(fn, ins, g, true); }
      side.quiet = await quietGate(`${name} T=${T}`, opts.quietTimeout);
      for (let r = 0; r < REWARM; r++) await run(fn, ins, g, false);
      for (let r = 0; r < opts.runs; r++) side.fwd.push((await run(fn, ins, g, false)).ms);
      for (let r = 0; r < REWARM; r++) await run(fn, ins, g, true);
      let last;
      for (let r = 0; r < opts.runs; r++) {
        last = await run(fn, ins, g, true);
        side.fwdBwd.push(last.ms);
      }
      results[name] = last.out;
    } catch (e) {
      side.error = e.message;
      console.log(`${name} T=${T}: FAILED: ${e.message}`);
    }
    rec.sides[name] = side;
  }
  // Checks: fused vs unfused on everything, and 4 sampled rows of the fused output vs float64.
  let errRef = 0;
  if (results.fused) {
    for (const [bh, i] of [[0, 0], [B * H - 1, T - 1], [5, T >> 1], [11, (T * 3) >> 2]]) {
      const o = refRow(host[0], host[1], host[2], T, bh, i);
      errRef = Math.max(errRef, maxAbs(results.fused[0].subarray((bh * T + i) * HD, (bh * T + i + 1) * HD), o));
    }
  }
  const errPair = results.fused && results.unfused ? Math.max(...results.fused.map((a, j) => maxAbs(a, results.unfused[j]))) : null;
  const wrong = errRef > 1e-4 || (errPair !== null && errPair > 1e-3);
  const f = rec.sides.fused, u = rec.sides.unfused;
  const mf = median(f.fwd), mu = median(u.fwd), bf = median(f.fwdBwd), bu = median(u.fwdBwd);
  rec.median = { fusedFwd: mf, unfusedFwd: mu, fusedFwdBwd: bf, unfusedFwdBwd: bu };
  rec.err = { fusedVsF64: errRef, fusedVsUnfused: errPair };
  raw.push(rec);
  rows.push([`T=${T}`, 'fwd', fmt3(mf), fmt3(mu), `${fmt3(mu / mf)}x`, fmtErr(errRef), wrong ? 'WRONG' : 'ok']);
  rows.push([`T=${T}`, 'fwd+bwd', fmt3(bf), fmt3(bu), `${fmt3(bu / bf)}x`, fmtErr(errPair), wrong ? 'WRONG' : 'ok']);
  for (const t of [...ins, g]) t.dispose();
}

console.log('\n' + formatTable(['shape', 'pass', 'fused ms', 'unfused ms', 'fused speed-up', 'max err', 'check'], rows));
console.log('\nfused speed-up = unfused ms / fused ms (higher is better); max err: fwd rows vs float64, fwd+bwd fused vs unfused on y, dq, dk, dv');
if (opts.json) writeJson(opts.json, { adapter: rt.describe(), shape: { B, H, HD }, runs: opts.runs, results: raw });
process.exit(0);
