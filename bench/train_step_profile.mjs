// bench/train_step_profile.mjs: `node bench/train_step.mjs --profile`. It breaks webgrad's training
// step down: JS recording vs GPU execution vs readback, every dispatch of one step replayed alone, and
// what-ifs (Dawn's event polling throttled, a flush after the forward, ReLU fused into the matmul).
// Diagnostics only: the replay hooks an internal object of the runtime (runtime().batch).
import * as wg from '../dist/node.js';
import { fmt3, formatTable, median, quietGate } from './common.mjs';

/** Each dispatch of one step is replayed this many times in one batch. */
const PROFILE_REPLAYS = 20;

/**
 * --profile: webgrad's step split into JS recording (zeroGrad .. opt.step, nothing submitted yet), GPU
 * execution (flush -> onSubmittedWorkDone) and the loss readback; then each dispatch of one step,
 * replayed PROFILE_REPLAYS times in one batch on its own (its time includes the per-dispatch overhead).
 * The replay wraps the runtime's CommandBatch.dispatch, a bench-only hook into an internal object.
 */
export async function profileWebgrad({ side, pr, opts, warmups, roundSteps, roundWarmups }) {
  const st = await side.setup(pr);
  const batch = wg.runtime().batch;
  const record = () => wg.scope(() => {
    st.opt.zeroGrad();
    const l = wg.crossEntropy(st.model.forward(st.x), st.y);
    wg.backward(l);
    st.opt.step();
    return l;
  });
  for (let i = 0; i < warmups; i++) await side.step(st);
  console.log('\nwebgrad step profile (--profile)');
  await quietGate('webgrad', opts.quietTimeout);
  for (let i = 0; i < roundWarmups; i++) await side.step(st);
  const ph = { record: [], gpu: [], readback: [], total: [] };
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    const l = record();
    const t1 = performance.now();
    await wg.sync();
    const t2 = performance.now();
    await l.item();
    const t3 = performance.now();
    l.dispose();
    ph.record.push(t1 - t0); ph.gpu.push(t2 - t1); ph.readback.push(t3 - t2); ph.total.push(t3 - t0);
  }
  console.log(`  phases (median of ${opts.runs}): JS recording ${median(ph.record).toFixed(2)} ms, GPU submit -> done ` +
    `${median(ph.gpu).toFixed(2)} ms, loss readback after that ${median(ph.readback).toFixed(2)} ms ` +
    `(sum of medians ${(median(ph.record) + median(ph.gpu) + median(ph.readback)).toFixed(2)}; median total ${median(ph.total).toFixed(2)} ms)`);

  // Capture one step's dispatches and copies.
  const log = [];
  const origDispatch = batch.dispatch;
  const origCopy = batch.copy;
  batch.dispatch = function (...args) { log.push({ kind: 'dispatch', args, label: args[6], grid: args[5] }); return origDispatch.apply(this, args); };
  batch.copy = function (...args) { log.push({ kind: 'copy', bytes: args[4] }); return origCopy.apply(this, args); };
  let l;
  try {
    l = record();
  } finally {
    batch.dispatch = origDispatch;
    batch.copy = origCopy;
  }
  await l.item();
  l.dispose();
  await quietGate('webgrad', opts.quietTimeout);
  const rows = [];
  for (const e of log) {
    if (e.kind === 'copy') { rows.push({ what: 'copyBufferToBuffer (grad -> flat)', grid: `${e.bytes} B`, us: null }); continue; }
    const ts = [];
    for (let r = 0; r < 3; r++) {
      await wg.sync();
      const t0 = performance.now();
      for (let k = 0; k < PROFILE_REPLAYS; k++) origDispatch.apply(batch, e.args);
      await wg.sync();
      ts.push(((performance.now() - t0) / PROFILE_REPLAYS) * 1000);
    }
    rows.push({ what: e.label, grid: e.grid.join('x'), us: median(ts) });
  }
  const timed = rows.filter((r) => r.us !== null);
  const sum = timed.reduce((s, r) => s + r.us, 0);
  console.log(`  ${timed.length} dispatches and ${rows.length - timed.length} buffer copies in one step, in recording order; ` +
    `µs = one dispatch replayed alone (x${PROFILE_REPLAYS} in one batch, median of 3), overhead included:`);
  console.log(formatTable(['#', 'op:shader.entry', 'workgroups', 'µs', 'share'], rows.map((r, i) => [
    i + 1, r.what, r.grid, r.us === null ? '—' : r.us.toFixed(0), r.us === null ? '' : `${((100 * r.us) / sum).toFixed(1)}%`,
  ])));
  const byOp = new Map();
  for (const r of timed) {
    const k = r.what.split(':')[0];
    const g = byOp.get(k) ?? { n: 0, us: 0 };
    g.n++; g.us += r.us;
    byOp.set(k, g);
  }
  console.log(`  by op: ${[...byOp].sort((a, b) => b[1].us - a[1].us).map(([k, g]) => `${k} ${(g.us / 1000).toFixed(2)} ms (${g.n})`).join(', ')}`);
  console.log(`  sum of the replayed dispatches: ${(sum / 1000).toFixed(2)} ms (compare: GPU submit -> done ${median(ph.gpu).toFixed(2)} ms)`);
  const whatIf = await profileWhatIfs(st, opts, { warmups, roundSteps, roundWarmups });
  side.free(st);
  return { phases_ms: ph, dispatches: rows, what_if: whatIf };
}

/**
 * --profile, part 2: the whole step (as timed by the benchmark) under changes a user or the runtime
 * could make, interleaved in rounds as the benchmark's sides are (a quiet gate, then per variant
 * `roundWarmups` untimed and `roundSteps` timed steps), so drift hits every variant alike:
 *  - Dawn's event polling throttled. While a mapAsync or onSubmittedWorkDone is pending, dawn.node
 *    (AsyncRunner) re-arms `setImmediate`, looked up on the global object each time, to call
 *    ProcessEvents: the main thread spins on one core while lavapipe's threads compute on the same two.
 *    Here the global setImmediate is swapped for a 1 ms timer during those steps (restored after).
 *  - wg.flush() after the forward pass: the GPU runs the forward while JS records the backward.
 *  - ReLU fused into the matmul epilogue (wg.matmul(h, W, { transB, bias, activation: 'relu' })),
 *    instead of MLP's separate ReLU modules: 2 dispatches fewer each way.
 */
async function profileWhatIfs(st, opts, { warmups, roundSteps, roundWarmups }) {
  const [l0, , l1, , l2] = st.model.layers;
  const fusedForward = (x) => {
    const lin = (h, l, activation) => wg.matmul(h, l.weight, { transB: true, bias: l.bias, activation });
    return lin(lin(lin(x, l0, 'relu'), l1, 'relu'), l2, 'none');
  };
  const makeStep = ({ fused = false, flushForward = false }) => async () => {
    const loss = wg.scope(() => {
      st.opt.zeroGrad();
      const logits = fused ? fusedForward(st.x) : st.model.forward(st.x);
      if (flushForward) wg.flush();
      const l = wg.crossEntropy(logits, st.y);
      wg.backward(l);
      st.opt.step();
      return l;
    });
    const v = await loss.item();
    loss.dispose();
    return v;
  };
  const variants = [
    { name: 'as benchmarked', throttle: false, step: makeStep({}) },
    { name: 'Dawn polling throttled (setImmediate -> 1 ms timer)', throttle: true, step: makeStep({}) },
    { name: 'throttled + wg.flush() after the forward', throttle: true, step: makeStep({ flushForward: true }) },
    { name: 'throttled + flush + ReLU fused into the matmul', throttle: true, step: makeStep({ fused: true, flushForward: true }) },
  ];
  const origSetImmediate = globalThis.setImmediate;
  const throttled = (fn, ...args) => setTimeout(fn, 1, ...args);
  const out = {};
  try {
    for (const v of variants) {
      globalThis.setImmediate = v.throttle ? throttled : origSetImmediate;
      for (let i = 0; i < warmups; i++) await v.step();
      out[v.name] = [];
    }
    for (let done = 0; done < opts.runs; done += roundSteps) {
      globalThis.setImmediate = origSetImmediate;
      await quietGate('what-if', opts.quietTimeout);
      for (const v of variants) {
        globalThis.setImmediate = v.throttle ? throttled : origSetImmediate;
        for (let i = 0; i < roundWarmups; i++) await v.step();
        for (let i = 0; i < Math.min(roundSteps, opts.runs - done); i++) {
          const t0 = performance.now();
          await v.step();
          out[v.name].push(performance.now() - t0);
        }
      }
    }
  } finally {
    globalThis.setImmediate = origSetImmediate;
  }
  const base = median(out[variants[0].name]);
  console.log(`  what-ifs: the whole step (start -> loss on the CPU), median of ${opts.runs} steps each, interleaved:`);
  console.log(formatTable(['variant', 'ms/step', 'vs as benchmarked'], variants.map((v) => {
    const m = median(out[v.name]);
    return [v.name, m.toFixed(2), `${fmt3(base / m)}x`];
  })));
  return out;
}
