#!/usr/bin/env node
// bench/augment.mjs: augmented images per second of the SimCLR preset (src/data/augment.ts
// simclrPreset: resized crop 0.08-1 + flip, colour jitter p 0.8 in a random order per image,
// grayscale p 0.2, Gaussian blur p 0.5 from 64 px, ImageNet normalisation) on the GPU kernels
// (src/kernels/augment.ts), against the same pipeline on the CPU in plain JavaScript
// (bench/augment_cpu.mjs), and the augmentation's share of a ResNet-18 small-image training step.
//
//   npm run bench:augment
//   node bench/augment.mjs [--sizes 32,96] [--batch 256] [--step-batch 256] [--runs 5]
//                          [--json out/bench-augment.json] [--quiet-timeout 60] [--no-step] [--strength 1]
//
// Input: --batch 3-channel images of size x size (the crop's output size; a CIFAR-like 32x32 and an
// STL-like 96x96 batch), uniform in [0, 1] on multiples of 1/255 like decoded uint8 pixels, seeded.
// The GPU side's batch is uploaded before the clock starts, the CPU side's is a Float32Array.
// Per size and side: WARMUPS warm-ups, the quiet gate (bench/waitquiet.sh), REWARM untimed runs,
// then --runs timed runs; the figure is the median, as images/s = batch / time. One timed run:
//   gpu       y = wg.augment(x, preset, gen); await wg.sync()        (host sampling, record upload,
//             the kernels, until the GPU is done; the views stay on the GPU, where training reads them)
//   cpu       prm = wg.sampleAugmentParams(preset, shape, gen); augmentCpu(X, shape, prm, out)
//   upload    (extra column) t = wg.tensor(out); await wg.sync(): what a CPU pipeline pays to hand
//             its views to the GPU
// Run i of both sides uses a Generator seeded SEED + i, so both sides draw the same parameters and
// do the same work. Checks (untimed): the last timed run of each side (same parameters) compared
// over the whole batch (max |cpu - gpu|), and each side against the float64 reference of the tests
// (test/reference/augment.ts, loaded through esbuild) on the first CHECK_IMAGES images and the image
// where the sides differ most; a side off by more than 5e-4 (normalised units; see ATOL) anywhere
// there is WRONG and gets no ratio.
//
// Share of a training step (--step-batch S, default 256, at 32x32; --no-step skips it): one step of
// wg.resnet18({ stem: 'small', numClasses: null }) in training mode on S images = two views of S/2
// images (the SSL configuration of bench/ssl_step: 2 x 128): forward, loss mean(f^2) over the 512-d
// pooled features, backward, SGD(lr 0.1, momentum 0.9, wd 5e-4) step, loss read back; against the
// time to make those two views: wg.augmentViews(x[S/2], [preset, preset], gen) on the GPU, or two
// CPU pipelines (+ their upload). Share = augmentation / (augmentation + step).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as wg from '../dist/node.js';
import { augmentCpu, makeScratch } from './augment_cpu.mjs';
import { fmt3, fmtErr, formatTable, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, repoRoot, writeJson } from './common.mjs';

const WARMUPS = 2;
/** Untimed runs right after the quiet gate (the first run after the gate's idle seconds is often slow). */
const REWARM = 1;
const CHANNELS = 3;
/** Seed of the parameter draws of timed run i: SEED + i (warm-ups use other seeds). */
const SEED = 8000;
/** Images checked against the float64 reference, besides the one where the sides differ most. */
const CHECK_IMAGES = 4;
/**
 * Tolerance vs float64, |got - ref| <= ATOL + RTOL |ref|, in normalised units. The GPU computes the
 * bilinear source coordinates in f32 (as torchvision on f32 tensors): at 96 px their ulp is 7.6e-6, so
 * a sample moves by up to ~1e-5 of a pixel step, amplified by up to 1.8^3 by the jitter factors and by
 * 1 / 0.225 by Normalize: ~3e-4 at worst (measured: ~1e-4 over 32 images at 96x96). A wrong op or
 * order is off by 1e-2 or more. (test/data/augment.test.ts uses 3e-5 + 2e-5 |ref| on images <= 40 px.)
 */
const ATOL = 5e-4;
const RTOL = 0;

// ---------------------------------------------------------------- timing

/**
 * Warm-ups, the quiet gate, REWARM untimed runs, then `runs` timed runs of `fn(i)` (an async
 * function returning something with `dispose()`, or nothing). The result of the last timed run is
 * kept (not disposed) for the checks. Returns { quiet, times_ms, median_ms, last }.
 */
async function timeSide(name, fn, opts) {
  const done = (r) => r?.dispose?.();
  for (let i = 0; i < WARMUPS; i++) done(await fn(-1 - i));
  const quiet = await quietGate(name, opts.quietTimeout);
  for (let i = 0; i < REWARM; i++) done(await fn(-100 - i));
  const times = [];
  let last = null;
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    const r = await fn(i);
    times.push(performance.now() - t0);
    if (i < opts.runs - 1) done(r);
    else last = r;
  }
  return { quiet, times_ms: times, median_ms: median(times), last };
}

const runsLine = (t) => t.times_ms.map((v) => (v < 10 ? v.toFixed(2) : v.toFixed(0))).join(' ');

// ---------------------------------------------------------------- checks

/** Quantised uniform pixels in [0, 1] (multiples of 1/255, as decoded uint8 images). */
function pixels(n, seed) {
  const x = randomF32(n, seed);
  for (let i = 0; i < n; i++) x[i] = Math.round((x[i] + 1) * 127.5) / 255;
  return x;
}

/** The float64 reference of the tests (test/reference/augment.ts), compiled by esbuild (a devDependency). */
async function loadReference() {
  const esbuild = await import('esbuild');
  const file = path.join(repoRoot, 'test', 'reference', 'augment.ts');
  const { code } = await esbuild.transform(readFileSync(file, 'utf8'), { loader: 'ts', format: 'esm', sourcefile: file });
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

/** Image i's parameters alone (a batch of one), from a batch's AugmentParams. */
function pickImage(prm, i) {
  const one = (a) => (a === undefined ? undefined : [a[i]]);
  const box = (b) => b && { top: one(b.top), left: one(b.left), height: one(b.height), width: one(b.width) };
  const p = { size: prm.size, crop: box(prm.crop), hflip: one(prm.hflip), grayscale: one(prm.grayscale) };
  const j = prm.jitter;
  if (j) {
    p.jitter = {
      apply: one(j.apply), order: j.order && Array.from({ length: 4 }, (_, k) => j.order[4 * i + k]),
      brightness: one(j.brightness), contrast: one(j.contrast), saturation: one(j.saturation), hue: one(j.hue),
    };
  }
  if (prm.blur) p.blur = { kernelSize: prm.blur.kernelSize, sigma: one(prm.blur.sigma) };
  if (prm.solarize) p.solarize = { threshold: prm.solarize.threshold, apply: one(prm.solarize.apply) };
  if (prm.normalize) p.normalize = prm.normalize;
  if (prm.erase) p.erase = { ...box(prm.erase), value: one(prm.erase.value) };
  return p;
}

/**
 * The checks of one size: the two sides' last outputs (same parameters `prm`) against each other over
 * the whole batch, and each against float64 on CHECK_IMAGES images plus the worst one. Returns
 * { cpu_vs_gpu, worst_image, images, gpu: { f64_err, ok }, cpu: { f64_err, ok } }.
 */
function check(ref, X, shape, prm, gpuOut, cpuOut) {
  const [n, c, h, w] = shape;
  const per = gpuOut.length / n;
  let diff = 0, worst = 0;
  for (let i = 0; i < gpuOut.length; i++) {
    const d = Math.abs(gpuOut[i] - cpuOut[i]);
    if (!(d <= diff)) { diff = Number.isNaN(d) ? Infinity : d; worst = Math.floor(i / per); }
  }
  const images = [...new Set([...Array.from({ length: Math.min(CHECK_IMAGES, n) }, (_, i) => i), worst])];
  const res = { cpu_vs_gpu: diff, worst_image: worst, images, gpu: { f64_err: 0, ok: true }, cpu: { f64_err: 0, ok: true } };
  const inPer = c * h * w;
  for (const i of images) {
    const want = ref.augmentRef(X.subarray(i * inPer, (i + 1) * inPer), [1, c, h, w], pickImage(prm, i)).data;
    for (const [side, out] of [['gpu', gpuOut], ['cpu', cpuOut]]) {
      const r = res[side];
      for (let k = 0; k < per; k++) {
        const d = Math.abs(out[i * per + k] - want[k]);
        const e = Number.isNaN(d) ? Infinity : d;
        if (e > r.f64_err) r.f64_err = e;
        if (!(e <= ATOL + RTOL * Math.abs(want[k]))) r.ok = false;
      }
    }
  }
  return res;
}

// ---------------------------------------------------------------- one size: GPU vs CPU

async function measureSize(size, opts, ref) {
  const preset = wg.simclrPreset({ size, strength: opts.strength });
  const shape = [opts.batch, CHANNELS, size, size];
  const X = pixels(shape.reduce((a, b) => a * b), 4000 + size);
  const blurNote = preset.blur ? `blur k${preset.blur.kernelSize} p${preset.blur.p}` : 'no blur';
  console.log(`\nSimCLR preset ${size}x${size} (strength ${opts.strength}, ${blurNote}), batch ${opts.batch} x ${CHANNELS}x${size}x${size}`);
  const rec = { size, batch: opts.batch, preset, gpu: null, cpu: null, upload: null, checks: null, error: null };
  const gen = (i) => new wg.Generator(SEED + i);
  let x = null;
  let gpuLast = null;
  let phase = 'gpu';
  try {
    x = wg.tensor(X, { shape });
    await wg.sync();
    const g = await timeSide('gpu', async (i) => {
      const y = wg.augment(x, preset, gen(i));
      await wg.sync();
      return y;
    }, opts);
    gpuLast = g.last;
    rec.gpu = { quiet: g.quiet, times_ms: g.times_ms, median_ms: g.median_ms, images_per_s: opts.batch / (g.median_ms / 1000) };
    console.log(`  gpu     ${fmt3(rec.gpu.images_per_s)} img/s (runs ${runsLine(g)} ms)`);

    phase = 'cpu';
    const out = new Float32Array(opts.batch * CHANNELS * size * size);
    const scratch = makeScratch(CHANNELS, size, size);
    const cpu = await timeSide('cpu', async (i) => {
      augmentCpu(X, shape, wg.sampleAugmentParams(preset, shape, gen(i)), out, scratch);
    }, opts);
    rec.cpu = { quiet: cpu.quiet, times_ms: cpu.times_ms, median_ms: cpu.median_ms, images_per_s: opts.batch / (cpu.median_ms / 1000) };
    console.log(`  cpu     ${fmt3(rec.cpu.images_per_s)} img/s (runs ${runsLine(cpu)} ms)`);

    phase = 'upload';
    const up = await timeSide('upload', async () => {
      const t = wg.tensor(out, { shape });
      await wg.sync();
      return t;
    }, opts);
    up.last.dispose();
    rec.upload = { quiet: up.quiet, times_ms: up.times_ms, median_ms: up.median_ms };
    console.log(`  upload  ${up.median_ms.toFixed(2)} ms for ${(out.byteLength / 2 ** 20).toFixed(1)} MiB (runs ${runsLine(up)} ms)`);

    phase = 'check';
    const gpuOut = await gpuLast.data();
    const prm = wg.sampleAugmentParams(preset, shape, gen(opts.runs - 1)); // the last timed run's parameters
    rec.checks = check(ref, X, shape, prm, gpuOut, out);
    const ck = rec.checks;
    console.log(`  check   max |cpu - gpu| ${fmtErr(ck.cpu_vs_gpu)} over the batch (worst image ${ck.worst_image}); vs float64 on images ` +
      `${ck.images.join(', ')}: gpu ${fmtErr(ck.gpu.f64_err)}${ck.gpu.ok ? '' : ' WRONG'}, cpu ${fmtErr(ck.cpu.f64_err)}${ck.cpu.ok ? '' : ' WRONG'}`);
  } catch (e) {
    rec.error = `${phase}: ${(e?.message ?? String(e)).split('\n')[0]}`;
    console.log(`  ERROR: ${rec.error}`);
  } finally {
    x?.dispose();
    gpuLast?.dispose();
  }
  return rec;
}

// ---------------------------------------------------------------- share of a training step

async function measureStep(opts) {
  const S = opts.stepBatch, half = S / 2, size = 32;
  const preset = wg.simclrPreset({ size, strength: opts.strength });
  const shape = [half, CHANNELS, size, size];
  console.log(`\nshare of a training step: ResNet-18 small stem, ${S} images of 3x${size}x${size} (two views of ${half}) ` +
    'vs making those two views');
  const rec = { step_batch: S, step: null, gpu: null, cpu: null, upload: null, loss: null, error: null };
  const X = pixels(half * CHANNELS * size * size, 5000);
  let phase = 'setup';
  let x = null, views = null, model = null, opt = null;
  try {
    x = wg.tensor(X, { shape });
    // The step's input: two real GPU views, made untimed.
    views = wg.scope(() => wg.concat(wg.augmentViews(x, [preset, preset], new wg.Generator(SEED - 1)), 0));
    model = wg.resnet18({ stem: 'small', numClasses: null, generator: new wg.Generator(1234) }).train();
    opt = new wg.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    await wg.sync();
    const losses = [];
    phase = 'step';
    const st = await timeSide('step', async () => {
      const loss = wg.scope(() => {
        opt.zeroGrad();
        const f = model.forward(views);
        const l = wg.mean(wg.mul(f, f));
        wg.backward(l);
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      return loss;
    }, opts);
    st.last.dispose();
    rec.loss = { first: losses[0], last: losses.at(-1), finite: losses.every(Number.isFinite) };
    rec.step = { quiet: st.quiet, times_ms: st.times_ms, median_ms: st.median_ms, images_per_s: S / (st.median_ms / 1000) };
    console.log(`  step    ${st.median_ms.toFixed(0)} ms = ${fmt3(rec.step.images_per_s)} img/s (runs ${runsLine(st)} ms); ` +
      `loss ${losses[0].toPrecision(4)} -> ${losses.at(-1).toPrecision(4)}${rec.loss.finite ? '' : ' NOT FINITE'}`);

    phase = 'gpu views';
    const g = await timeSide('gpu', async (i) => {
      const vs = wg.augmentViews(x, [preset, preset], new wg.Generator(SEED + i));
      await wg.sync();
      return { dispose: () => vs.forEach((v) => v.dispose()) };
    }, opts);
    g.last.dispose();
    rec.gpu = { quiet: g.quiet, times_ms: g.times_ms, median_ms: g.median_ms };
    console.log(`  gpu     two views ${g.median_ms.toFixed(2)} ms (runs ${runsLine(g)} ms)`);

    phase = 'cpu views';
    const outs = [0, 1].map(() => new Float32Array(half * CHANNELS * size * size));
    const scratch = makeScratch(CHANNELS, size, size);
    const c = await timeSide('cpu', async (i) => {
      const gen = new wg.Generator(SEED + i);
      for (const o of outs) augmentCpu(X, shape, wg.sampleAugmentParams(preset, shape, gen), o, scratch);
    }, opts);
    rec.cpu = { quiet: c.quiet, times_ms: c.times_ms, median_ms: c.median_ms };
    console.log(`  cpu     two views ${c.median_ms.toFixed(2)} ms (runs ${runsLine(c)} ms)`);

    phase = 'upload';
    const up = await timeSide('upload', async () => {
      const ts = outs.map((o) => wg.tensor(o, { shape }));
      await wg.sync();
      return { dispose: () => ts.forEach((t) => t.dispose()) };
    }, opts);
    up.last.dispose();
    rec.upload = { quiet: up.quiet, times_ms: up.times_ms, median_ms: up.median_ms };
    console.log(`  upload  two views ${up.median_ms.toFixed(2)} ms (runs ${runsLine(up)} ms)`);
  } catch (e) {
    rec.error = `${phase}: ${(e?.message ?? String(e)).split('\n')[0]}`;
    console.log(`  ERROR: ${rec.error}`);
  } finally {
    opt?.zeroGrad();
    opt?.dispose();
    model?.dispose();
    views?.dispose();
    x?.dispose();
  }
  return rec;
}

// ---------------------------------------------------------------- main

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/augment.mjs [--sizes 32,96] [--batch 256] [--step-batch 256] [--runs N>=${MIN_RUNS}] ` +
      '[--json out/bench-augment.json] [--quiet-timeout seconds, 0 = no gate] [--no-step] [--strength 1]',
    options: {
      sizes: { type: 'string', default: '32,96' },
      batch: { type: 'string', default: '256' },
      'step-batch': { type: 'string', default: '256' },
      'no-step': { type: 'boolean', default: false },
      strength: { type: 'string', default: '1' },
    },
  });
  const sizes = values.sizes.split(',').map((t) => Number(t.trim()));
  if (!sizes.length || !sizes.every((s) => Number.isInteger(s) && s >= 8)) throw new Error(`--sizes: cannot read '${values.sizes}' (comma list of integers >= 8)`);
  const batch = Number(values.batch);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`--batch: '${values.batch}' (a positive integer)`);
  const stepBatch = Number(values['step-batch']);
  if (!(Number.isInteger(stepBatch) && stepBatch >= 2 && stepBatch % 2 === 0)) throw new Error(`--step-batch: '${values['step-batch']}' (an even integer >= 2)`);
  const strength = Number(values.strength);
  if (!(strength > 0 && strength <= 1.25)) throw new Error(`--strength: '${values.strength}' (in (0, 1.25]: hue 0.2 s must stay <= 0.25)`);
  return { sizes, batch, stepBatch, step: !values['no-step'], strength, ...opts };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  console.log(`bench/augment  ${started}  node ${process.version}  SimCLR preset at ${opts.sizes.map((s) => `${s}x${s}`).join(', ')}, ` +
    `batch ${opts.batch}, runs ${opts.runs} after ${WARMUPS} warm-ups (+${REWARM} untimed after the quiet gate)`);
  const rt = await wg.init();
  console.log(rt.describe());
  const ref = await loadReference();
  const results = [];
  for (const size of opts.sizes) results.push(await measureSize(size, opts, ref));
  const step = opts.step ? await measureStep(opts) : null;
  printTables(results, step, opts);
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), warmups: WARMUPS, rewarm: REWARM,
      runs: opts.runs, tolerance: { atol: ATOL, rtol: RTOL }, strength: opts.strength,
      calls: {
        gpu: 'y = wg.augment(x, wg.simclrPreset({ size }), gen); await wg.sync()',
        cpu: 'augmentCpu(X, shape, wg.sampleAugmentParams(preset, shape, gen), out)  (bench/augment_cpu.mjs)',
        upload: 't = wg.tensor(out); await wg.sync()',
        step: "resnet18({ stem: 'small', numClasses: null }).train(); opt.zeroGrad(); l = mean(f*f); backward(l); SGD step; await l.item()",
      },
      results, step,
    });
  }
  const gpuBad = results.some((r) => r.error || r.checks?.gpu.ok === false) || !!step?.error || step?.loss?.finite === false;
  process.exit(gpuBad ? 1 : 0); // exit explicitly: Dawn keeps handles that hold the event loop
}

function printTables(results, step, opts) {
  const ok = (r, side) => r && !r.error && r[side] && r.checks?.[side].ok !== false;
  const ips = (r, side) => (!r?.[side] ? (r?.error ? 'error' : 'n/a') : `${fmt3(r[side].images_per_s)}${r.checks?.[side].ok === false ? ' WRONG' : ''}`);
  const rows = results.map((r) => {
    const cpuUp = ok(r, 'cpu') && r.upload ? r.batch / ((r.cpu.median_ms + r.upload.median_ms) / 1000) : null;
    return [
      `${r.size}x${r.size}`, r.batch, r.preset.blur ? `yes (k${r.preset.blur.kernelSize})` : 'no',
      ips(r, 'gpu'), ips(r, 'cpu'), fmt3(cpuUp),
      ok(r, 'gpu') && ok(r, 'cpu') ? `${fmt3(r.gpu.images_per_s / r.cpu.images_per_s)}x` : '—',
      ok(r, 'gpu') && cpuUp ? `${fmt3(r.gpu.images_per_s / cpuUp)}x` : '—',
      r.checks ? fmtErr(r.checks.cpu_vs_gpu) : '—',
      r.checks ? `${fmtErr(r.checks.gpu.f64_err)} / ${fmtErr(r.checks.cpu.f64_err)}` : '—',
    ];
  });
  console.log(`\nimages/s = batch / median of ${opts.runs} runs (gpu: wg.augment -> GPU done, views left on the GPU; cpu: sampleAugmentParams + ` +
    'bench/augment_cpu.mjs, one thread; cpu+upload adds wg.tensor(out) -> GPU done). gpu/cpu > 1: the GPU kernels are faster. ' +
    `errors: max |cpu - gpu| over the batch, and each side's max |Δ| vs float64 on ${CHECK_IMAGES}+1 images (tolerance ${ATOL}${RTOL ? ` + ${RTOL}|ref|` : ''}).`);
  console.log(formatTable(['size', 'batch', 'blur', 'gpu img/s', 'cpu img/s', 'cpu+upload img/s', 'gpu/cpu', 'gpu/(cpu+upload)',
    '|cpu - gpu|', 'f64 err gpu / cpu'], rows));
  const errors = results.filter((r) => r.error).map((r) => `${r.size}x${r.size}: ${r.error}`);
  if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
  if (!step) return;
  if (step.error || !step.step) {
    console.log(`\nshare of a training step: ${step.error ?? 'n/a'}`);
    return;
  }
  const s = step.step.median_ms;
  const share = (a) => `${fmt3((100 * a) / (a + s))}%`;
  const rows2 = [['gpu (wg.augmentViews)', step.gpu ? step.gpu.median_ms.toFixed(2) : 'n/a', step.gpu ? share(step.gpu.median_ms) : '—']];
  if (step.cpu) rows2.push(['cpu (bench/augment_cpu.mjs)', step.cpu.median_ms.toFixed(2), share(step.cpu.median_ms)]);
  if (step.cpu && step.upload) {
    const t = step.cpu.median_ms + step.upload.median_ms;
    rows2.push(['cpu + upload', t.toFixed(2), share(t)]);
  }
  console.log(`\nshare of a training step: ResNet-18 small stem, ${step.step_batch} images of 3x32x32 (two views of ${step.step_batch / 2}): ` +
    `step ${s.toFixed(0)} ms (forward, mean(f^2), backward, SGD step, loss read back; ${fmt3(step.step.images_per_s)} img/s). ` +
    'share = augmentation / (augmentation + step).');
  console.log(formatTable(['two views made by', 'ms', 'share of the step'], rows2));
}

main().catch((e) => {
  console.error(`bench/augment: ${e?.message ?? e}`);
  process.exit(2);
});
