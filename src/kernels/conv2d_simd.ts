/**
 * The CPU-SIMD strategy of conv2d (shaders/conv2d_pack.wgsl, conv2d_simd.wgsl,
 * conv2d_simd_dw.wgsl), for adapters that run shaders on CPU SIMD units (lavapipe, SwiftShader).
 * Operands are first packed channels-last, each group's channels zero-padded to vec4s and the
 * spatial zero padding written out, so that every GEMM load is one bounds-check-free vec4 along
 * the reduction axis (../shared/peers/lavapipe-limits.md):
 *  - forward: x -> [N][Hp][Wp][G][Cg4], w -> [O][KH][KW][Cg4]; rows = output channels (broadcast),
 *    columns = output pixels (lanes);
 *  - input gradient: dy -> [N][Hq][Wq][G][Og4] (zero rows / columns around it), w -> [C][KH][KW]
 *    [Og4]; the same GEMM kernel, once per stride phase of the input pixels, each phase visiting
 *    only the kernel taps that reach it (no multiply by structural zeros for stride > 1);
 *  - weight gradient: an outer-product GEMM over the output pixels of the packed dy and x, split
 *    over the pixel rows when the output has few tiles (the partial sums are then added).
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import type { Conv2dGeometry } from './conv2d.js';
import { foldGrid } from './matmul.js';
import { simdTile } from './matmul_simd.js';
import { launchReduce } from './reduce.js';

const vec4s = (n: number): number => Math.ceil(n / 4);

/** The subgroup size, after checking the adapter can run this strategy. */
function subgroupSize(): number {
  const rt = runtime();
  const SG = rt.subgroupSize;
  if (!rt.hasFeature('subgroups') || SG < 1 || rt.acquired.info.subgroupMinSize !== rt.acquired.info.subgroupMaxSize) {
    throw new Error(`conv2d: the 'cpu-simd' strategy needs the 'subgroups' feature with one fixed subgroup size; use strategy 'gpu'`);
  }
  return SG;
}

/**
 * Packs an NCHW tensor [N, C, H, W] (any strides) channels-last: vec4s [N][HP][WP][G][ceil(C/G/4)]
 * with the image at rows pt.., columns pl.. and zeros elsewhere.
 */
function packInput(op: string, src: Tensor, G: number, pt: number, pl: number, HP: number, WP: number): Tensor {
  const [N, C, H, W] = src.shape;
  const Cg = C / G;
  const C4 = vec4s(Cg);
  const n = N * HP * WP * G * C4;
  const max = runtime().limits.maxStorageBufferBindingSize;
  if (n * 16 > max) {
    throw new Error(`${op}: the packed channels-last copy of [${src.shape}] needs ${n * 16} bytes, above maxStorageBufferBindingSize ${max}; use a smaller batch`);
  }
  const dst = Tensor.empty([n * 4], 'f32');
  dispatch({
    op,
    shader: 'conv2d_pack',
    entry: 'conv2d_pack_input',
    inputs: [src],
    outputs: [dst],
    params: new Params().u32(n, C4, G, Cg).u32(HP, WP, pt, pl).u32(H, W, src.offset, 0).u32(...src.strides),
    workgroups: Math.ceil(n / 64),
  });
  return dst;
}

/**
 * Packs the weight [O, Cg, KH, KW] (any strides) as vec4 rows [rows][KH][KW][K4]: for the
 * forward rows = output channels and k = input channel in the group; for the input gradient
 * (`transposed`) rows = input channels g*Cg + c and k = output channel in group g.
 */
function packWeight(op: string, w: Tensor, g: Conv2dGeometry, transposed: boolean): Tensor {
  const [s0, s1, s2, s3] = w.strides;
  const rows = transposed ? g.C : g.O;
  const K = transposed ? g.Og : g.Cg;
  const K4 = vec4s(K);
  const n = rows * g.KH * g.KW * K4;
  const dst = Tensor.empty([n * 4], 'f32');
  const [Rg, gs, rs, ks] = transposed ? [g.Cg, g.Og * s0, s1, s0] : [g.O, 0, s0, s1];
  dispatch({
    op,
    shader: 'conv2d_pack',
    entry: 'conv2d_pack_weight',
    inputs: [w],
    outputs: [dst],
    params: new Params().u32(n, K4, K, g.KH * g.KW).u32(g.KW, Rg, w.offset, gs).u32(rs, ks, s2, s3),
    workgroups: Math.ceil(n / 64),
  });
  return dst;
}

/** The taps of one spatial axis a GEMM column visits: n taps k0, k0 + ks, ..., input step tx per tap. */
interface Taps { n: number; k0: number; ks: number; tx: number }

/** One launch of conv2d_simd_gemm (see the header of shaders/conv2d_simd.wgsl for every field). */
interface GemmSpec {
  op: string;
  wt: Tensor; xin: Tensor; bias: Tensor | null; y: Tensor;
  M: number; N: number; JH: number; JW: number; groups: number; K4: number;
  /** vec4s per inner loop (default K4; KW*K4 when the taps of a kernel row are fused). */
  kin?: number;
  in: { h: number; w: number; row: number; sh: number; sw: number; bh: number; bw: number };
  wRow: number; KW: number; th: Taps; tw: Taps;
  out: { c: number; h: number; w: number; sh: number; sw: number; h0: number; w0: number };
}

function launchGemm(s: GemmSpec, SG: number): void {
  const rt = runtime();
  const cols = s.N * s.JH * s.JW;
  const { RA, CB } = simdTile(s.M, cols, SG);
  const tilesM = Math.ceil(s.M / (SG * RA));
  const tilesN = Math.ceil(cols / (SG * CB));
  const params = new Params()
    .u32(s.M, cols, s.JH, s.JW)
    .u32(tilesM, tilesN, s.groups, s.K4)
    .u32(s.in.h, s.in.w, s.in.row, s.wRow)
    .u32(s.in.sh, s.in.sw, s.in.bh, s.in.bw)
    .u32(s.th.n, s.tw.n, s.th.k0, s.tw.k0)
    .u32(s.th.ks, s.tw.ks, s.KW, s.bias ? s.bias.offset : 0)
    .i32(s.th.tx, s.tw.tx)
    .u32(s.kin ?? s.K4, 0)
    .u32(s.out.c, s.out.h, s.out.w, s.bias ? 1 : 0)
    .u32(s.out.sh, s.out.sw, s.out.h0, s.out.w0);
  dispatch({
    op: s.op,
    shader: 'conv2d_simd',
    entry: 'conv2d_simd_gemm',
    slots: { SG, RA, CB },
    inputs: [s.wt, s.xin, s.bias ?? rt.dummy],
    outputs: [s.y],
    params,
    workgroups: foldGrid(s.op, [tilesN * tilesM * s.groups, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Rows of x the forward (and the weight gradient) read: the packed, padded input height. */
const paddedExtent = (out: number, s: number, K: number, d: number): number => (out - 1) * s + (K - 1) * d + 1;

/** Records the CPU-SIMD forward into `y` ([N, O, Ho, Wo]); bias [O] with unit stride, or null. */
export function conv2dForwardSimd(g: Conv2dGeometry, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor): void {
  const SG = subgroupSize();
  const Cg4 = vec4s(g.Cg);
  const HP = paddedExtent(g.Ho, g.sh, g.KH, g.dh);
  const WP = paddedExtent(g.Wo, g.sw, g.KW, g.dw);
  const xp = packInput('conv2d', x, g.G, g.ph, g.pw, HP, WP);
  const wp = packWeight('conv2d', w, g, false);
  // With dw = 1 and one group, a kernel row's taps are adjacent pixels: one run of KW*Cg4 vec4s.
  const fuse = g.dw === 1 && g.G === 1;
  launchGemm({
    op: 'conv2d', wt: wp, xin: xp, bias, y,
    M: g.Og, N: g.N, JH: g.Ho, JW: g.Wo, groups: g.G, K4: Cg4, kin: fuse ? g.KW * Cg4 : Cg4,
    in: { h: HP, w: WP, row: g.G * Cg4, sh: g.sh, sw: g.sw, bh: 0, bw: 0 },
    wRow: g.KH * g.KW * Cg4, KW: g.KW,
    th: { n: g.KH, k0: 0, ks: 1, tx: g.dh },
    tw: { n: fuse ? 1 : g.KW, k0: 0, ks: 1, tx: g.dw },
    out: { c: g.O, h: g.Ho, w: g.Wo, sh: 1, sw: 1, h0: 0, w0: 0 },
  }, SG);
  xp.dispose();
  wp.dispose();
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Stride phase r of one axis of the input gradient: the input positions i = j*s + r (j < J) and
 * the taps k with k*d = r + p (mod s), which read dy at (i + p - k*d) / s = j + e0 + m*tx for the
 * m-th tap (a multiple of s apart in k*d, so tx = -ks*d/s).
 */
function phase(r: number, s: number, p: number, d: number, K: number, inSize: number): Taps & { J: number; e0: number } {
  const J = r < inSize ? Math.ceil((inSize - r) / s) : 0;
  const ks = s / gcd(s, d);
  let k0 = -1;
  for (let k = 0; k < ks && k0 < 0; k++) if ((((k * d - r - p) % s) + s) % s === 0) k0 = k;
  if (k0 < 0 || k0 >= K) return { J, n: 0, k0: 0, ks, tx: 0, e0: 0 };
  return { J, n: Math.ceil((K - k0) / ks), k0, ks, tx: -(ks * d) / s, e0: (r + p - k0 * d) / s };
}

/** The phases of one axis and the zeros the packed dy needs before (pad) and its packed extent. */
function phasesOf(s: number, p: number, d: number, K: number, inSize: number, outSize: number) {
  const list = Array.from({ length: s }, (_, r) => phase(r, s, p, d, K, inSize));
  let pad = 0;
  let hi = outSize; // one past the last dy row any phase reads, before padding
  for (const f of list) {
    if (f.J === 0 || f.n === 0) continue;
    pad = Math.max(pad, -(f.e0 + (f.n - 1) * f.tx));
    hi = Math.max(hi, f.J + f.e0);
  }
  return { list, pad, extent: pad + hi };
}

/** Tiles of the weight-gradient kernel: RA x CB vec4 groups, at most 128 accumulators per lane. */
function dwTile(rows4: number, cols4: number, SG: number): { RA: number; CB: number } {
  let RA = 1;
  let CB = 1;
  const acc = (ra: number, cb: number) => 16 * SG * ra * cb;
  for (;;) {
    if (cols4 > SG * CB && acc(RA, CB * 2) <= 128) CB *= 2;
    else if (rows4 > SG * RA && acc(RA * 2, CB) <= 128) RA *= 2;
    else return { RA, CB };
  }
}

/** Workgroups the weight gradient aims for before it splits the reduction (2 CPU threads, some slack). */
const DW_TARGET_WORKGROUPS = 16;

/**
 * Records the CPU-SIMD gradients of a convolution: dx (needs w) and / or dw (needs x), from dy
 * [N, O, Ho, Wo] (any strides). dy is packed once for both.
 */
export function conv2dBackwardSimd(
  g: Conv2dGeometry, x: Tensor | null, w: Tensor | null, dy: Tensor, wantDx: boolean, wantDw: boolean,
): { dx: Tensor | null; dw: Tensor | null } {
  const SG = subgroupSize();
  const op = 'conv2d backward';
  const Og4 = vec4s(g.Og);
  const Cg4 = vec4s(g.Cg);
  const ah = phasesOf(g.sh, g.ph, g.dh, g.KH, g.H, g.Ho);
  const aw = phasesOf(g.sw, g.pw, g.dw, g.KW, g.W, g.Wo);
  const [pt, pl, Hq, Wq] = wantDx ? [ah.pad, aw.pad, ah.extent, aw.extent] : [0, 0, g.Ho, g.Wo];
  const dyp = packInput(op, dy, g.G, pt, pl, Hq, Wq);
  let dx: Tensor | null = null;
  let dw: Tensor | null = null;
  if (wantDx) {
    const wq = packWeight(op, w!, g, true);
    dx = Tensor.empty([g.N, g.C, g.H, g.W], 'f32');
    for (const fh of ah.list) {
      for (const fw of aw.list) {
        if (g.N * fh.J * fw.J === 0) continue;
        launchGemm({
          op, wt: wq, xin: dyp, bias: null, y: dx,
          M: g.Cg, N: g.N, JH: fh.J, JW: fw.J, groups: g.G, K4: Og4,
          in: { h: Hq, w: Wq, row: g.G * Og4, sh: 1, sw: 1, bh: fh.e0 + pt, bw: fw.e0 + pl },
          wRow: g.KH * g.KW * Og4, KW: g.KW, th: fh, tw: fw,
          out: { c: g.C, h: g.H, w: g.W, sh: g.sh, sw: g.sw, h0: ah.list.indexOf(fh), w0: aw.list.indexOf(fw) },
        }, SG);
      }
    }
    wq.dispose();
  }
  if (wantDw) {
    const HP = paddedExtent(g.Ho, g.sh, g.KH, g.dh);
    const WP = paddedExtent(g.Wo, g.sw, g.KW, g.dw);
    const xp = packInput(op, x!, g.G, g.ph, g.pw, HP, WP);
    const ncols = g.KH * g.KW * Cg4;
    const { RA, CB } = dwTile(Og4, ncols, SG);
    const tilesM = Math.ceil(Og4 / (SG * RA));
    const tilesN = Math.ceil(ncols / (SG * CB));
    const base = g.G * tilesM * tilesN;
    const rows = g.N * g.Ho;
    const perSplit = Math.ceil(rows / Math.min(rows, Math.max(1, Math.ceil(DW_TARGET_WORKGROUPS / base))));
    const splits = Math.ceil(rows / perSplit);
    const wShape = [g.O, g.Cg, g.KH, g.KW];
    const out = Tensor.empty(splits > 1 ? [splits, ...wShape] : wShape, 'f32');
    const rt = runtime();
    dispatch({
      op,
      shader: 'conv2d_simd_dw',
      entry: 'conv2d_simd_dw',
      slots: { SG, RA, CB },
      inputs: [dyp, xp],
      outputs: [out],
      params: new Params()
        .u32(g.Og, Og4, g.Cg, Cg4)
        .u32(ncols, tilesM, tilesN, g.G)
        .u32(g.Ho, g.Wo, rows, perSplit)
        .u32(splits, g.KW, g.KH * g.KW, g.O * g.Cg * g.KH * g.KW)
        .u32(HP, WP, g.G * Cg4, g.sh)
        .u32(g.sw, g.dh, g.dw, 0)
        .u32(Hq, Wq, g.G * Og4, pt)
        .u32(pl, 0, 0, 0),
      workgroups: foldGrid(op, [base * splits, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
    });
    xp.dispose();
    if (splits > 1) {
      dw = launchReduce({ op: 'sum', x: out, axes: [0] });
      out.dispose();
    } else dw = out;
  }
  dyp.dispose();
  return { dx, dw };
}
