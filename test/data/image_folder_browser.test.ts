// The browser image folder (createImageBitmap + OffscreenCanvas) and the DataLoader in headless
// Chromium, from the built bundle: PNGs written with sharp here are decoded in the page (exact
// pixels without resizing, the centre crop, a corrupt file skipped and counted), then loaded as a
// normalised batch on the page's WebGPU. Skips without Chromium or without dist/browser (fails
// with CI=true).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath, serve } from '../browser/serve.js';
import { expectClose } from '../helpers/compare.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundle = path.join(root, 'dist', 'browser', 'webgrad.js');
const exe = chromiumPath();
const ready = !!exe && fs.existsSync(bundle);
if (!ready && process.env.CI === 'true') throw new Error('CI=true and no Chromium or no dist/browser/webgrad.js: run `bash scripts/setup.sh` and `npm run build`');
if (!ready) console.warn('skipping the browser image-folder test: needs Chromium and `npm run build`');

const W = 4;
const H = 3;
const pattern = (k: number) => {
  const b = Buffer.alloc(W * H * 3);
  for (let i = 0; i < W * H; i++) b.set([(i * 21 + k * 7) % 256, (i * 13 + k * 50) % 256, (255 - i * 9 - k) & 255], 3 * i);
  return b;
};
const pngOf = (raw: Buffer, w: number, h: number) => sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();

describe.skipIf(!ready)('ImageFolder and DataLoader in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let server: { url: string; close: () => void };
  let dir = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webgrad-browser-folder-'));
    fs.copyFileSync(bundle, path.join(dir, 'webgrad.js'));
    fs.writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><title>webgrad image folder</title><link rel="icon" href="data:,">\n' +
        '<script type="module">import * as wg from "./webgrad.js"; window.wg = wg; window.wgLoaded = true;</script>\n',
    );
    server = await serve(dir);
    browser = await chromium.launch({ executablePath: exe!, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { wgLoaded?: boolean }).wgLoaded === true, null, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('decodes, orders, skips, centre-crops, and loads a normalised batch on WebGPU', async () => {
    const files: { path: string; b64: string }[] = [];
    const names = ['dog/x.png', 'cat/b.png', 'cat/a.png', 'Zebra/z.png'];
    for (const [k, p] of names.entries()) files.push({ path: p, b64: (await pngOf(pattern(k), W, H)).toString('base64') });
    files.push({ path: 'dog/bad.png', b64: Buffer.from('\x89PNG\r\n\x1a\n broken').toString('base64') });
    // 8x4: red outer columns, blue centre 4x4 (for the centre crop).
    const wide = Buffer.alloc(8 * 4 * 3);
    for (let i = 0; i < 32; i++) wide.set(i % 8 < 2 || i % 8 >= 6 ? [255, 0, 0] : [0, 0, 255], 3 * i);
    const wideB64 = (await pngOf(wide, 8, 4)).toString('base64');

    const got = await page.evaluate(async ({ files, wideB64 }) => {
      const wg = (window as unknown as { wg: typeof import('../../src/index.js') }).wg;
      const blob = (b64: string) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
      const entries = files.map((f) => ({ path: f.path, blob: blob(f.b64) }));
      let error = '';
      try {
        await wg.imageFolderFromFiles(entries);
      } catch (e) {
        error = (e as Error).message;
      }
      const ds = await wg.imageFolderFromFiles(entries, { onError: 'skip', warn: false });
      const crop = await wg.imageFolderFromFiles([{ path: 'w/w.png', blob: blob(wideB64) }], { size: 4 });
      await wg.init();
      const loader = new wg.DataLoader(ds, { batchSize: 4, shuffle: false, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
      const batches: { x: number[]; y: number[] }[] = [];
      for await (const b of loader.epoch(0)) batches.push({ x: Array.from(await b.images.data()), y: Array.from(await b.labels.data()) });
      return {
        error, classes: ds.classes, paths: ds.samples.map((s) => s.path), skipped: ds.skipped.map((s) => s.path),
        pixels: Array.from({ length: ds.length }, (_, i) => Array.from(ds.image(i))), shape: ds.shape,
        crop: Array.from(crop.image(0)), batches,
      };
    }, { files, wideB64 });

    expect(got.error).toMatch(/^ImageFolder: dog\/bad\.png: /);
    expect(got.classes).toEqual(['Zebra', 'cat', 'dog']);
    expect(got.paths).toEqual(['Zebra/z.png', 'cat/a.png', 'cat/b.png', 'dog/x.png']);
    expect(got.skipped).toEqual(['dog/bad.png']);
    expect(got.shape).toEqual([3, H, W]);
    const chw = (raw: Buffer) => Array.from({ length: 3 * W * H }, (_, j) => raw[3 * (j % (W * H)) + Math.floor(j / (W * H))]);
    const want = [3, 2, 1, 0].map((k) => chw(pattern(k))); // Zebra = pattern 3, cat/a = 2, cat/b = 1, dog/x = 0
    expect(got.pixels).toEqual(want);
    expect(got.crop.slice(0, 16).every((v) => v <= 2)).toBe(true); // red channel of the blue centre
    expect(got.crop.slice(32, 48).every((v) => v >= 253)).toBe(true);
    expect(got.batches.length).toBe(1);
    expect(got.batches[0].y).toEqual([0, 1, 1, 2]);
    expectClose('browser loader', got.batches[0].x, want.flat().map((v) => (v / 255 - 0.5) / 0.25), { atol: 1e-5, rtol: 1e-6 });
  });
});
