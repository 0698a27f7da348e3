#!/usr/bin/env node
// bench/train_step.mjs: one training step of an MLP 784-256-128-10 (ReLU) at batch 64 (forward, softmax
// cross-entropy, backward, SGD update with lr 0.01) in webgrad, next to TensorFlow.js
// (tfjs-backend-webgpu) and jax-js (WebGPU, the step under `jit`), in one process on one Dawn instance
// (the same adapter). The peers' steps are those of ../shared/peers/tfjs.mjs and jaxjs.mjs.
//
//   npm run bench:setup && npm run bench:train_step
//   node bench/train_step.mjs [--runs 20] [--peers tfjs,jax|none] [--json out/bench-train-step.json]
//                             [--quiet-timeout 60] [--profile]
//
// Every side starts from the same float32 weights (He-uniform, zero biases) and trains on the same fixed
// batch (inputs of unit variance, seeded labels), so every side's loss at step t must match a float64
// CPU reference run of the same steps. Every side is timed the same way: from the start of the step
// until that step's loss value is back on the CPU (each side reads the scalar loss every step, and the
// readback is ordered after the update, so the whole step is inside the clock). Median of --runs timed
// steps after WARMUPS warm-up steps. The timed steps run in rounds: bench/waitquiet.sh, then for each
// side in turn one untimed step (the first step after the gate's idle seconds is often slow) and
// ROUND_STEPS timed ones, so load from elsewhere hits every side alike. A side whose
// loss does not fall over the >= CHECK_STEPS steps it ran, or leaves the float64 reference, is WRONG.
// --profile then breaks webgrad's step down (bench/train_step_profile.mjs); the float64 reference is
// bench/mlp_reference.mjs.
import * as wg from '../dist/node.js';
import {
  fmt3, fmtErr, formatTable, installGpuCounters, loadPeers, median, MIN_RUNS, parseBenchArgs, quietGate, randomF32, writeJson,
} from './common.mjs';
import { referenceLosses } from './mlp_reference.mjs';
import { profileWebgrad } from './train_step_profile.mjs';

/** Warm-up steps before the timed ones: lavapipe JIT-compiles each pipeline at its first dispatch, jax-js traces the jit. */
const WARMUPS = 5;
const DEFAULT_RUNS = 20;
/** Timed steps of one side per round; the sides take turns, round by round, each round after a quiet gate. */
const ROUND_STEPS = 5;
/** Untimed steps of each side at the start of its turn in a round. */
const ROUND_WARMUPS = 1;
/** Every side runs at least this many steps in all (warm-ups, timed, then untimed ones) for the learning check. */
const CHECK_STEPS = 20;
/** The loss at the last step must be below this share of the loss at step 1. */
const LEARN_FACTOR = 0.9;
const BATCH = 64;
const SIZES = [784, 256, 128, 10];
const LR = 0.01;
/** Allowed |loss - float64 reference loss| at every step: f32 rounding, accumulated over the steps. */
const lossTolerance = (ref) => 1e-3 + 1e-3 * Math.abs(ref);

/** The problem every side gets: the batch, labels (ints and one-hot) and per layer W [in, out] and b [out]. */
function makeProblem() {
  const [inF, , , classes] = SIZES;
  const x = randomF32(BATCH * inF, 7).map((v) => v * Math.sqrt(3)); // uniform with unit variance
  const labels = Int32Array.from(randomF32(BATCH, 9), (u) => Math.min(classes - 1, Math.floor(((u + 1) / 2) * classes)));
  const onehot = new Float32Array(BATCH * classes);
  labels.forEach((c, i) => { onehot[i * classes + c] = 1; });
  // He-uniform (the variance 2 / fan_in of the peers' He-normal), zero biases: the peers' init, seeded.
  const layers = SIZES.slice(0, -1).map((inL, l) => {
    const out = SIZES[l + 1];
    const a = Math.sqrt(6 / inL);
    return { in: inL, out, W: randomF32(inL * out, 100 + l).map((v) => v * a), b: new Float32Array(out) };
  });
  return { x, labels, onehot, layers };
}

/** [rows, cols] row-major -> [cols, rows] row-major. */
function transpose(a, rows, cols) {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/**
 * A side: `setup` builds the model, optimizer and the batch on its device (untimed), `step` runs one
 * whole training step and resolves to its loss on the CPU (the timed part), `free` releases it all.
 * `counters` (webgrad) reads the runtime's own dispatch and submit counters (runtime().batch).
 */
function webgradSide() {
  return {
    name: 'webgrad',
    update: 'wg.SGD(model.parameters(), { lr: 0.01, momentum: 0 }): p -= lr·g, one fused dispatch over the flat parameter group',
    async setup(pr) {
      const model = new wg.MLP(SIZES); // Linear, ReLU, Linear, ReLU, Linear: state keys 0.*, 2.*, 4.*
      const dict = {};
      pr.layers.forEach((l, i) => {
        dict[`${2 * i}.weight`] = wg.tensor(transpose(l.W, l.in, l.out), { shape: [l.out, l.in] }); // nn.Linear: [out, in]
        dict[`${2 * i}.bias`] = wg.tensor(l.b, { shape: [l.out] });
      });
      model.loadStateDict(dict);
      for (const t of Object.values(dict)) t.dispose();
      const opt = new wg.SGD(model.parameters(), { lr: LR, momentum: 0 });
      const x = wg.tensor(pr.x, { shape: [BATCH, SIZES[0]] });
      const y = wg.tensor(pr.labels, { dtype: 'i32' });
      await wg.sync(); // uploads and weight copies are done before any step
      return { model, opt, x, y };
    },
    async step(st) {
      const loss = wg.scope(() => {
        st.opt.zeroGrad();
        const l = wg.crossEntropy(st.model.forward(st.x), st.y);
        wg.backward(l);
        st.opt.step();
        return l;
      });
      const v = await loss.item(); // submits the whole step; the readback is ordered after the update
      loss.dispose();
      return v;
    },
    counters() {
      const b = wg.runtime().batch;
      return { dispatches: b.dispatches, submits: b.submits };
    },
    free(st) {
      st.opt.zeroGrad();
      st.opt.dispose();
      st.model.dispose();
      st.x.dispose();
      st.y.dispose();
    },
  };
}

function tfjsSide(tf) {
  return {
    name: 'tfjs',
    update: 'tf.variableGrads, then v.assign(v - lr·g) per variable (6 assigns), inside tf.tidy',
    async setup(pr) {
      const vars = pr.layers.flatMap((l) => [tf.variable(tf.tensor(l.W, [l.in, l.out], 'float32')), tf.variable(tf.tensor(l.b, [l.out], 'float32'))]);
      const x = tf.tensor(pr.x, [BATCH, SIZES[0]], 'float32');
      const y = tf.tensor(pr.onehot, [BATCH, SIZES.at(-1)], 'float32');
      return { vars, x, y };
    },
    async step({ vars, x, y }) {
      const [w1, b1, w2, b2, w3, b3] = vars;
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          let h = tf.relu(tf.add(tf.matMul(x, w1), b1));
          h = tf.relu(tf.add(tf.matMul(h, w2), b2));
          return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h, w3), b3)); // mean over the batch
        }, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], LR)));
        return value;
      });
      const v = (await loss.data())[0];
      loss.dispose();
      return v;
    },
    free({ vars, x, y }) {
      for (const t of [...vars, x, y]) t.dispose();
    },
  };
}

function jaxSide(jax) {
  const { numpy: np, nn, tree, valueAndGrad, jit, blockUntilReady } = jax;
  return {
    name: 'jax-js',
    update: 'tree.map((p, g) => p - lr·g) inside the jitted step (new parameter arrays each step)',
    async setup(pr) {
      const params = {};
      pr.layers.forEach((l, i) => {
        params[`w${i}`] = np.array(l.W, { shape: [l.in, l.out], dtype: np.float32 });
        params[`b${i}`] = np.array(l.b, { shape: [l.out], dtype: np.float32 });
      });
      const x = np.array(pr.x, { shape: [BATCH, SIZES[0]], dtype: np.float32 });
      const y = np.array(pr.onehot, { shape: [BATCH, SIZES.at(-1)], dtype: np.float32 });
      const forward = (p, h) => {
        h = nn.relu(np.matmul(h, p.w0).add(p.b0));
        h = nn.relu(np.matmul(h, p.w1).add(p.b1));
        return np.matmul(h, p.w2).add(p.b2);
      };
      const lossFn = (p, xb, yb) => nn.logSoftmax(forward(p, xb)).mul(yb).sum().mul(-1 / BATCH);
      // As ../shared/peers/jaxjs.mjs: valueAndGrad + a tree.map update, the whole step jitted.
      const step = jit((p, xb, yb) => {
        const [loss, g] = valueAndGrad(lossFn)(tree.ref(p), xb, yb);
        return [loss, tree.map((a, d) => a.sub(d.mul(LR)), p, g)];
      });
      await blockUntilReady(params);
      await blockUntilReady([x, y]);
      return { params, x, y, step };
    },
    async step(st) {
      // jax-js moves arrays into calls: params are consumed and replaced; x and y are kept with .ref.
      const [loss, p2] = st.step(st.params, st.x.ref, st.y.ref);
      st.params = p2;
      const v = (await loss.data())[0]; // data() disposes the loss
      await blockUntilReady(st.params); // as jaxjs.mjs: the update is done too
      return v;
    },
    free(st) {
      tree.dispose(st.params);
      st.x.dispose();
      st.y.dispose();
    },
  };
}

/**
 * Runs every side: setup and WARMUPS steps each, then the timed steps in rounds (a quiet gate, then
 * for each side in turn ROUND_WARMUPS untimed and ROUND_STEPS timed steps, so a burst of load from
 * elsewhere hits every side alike), then untimed steps up to `totalSteps`. Every step's loss is kept,
 * and the indices of the first timed step and of the first step after the last timed one.
 */
async function measureAll(sides, pr, opts, totalSteps, gpuCounts) {
  const live = [];
  const recs = {};
  const fail = (x, e) => {
    x.rec.error = (e?.message ?? String(e)).split('\n')[0];
    console.log(`  ${x.side.name.padEnd(7)} ERROR: ${x.rec.error}`);
  };
  for (const side of sides) {
    const rec = {
      side: side.name, update: side.update, times_ms: [], median_ms: null, losses: [],
      first_timed_step: null, after_timed_step: null, per_step: null, runtime_per_step: null, error: null,
    };
    recs[side.name] = rec;
    const x = { side, rec, st: null, gpu: {}, runtime: {} };
    try {
      x.st = await side.setup(pr);
      for (let i = 0; i < WARMUPS; i++) rec.losses.push(await side.step(x.st));
      live.push(x);
    } catch (e) {
      fail(x, e);
      if (x.st) { try { side.free(x.st); } catch { /* the error above is the one to report */ } }
    }
  }
  const quiet = [];
  for (let done = 0, round = 1; done < opts.runs; round++) {
    const n = Math.min(ROUND_STEPS, opts.runs - done);
    quiet.push(await quietGate(`round ${round}`, opts.quietTimeout));
    for (const x of live) {
      if (x.rec.error) continue;
      try {
        for (let i = 0; i < ROUND_WARMUPS; i++) x.rec.losses.push(await x.side.step(x.st));
        x.rec.first_timed_step ??= x.rec.losses.length;
        const g0 = gpuCounts();
        const r0 = x.side.counters?.();
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const loss = await x.side.step(x.st);
          x.rec.times_ms.push(performance.now() - t0);
          x.rec.losses.push(loss);
        }
        addDelta(x.gpu, g0, gpuCounts());
        if (r0) addDelta(x.runtime, r0, x.side.counters());
      } catch (e) {
        fail(x, e);
      }
    }
    done += n;
  }
  for (const x of live) {
    const { rec, side } = x;
    try {
      if (!rec.error) {
        rec.after_timed_step = rec.losses.length;
        while (rec.losses.length <= rec.after_timed_step || rec.losses.length < totalSteps) rec.losses.push(await side.step(x.st));
        rec.median_ms = median(rec.times_ms);
        const perStep = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v / rec.times_ms.length]));
        rec.per_step = perStep(x.gpu);
        if (side.counters) rec.runtime_per_step = perStep(x.runtime);
        const c = rec.per_step;
        console.log(`  ${side.name.padEnd(7)} median ${rec.median_ms.toFixed(2)} ms/step; per step ${c.dispatches} dispatches, ` +
          `${c.submits} submits, ${c.uploads} uploads (${(c.uploadBytes / 1024).toFixed(1)} KiB), ${c.readbacks} readbacks ` +
          `(steps ${rec.times_ms.map((t) => t.toFixed(1)).join(' ')} ms)`);
      }
    } catch (e) {
      fail(x, e);
    } finally {
      try { side.free(x.st); } catch { /* the error above is the one to report */ }
    }
  }
  return { recs, quiet };
}

/** Adds b - a, counter by counter, into `into`. */
function addDelta(into, a, b) {
  for (const k of Object.keys(b)) into[k] = (into[k] ?? 0) + b[k] - a[k];
}

/** Marks the record ok / WRONG: finite losses that fall by LEARN_FACTOR and follow the float64 reference. */
function checkLosses(rec, ref) {
  const L = rec.losses;
  if (rec.error || L.length === 0) return;
  const diffs = L.map((v, t) => Math.abs(v - ref[t]));
  rec.max_diff_vs_f64 = diffs.every(Number.isFinite) ? Math.max(...diffs) : NaN;
  const why = [];
  if (!L.every(Number.isFinite)) why.push('a loss is not finite');
  else if (!(L.at(-1) < LEARN_FACTOR * L[0])) why.push(`loss did not fall: ${L[0].toFixed(4)} at step 1, ${L.at(-1).toFixed(4)} at step ${L.length}`);
  const bad = L.findIndex((v, t) => !(Math.abs(v - ref[t]) <= lossTolerance(ref[t])));
  if (bad >= 0) why.push(`step ${bad + 1} loss ${L[bad].toFixed(5)} vs float64 ${ref[bad].toFixed(5)}`);
  rec.ok = why.length === 0;
  rec.wrong_because = why;
  if (!rec.ok) console.log(`  ${rec.side.padEnd(7)} WRONG: ${why.join('; ')}`);
}

function parseCli() {
  const { values, ...opts } = parseBenchArgs({
    usage: `usage: node bench/train_step.mjs [--runs N>=${MIN_RUNS}, default ${DEFAULT_RUNS}] [--peers tfjs,jax|none] ` +
      '[--json out/bench-train-step.json] [--quiet-timeout seconds, 0 = no gate] [--profile]',
    options: { profile: { type: 'boolean', default: false } },
    defaultRuns: DEFAULT_RUNS,
  });
  return { ...opts, profile: values.profile };
}

async function main() {
  const opts = parseCli();
  const started = new Date().toISOString();
  const rounds = Math.ceil(opts.runs / ROUND_STEPS);
  const totalSteps = Math.max(WARMUPS + rounds * ROUND_WARMUPS + opts.runs + 1, CHECK_STEPS);
  console.log(`bench/train_step  ${started}  node ${process.version}  MLP ${SIZES.join('-')} (ReLU), batch ${BATCH}, ` +
    `SGD lr ${LR}; ${WARMUPS} warm-up steps, ${opts.runs} timed, ${totalSteps} in all per side`);
  const rt = await wg.init();
  console.log(rt.describe());
  const loaded = await loadPeers(rt, opts.peers, { tfjsGradients: true });
  const sides = [webgradSide()];
  if (loaded.tfjs) sides.push(tfjsSide(loaded.tfjs.tf));
  if (loaded.jax) sides.push(jaxSide(loaded.jax.jax));
  const pr = makeProblem();
  console.log();

  const gpuCounts = await installGpuCounters();
  const { recs, quiet } = await measureAll(sides, pr, opts, totalSteps, gpuCounts);
  // The float64 reference runs after the timing, so it does not load the machine during it.
  const ref = referenceLosses(pr, totalSteps, { sizes: SIZES, batch: BATCH, lr: LR });
  for (const r of Object.values(recs)) checkLosses(r, ref);

  printTable(recs, ref, opts);
  const profile = !opts.profile ? null : await profileWebgrad({
    side: webgradSide(), pr, opts, warmups: WARMUPS, roundSteps: ROUND_STEPS, roundWarmups: ROUND_WARMUPS,
  });
  if (opts.json) {
    writeJson(opts.json, {
      started, finished: new Date().toISOString(), node: process.version, adapter: rt.describe(), strategy: rt.strategy,
      model: `MLP ${SIZES.join('-')} ReLU`, batch: BATCH, lr: LR, warmups: WARMUPS, runs: opts.runs, total_steps: totalSteps,
      peers: loaded.info, round_steps: ROUND_STEPS, quiet_gates: quiet, reference_losses_f64: ref, sides: recs, profile,
    });
  }
  process.exit(recs.webgrad.ok === false || recs.webgrad.error ? 1 : 0); // exit explicitly: Dawn keeps handles that hold the event loop
}

/**
 * The summary: ms per step per side, webgrad's speedup over each (> 1: webgrad faster), GPU commands
 * per step, losses, checks.
 */
function printTable(recs, ref, opts) {
  const valid = (r) => r && !r.error && r.ok !== false && r.median_ms;
  const w = recs.webgrad;
  const n = ref.length;
  const num = (v) => (v === undefined || v === null ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(1));
  const rows = Object.values(recs).map((r) => {
    const t = r.times_ms;
    const c = r.per_step ?? {};
    const ms = r.error ? 'error' : `${r.median_ms.toFixed(2)}${r.ok === false ? ' WRONG' : ''}`;
    const speed = r === w ? '1 (ref)' : valid(w) && valid(r) ? `${fmt3(r.median_ms / w.median_ms)}x` : '—';
    const loss = (i) => (i !== null && r.losses.length > i ? r.losses[i].toFixed(4) : '—');
    // webgrad: its own runtime().batch counters, which Dawn's count must match.
    const rt = r.runtime_per_step;
    const own = (k) => (!rt ? num(c[k]) : rt[k] === c[k] ? num(rt[k]) : `${num(rt[k])} (Dawn ${num(c[k])})`);
    return [
      r.side, ms, t.length ? `${Math.min(...t).toFixed(1)}–${Math.max(...t).toFixed(1)}` : '—', speed,
      own('dispatches'), own('submits'), c.uploads === undefined ? '—' : `${num(c.uploads)} (${(c.uploadBytes / 1024).toFixed(1)} KiB)`,
      num(c.readbacks), `${loss(0)} → ${loss(n - 1)}`, loss(r.first_timed_step), loss(r.after_timed_step), fmtErr(r.max_diff_vs_f64),
      r.error ? 'error' : r.ok ? 'ok' : 'WRONG',
    ];
  });
  console.log(`\nms/step = median over ${opts.runs} steps of (step start -> its loss on the CPU); webgrad speedup = side's ms / webgrad's ms ` +
    `(> 1: webgrad faster)${opts.peers.length ? '' : ' (no peers)'}. Per step: compute dispatches, queue submits, writeBuffer uploads ` +
    `and mapAsync readbacks, counted on Dawn for every side (webgrad's dispatches and submits from runtime().batch). ` +
    `Losses: step 1 and step ${n} (float64 reference ${ref[0].toFixed(4)} → ${ref[n - 1].toFixed(4)}), and before / after the ` +
    `timed steps (the first timed step's loss, and the loss of the step after the last timed one).`);
  console.log(formatTable(['side', 'ms/step', 'min–max ms', 'webgrad speedup', 'dispatches', 'submits', 'uploads', 'readbacks',
    `loss step 1 → ${n}`, 'loss before timed', 'loss after timed', 'max |Δloss| vs f64', 'check'], rows));
  console.log('updates (all plain SGD, lr 0.01, no momentum or weight decay):');
  for (const r of Object.values(recs)) console.log(`  ${r.side.padEnd(7)} ${r.update}`);
  const errors = Object.values(recs).filter((r) => r.error).map((r) => `${r.side}: ${r.error}`);
  if (errors.length) console.log(`errors:\n  ${errors.join('\n  ')}`);
}

main().catch((e) => {
  console.error(`bench/train_step: ${e?.message ?? e}`);
  process.exit(2);
});
