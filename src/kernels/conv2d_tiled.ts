/**
 * The GPU strategy of conv2d (shaders/conv2d_tiled.wgsl): one workgroup-memory tiled implicit
 * GEMM kernel in three modes (forward, input gradient, weight gradient), gathering its tiles from
 * the NCHW tensors in place through their strides. The weight gradient reduces over N*Ho*Wo and
 * has a small output, so it is split over the reduction until the grid fills the GPU; the partial
 * sums are then added by the reduce kernel.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import type { Conv2dGeometry } from './conv2d.js';
import { foldGrid } from './matmul.js';
import { launchReduce } from './reduce.js';

/** K step staged through workgroup memory. */
const BK = 16;
/** Workgroups the weight gradient aims for before it splits its reduction. */
const DW_TARGET_WORKGROUPS = 256;
/** Never split the weight-gradient reduction into chunks shorter than this. */
const DW_MIN_CHUNK = 256;

/**
 * Workgroup shape for an M x cols output: 16 x 16 invocations (64 x 64 tiles) when both are large,
 * else 8 x 8 (32 x 32 tiles). Two shapes only, so few pipelines are compiled.
 */
function workgroupShape(M: number, cols: number): { WG_X: number; WG_Y: number } {
  return M >= 64 && cols >= 64 ? { WG_X: 16, WG_Y: 16 } : { WG_X: 8, WG_Y: 8 };
}

interface TiledSpec {
  op: string;
  mode: 0 | 1 | 2;
  g: Conv2dGeometry;
  a: Tensor;
  b: Tensor;
  bias: Tensor | null;
  out: Tensor;
  M: number;
  NC: number;
  K: number;
  splits: number;
  kPerSplit: number;
}

function launch(s: TiledSpec): void {
  const { g } = s;
  const rt = runtime();
  const { WG_X, WG_Y } = workgroupShape(s.M, s.NC);
  const tilesM = Math.ceil(s.M / (4 * WG_Y));
  const tilesN = Math.ceil(s.NC / (4 * WG_X));
  const params = new Params()
    .u32(s.M, s.NC, s.K, g.G)
    .u32(tilesM, tilesN, s.splits, s.kPerSplit)
    .u32(g.C, g.H, g.W, g.O)
    .u32(g.Ho, g.Wo, g.KH, g.KW)
    .u32(g.sh, g.sw, g.ph, g.pw)
    .u32(g.dh, g.dw, g.Cg, g.Og)
    .u32(s.a.offset, s.b.offset, s.bias ? s.bias.offset : 0, g.O * g.Cg * g.KH * g.KW)
    .u32(s.bias ? 1 : 0, 0, 0, 0)
    .u32(...s.a.strides)
    .u32(...s.b.strides);
  dispatch({
    op: s.op,
    shader: 'conv2d_tiled',
    entry: 'conv2d_tiled',
    overrides: { MODE: s.mode, WG_X, WG_Y, BK },
    inputs: [s.a, s.b, s.bias ?? rt.dummy],
    outputs: [s.out],
    params,
    workgroups: foldGrid(s.op, [tilesN * tilesM * g.G * s.splits, 1, 1], rt.limits.maxComputeWorkgroupsPerDimension),
  });
}

/** Records the GPU-strategy forward into `y` ([N, O, Ho, Wo]); bias [O] with unit stride, or null. */
export function conv2dForwardTiled(g: Conv2dGeometry, x: Tensor, w: Tensor, bias: Tensor | null, y: Tensor): void {
  const K = g.Cg * g.KH * g.KW;
  launch({ op: 'conv2d', mode: 0, g, a: w, b: x, bias, out: y, M: g.Og, NC: g.N * g.Ho * g.Wo, K, splits: 1, kPerSplit: K });
}

/** Records the GPU-strategy gradients dx (needs w) and / or dw (needs x) from dy [N, O, Ho, Wo]. */
export function conv2dBackwardTiled(
  g: Conv2dGeometry, x: Tensor | null, w: Tensor | null, dy: Tensor, wantDx: boolean, wantDw: boolean,
): { dx: Tensor | null; dw: Tensor | null } {
  const op = 'conv2d backward';
  let dx: Tensor | null = null;
  let dw: Tensor | null = null;
  if (wantDx) {
    dx = Tensor.empty([g.N, g.C, g.H, g.W], 'f32');
    const K = g.Og * g.KH * g.KW;
    launch({ op, mode: 1, g, a: w!, b: dy, bias: null, out: dx, M: g.Cg, NC: g.N * g.H * g.W, K, splits: 1, kPerSplit: K });
  }
  if (wantDw) {
    const M = g.Og;
    const NC = g.Cg * g.KH * g.KW;
    const K = g.N * g.Ho * g.Wo;
    const { WG_X, WG_Y } = workgroupShape(M, NC);
    const base = g.G * Math.ceil(M / (4 * WG_Y)) * Math.ceil(NC / (4 * WG_X));
    const want = Math.max(1, Math.min(Math.ceil(DW_TARGET_WORKGROUPS / base), Math.floor(K / DW_MIN_CHUNK)));
    const kPerSplit = Math.ceil(K / want / BK) * BK;
    const splits = Math.ceil(K / kPerSplit);
    const wShape = [g.O, g.Cg, g.KH, g.KW];
    const out = Tensor.empty(splits > 1 ? [splits, ...wShape] : wShape, 'f32');
    launch({ op, mode: 2, g, a: dy, b: x!, bias: null, out, M, NC, K, splits, kPerSplit });
    if (splits > 1) {
      dw = launchReduce({ op: 'sum', x: out, axes: [0] });
      out.dispose();
    } else dw = out;
  }
  return { dx, dw };
}
