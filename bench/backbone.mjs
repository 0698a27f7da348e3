#!/usr/bin/env node
// bench/backbone.mjs: a whole backbone, forward and forward + backward, in images/s: webgrad's
// ResNet-18 with the small-image stem (3x3/1 conv, no max pool, no fc: a 512-d pooled feature) on
// 3x32x32, training mode (batch-statistics BN), and ViT-tiny (patch 4, 65 tokens, D 192, depth 12,
// 3 heads, no head: the 192-d class token), next to TensorFlow.js (ResNet only) (tfjs-backend-webgpu, the
// same network through its layers API) on the same Dawn adapter, and PyTorch on the CPU
// (bench/torch_backbone.py, run with /usr/bin/python3 when it exists, 2 threads).
//
//   npm run bench:setup && npm run bench:backbone
//   node bench/backbone.mjs [--models resnet18,vit-tiny] [--batch 64,128] [--runs 5] [--peers tfjs|none] [--json out/bench-backbone.json]
//                           [--quiet-timeout 60] [--no-torch]
//
// Every side gets the same weights (webgrad's seeded init, exported), input x (uniform in [-1, 1))
// and upstream gradient g [N, 512], created and uploaded before the clock starts. Per batch and side:
// WARMUPS warm-ups, the quiet gate (bench/waitquiet.sh), one untimed run, then --runs timed runs;
// the figure is the median, as images/s = N / time.
//   fwd      forward -> the features on the CPU
//   fwd+bwd  forward, backward with g into every parameter's gradient -> the first layer's weight gradient (conv1, patch_embed.proj) on
//            the CPU (the last one the backward pass computes; the queue is in order)
// Checks: every side's features and first-layer weight gradient against PyTorch run in float64 on
// the same weights, batch and g (torch_backbone.py --reference; max |Δ| relative to the largest
// value; > 1e-3 shows WRONG and gives no ratio). Without torch, the peers are checked against webgrad.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as wg from '../dist/node.js';
import { fmt3, fmtErr, formatTable, loadPeers, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, repoRoot, writeJson } from './common.mjs';

const WARMUPS = 2;
const REWARM = 1;
const H = 32;
const C_IN = 3;
/** Relative tolerance of the checks (max |side - ref| / max |ref|, ref = PyTorch float64, else webgrad): whole-network f32. */
const REL_TOL = 1e-3;

// ---------------------------------------------------------------- the sides

/** The backbones measured (--models): how webgrad builds each, its feature size and its first (last-differentiated) weight. */
const MODELS = {
  resnet18: {
    title: 'ResNet-18 small-image stem',
    build: () => wg.resnet18({ stem: 'small', numClasses: null, generator: new wg.Generator(1234) }),
    call: "model = wg.resnet18({ stem: 'small', numClasses: null }); y = model.forward(x); backward(y, g); await conv1.weight.grad.data()",
    dim: 512,
    first: (m) => m.conv1.weight,
  },
  'vit-tiny': {
    title: 'ViT-tiny patch 4 (65 tokens, D 192, depth 12, 3 heads)',
    build: () => new wg.VisionTransformer({ imgSize: 32, patchSize: 4, inChans: 3, embedDim: 192, depth: 12, numHeads: 3, numClasses: 0, generator: new wg.Generator(1234) }),
    call: 'model = new wg.VisionTransformer({ imgSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, numClasses: 0 }); y = model.forward(x); backward(y, g); await patch_embed.proj.weight.grad.data()',
    dim: 192,
    first: (m) => m.patchEmbed.proj.weight,
  },
};

function webgradSide(model, spec) {
  return {
    name: 'webgrad',
    call: spec.call,
    async upload(c) {
      const x = wg.tensor(c.X, { shape: [c.N, C_IN, H, H] });
      const g = wg.tensor(c.G, { shape: [c.N, spec.dim] });
      await wg.sync();
      return { x, g };
    },
    async fwd({ x }) {
      const y = wg.noGrad(() => wg.scope(() => model.forward(x)));
      return { features: await y.data(), dispose: () => y.dispose() };
    },
    async fwdBwd({ x, g }) {
      const y = wg.scope(() => {
        const out = model.forward(x);
        wg.backward(out, g);
        return out;
      });
      const grad = await spec.first(model).grad.data();
      return { grad, dispose: () => { y.dispose(); model.zeroGrad(); } };
    },
    free({ x, g }) { x.dispose(); g.dispose(); },
  };
}

/** [d0, d1, d2, d3] row-major -> the axes in `perm` order. */
function permute4(a, dims, perm) {
  const out = new Float32Array(a.length);
  const st = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
  const od = perm.map((i) => dims[i]);
  const ps = perm.map((i) => st[i]);
  let o = 0;
  for (let i0 = 0; i0 < od[0]; i0++) for (let i1 = 0; i1 < od[1]; i1++) for (let i2 = 0; i2 < od[2]; i2++) {
    let src = i0 * ps[0] + i1 * ps[1] + i2 * ps[2];
    for (let i3 = 0; i3 < od[3]; i3++, src += ps[3]) out[o++] = a[src];
  }
  return out;
}

/**
 * The same ResNet-18 in tfjs layers (NHWC): explicit zero padding + 'valid' convs (tfjs 'same'
 * pads stride-2 convs asymmetrically), BN with PyTorch's epsilon, webgrad's weights (OIHW -> HWIO).
 */
function tfjsSide(tf, state) {
  const w = (k) => state.get(k);
  let model = null;
  const convW = (k) => { const t = w(k); return tf.tensor(permute4(t.data, t.shape, [2, 3, 1, 0]), [t.shape[2], t.shape[3], t.shape[1], t.shape[0]]); };
  const bnW = (p) => ['weight', 'bias', 'running_mean', 'running_var'].map((s) => tf.tensor(w(`${p}.${s}`).data));
  function build() {
    const L = tf.layers;
    const layers = [];
    const conv = (h, key, k, s, p) => {
      const t = w(key);
      if (p) h = L.zeroPadding2d({ padding: p }).apply(h);
      const l = L.conv2d({ filters: t.shape[0], kernelSize: k, strides: s, padding: 'valid', useBias: false });
      layers.push([l, () => [convW(key)]]);
      return l.apply(h);
    };
    const bn = (h, key) => {
      const l = L.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 });
      layers.push([l, () => bnW(key)]);
      return l.apply(h);
    };
    const relu = (h) => L.reLU().apply(h);
    const input = tf.input({ shape: [H, H, C_IN] });
    let h = relu(bn(conv(input, 'conv1.weight', 3, 1, 1), 'bn1'));
    for (let s = 1; s <= 4; s++) {
      for (let b = 0; b < 2; b++) {
        const p = `layer${s}.${b}`;
        const stride = s > 1 && b === 0 ? 2 : 1;
        let y = relu(bn(conv(h, `${p}.conv1.weight`, 3, stride, 1), `${p}.bn1`));
        y = bn(conv(y, `${p}.conv2.weight`, 3, 1, 1), `${p}.bn2`);
        const sc = state.has(`${p}.downsample.0.weight`) ? bn(conv(h, `${p}.downsample.0.weight`, 1, stride, 0), `${p}.downsample.1`) : h;
        h = relu(L.add().apply([y, sc]));
      }
    }
    const out = L.globalAveragePooling2d({}).apply(h);
    const m = tf.model({ inputs: input, outputs: out });
    for (const [l, weights] of layers) l.setWeights(weights());
    return m;
  }
  return {
    name: 'tfjs',
    call: "tf.layers ResNet-18 (NHWC); tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), g))); await grads['conv1'].data()",
    async upload(c) {
      model ??= build();
      const x = tf.tensor(permute4(c.X, [c.N, C_IN, H, H], [0, 2, 3, 1]), [c.N, H, H, C_IN]);
      const g = tf.tensor(c.G, [c.N, 512]);
      const conv1 = model.trainableWeights.find((v) => v.originalName.includes('conv2d') && v.shape.join() === [3, 3, C_IN, 64].join());
      return { x, g, conv1 };
    },
    async fwd({ x }) {
      const y = tf.tidy(() => model.apply(x, { training: true }));
      return { features: await y.data(), dispose: () => y.dispose() };
    },
    async fwdBwd({ x, g, conv1 }) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), g)));
      const gk = grads[conv1.val.name];
      const grad = permute4(await gk.data(), [3, 3, C_IN, 64], [3, 2, 0, 1]); // HWIO -> OIHW
      return { grad, dispose: () => { value.dispose(); for (const t of Object.values(grads)) t.dispose(); } };
    },
    free({ x, g }) { x.dispose(); g.dispose(); },
  };
}

/** Times `runs` runs after REWARM untimed ones: { times_ms, median_ms, last }. */
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

async function measure(side, c, opts) {
  const rec = { side: side.name, quiet: null, fwd: null, fwd_bwd: null, error: null, out: {} };
  let inp = null;
  let phase = 'upload';
  try {
    inp = await side.upload(c);
    phase = 'warm-up';
    for (let i = 0; i < WARMUPS; i++) { (await side.fwd(inp)).dispose(); (await side.fwdBwd(inp)).dispose(); }
    rec.quiet = await quietGate(side.name, opts.quietTimeout);
    for (const [key, fn] of [['fwd', side.fwd], ['fwd_bwd', side.fwdBwd]]) {
      phase = key;
      const t = await timeRuns(() => fn(inp), opts.runs);
      rec[key] = { times_ms: t.times_ms, median_ms: t.median_ms, images_per_s: c.N / (t.median_ms / 1000) };
      Object.assign(rec.out, t.last);
    }
    console.log(`  ${side.name.padEnd(7)} fwd ${fmt3(rec.fwd.images_per_s)} img/s (runs ${rec.fwd.times_ms.map((t) => t.toFixed(0)).join(' ')} ms); ` +
      `fwd+bwd ${fmt3(rec.fwd_bwd.images_per_s)} img/s (runs ${rec.fwd_bwd.times_ms.map((t) => t.toFixed(0)).join(' ')} ms)`);
  } catch (e) {
    rec.error = `${phase}: ${(e?.message ?? String(e)).split('\n')[0]}`;
    console.log(`  ${side.name.padEnd(7)} ERROR: ${rec.error}`);
  } finally {
    if (inp) { try { side.free(inp); } catch { /* the error above is the one to report */ } }
  }
  return rec;
}

/** max |a - b| / max |b| (Infinity on a length mismatch, NaN-safe). */
function relDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / (s || 1);
}

// ---------------------------------------------------------------- PyTorch on the CPU

function torchPython() { return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; }

/**
 * Writes the state dict + x + g of one batch for torch_backbone.py, runs it, reads its outputs back.
 * `reference`: one float64 forward + backward instead of timed float32 runs (the check every side is held to).
 */
async function runTorch(c, stateEntries, opts, tmp, name, dim, { reference = false } = {}) {
  const caseFile = path.join(tmp, `case_N${c.N}.safetensors`);
  const outFile = path.join(tmp, `torch_N${c.N}${reference ? '_f64' : ''}.safetensors`);
  const entries = [...stateEntries, ['x', { dtype: 'F32', shape: [c.N, C_IN, H, H], data: c.X }], ['g', { dtype: 'F32', shape: [c.N, dim], data: c.G }]];
  writeFileSync(caseFile, wg.checkpoint.write(entries));
  const py = torchPython();
  const args = [path.join(repoRoot, 'bench', 'torch_backbone.py'), '--case', caseFile, '--out', outFile, '--runs', String(opts.runs),
    '--threads', '2', '--quiet-timeout', String(opts.quietTimeout), '--model', name, ...(reference ? ['--reference'] : [])];
  const res = await new Promise((resolve) => {
    const child = execFile(py, args, { maxBuffer: 64 << 20 }, (err, stdout) => {
      let parsed = null;
      try { parsed = JSON.parse(stdout.trim().split('\n').pop() ?? ''); } catch { /* reported below */ }
      if (parsed?.error) resolve({ error: parsed.error });
      else if (parsed && !err) resolve(parsed);
      else resolve({ error: `${py} bench/torch_backbone.py failed: ${(err?.message ?? 'no JSON on stdout').split('\n')[0]}` });
    });
    child.stderr.on('data', (d) => process.stdout.write(String(d)));
  });
  if (res.error) return { side: 'torch-cpu', error: res.error };
  const out = wg.checkpoint.read(readFileSync(outFile)).tensors;
  const outputs = { features: out.get('features').data, grad: out.get('grad.first').data };
  if (reference) return { side: 'float64', out: outputs };
  const r = res.results[0];
  return {
    side: 'torch-cpu', torch: res.torch, threads: res.threads, blas: res.blas, quiet: r.quiet, fwd: r.fwd, fwd_bwd: r.fwd_bwd, error: null,
    out: outputs,
  };
}

// ---------------------------------------------------------------- main

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/backbone.mjs [--models resnet18,vit-tiny] [--batch 64,128] [--runs N>=${MIN_RUNS}] [--peers tfjs|none] [--json out/bench-backbone.json] ` +
      '[--quiet-timeout seconds, 0 = no gate] [--no-torch]',
    options: {
      batch: { type: 'string', default: '64,128' }, 'no-torch': { type: 'boolean', default: false },
      models: { type: 'string', default: 'resnet18,vit-tiny' },
    },
  });
  const models = values.models.split(',').map((t) => t.trim());
  for (const m of models) if (!MODELS[m]) throw new Error(`--models: unknown model '${m}' (${Object.keys(MODELS).join(', ')})`);
  const batches = values.batch.split(',').map((t) => Number(t.trim()));
  if (!batches.length || !batches.every((b) => Number.isInteger(b) && b > 1)) throw new Error(`--batch: cannot read '${values.batch}' (comma list of integers > 1)`);
  return { batches, models, torch: !values['no-torch'], ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/backbone  ${started}  node ${process.version}  ${opts.models.join(', ')} on 3x${H}x${H}, training mode, ` +
    `batches ${opts.batches.join(', ')}, runs ${opts.runs} after ${WARMUPS} warm-ups (+${REWARM} untimed after the quiet gate)`);
  const rt = await wg.init();
  console.log(rt.describe());
  if (opts.peers.includes('jax')) console.log('peer jax: not measured here (jax-js has no layers API for these networks; see bench/conv2d and bench/matmul)');
  const wantTfjs = opts.peers.includes('tfjs') && opts.models.includes('resnet18');
  const loaded = await loadPeers(rt, wantTfjs ? ['tfjs'] : [], { tfjsGradients: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'webgrad-bench-backbone-'));
  const results = [];
  const calls = {};
  try {
    for (const name of opts.models) {
      const spec = MODELS[name];
      const model = spec.build().train();
      const state = new Map();
      for (const [k, t] of model.stateDict()) {
        const d = await t.data();
        state.set(k, { dtype: t.dtype === 'f32' ? 'F32' : 'I64', shape: [...t.shape], data: t.dtype === 'f32' ? d : BigInt64Array.from(d, (v) => BigInt(v)) });
      }
      const sides = [webgradSide(model, spec)];
      if (loaded.tfjs && name === 'resnet18') {
        const tfl = await import('@tensorflow/tfjs'); // the union package: core + layers on the same engine
        sides.push(tfjsSide(tfl, state));
      }
      for (const side of sides) calls[`${name} ${side.name}`] = side.call;
      for (const [bi, N] of opts.batches.entries()) {
        console.log(`\n${spec.title}, N${N} x 3x${H}x${H}`);
        const c = { N, X: randomF32(N * C_IN * H * H, 3000 + 2 * bi), G: randomF32(N * spec.dim, 3001 + 2 * bi) };
        const recs = {};
        for (const side of sides) recs[side.name] = await measure(side, c, opts);
        if (opts.torch) {
          console.log(`  torch   ${torchPython()} bench/torch_backbone.py --model ${name}, 2 threads`);
          recs.torch = await runTorch(c, [...state], opts, tmp, name, spec.dim);
          if (recs.torch.error) console.log(`  torch   n/a: ${recs.torch.error}`);
          else console.log(`  torch   PyTorch ${recs.torch.torch}, BLAS ${recs.torch.blas ?? 'unknown'}`);
        }
        // Every side against PyTorch in float64 when torch is here, else the peers against webgrad.
        const f64 = opts.torch && !recs.torch.error ? await runTorch(c, [...state], opts, tmp, name, spec.dim, { reference: true }) : null;
        if (f64?.error) console.log(`  float64 reference n/a: ${f64.error}`);
        const ref = f64 && !f64.error ? f64 : recs.webgrad;
        const against = ref === f64 ? 'PyTorch float64' : 'webgrad';
        for (const r of Object.values(recs)) {
          if (r === ref || r.error || ref.error) continue;
          r.checks = { against, features: relDiff(r.out.features, ref.out.features), grad: relDiff(r.out.grad, ref.out.grad) };
          r.ok = r.checks.features <= REL_TOL && r.checks.grad <= REL_TOL;
          console.log(`  ${r.side.padEnd(7)} ${r.ok ? 'ok' : 'WRONG'}: features ${fmtErr(r.checks.features)}, first-layer grad ${fmtErr(r.checks.grad)} ` +
            `(max |Δ| / max |ref| against ${against}; tolerance ${REL_TOL})`);
        }
        for (const r of Object.values(recs)) delete r.out;
        results.push({ model: name, N, sides: recs });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  printTable(results);
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), warmups: WARMUPS, rewarm: REWARM,
      runs: opts.runs, peers: loaded.info, calls, results,
    });
  }
  process.exit(results.some((r) => r.sides.webgrad.error) ? 1 : 0); // Dawn keeps handles that hold the event loop
}

function printTable(results) {
  const ips = (r, key) => (!r ? 'n/a' : r.error ? 'error' : r.ok === false ? 'WRONG' : fmt3(r[key]?.images_per_s));
  const valid = (r, key) => (r && !r.error && r.ok !== false ? r[key]?.images_per_s : null);
  const ratio = (w, p, key) => { const a = valid(w, key), b = valid(p, key); return a && b ? `${fmt3(a / b)}x` : '—'; };
  const chk = (r) => (r?.checks ? `${fmtErr(r.checks.features)} / ${fmtErr(r.checks.grad)}` : '—');
  const rows = [];
  for (const { model, N, sides: s } of results) {
    for (const [key, pass] of [['fwd', 'fwd'], ['fwd_bwd', 'fwd+bwd']]) {
      rows.push([key === 'fwd' ? `${model} N${N}` : '', pass, ips(s.webgrad, key), ips(s.tfjs, key), ips(s.torch, key), ratio(s.webgrad, s.tfjs, key), ratio(s.webgrad, s.torch, key),
        key === 'fwd' ? chk(s.webgrad) : '', key === 'fwd' ? chk(s.tfjs) : '', key === 'fwd' ? chk(s.torch) : '']);
    }
  }
  console.log('\nimages/s = N / median time (forward -> features on the CPU; fwd+bwd -> the first layer weight gradient on the CPU); ' +
    'webgrad/peer = webgrad img/s / peer img/s (> 1: webgrad faster); checks = max |side - ref| / max |ref| of features / first-layer grad, ' +
    'ref = PyTorch in float64 on the same state and batch (without torch: webgrad).');
  console.log(formatTable(['model, batch', 'pass', 'webgrad img/s', 'tfjs img/s', 'torch-cpu img/s', 'webgrad/tfjs', 'webgrad/torch', 'webgrad check', 'tfjs check', 'torch check'], rows));
}

main().catch((e) => {
  console.error(`bench/backbone: ${e?.message ?? e}`);
  process.exit(2);
});
