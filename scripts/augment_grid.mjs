// Writes a PNG grid of augmented views of a few Fashion-MNIST test images, for people to look at
// the GPU augmentations (src/data/augment.ts presets run by src/kernels/augment.ts).
//   node scripts/build.mjs && node scripts/augment_grid.mjs [--out out/augment_grid.png]
//        [--images 6] [--seed 0] [--scale 3] [--dir /usr/share/datasets/fashion-mnist]
// Rows: images. Column 0 is the original; then SimCLR (2 views), BYOL view 1 and view 2, and
// DINO multi-crop (2 global crops, 4 local crops, shown at 2x since they are half size). A second
// panel below repeats the rows with each image tinted a colour (3 channels), so colour jitter's
// hue and saturation and the grayscale switch are visible too. No normalisation (pixels stay in
// [0, 1]). Needs the built dist/ and `sharp`.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as wg from '../dist/node.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/augment_grid.png' },
    images: { type: 'string', default: '6' },
    seed: { type: 'string', default: '0' },
    scale: { type: 'string', default: '3' },
    dir: { type: 'string' },
  },
});
const nImages = Number(args.images);
const scale = Number(args.scale);

await wg.init();
const split = wg.loadFashionMnist('test', args.dir);
const [H, W] = [split.height, split.width];
const gray = new Float32Array(nImages * H * W);
for (let i = 0; i < gray.length; i++) gray[i] = split.images[i] / 255;
// Tinted copies: image n times a colour of its own (hue spaced around the circle).
const tint = (n) => {
  const h = n / nImages;
  return [0, 1, 2].map((c) => 0.55 + 0.45 * Math.cos(2 * Math.PI * (h - c / 3)));
};
const rgb = new Float32Array(nImages * 3 * H * W);
for (let n = 0; n < nImages; n++) {
  const t = tint(n);
  for (let c = 0; c < 3; c++) for (let i = 0; i < H * W; i++) rgb[(n * 3 + c) * H * W + i] = gray[n * H * W + i] * t[c];
}

const gen = new wg.Generator(BigInt(args.seed));
const local = Math.round(H / 2);
/** [label, presets] per column group; normalisation off so the views can be shown as they are. */
const columns = (channels) => {
  const o = { channels, normalize: null };
  return [
    ...[1, 2].map(() => wg.simclrPreset({ ...o, size: H, blur: true })),
    ...wg.byolPresets({ ...o, size: H }),
    ...wg.multiCropPresets({ ...o, globalSize: H, localSize: local, localCrops: 4, globalScale: [0.4, 1], localScale: [0.05, 0.4] }),
  ];
};

/** Runs every column's preset on the batch; returns per column the views [N, C, h, w] as arrays. */
async function panel(data, channels) {
  const x = wg.tensor(data, { shape: [nImages, channels, H, W] });
  const views = [];
  for (const preset of columns(channels)) {
    const v = wg.augment(x, preset, gen);
    views.push({ data: await v.data(), h: v.shape[2], w: v.shape[3] });
    v.dispose();
  }
  x.dispose();
  return [{ data, h: H, w: W }, ...views];
}

const panels = [await panel(gray, 1), await panel(rgb, 3)].map((cols, p) => ({ cols, channels: p === 0 ? 1 : 3 }));
const pad = 2;
const cell = H + pad;
const nCols = panels[0].cols.length;
const gridW = nCols * cell + pad;
const gridH = panels.length * nImages * cell + pad + (panels.length - 1) * 2 * pad;
const img = new Uint8Array(gridW * gridH * 3).fill(255);
const put = (x, y, c, v) => (img[(y * gridW + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v * 255))));
panels.forEach(({ cols, channels }, p) => {
  const y0 = pad + p * (nImages * cell + 2 * pad);
  cols.forEach((view, col) => {
    const up = Math.max(1, Math.floor(H / view.h)); // local crops at 2x (nearest)
    for (let n = 0; n < nImages; n++) {
      for (let y = 0; y < view.h * up; y++) {
        for (let x = 0; x < view.w * up; x++) {
          for (let c = 0; c < 3; c++) {
            const ch = channels === 1 ? 0 : c;
            const v = view.data[((n * channels + ch) * view.h + Math.floor(y / up)) * view.w + Math.floor(x / up)];
            put(pad + col * cell + x, y0 + n * cell + y, c, v);
          }
        }
      }
    }
  });
});

mkdirSync(path.dirname(args.out), { recursive: true });
await sharp(Buffer.from(img), { raw: { width: gridW, height: gridH, channels: 3 } })
  .resize(gridW * scale, gridH * scale, { kernel: 'nearest' })
  .png()
  .toFile(args.out);
console.log(`augment_grid: ${args.out} (${gridW * scale}x${gridH * scale}; ${nImages} images x 2 panels (gray, tinted RGB); columns: original, SimCLR x2, BYOL v1, BYOL v2, DINO global x2, local x4)`);
wg.destroyRuntime();
