// bench/augment_cpu.mjs: the augmentation pipeline of src/kernels/augment.ts on the CPU in plain
// JavaScript, for bench/augment.mjs to compare the GPU kernels with. Same parameters (the
// AugmentParams that src/data/augment.ts's sampleAugmentParams draws), same ops, same order and the
// same semantics as torchvision 0.14's tensor transforms and the WGSL kernels:
//   crop    resized crop, bilinear, antialias off, align_corners False: per axis
//           src = max((dst + 0.5) * (box / out) - 0.5, 0), i0 = floor(src), i1 = min(i0 + 1, box - 1);
//           then the horizontal flip (out[ox] = resized[OW - 1 - ox])
//   jitter  ColorJitter in the image's own op order (brightness, contrast with the mean of the
//           image's grayscale as it is when contrast runs, saturation, hue through HSV)
//   gray    0.2989 R + 0.587 G + 0.114 B in every channel
//   blur    separable Gaussian, weights exp(-0.5 ((j - half) / sigma)^2) / sum, reflect padding
//   post    solarize (x >= t -> 1 - x), normalize ((x - mean[c]) / std[c]), erase (box -> value)
// The data is float32 (Float32Array) in and out, one image at a time through two scratch images
// (cache-resident: 3x96x96 f32 is 108 KiB); each stage is one tight pass over typed arrays, with
// the per-column bilinear and reflect-index tables computed once per image. JavaScript does the
// arithmetic in float64 and every stage stores float32, as a typed-array implementation in JS does.
// No workers: one thread (the GPU side's host work, parameter sampling and command recording, is one
// thread too).

const GR = 0.2989, GG = 0.587, GB = 0.114;

/** Scratch buffers for images of up to `c` x `oh` x `ow` (reused across calls of the same size). */
export function makeScratch(c, oh, ow) {
  const k = c * oh * ow;
  return {
    c, oh, ow,
    a: new Float32Array(k), b: new Float32Array(k),
    x0: new Int32Array(ow), x1: new Int32Array(ow), lx: new Float64Array(ow),
    pad: new Float64Array(ow + 2 * Math.max(oh, ow)), acc: new Float64Array(ow), w: new Float64Array(2 * Math.max(oh, ow) + 1),
  };
}

const clamp01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Resized crop of image `n`'s box to oh x ow, mirrored when `flip`: x (NCHW batch) -> dst [C, OH, OW]. */
function cropResize(x, xoff, c, h, w, top, left, bh, bw, oh, ow, flip, dst, s) {
  const { x0, x1, lx } = s;
  const sxScale = bw / ow, syScale = bh / oh;
  for (let ox = 0; ox < ow; ox++) {
    const sx = flip ? ow - 1 - ox : ox;
    const fx = Math.max((sx + 0.5) * sxScale - 0.5, 0);
    const i0 = Math.floor(fx);
    x0[ox] = left + i0;
    x1[ox] = left + Math.min(i0 + 1, bw - 1);
    lx[ox] = fx - i0;
  }
  const hw = h * w, ohw = oh * ow;
  for (let oy = 0; oy < oh; oy++) {
    const fy = Math.max((oy + 0.5) * syScale - 0.5, 0);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, bh - 1);
    const ly = fy - y0, ky = 1 - ly;
    for (let ch = 0; ch < c; ch++) {
      const r0 = xoff + ch * hw + (top + y0) * w, r1 = xoff + ch * hw + (top + y1) * w;
      let o = ch * ohw + oy * ow;
      for (let ox = 0; ox < ow; ox++, o++) {
        const a = x0[ox], b = x1[ox], l = lx[ox];
        const t = x[r0 + a] + l * (x[r0 + b] - x[r0 + a]);
        const u = x[r1 + a] + l * (x[r1 + b] - x[r1 + a]);
        dst[o] = ky * t + ly * u;
      }
    }
  }
}

function brightness(im, len, f) {
  for (let i = 0; i < len; i++) im[i] = clamp01(f * im[i]);
}

function contrast(im, c, hw, f) {
  let s = 0;
  if (c === 3) for (let i = 0; i < hw; i++) s += GR * im[i] + GG * im[hw + i] + GB * im[2 * hw + i];
  else for (let i = 0; i < hw; i++) s += im[i];
  const m = (1 - f) * (s / hw);
  const len = c * hw;
  for (let i = 0; i < len; i++) im[i] = clamp01(f * im[i] + m);
}

function saturation(im, hw, f) {
  const g = 1 - f;
  for (let i = 0; i < hw; i++) {
    const r = im[i], gg = im[hw + i], b = im[2 * hw + i];
    const gray = g * (GR * r + GG * gg + GB * b);
    im[i] = clamp01(f * r + gray);
    im[hw + i] = clamp01(f * gg + gray);
    im[2 * hw + i] = clamp01(f * b + gray);
  }
}

/** torchvision's adjust_hue: _rgb2hsv, h = (h + f) mod 1, _hsv2rgb, per pixel. */
function hue(im, hw, f) {
  for (let i = 0; i < hw; i++) {
    const r = im[i], g = im[hw + i], b = im[2 * hw + i];
    const maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
    const minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
    const eq = maxc === minc;
    const cr = maxc - minc;
    const s = cr / (eq ? 1 : maxc);
    const div = eq ? 1 : cr;
    let h;
    if (maxc === r) h = (maxc - b) / div - (maxc - g) / div;
    else if (maxc === g) h = 2 + (maxc - r) / div - (maxc - b) / div;
    else h = 4 + (maxc - g) / div - (maxc - r) / div;
    h = h / 6 + 1;
    h -= Math.floor(h);
    h += f;
    h -= Math.floor(h);
    const h6 = h * 6;
    const fi = Math.floor(h6);
    const fr = h6 - fi;
    const p = clamp01(maxc * (1 - s));
    const q = clamp01(maxc * (1 - s * fr));
    const t = clamp01(maxc * (1 - s * (1 - fr)));
    let ro, go, bo;
    switch (fi % 6) {
      case 0: ro = maxc; go = t; bo = p; break;
      case 1: ro = q; go = maxc; bo = p; break;
      case 2: ro = p; go = maxc; bo = t; break;
      case 3: ro = p; go = q; bo = maxc; break;
      case 4: ro = t; go = p; bo = maxc; break;
      default: ro = maxc; go = p; bo = q;
    }
    im[i] = ro;
    im[hw + i] = go;
    im[2 * hw + i] = bo;
  }
}

function grayscale(im, hw) {
  for (let i = 0; i < hw; i++) {
    const v = GR * im[i] + GG * im[hw + i] + GB * im[2 * hw + i];
    im[i] = v;
    im[hw + i] = v;
    im[2 * hw + i] = v;
  }
}

const mirror = (i, n) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

/** Separable Gaussian blur with reflect padding: src -> (horizontal) tmp -> (vertical) src. */
function blur(src, tmp, c, h, w, k, sigma, s) {
  const half = (k - 1) >> 1;
  const wt = s.w;
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const t = (j - half) / sigma;
    wt[j] = Math.exp(-0.5 * t * t);
    sum += wt[j];
  }
  for (let j = 0; j < k; j++) wt[j] /= sum;
  const pad = s.pad, acc = s.acc, hw = h * w;
  // Horizontal: each row copied into a reflect-padded line, then a straight k-tap dot per pixel.
  for (let r = 0; r < c * h; r++) {
    const base = r * w;
    for (let i = -half; i < w + half; i++) pad[i + half] = src[base + mirror(i, w)];
    for (let xx = 0; xx < w; xx++) {
      let a = 0;
      for (let j = 0; j < k; j++) a += wt[j] * pad[xx + j];
      tmp[base + xx] = a;
    }
  }
  // Vertical: each output row is the weighted sum of k (reflected) input rows, row-contiguous.
  for (let ch = 0; ch < c; ch++) {
    const cb = ch * hw;
    for (let y = 0; y < h; y++) {
      acc.fill(0, 0, w);
      for (let j = 0; j < k; j++) {
        const rb = cb + mirror(y + j - half, h) * w, wj = wt[j];
        for (let xx = 0; xx < w; xx++) acc[xx] += wj * tmp[rb + xx];
      }
      const ob = cb + y * w;
      for (let xx = 0; xx < w; xx++) src[ob + xx] = acc[xx];
    }
  }
}

/**
 * The whole pipeline on the CPU: `x` [N, C, H, W] float32 (C = 1 or 3, values in [0, 1]) with the
 * per-image parameters `prm` (AugmentParams of src/kernels/augment.ts) -> [N, C, OH, OW] float32,
 * written into `out` when given (else a new array). `scratch` (makeScratch) may be reused.
 */
export function augmentCpu(x, shape, prm, out = null, scratch = null) {
  const [n, c, h, w] = shape;
  const [oh, ow] = prm.size ?? (prm.crop ? [prm.crop.height[0], prm.crop.width[0]] : [h, w]);
  const ohw = oh * ow, len = c * ohw;
  const o = out ?? new Float32Array(n * len);
  if (o.length !== n * len) throw new Error(`augmentCpu: out has ${o.length} values, expected ${n * len}`);
  const s = scratch && scratch.c === c && scratch.oh === oh && scratch.ow === ow ? scratch : makeScratch(c, oh, ow);
  const j = prm.jitter;
  const fac = j ? [j.brightness, j.contrast, j.saturation, j.hue] : null;
  const nm = prm.normalize;
  const mean = nm ? Float64Array.from(nm.mean) : null, std = nm ? Float64Array.from(nm.std) : null;
  const sol = prm.solarize, er = prm.erase;
  for (let i = 0; i < n; i++) {
    let im = s.a;
    const cb = prm.crop;
    cropResize(x, i * c * h * w, c, h, w, cb ? cb.top[i] : 0, cb ? cb.left[i] : 0, cb ? cb.height[i] : h, cb ? cb.width[i] : w,
      oh, ow, !!prm.hflip?.[i], im, s);
    if (j && (j.apply === undefined || j.apply[i])) {
      for (let k = 0; k < 4; k++) {
        const op = j.order ? j.order[4 * i + k] : k;
        const fa = fac[op];
        if (!fa) continue;
        const f = fa[i];
        if (op === 0) brightness(im, len, f);
        else if (op === 1) contrast(im, c, ohw, f);
        else if (c === 3 && op === 2) saturation(im, ohw, f);
        else if (c === 3 && op === 3) hue(im, ohw, f);
      }
    }
    if (c === 3 && prm.grayscale?.[i]) grayscale(im, ohw);
    if (prm.blur && prm.blur.sigma[i] > 0) blur(im, s.b, c, oh, ow, prm.blur.kernelSize, prm.blur.sigma[i], s);
    // post: solarize -> normalize -> erase, written to the output batch.
    const solOn = sol && (sol.apply === undefined || sol.apply[i]);
    const thr = sol ? sol.threshold : 0;
    const ob = i * len;
    for (let ch = 0; ch < c; ch++) {
      const m = nm ? mean[ch] : 0, sd = nm ? std[ch] : 1;
      const b = ch * ohw;
      if (solOn) {
        for (let p = 0; p < ohw; p++) { const v = im[b + p]; o[ob + b + p] = ((v >= thr ? 1 - v : v) - m) / sd; }
      } else if (nm) {
        for (let p = 0; p < ohw; p++) o[ob + b + p] = (im[b + p] - m) / sd;
      } else {
        o.set(im.subarray(b, b + ohw), ob + b);
      }
    }
    if (er && er.height[i] > 0 && er.width[i] > 0) {
      const v = er.value ? er.value[i] : 0;
      for (let ch = 0; ch < c; ch++) {
        for (let y = er.top[i]; y < er.top[i] + er.height[i]; y++) {
          const rb = ob + ch * ohw + y * ow + er.left[i];
          o.fill(v, rb, rb + er.width[i]);
        }
      }
    }
  }
  return o;
}
