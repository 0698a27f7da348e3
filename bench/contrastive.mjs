#!/usr/bin/env node
// bench/contrastive.mjs: webgrad's fused NT-Xent (wg.ntXent: one streaming forward kernel, one
// backward pass over the symmetric similarity matrix, no 2N x 2N matrix in memory) against the
// unfused composition of the library's own public ops with the same batching:
//   zn = normalize(z); S = matmul(zn, znᵀ) / τ; S = where(eye, -1e9, S); logp = logSoftmax(S);
//   loss = -mean(gather(logp, 1, (i + N) mod 2N))
// forward + backward, feature dim 128, at 2N = 512 and 4096 (issue 6, point 4).
//
//   npm run bench:contrastive
//   node bench/contrastive.mjs [--sizes 512,4096] [--dim 128] [--tau 0.1] [--runs 5]
//                              [--json out/bench-contrastive.json] [--quiet-timeout 60]
//
// Every side is timed the same way: from the loss call to the loss value and the gradient of z
// read back to the CPU (forward + backward), inputs uploaded before the clock starts (the eye mask
// and the positive indices of the unfused side are inputs too), results disposed after it stops;
// median of --runs runs after 2 warm-ups, gated on bench/waitquiet.sh. The two sides' losses and
// gradients are compared, so a broken kernel shows as WRONG instead of winning.
import * as wg from '../dist/node.js';
import { fmt3, fmtErr, formatTable, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, writeJson } from './common.mjs';

const WARMUPS = 2;

/** The fused side. */
function fusedSide(tau) {
  return {
    name: 'fused',
    upload: () => ({}),
    loss: (z) => wg.ntXent(z, { temperature: tau }),
    free() {},
  };
}

/** The unfused side: normalize, matmul, mask, log-softmax, gather, mean. */
function unfusedSide(tau) {
  return {
    name: 'unfused',
    upload(n2) {
      const eye = new Float32Array(n2 * n2);
      for (let i = 0; i < n2; i++) eye[i * n2 + i] = 1;
      const pos = Int32Array.from({ length: n2 }, (_, i) => (i + n2 / 2) % n2);
      return { eye: wg.tensor(eye, { shape: [n2, n2] }), pos: wg.tensor(pos, { shape: [n2, 1], dtype: 'i32' }) };
    },
    loss(z, { eye, pos }) {
      const zn = wg.normalize(z);
      const s = wg.div(wg.matmul(zn, zn, { transB: true }), tau);
      const logp = wg.logSoftmax(wg.where(eye, -1e9, s), 1);
      return wg.neg(wg.mean(wg.gather(logp, 1, pos)));
    },
    free({ eye, pos }) { eye.dispose(); pos.dispose(); },
  };
}

/** Uploads, warms up, waits for a quiet machine, times `runs` runs; returns the side's record. */
async function measure(side, n2, Z, opts) {
  const rec = { side: side.name, times_ms: [], median_ms: null, quiet: null, error: null, loss: null, grad: null };
  let inp = null;
  let z = null;
  try {
    z = wg.tensor(Z, { shape: [n2, opts.dim] });
    z.requiresGrad = true;
    inp = side.upload(n2);
    await wg.sync();
    const once = async () => {
      const t0 = performance.now();
      const loss = wg.scope(() => {
        const l = side.loss(z, inp);
        wg.backward(l);
        return l;
      });
      const value = await loss.item();
      const grad = await z.grad.data();
      const ms = performance.now() - t0;
      loss.dispose();
      z.grad.dispose();
      z.grad = null;
      return { ms, value, grad };
    };
    for (let i = 0; i < WARMUPS; i++) await once();
    rec.quiet = await quietGate(side.name, opts.quietTimeout);
    for (let i = 0; i < opts.runs; i++) {
      const r = await once();
      rec.times_ms.push(r.ms);
      rec.loss = r.value;
      rec.grad = r.grad;
    }
    rec.median_ms = median(rec.times_ms);
    console.log(`  ${side.name.padEnd(7)} median ${rec.median_ms.toFixed(1)} ms (runs ${rec.times_ms.map((t) => t.toFixed(0)).join(' ')} ms), loss ${rec.loss.toFixed(6)}`);
  } catch (e) {
    rec.error = (e?.message ?? String(e)).split('\n')[0];
    console.log(`  ${side.name.padEnd(7)} ERROR: ${rec.error}`);
  } finally {
    if (inp) { try { side.free(inp); } catch { /* the error above is the one to report */ } }
    z?.dispose();
  }
  return rec;
}

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/contrastive.mjs [--sizes 512,4096] [--dim 128] [--tau 0.1] [--runs N>=${MIN_RUNS}] ` +
      '[--json out/bench-contrastive.json] [--quiet-timeout seconds, 0 = no gate]',
    options: {
      sizes: { type: 'string', default: '512,4096' },
      dim: { type: 'string', default: '128' },
      tau: { type: 'string', default: '0.1' },
    },
  });
  const sizes = values.sizes.split(',').map((t) => Number(t.trim()));
  for (const n of sizes) if (!Number.isInteger(n) || n < 2 || n % 2) throw new Error(`--sizes: 2N must be an even integer >= 2, got '${values.sizes}'`);
  const dim = Number(values.dim);
  const tau = Number(values.tau);
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`--dim must be a positive integer, got '${values.dim}'`);
  if (!(tau > 0)) throw new Error(`--tau must be > 0, got '${values.tau}'`);
  return { sizes, dim, tau, ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/contrastive  ${started}  node ${process.version}  NT-Xent d=${opts.dim} τ=${opts.tau}  runs ${opts.runs} after ${WARMUPS} warm-ups`);
  const rt = await wg.init();
  console.log(rt.describe());
  console.log(`kernel strategy: ${rt.strategy}${rt.subgroupSize ? ` (subgroup size ${rt.subgroupSize})` : ''}\n`);
  const sides = [fusedSide(opts.tau), unfusedSide(opts.tau)];
  const results = [];
  for (const n2 of opts.sizes) {
    console.log(`2N = ${n2}, d = ${opts.dim}: forward + backward`);
    const Z = randomF32(n2 * opts.dim, 7000 + n2);
    const recs = {};
    for (const side of sides) recs[side.name] = await measure(side, n2, Z, opts);
    const f = recs.fused;
    const u = recs.unfused;
    let lossDiff = null;
    let gradDiff = null;
    if (f.grad && u.grad) {
      lossDiff = Math.abs(f.loss - u.loss);
      gradDiff = 0;
      let scale = 0;
      for (let i = 0; i < f.grad.length; i++) {
        gradDiff = Math.max(gradDiff, Math.abs(f.grad[i] - u.grad[i]));
        scale = Math.max(scale, Math.abs(u.grad[i]));
      }
      f.ok = lossDiff <= 1e-4 * Math.max(1, Math.abs(u.loss)) && gradDiff <= 1e-3 * Math.max(scale, 1e-6);
      if (!f.ok) console.log(`  WRONG RESULT: |Δloss| ${fmtErr(lossDiff)}, max|Δgrad| ${fmtErr(gradDiff)} (grad scale ${fmtErr(scale)})`);
    }
    for (const r of Object.values(recs)) delete r.grad;
    results.push({ n2, dim: opts.dim, lossDiff, gradDiff, sides: recs });
  }

  const ms = (r) => (r?.error ? 'error' : r?.median_ms ? `${r.median_ms.toFixed(1)}${r.ok === false ? ' WRONG' : ''}` : 'n/a');
  const rows = results.map(({ n2, dim, lossDiff, gradDiff, sides: x }) => [
    `2N=${n2}, d=${dim}`, ms(x.fused), ms(x.unfused),
    x.fused.median_ms && x.unfused.median_ms && x.fused.ok !== false ? `${fmt3(x.unfused.median_ms / x.fused.median_ms)}x` : '—',
    fmtErr(lossDiff), fmtErr(gradDiff),
  ]);
  console.log('\nms = median(loss call -> loss and dz on the CPU), forward + backward; speedup = unfused / fused (> 1: fused faster).');
  console.log(formatTable(['shape', 'fused ms', 'unfused ms', 'speedup', '|Δloss|', 'max|Δdz|'], rows));
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), strategy: rt.strategy,
      warmups: WARMUPS, runs: opts.runs, tau: opts.tau, results,
    });
  }
  process.exit(results.some((r) => r.sides.fused.ok === false) ? 1 : 0); // Dawn keeps handles that hold the event loop
}

main().catch((e) => {
  console.error(`bench/contrastive: ${e?.message ?? e}`);
  process.exit(2);
});
