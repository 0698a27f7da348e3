// Helpers shared by the benchmarks in bench/: the common command-line flags, peer loading on webgrad's own
// Dawn instance, quiet-machine gating, timing statistics, seeded inputs, the quoted CPU ceiling, a
// plain-text table and the JSON report.
// Peers (TensorFlow.js, jax-js) come from bench/node_modules (`npm run bench:setup`); Dawn (`webgpu`) is
// the repository root's copy, the same module webgrad loads, so everything runs on one Dawn instance.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (bench/..). */
export const repoRoot = path.resolve(here, '..');

/** Median of a list of numbers (mean of the middle two for even lengths). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** `n` floats uniform in [-1, 1) from a seeded mulberry32 stream: the same inputs for every side. */
export function randomF32(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** The fewest timed runs a benchmark accepts (medians of fewer are too noisy on a shared machine). */
export const MIN_RUNS = 5;

/**
 * Parses the flags every benchmark shares: --runs (integer >= MIN_RUNS), --peers (`tfjs,jax`, one of
 * them, or `none`; `jax-js` is read as `jax`), --json (a file for the raw numbers), --quiet-timeout
 * (seconds, 0 = no gate) and -h, plus the benchmark's own `options` (node:util parseArgs specs).
 * `usage` is the line printed by -h. Returns { runs, peers, json, quietTimeout, values } (`values`:
 * every parsed flag, the benchmark's own included); throws one line on a bad value.
 */
export function parseBenchArgs({ usage, options = {}, defaultRuns = MIN_RUNS }) {
  const { values } = parseArgs({
    options: {
      ...options,
      runs: { type: 'string', default: String(defaultRuns) },
      peers: { type: 'string', default: 'tfjs,jax' },
      json: { type: 'string' },
      'quiet-timeout': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < MIN_RUNS) throw new Error(`--runs must be an integer >= ${MIN_RUNS}, got '${values.runs}'`);
  const quietTimeout = Number(values['quiet-timeout']);
  if (!(quietTimeout >= 0)) throw new Error(`--quiet-timeout must be >= 0 seconds, got '${values['quiet-timeout']}'`);
  const peers = values.peers.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p && p !== 'none')
    .map((p) => (p === 'jax-js' ? 'jax' : p));
  for (const p of peers) if (p !== 'tfjs' && p !== 'jax') throw new Error(`--peers: unknown peer '${p}' (tfjs, jax)`);
  return { runs, peers, json: values.json, quietTimeout, values };
}

/**
 * Runs bench/waitquiet.sh (>= 90% idle over 2 s, at most `timeoutS` seconds) and returns its line
 * (UTC timestamp, idle share, loadavg) and whether the machine was quiet. `timeoutS` 0 skips the wait.
 * Never throws: a machine that stays busy is reported, and the caller goes on.
 */
export function waitQuiet(timeoutS) {
  if (timeoutS <= 0) return Promise.resolve({ quiet: null, line: `${new Date().toISOString()} quiet-gate skipped (--quiet-timeout 0)` });
  return new Promise((resolve) => {
    execFile('bash', [path.join(here, 'waitquiet.sh'), String(timeoutS)], (err, stdout, stderr) => {
      const line = (stdout || stderr || String(err)).trim().split('\n').pop();
      resolve({ quiet: !err, line });
    });
  });
}

/**
 * The quiet gate before timed runs: waits (see waitQuiet), prints the gate's line after `name` (a
 * side, a round), with a warning when the machine stayed busy, and returns the line.
 */
export async function quietGate(name, timeoutS) {
  const q = await waitQuiet(timeoutS);
  console.log(`  ${name.padEnd(7)} ${q.line}${q.quiet === false ? '  [WARNING: timing on a busy machine]' : ''}`);
  return q.line;
}

/**
 * Makes webgrad's Dawn `GPU` object the `navigator.gpu` the peers look for, so they request their
 * adapters from the same Dawn instance (each peer still creates its own device). Also installs the
 * WebGPU globals (GPUBufferUsage, ...) they use, and the `navigator.userAgent` string jax-js reads
 * at import. Must run after `wg.init()` and before the peers are imported.
 */
export async function shareGpuWithPeers(gpu) {
  const { globals } = await import('webgpu');
  for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) globalThis[k] = v;
  if (!globalThis.navigator) globalThis.navigator = { userAgent: 'Node.js' };
  if (typeof globalThis.navigator.userAgent !== 'string') {
    try { globalThis.navigator.userAgent = 'Node.js'; } catch { /* read-only: Node >= 21 sets one */ }
  }
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
}

let gpuCounts = null;

/**
 * Counts GPU commands from every device of this process, webgrad's and the peers' alike, by wrapping
 * methods of Dawn's classes (the `webgpu` package's globals, one Dawn instance for all): compute
 * dispatches (GPUComputePassEncoder.dispatchWorkgroups / ...Indirect), queue submits, uploads
 * (queue.writeBuffer calls and bytes) and readbacks (GPUBuffer.mapAsync). Returns a function giving a
 * snapshot of the running totals { dispatches, submits, uploads, uploadBytes, readbacks }; calling it
 * again returns the same counters. A wrapper costs well under a microsecond per call.
 */
export async function installGpuCounters() {
  if (gpuCounts) return gpuCounts;
  const { globals } = await import('webgpu');
  const c = { dispatches: 0, submits: 0, uploads: 0, uploadBytes: 0, readbacks: 0 };
  const wrap = (proto, name, count) => {
    const orig = proto?.[name];
    if (typeof orig !== 'function') return;
    proto[name] = function (...args) {
      count(args);
      return orig.apply(this, args);
    };
  };
  const pass = globals.GPUComputePassEncoder?.prototype;
  wrap(pass, 'dispatchWorkgroups', () => { c.dispatches++; });
  wrap(pass, 'dispatchWorkgroupsIndirect', () => { c.dispatches++; });
  const queue = globals.GPUQueue?.prototype;
  wrap(queue, 'submit', () => { c.submits++; });
  wrap(queue, 'writeBuffer', ([, , data, dataOffset = 0, size]) => {
    c.uploads++;
    const el = data?.BYTES_PER_ELEMENT ?? 1; // typed arrays: offset and size count elements
    c.uploadBytes += size !== undefined ? size * el : (data?.byteLength ?? 0) - dataOffset * el;
  });
  wrap(globals.GPUBuffer?.prototype, 'mapAsync', () => { c.readbacks++; });
  gpuCounts = () => ({ ...c });
  return gpuCounts;
}

/** Version of a package installed in bench/node_modules (null when absent). */
export function benchPackageVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Turns a failed peer import into one actionable sentence. */
function whyNotLoaded(e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND') return 'not installed (run `npm run bench:setup`)';
  return (e?.message ?? String(e)).split('\n')[0];
}

/**
 * TensorFlow.js core + WebGPU backend on navigator.gpu; throws one line when it cannot run. With
 * `gradients`, also imports the union package `@tensorflow/tfjs`, whose Node entry registers the
 * gradient functions on the same core (tfjs-core's own Node entry registers none).
 */
export async function loadTfjs({ gradients = false } = {}) {
  let tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
    if (gradients) await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(whyNotLoaded(e));
  }
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu') throw new Error(`tf.setBackend('webgpu') failed (backend is ${tf.getBackend()})`);
  const info = tf.backend().adapterInfo ?? {};
  return { tf, version: tf.version_core, adapter: [info.vendor, info.architecture].filter(Boolean).join(' / ') };
}

/** jax-js with its WebGPU device as the default; throws one line when it cannot run. */
export async function loadJax() {
  let jax;
  try {
    jax = await import('@jax-js/jax');
  } catch (e) {
    throw new Error(whyNotLoaded(e));
  }
  const devices = await jax.init();
  if (!devices.includes('webgpu')) throw new Error(`jax-js init() found devices [${devices.join(', ')}], no webgpu`);
  jax.defaultDevice('webgpu');
  return { jax, version: benchPackageVersion('@jax-js/jax') ?? 'unknown' };
}

/**
 * Loads the requested peers (`['tfjs', 'jax']` or a subset) on webgrad's Dawn instance (`rt`, the
 * runtime from `wg.init()`), printing one line per peer. A peer that cannot load is skipped, with
 * the reason. Returns { tfjs, jax, info }: the loaded modules ({ tf } / { jax }, absent when
 * skipped or not requested) and a one-line description (or the reason it was skipped) per peer.
 */
export async function loadPeers(rt, peers, { tfjsGradients = false } = {}) {
  const out = { info: {} };
  if (peers.length) await shareGpuWithPeers(rt.acquired.gpu);
  for (const p of peers) {
    try {
      if (p === 'tfjs') {
        const { tf, version, adapter } = await loadTfjs({ gradients: tfjsGradients });
        out.tfjs = { tf };
        out.info.tfjs = `@tensorflow/tfjs-core ${version} + tfjs-backend-webgpu (adapter ${adapter || 'n/a'})`;
      } else {
        const { jax, version } = await loadJax();
        out.jax = { jax };
        out.info.jax = `@jax-js/jax ${version} (webgpu device)`;
      }
      console.log(`peer ${p}: ${out.info[p]}`);
    } catch (e) {
      out.info[p] = `skipped: ${e.message}`;
      console.log(`peer ${p}: SKIPPED: ${e.message}`);
    }
  }
  return out;
}

/**
 * The CPU GEMM ceiling as reported in ../shared/peers/results.md (numpy + OpenBLAS, measured there, not
 * here): the bold "Ceiling:" sentence and the date / CPU lines, or null when the file is not readable
 * (it lives outside the repository and CI has no copy).
 */
export function quotedCpuCeiling() {
  const file = path.resolve(repoRoot, '../shared/peers/results.md');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const ceiling = text.match(/\*\*(Ceiling:[^*]+)\*\*/)?.[1]?.trim();
  if (!ceiling) return null;
  const pick = (re) => text.match(re)?.[1]?.trim();
  return { file: '../shared/peers/results.md', ceiling, date: pick(/^- Date: (.+)$/m), cpu: pick(/^- CPU: (.+)$/m) };
}

/** A plain-text table (Markdown pipe syntax) with padded columns; numbers are formatted by the caller. */
export function formatTable(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** A number with 3 significant digits (GFLOP/s, ratios), or the given placeholder. */
export function fmt3(x, none = '—') {
  if (x === null || x === undefined || !Number.isFinite(x)) return none;
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

/** A small error in compact exponent notation. */
export function fmtErr(x) {
  if (x === null || x === undefined) return '—';
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

/** Writes `obj` as indented JSON to `file` (directories created) and says so. */
export function writeJson(file, obj) {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(obj, null, 2)}\n`);
  console.log(`\nraw numbers written to ${file}`);
}
