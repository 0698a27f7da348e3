#!/usr/bin/env node
// bench/ssl_step.mjs: one training step of each self-supervised method (models/ssl: SimCLR, MoCo v2,
// BYOL, SimSiam, built by createMethod) in images/s: two views of --batch images (default 128) of
// 3x32x32 through the small-image ResNet-18 (stem 'small', no fc: 512-d pooled features) with a
// 512-512-128 projection head, next to PyTorch on this machine's CPU at the same configuration
// (bench/torch_ssl_step.py, run with /usr/bin/python3 when it exists, 2 threads).
//
//   npm run bench:ssl_step
//   node bench/ssl_step.mjs [--methods simclr,moco-v2,byol,simsiam] [--batch 128] [--runs 5]
//                           [--json out/bench-ssl_step.json] [--quiet-timeout 60] [--no-torch]
//
// The step (augmentation excluded: both sides get the same two fixed views, made once by
// wg.augmentViews with the SimCLR CIFAR preset and read back for PyTorch):
//   opt.zeroGrad(); l = method.loss([v1, v2], progress); backward(l); opt.step();
//   method.afterStep(progress) (EMA of the momentum encoder, MoCo's queue); await l.item()
// The methods take their recipe from methodDefaults(name) (models/ssl/index.ts: SGD momentum 0.9,
// weight decay 5e-4, lr scaled linearly from batch 256; τ, queue, EMA momentum, predictor width), with
// the projection head set to 512-512-128 (BYOL's predictor 128-512-128). images/s = 2 x batch / median
// step time (every view image counted, as ../shared/peers/torch_cpu_results.md). Per method and side:
// WARMUPS warm-up steps, the quiet gate (bench/waitquiet.sh), REWARM untimed steps, --runs timed steps.
// Check: PyTorch starts from webgrad's initial state (every parameter, BN statistic and MoCo's queue,
// exported as safetensors with PyTorch names) on the same views, so the losses of the warm-up steps
// must agree (|Δ| <= LOSS_TOL (1 + |loss|)); a side that disagrees is shown WRONG and gets no ratio.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as wg from '../dist/node.js';
import { fmt3, fmtErr, formatTable, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, repoRoot, writeJson } from './common.mjs';

const WARMUPS = 2;
const REWARM = 1;
const H = 32;
const C_IN = 3;
/** totalSteps of the StepProgress every step gets (BYOL's cosine EMA momentum reads it). */
const TOTAL_STEPS = 100;
/** Loss agreement of the warm-up steps between the sides: |Δ| <= LOSS_TOL (1 + |webgrad loss|). */
const LOSS_TOL = 1e-3;
const ALL = ['simclr', 'moco-v2', 'byol', 'simsiam'];
/** The projection head of every method (issue 9): 512 -> 512 -> 128. */
const HEADS = { projectionHidden: 512, projectionOut: 128 };

/** createMethod options of `name` (methodDefaults with the 512-512-128 head) and its SGD settings at `batch` per view. */
function recipe(name, batch) {
  const d = wg.methodDefaults(name);
  if (d.optimizer.kind !== 'sgd') throw new Error(`${name}: methodDefaults gives optimizer '${d.optimizer.kind}'; this benchmark mirrors SGD only`);
  const options = { ...d.options, ...HEADS };
  const sgd = { lr: wg.scaledLr(d.optimizer, batch), momentum: d.optimizer.momentum, weightDecay: d.optimizer.weightDecay };
  return { options, sgd };
}

/** The same configuration in bench/torch_ssl_step.py's terms (head sizes, loss and EMA settings, SGD). */
function torchConfig(name, method, options, sgd) {
  const sizes = (h) => [...h.sizes];
  const c = { method: name, proj: sizes(method.projectionHead), lr: sgd.lr, sgd_momentum: sgd.momentum, weight_decay: sgd.weightDecay, total_steps: TOTAL_STEPS };
  if (name === 'simclr') Object.assign(c, { proj_bn: true, proj_last_bn: false, temperature: method.temperature });
  if (name === 'moco-v2') {
    Object.assign(c, {
      proj_bn: false, proj_last_bn: false, temperature: method.temperature, queue_size: method.queue.size, symmetric: method.symmetric,
      momentum: options.momentum, momentum_schedule: options.momentumSchedule,
    });
  }
  if (name === 'byol') {
    Object.assign(c, { proj_bn: true, proj_last_bn: false, pred: sizes(method.predictionHead), momentum: options.momentum, momentum_schedule: options.momentumSchedule });
  }
  if (name === 'simsiam') Object.assign(c, { proj_bn: true, proj_last_bn: true, pred: sizes(method.predictionHead) });
  return c;
}

/** A method's state as safetensors entries [name, { dtype, shape, data }] (PyTorch names), read back from the GPU. */
async function stateEntries(module) {
  const out = [];
  for (const [k, t] of module.stateDict()) {
    const d = await t.data();
    out.push([k, { dtype: t.dtype === 'f32' ? 'F32' : 'I32', shape: [...t.shape], data: t.dtype === 'f32' ? d : Int32Array.from(d) }]);
  }
  return out;
}

// ---------------------------------------------------------------- webgrad

/** One step; k counts every step this method has taken (its StepProgress). Returns the loss read back. */
async function step(st, k) {
  const progress = { step: k, totalSteps: TOTAL_STEPS, epoch: 0 };
  const loss = wg.scope(() => {
    st.opt.zeroGrad();
    const l = st.method.loss(st.views, progress);
    wg.backward(l);
    st.opt.step();
    st.method.afterStep(progress);
    return l;
  });
  const v = await loss.item(); // submits the whole step; the readback is ordered after the update and afterStep
  loss.dispose();
  return v;
}

async function measureWebgrad(name, views, opts, tmp) {
  const rec = { method: name, side: 'webgrad', error: null, warm_losses: [], losses: [], quiet: null, times_ms: null, median_ms: null, images_per_s: null };
  let st = null;
  let phase = 'create';
  try {
    const { options, sgd } = recipe(name, opts.batch);
    const backbone = () => wg.resnet18({ stem: 'small', numClasses: null, generator: new wg.Generator(1234) });
    const method = wg.createMethod(name, { ...options, backbone, generator: new wg.Generator(99) }).train();
    const opt = new wg.SGD(method.trainableParameters(), sgd);
    st = { method, opt, views };
    rec.config = torchConfig(name, method, options, sgd);
    rec.options = options;
    if (opts.torch) {
      phase = 'export';
      rec.case = path.join(tmp, `${name}.safetensors`);
      const entries = [...await stateEntries(method),
        ['view1', { dtype: 'F32', shape: [...views[0].shape], data: await views[0].data() }],
        ['view2', { dtype: 'F32', shape: [...views[1].shape], data: await views[1].data() }]];
      writeFileSync(rec.case, wg.checkpoint.write(entries));
    }
    await wg.sync();
    let k = 0;
    phase = 'warm-up';
    for (let i = 0; i < WARMUPS; i++) rec.warm_losses.push(await step(st, k++));
    rec.quiet = await quietGate('webgrad', opts.quietTimeout);
    phase = 'timed';
    for (let i = 0; i < REWARM; i++) await step(st, k++);
    const times = [];
    for (let i = 0; i < opts.runs; i++) {
      const t0 = performance.now();
      rec.losses.push(await step(st, k++));
      times.push(performance.now() - t0);
    }
    rec.times_ms = times;
    rec.median_ms = median(times);
    rec.images_per_s = (2 * opts.batch) / (rec.median_ms / 1000);
    const finite = [...rec.warm_losses, ...rec.losses].every(Number.isFinite);
    if (!finite) rec.error = `loss not finite: ${[...rec.warm_losses, ...rec.losses].join(', ')}`;
    console.log(`  webgrad ${fmt3(rec.images_per_s)} img/s, ${rec.median_ms.toFixed(0)} ms/step (runs ${times.map((t) => t.toFixed(0)).join(' ')} ms); ` +
      `loss ${rec.warm_losses.map((l) => l.toPrecision(5)).join(', ')} | ${rec.losses.map((l) => l.toPrecision(5)).join(', ')}`);
  } catch (e) {
    rec.error = `${phase}: ${(e?.message ?? String(e)).split('\n')[0]}`;
    console.log(`  webgrad ERROR: ${rec.error}`);
  } finally {
    if (st) {
      try {
        st.opt.zeroGrad();
        st.opt.dispose();
        st.method.dispose();
      } catch { /* the error above is the one to report */ }
    }
  }
  return rec;
}

// ---------------------------------------------------------------- PyTorch on the CPU

function torchPython() { return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; }

/** Runs bench/torch_ssl_step.py on every method's case in one subprocess; returns its JSON or { error }. */
function runTorch(recs, opts) {
  const spec = recs.filter((r) => r.case && !r.error).map((r) => ({ ...r.config, case: r.case }));
  if (!spec.length) return Promise.resolve({ error: 'no method to run (webgrad failed before exporting its state)' });
  const py = torchPython();
  const args = [path.join(repoRoot, 'bench', 'torch_ssl_step.py'), '--spec', JSON.stringify(spec), '--runs', String(opts.runs),
    '--threads', '2', '--quiet-timeout', String(opts.quietTimeout)];
  return new Promise((resolve) => {
    const child = execFile(py, args, { maxBuffer: 64 << 20 }, (err, stdout) => {
      let parsed = null;
      try { parsed = JSON.parse(stdout.trim().split('\n').pop() ?? ''); } catch { /* reported below */ }
      if (parsed?.error) resolve({ error: parsed.error, interpreter: py });
      else if (parsed && !err) resolve({ ...parsed, interpreter: py });
      else resolve({ error: `${py} bench/torch_ssl_step.py failed: ${(err?.message ?? 'no JSON on stdout').split('\n')[0]}`, interpreter: py });
    });
    child.stderr.on('data', (d) => process.stdout.write(String(d))); // its progress lines, as they come
  });
}

// ---------------------------------------------------------------- main

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/ssl_step.mjs [--methods ${ALL.join(',')}] [--batch 128] [--runs N>=${MIN_RUNS}] ` +
      '[--json out/bench-ssl_step.json] [--quiet-timeout seconds, 0 = no gate] [--no-torch]',
    options: {
      methods: { type: 'string', default: ALL.join(',') },
      batch: { type: 'string', default: '128' },
      'no-torch': { type: 'boolean', default: false },
    },
  });
  const methods = values.methods.split(',').map((t) => t.trim()).filter(Boolean);
  for (const m of methods) if (!ALL.includes(m)) throw new Error(`--methods: unknown method '${m}' (${ALL.join(', ')})`);
  if (!methods.length) throw new Error('--methods: empty');
  const batch = Number(values.batch);
  if (!(Number.isInteger(batch) && batch >= 2)) throw new Error(`--batch: '${values.batch}' (images per view, an integer >= 2)`);
  return { methods, batch, torch: !values['no-torch'], ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/ssl_step  ${started}  node ${process.version}  ${opts.methods.join(', ')}: two views of ${opts.batch} x 3x${H}x${H}, ` +
    `ResNet-18 small stem, projection 512-512-128; runs ${opts.runs} after ${WARMUPS} warm-ups (+${REWARM} untimed after the quiet gate)`);
  const rt = await wg.init();
  console.log(rt.describe());
  // The two fixed views: random pixels through the SimCLR CIFAR preset, made once (augmentation is not timed).
  const x = wg.tensor(randomF32(opts.batch * C_IN * H * H, 6000).map((v) => (v + 1) / 2), { shape: [opts.batch, C_IN, H, H] });
  const preset = wg.simclrPreset({ size: H, strength: 0.5 });
  const views = wg.augmentViews(x, [preset, preset], new wg.Generator(6001));
  x.dispose();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'webgrad-bench-ssl-'));
  const recs = [];
  let torch = null;
  try {
    for (const name of opts.methods) {
      console.log(`\n${name}`);
      recs.push(await measureWebgrad(name, views, opts, tmp));
    }
    if (opts.torch) {
      console.log(`\ntorch (CPU): ${torchPython()} bench/torch_ssl_step.py, 2 threads`);
      torch = await runTorch(recs, opts);
      if (torch.error) console.log(`  torch   n/a: ${torch.error}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    for (const v of views) v.dispose();
  }
  const rows = recs.map((w) => {
    const t = torch?.results?.find((r) => r.method === w.method) ?? null;
    return { method: w.method, webgrad: w, torch: t, check: checkLosses(w, t) };
  });
  printTable(rows, opts, torch);
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), warmups: WARMUPS, rewarm: REWARM,
      runs: opts.runs, batch_per_view: opts.batch, loss_tol: LOSS_TOL, torch: torch && { ...torch, results: undefined },
      call: 'scope(() => { opt.zeroGrad(); l = method.loss([v1, v2], progress); backward(l); opt.step(); method.afterStep(progress) }); await l.item()',
      results: rows.map(({ method, webgrad, torch: t, check }) => ({ method, webgrad: { ...webgrad, case: undefined }, torch: t, check })),
    });
  }
  process.exit(rows.some((r) => r.webgrad.error || r.check?.ok === false) ? 1 : 0); // Dawn keeps handles that hold the event loop
}

/**
 * The warm-up losses of both sides (same initial state, same views): { max_diff, ok }, or null when
 * PyTorch could not load webgrad's state (then it ran from its own init and nothing is compared).
 */
function checkLosses(w, t) {
  if (!t || t.error || !t.loaded || w.error) return null;
  let m = 0, ok = true;
  w.warm_losses.forEach((l, i) => {
    const d = Math.abs(l - t.warm_losses[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
    if (!(d <= LOSS_TOL * (1 + Math.abs(l)))) ok = false;
  });
  if (!ok) console.log(`  ${w.method}: WRONG: warm-up losses webgrad ${w.warm_losses.join(', ')} vs torch ${t.warm_losses.join(', ')}`);
  return { max_diff: m, ok };
}

function printTable(rows, opts, torch) {
  const cell = (r, ok) => (!r ? 'n/a' : r.error ? 'error' : `${fmt3(r.images_per_s)}${ok === false ? ' WRONG' : ''}`);
  const ms = (r) => (r && !r.error && r.median_ms ? r.median_ms.toFixed(0) : '—');
  const table = rows.map(({ method, webgrad: w, torch: t, check }) => [
    method, cell(w, check?.ok), ms(w), cell(t), ms(t),
    w && t && !w.error && !t.error && check?.ok !== false ? `${fmt3(w.images_per_s / t.images_per_s)}x` : '—',
    check ? `${fmtErr(check.max_diff)}${check.ok ? '' : ' WRONG'}` : t && !t.error && !t.loaded ? `n/a (torch own init: ${t.load_error ?? ''})` : '—',
  ]);
  const torchNote = !opts.torch ? 'torch-cpu: --no-torch' : torch?.error ? `torch-cpu n/a (${torch.error})`
    : `torch-cpu: PyTorch ${torch.torch} on the CPU, ${torch.threads} threads, BLAS ${torch.blas ?? 'unknown'}`;
  console.log(`\nimages/s = 2 x ${opts.batch} / median step time over ${opts.runs} steps (loss, backward, SGD step, afterStep, loss read back; ` +
    `fixed views, augmentation not timed). webgrad/torch > 1: webgrad faster. ${torchNote}. loss check = max |Δ| of the ${WARMUPS} ` +
    `warm-up losses from the same initial state (tolerance ${LOSS_TOL} (1 + |loss|)).`);
  console.log(formatTable(['method', 'webgrad img/s', 'webgrad ms', 'torch-cpu img/s', 'torch-cpu ms', 'webgrad/torch', 'loss check'], table));
  const errors = rows.flatMap(({ method, webgrad: w, torch: t }) => [w, t].filter((r) => r?.error).map((r) => `${method} ${r.side ?? 'torch'}: ${r.error}`));
  if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
}

main().catch((e) => {
  console.error(`bench/ssl_step: ${e?.message ?? e}`);
  process.exit(2);
});
