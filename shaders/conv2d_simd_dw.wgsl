// conv2d_simd_dw.wgsl: the CPU-SIMD weight gradient of conv2d, an implicit GEMM whose reduction
//   runs over the output pixels (n, oh, ow) of N*Ho*Wo:
//     dw[g*Og + o, c, kh, kw] = sum over (n, oh, ow) of dy[n, g*Og + o, oh, ow] *
//                                 x[n, g*Cg + c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
//   Both operands are the packed channels-last inputs of conv2d_pack_input: dyp [n][dy_h][dy_w]
//   [G][Og4] (dy starts at row dy_bh, column dy_bw) and xp [n][x_h][x_w][G][Cg4] (padded: x
//   starts at row ph, column pw, so no load needs a bounds check). Along the reduction they are
//   contiguous in neither, but both are contiguous along the output's axes (o, and c within a
//   kernel tap), so the kernel is an outer-product GEMM: per pixel, lane l loads RA vec4s of dy
//   (4 output channels each, vec4 rows q*SG + l) and CB vec4s of x (columns c*SG + l, a column
//   being 4 channels of one tap (kh, kw): j = (kh*KW + kw)*Cg4 + c4), receives every lane's dy
//   vec4s by subgroupBroadcast and accumulates a vec4 (4 channels) per row: a (4*SG*RA) x
//   (4*SG*CB) tile of dw, as many accumulators as the K-contiguous kernels for the same loads.
//   Rows and columns past Og4 / ncols are clamped on load; padded channels are skipped on store.
// Split-K: workgroups of split s reduce the rows (n, oh) [s*rows_per_split, (s+1)*rows_per_split)
//   and write partial sums at out[s*dw_size ..] ([splits, O, Cg, KH, KW]); the launcher sums them.
// Bindings: 0 dyp (read vec4) 1 xp (read vec4) | 2 out (read_write f32) | 3 p (Dw).
// Grid: [splits * groups * tiles_m * tiles_n] folded over x, y, z (x fastest; bounds-checked).
// Slots: SG (subgroup size = workgroup size), RA, CB (register tile). Overrides: none.
enable subgroups;
//#include "common.wgsl"

struct Dw {
  Og: u32, Og4: u32, Cg: u32, Cg4: u32,
  ncols: u32, tiles_m: u32, tiles_n: u32, groups: u32,
  Ho: u32, Wo: u32, rows: u32, rows_per_split: u32,
  splits: u32, KW: u32, taps: u32, dw_size: u32,
  x_h: u32, x_w: u32, x_row: u32, sh: u32,
  sw: u32, dh: u32, dw: u32, _p0: u32,
  dy_h: u32, dy_w: u32, dy_row: u32, dy_bh: u32,
  dy_bw: u32, _p1: u32, _p2: u32, _p3: u32,
}

@group(0) @binding(0) var<storage, read> dyp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> xp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Dw;

// Offset in xp (vec4 units, relative to a pixel) of vec4 column j: tap (kh, kw), channels 4*c4...
fn col_offset(j: u32) -> u32 {
  let c4 = j % p.Cg4;
  let tap = j / p.Cg4;
  return ((tap / p.KW) * p.dh * p.x_w + (tap % p.KW) * p.dw) * p.x_row + c4;
}

// Writes the 4 channels of vec4 column j of row `row` (an output channel of group g).
fn store(base: u32, j: u32, v: vec4<f32>) {
  let c4 = j % p.Cg4;
  let tap = j / p.Cg4;
  for (var e = 0u; e < 4u; e++) {
    let c = 4u * c4 + e;
    if (c < p.Cg) { out[base + c * p.taps + tap] = v[e]; }
  }
}

@compute @workgroup_size({{SG}})
fn conv2d_simd_dw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lane: u32) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let split = lin / (tiles * p.groups);
  if (split >= p.splits) { return; }  // uniform across the workgroup
  let g = (lin / tiles) % p.groups;
  let t = lin % tiles;
  let n0 = (t % p.tiles_n) * ({{SG}}u * {{CB}}u);
  let m0 = (t / p.tiles_n) * ({{SG}}u * {{RA}}u);

  //#repeat Q {{RA}}
  let ar{{Q}} = g * p.Og4 + min(m0 + {{Q}}u * {{SG}}u + lane, p.Og4 - 1u);
  //#end
  //#repeat C {{CB}}
  let xo{{C}} = col_offset(min(n0 + {{C}}u * {{SG}}u + lane, p.ncols - 1u)) + g * p.Cg4;
  //#end

  // One named vec4 per accumulator row (4 channels of one column), so the JIT keeps them in registers.
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  //#repeat R 4
  //#repeat C {{CB}}
  var acc_{{Q}}_{{I}}_{{R}}_{{C}} = vec4<f32>(0.0);
  //#end
  //#end
  //#end
  //#end
  let r0 = split * p.rows_per_split;
  let r1 = min(r0 + p.rows_per_split, p.rows);
  let xstep = p.sw * p.x_row;
  for (var r = r0; r < r1; r++) {
    let n = r / p.Ho;
    let oh = r % p.Ho;
    var xb = (n * p.x_h + oh * p.sh) * p.x_w * p.x_row;
    var yb = ((n * p.dy_h + oh + p.dy_bh) * p.dy_w + p.dy_bw) * p.dy_row;
    for (var ow = 0u; ow < p.Wo; ow++) {
      //#repeat Q {{RA}}
      let a{{Q}} = dyp[yb + ar{{Q}}];
      //#end
      //#repeat C {{CB}}
      let b{{C}} = xp[xb + xo{{C}}];
      //#end
      //#repeat I {{SG}}
      //#repeat Q {{RA}}
      {
        let s = subgroupBroadcast(a{{Q}}, {{I}}u);
        //#repeat R 4
        //#repeat C {{CB}}
        acc_{{Q}}_{{I}}_{{R}}_{{C}} += s[{{R}}] * b{{C}};
        //#end
        //#end
      }
      //#end
      //#end
      xb += xstep;
      yb += p.dy_row;
    }
  }

  //#repeat C {{CB}}
  let j{{C}} = n0 + {{C}}u * {{SG}}u + lane;
  //#end
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  //#repeat R 4
  {
    let o = 4u * (m0 + {{Q}}u * {{SG}}u + {{I}}u) + {{R}}u;
    if (o < p.Og) {
      let base = split * p.dw_size + (g * p.Og + o) * p.Cg * p.taps;
      //#repeat C {{CB}}
      if (j{{C}} < p.ncols) { store(base, j{{C}}, acc_{{Q}}_{{I}}_{{R}}_{{C}}); }
      //#end
    }
  }
  //#end
  //#end
  //#end
}
