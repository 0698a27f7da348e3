// Helpers shared by the benchmarks in bench/: peer loading on webgrad's own Dawn instance, quiet-machine
// gating, timing statistics, seeded inputs, the quoted CPU ceiling and a plain-text table.
// Peers (TensorFlow.js, jax-js) come from bench/node_modules (`npm run bench:setup`); Dawn (`webgpu`) is
// the repository root's copy, the same module webgrad loads, so everything runs on one Dawn instance.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

/** TensorFlow.js core + WebGPU backend on navigator.gpu; throws one line when it cannot run. */
export async function loadTfjs() {
  let tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
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
