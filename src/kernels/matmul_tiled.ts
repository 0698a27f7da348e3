/**
 * The GPU strategy of matmul (shaders/matmul_tiled.wgsl): classic workgroup-memory tiling. A
 * workgroup of WG_X x WG_Y invocations (64-256) computes a (4*WG_Y) x (4*WG_X) tile of C, each
 * invocation a 4x4 register tile; K is staged BK at a time through workgroup memory. Operands are
 * read in place through their strides (transposes, views, broadcast batches): the load axis and
 * vec4 loads are chosen per call from the strides, so nothing is packed or copied.
 */
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { launchGemm, type MatmulGeometry } from './matmul.js';

/** K step staged through workgroup memory (a multiple of 4). */
const BK = 16;

/** The override constants of one launch (see the header of shaders/matmul_tiled.wgsl). */
export interface MatmulTiledConfig {
  WG_X: number;
  WG_Y: number;
  BK: number;
  A_ALONG_K: number;
  A_V4: number;
  B_ALONG_K: number;
  B_V4: number;
}

/** Invocations along one output axis of extent `e`: tiles of 16, 32 or 64 elements. */
const invocationsFor = (e: number): number => (e <= 16 ? 4 : e <= 32 ? 8 : 16);

const mult4 = (v: readonly number[]): boolean => v.every((x) => x % 4 === 0);

/**
 * Read pattern of one operand: `alongK` when its quads of 4 run along k (else along its other
 * axis, m or n), and `v4` when such a quad is one aligned vec4 load. `sk` / `so` are its strides
 * along k and along the other axis; `offset` and `batch` its element offset and batch strides.
 */
function readPattern(sk: number, so: number, offset: number, batch: readonly number[]): { alongK: boolean; v4: boolean } {
  // The axis of the smaller nonzero stride: neighbouring invocations then read neighbouring words.
  const alongK = !(so !== 0 && so < sk);
  const [unit, other] = alongK ? [sk, so] : [so, sk];
  return { alongK, v4: unit === 1 && mult4([other, offset, ...batch]) };
}

/**
 * The overrides {@link launchMatmulTiled} uses for `g` (pure; exported for tests): the workgroup
 * shape from M and N (at least 64 invocations, smaller tiles for thin outputs), and per operand
 * the load axis and whether vec4 loads are allowed.
 */
export function matmulTiledConfig(g: MatmulGeometry): MatmulTiledConfig {
  let wx = invocationsFor(g.N);
  let wy = invocationsFor(g.M);
  while (wx * wy < 64) {
    if ((g.N >= g.M && wx < 16) || wy === 16) wx *= 2;
    else wy *= 2;
  }
  const pa = readPattern(g.sak, g.sam, g.a.offset, g.bsa);
  const pb = readPattern(g.sbk, g.sbn, g.b.offset, g.bsb);
  return { WG_X: wx, WG_Y: wy, BK, A_ALONG_K: +pa.alongK, A_V4: +pa.v4, B_ALONG_K: +pb.alongK, B_V4: +pb.v4 };
}

/** The shader binds operands as array<vec4<f32>>: their buffers must hold whole vec4s. */
function checkVec4Buffer(name: string, t: Tensor, g: MatmulGeometry): void {
  const bytes = t.storage.buffer.size;
  if (bytes % 16 !== 0) {
    throw new Error(`matmul: the tiled kernel reads ${name} as vec4s but its buffer has ${bytes} bytes (not a multiple of 16), a=${fmt(g.a.shape)} b=${fmt(g.b.shape)}`);
  }
}

/** Records the tiled GPU-strategy kernel for a validated geometry (see `MatmulGeometry`). */
export function launchMatmulTiled(g: MatmulGeometry): void {
  checkVec4Buffer('a', g.a, g);
  checkVec4Buffer('b', g.b, g);
  const cfg = matmulTiledConfig(g);
  launchGemm(g, 'matmul_tiled', 'matmul_tiled', { ...cfg }, 4 * cfg.WG_Y, 4 * cfg.WG_X);
}
