// The browser bundle in headless Chromium with WebGPU (SwiftShader): a few kernels run in the page
// and are checked here against the float64 reference. Also: the bundle has no Node import.
// Without Chromium the suite skips, except with CI=true, where it fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath, serve } from './serve.js';
import { expectClose, printReport } from '../helpers/compare.js';
import { uniform } from '../helpers/rand.js';
import { mapRef } from '../reference/core.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundleDir = path.join(root, 'dist', 'browser');
const bundle = path.join(bundleDir, 'webgrad.js');
const exe = chromiumPath();
if (!exe && process.env.CI === 'true') throw new Error('CI=true and no Chromium: run `bash scripts/setup.sh`');

describe('browser bundle', () => {
  it('exists and has no node: import and no Dawn', () => {
    expect(fs.existsSync(bundle), 'run `npm run build` first (npm test does)').toBe(true);
    const src = fs.readFileSync(bundle, 'utf8');
    expect(src).not.toMatch(/(from|import\(|require\()\s*["']node:/);
    expect(src).not.toMatch(/(from|import\(|require\()\s*["']webgpu["']/);
  });
});

describe.skipIf(!exe)('in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let server: { url: string; close: () => void };
  const log: string[] = [];

  beforeAll(async () => {
    // The page imports the bundle and exposes it as window.wg (page.evaluate functions cannot
    // use import() here: vitest rewrites it).
    fs.writeFileSync(
      path.join(bundleDir, 'index.html'),
      '<!doctype html><title>webgrad test</title><link rel="icon" href="data:,">\n' +
        '<script type="module">import * as wg from "./webgrad.js"; window.wg = wg; window.wgLoaded = true;</script>\n',
    );
    server = await serve(bundleDir);
    browser = await chromium.launch({ executablePath: exe!, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage();
    page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { wgLoaded?: boolean }).wgLoaded === true, null, { timeout: 30_000 });
    const line = await page.evaluate(async () => {
      const wg = (window as unknown as { wg: typeof import('../../src/index.js') }).wg;
      const rt = await wg.init();
      return rt.describe() as string;
    });
    console.log(`browser (${browser.version()}): ${line}`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    printReport('browser');
    if (log.length) console.log(log.slice(-20).join('\n'));
  });

  it('elementwise: broadcast add, mul, exp, gelu, where', async () => {
    const a = Array.from(uniform(17 * 3, 1));
    const b = Array.from(uniform(3, 2));
    const got = await page.evaluate(async ({ a, b }) => {
      const wg = (window as unknown as { wg: typeof import('../../src/index.js') }).wg;
      const ta = wg.tensor(a, { shape: [17, 3] });
      const tb = wg.tensor(b, { shape: [3] });
      const out = {
        add: Array.from(await wg.add(ta, tb).data()),
        mul: Array.from(await wg.mul(ta, tb).data()),
        exp: Array.from(await wg.exp(ta).data()),
        gelu: Array.from(await wg.gelu(ta).data()),
        where: Array.from(await wg.where(wg.gt(ta, 0), ta, tb).data()),
      };
      return out as Record<string, number[]>;
    }, { a, b });
    const A = { data: a, shape: [17, 3] };
    const B = { data: b, shape: [3] };
    expectClose('add', got.add, mapRef([A, B], (x, y) => x + y).data);
    expectClose('mul', got.mul, mapRef([A, B], (x, y) => x * y).data);
    expectClose('exp', got.exp, mapRef([A], Math.exp).data, { rtol: 2e-6 });
    const { gelu } = await import('../reference/core.js');
    expectClose('gelu', got.gelu, mapRef([A], gelu).data, { rtol: 1e-5 });
    expectClose('where', got.where, mapRef([A, B], (x, y) => (x > 0 ? x : y)).data);
  });

  it('matmul with a transposed operand and an odd K', async () => {
    const [M, K, N] = [19, 13, 7];
    const a = Array.from(uniform(M * K, 3));
    const b = Array.from(uniform(N * K, 4)); // stored [N, K], used as b^T
    const got = await page.evaluate(async ({ a, b, M, K, N }) => {
      const wg = (window as unknown as { wg: typeof import('../../src/index.js') }).wg;
      const c = wg.matmul(wg.tensor(a, { shape: [M, K] }), wg.tensor(b, { shape: [N, K] }), { transB: true });
      return Array.from(await c.data());
    }, { a, b, M, K, N });
    const want = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k] * b[j * K + k];
      want[i * N + j] = s;
    }
    expectClose('matmul', got, want, { rtol: 1e-5, atol: 1e-5 });
  });

  it('reductions and softmax along an axis', async () => {
    const [R, C] = [5, 37];
    const a = Array.from(uniform(R * C, 6, -3, 3));
    const got = await page.evaluate(async ({ a, R, C }) => {
      const wg = (window as unknown as { wg: typeof import('../../src/index.js') }).wg;
      const x = wg.tensor(a, { shape: [R, C] });
      return {
        sum: Array.from(await wg.sum(x, 1).data()),
        max0: Array.from(await wg.max(x, 0).data()),
        argmax: Array.from(await wg.argmax(x, 1).data()),
        softmax: Array.from(await wg.softmax(x, -1).data()),
        logsumexp: Array.from(await wg.logsumexp(x, 1).data()),
      } as Record<string, number[]>;
    }, { a, R, C });
    const rows = Array.from({ length: R }, (_, i) => a.slice(i * C, (i + 1) * C));
    expectClose('sum', got.sum, rows.map((r) => r.reduce((s, v) => s + v, 0)), { rtol: 1e-5, atol: 1e-5 });
    expectClose('max', got.max0, Array.from({ length: C }, (_, j) => Math.max(...rows.map((r) => r[j]))));
    expect(got.argmax).toEqual(rows.map((r) => r.indexOf(Math.max(...r))));
    const lse = rows.map((r) => { const m = Math.max(...r); return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0)); });
    expectClose('logsumexp', got.logsumexp, lse, { rtol: 1e-5, atol: 1e-5 });
    expectClose('softmax', got.softmax, rows.flatMap((r, i) => r.map((v) => Math.exp(v - lse[i]))), { rtol: 1e-5, atol: 1e-6 });
  });
});
