// Float64 reference for conv2d (torch.nn.functional.conv2d semantics): direct loops over NCHW
// input and [O, C/groups, KH, KW] weights, zero padding, stride, dilation, groups; plus its two
// adjoints written as the same loops scattered the other way (used where finite differences of
// the forward would be too slow).
import type { Arr } from './matmul.js';

/** conv2d hyperparameters as the reference takes them (numbers or [H, W] pairs). */
export interface ConvRefOpts {
  stride?: number | [number, number];
  padding?: number | [number, number] | 'same' | 'valid';
  dilation?: number | [number, number];
  groups?: number;
}

const two = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Geometry: sizes and the leading padding of each axis (PyTorch's 'same' puts an odd extra zero last). */
export function convGeom(xs: readonly number[], ws: readonly number[], o: ConvRefOpts = {}) {
  const [N, C, H, W] = xs;
  const [O, Cg, KH, KW] = ws;
  const G = o.groups ?? 1;
  const [sh, sw] = two(o.stride ?? 1);
  const [dh, dw] = two(o.dilation ?? 1);
  let pads: [number, number, number, number]; // top, bottom, left, right
  if (o.padding === 'same') {
    const th = dh * (KH - 1);
    const tw = dw * (KW - 1);
    pads = [th >> 1, th - (th >> 1), tw >> 1, tw - (tw >> 1)];
  } else if (o.padding === 'valid') pads = [0, 0, 0, 0];
  else {
    const [ph, pw] = two(o.padding ?? 0);
    pads = [ph, ph, pw, pw];
  }
  const Ho = Math.floor((H + pads[0] + pads[1] - dh * (KH - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + pads[2] + pads[3] - dw * (KW - 1) - 1) / sw) + 1;
  return { N, C, H, W, O, Cg, KH, KW, G, Og: O / G, sh, sw, dh, dw, ph: pads[0], pw: pads[2], Ho, Wo };
}

/** Calls f(yIndex, xIndex, wIndex) for every multiply of the convolution (x index -1 in the padding). */
function forEachTerm(xs: readonly number[], ws: readonly number[], o: ConvRefOpts, f: (yi: number, xi: number, wi: number) => void): void {
  const g = convGeom(xs, ws, o);
  for (let n = 0; n < g.N; n++) {
    for (let oc = 0; oc < g.O; oc++) {
      const grp = Math.floor(oc / g.Og);
      for (let oh = 0; oh < g.Ho; oh++) {
        for (let ow = 0; ow < g.Wo; ow++) {
          const yi = ((n * g.O + oc) * g.Ho + oh) * g.Wo + ow;
          for (let c = 0; c < g.Cg; c++) {
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                const xi = ((n * g.C + grp * g.Cg + c) * g.H + ih) * g.W + iw;
                f(yi, xi, ((oc * g.Cg + c) * g.KH + kh) * g.KW + kw);
              }
            }
          }
        }
      }
    }
  }
}

/** y = conv2d(x, w) (+ bias[o]) in float64. */
export function conv2dRef(x: Arr, w: Arr, o: ConvRefOpts = {}, bias?: Arr): { data: Float64Array; shape: number[] } {
  const g = convGeom(x.shape, w.shape, o);
  const shape = [g.N, g.O, g.Ho, g.Wo];
  const y = new Float64Array(g.N * g.O * g.Ho * g.Wo);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias.data[Math.floor(i / (g.Ho * g.Wo)) % g.O];
  forEachTerm(x.shape, w.shape, o, (yi, xi, wi) => (y[yi] += x.data[xi] * w.data[wi]));
  return { data: y, shape };
}

/** dL/dx for upstream gradient dy (the adjoint of conv2dRef in x). */
export function conv2dInputGradRef(dy: Arr, w: Arr, xShape: readonly number[], o: ConvRefOpts = {}): Float64Array {
  const dx = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachTerm(xShape, w.shape, o, (yi, xi, wi) => (dx[xi] += dy.data[yi] * w.data[wi]));
  return dx;
}

/** dL/dw for upstream gradient dy (the adjoint of conv2dRef in w). */
export function conv2dWeightGradRef(dy: Arr, x: Arr, wShape: readonly number[], o: ConvRefOpts = {}): Float64Array {
  const dw = new Float64Array(wShape.reduce((a, b) => a * b, 1));
  forEachTerm(x.shape, wShape, o, (yi, xi, wi) => (dw[wi] += dy.data[yi] * x.data[xi]));
  return dw;
}
