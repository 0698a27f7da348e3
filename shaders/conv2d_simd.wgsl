// conv2d_simd.wgsl: the CPU-SIMD implicit GEMM of conv2d, for its forward and its input gradient
//   (a transposed convolution, run once per stride phase). As matmul_simd.wgsl: a workgroup is ONE
//   subgroup of SG lanes, every load is a vec4 along the reduction axis, and the weight rows are
//   shared through subgroupBroadcast (../docs/design.md "Two kernel strategies").
//
// Per group g (M rows, cols columns):
//   out[n, g*M + m, jh*y_sh + y_h0, jw*y_sw + y_w0] = bias[g*M + m] +
//     sum over taps (mh < nth, mw < ntw) and k4 < kin of
//       dot(wt[(g*M + m)*w_row + ((kh0 + mh*ksh)*KW + kw0 + mw*ksw)*K4 + k4],
//           xin[pix(n, jh*in_sh + in_bh + mh*txh, jw*in_sw + in_bw + mw*txw)*in_row + g*K4 + k4])
//   for the column (n, jh, jw) < (N, JH, JW), pix(n, h, w) = (n*in_h + h)*in_w + w.
//   wt: packed weight rows (conv2d_pack_weight), xin: packed padded channels-last input
//   (conv2d_pack_input), so no load needs a bounds check: the padding is in the packed input.
//   kin = K4 normally; where a tap row's vec4s are contiguous in both operands (forward with
//   dw = 1 and one group: the KW taps of a row are KW adjacent pixels of K4 vec4s each), the
//   launcher sets ntw = 1 and kin = KW*K4, one longer loop instead of KW short ones.
//   Forward: rows = output channels, xin = x, taps = the whole kernel (txh = dh, in_sh = sh).
//   Input gradient, one dispatch per stride phase (rh, rw) < (sh, sw): rows = input channels,
//   xin = dy packed with zero rows / columns around it, columns = the input pixels
//   ih = jh*sh + rh of the phase (y_sh = sh, y_h0 = rh), taps = only the kernel rows kh with
//   kh*dh = rh + ph (mod sh) (kh0, kh0 + ksh, ...), which read dy row (ih + ph - kh*dh) / sh:
//   in_bh is that row for mh = 0 (plus the packed padding) and txh = -ksh*dh/sh < 0 its step.
// A workgroup computes (SG*RA) rows x (SG*CB) columns: lane l loads RA weight vec4s (rows
//   q*SG + l) and CB input vec4s (columns c*SG + l) per k4 step, receives every lane's weight vec4s
//   by subgroupBroadcast and accumulates its columns for all SG*RA rows. Rows and columns past M /
//   cols are clamped on load and skipped on store.
// Bindings: 0 wt (read vec4) 1 xin (read vec4) 2 bias (read f32; dummy unless p.has_bias) |
//   3 y (read_write f32, contiguous [N, out_c, out_h, out_w]) | 4 p (Gemm).
// Grid: [tiles_n * tiles_m * groups] folded over x, y, z (x fastest; the shader bounds-checks).
// Slots: SG (subgroup size = workgroup size), RA, CB (register tile). Overrides: none (the bias is
//   a uniform flag: one pipeline fewer per tile for lavapipe to JIT).
enable subgroups;
//#include "common.wgsl"

struct Gemm {
  M: u32, cols: u32, JH: u32, JW: u32,
  tiles_m: u32, tiles_n: u32, groups: u32, K4: u32,
  in_h: u32, in_w: u32, in_row: u32, w_row: u32,
  in_sh: u32, in_sw: u32, in_bh: u32, in_bw: u32,
  nth: u32, ntw: u32, kh0: u32, kw0: u32,
  ksh: u32, ksw: u32, KW: u32, off_bias: u32,
  txh: i32, txw: i32, kin: u32, _p1: u32,
  out_c: u32, out_h: u32, out_w: u32, has_bias: u32,
  y_sh: u32, y_sw: u32, y_h0: u32, y_w0: u32,
}

@group(0) @binding(0) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> xin: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Gemm;

// Packed-input offset (vec4 units) of column `col` before the taps, and its output offset.
fn in_base(col: u32) -> u32 {
  let jw = col % p.JW;
  let r = col / p.JW;
  let jh = r % p.JH;
  let n = r / p.JH;
  return ((n * p.in_h + jh * p.in_sh + p.in_bh) * p.in_w + jw * p.in_sw + p.in_bw) * p.in_row;
}

fn out_base(col: u32) -> u32 {
  let jw = col % p.JW;
  let r = col / p.JW;
  let jh = r % p.JH;
  let n = r / p.JH;
  return (n * p.out_c * p.out_h + jh * p.y_sh + p.y_h0) * p.out_w + jw * p.y_sw + p.y_w0;
}

@compute @workgroup_size({{SG}})
fn conv2d_simd_gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lane: u32) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let g = lin / tiles;
  if (g >= p.groups) { return; }  // uniform across the workgroup
  let t = lin % tiles;
  let n0 = (t % p.tiles_n) * ({{SG}}u * {{CB}}u);
  let m0 = (t / p.tiles_n) * ({{SG}}u * {{RA}}u);

  //#repeat Q {{RA}}
  let wr{{Q}} = (g * p.M + min(m0 + {{Q}}u * {{SG}}u + lane, p.M - 1u)) * p.w_row;
  //#end
  //#repeat C {{CB}}
  let xr{{C}} = i32(in_base(min(n0 + {{C}}u * {{SG}}u + lane, p.cols - 1u)) + g * p.K4);
  //#end

  // One named scalar per accumulator, so the JIT keeps them in registers.
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  //#repeat C {{CB}}
  var acc_{{Q}}_{{I}}_{{C}} = 0.0;
  //#end
  //#end
  //#end
  let step_h = p.txh * i32(p.in_w * p.in_row);
  let step_w = p.txw * i32(p.in_row);
  for (var mh = 0u; mh < p.nth; mh++) {
    for (var mw = 0u; mw < p.ntw; mw++) {
      let wtap = ((p.kh0 + mh * p.ksh) * p.KW + p.kw0 + mw * p.ksw) * p.K4;
      let xtap = i32(mh) * step_h + i32(mw) * step_w;
      //#repeat Q {{RA}}
      let wa{{Q}} = wr{{Q}} + wtap;
      //#end
      //#repeat C {{CB}}
      let xb{{C}} = u32(xr{{C}} + xtap);
      //#end
      for (var k4 = 0u; k4 < p.kin; k4++) {
        //#repeat Q {{RA}}
        let a{{Q}} = wt[wa{{Q}} + k4];
        //#end
        //#repeat C {{CB}}
        let b{{C}} = xin[xb{{C}} + k4];
        //#end
        //#repeat I {{SG}}
        //#repeat Q {{RA}}
        {
          let s = subgroupBroadcast(a{{Q}}, {{I}}u);
          //#repeat C {{CB}}
          acc_{{Q}}_{{I}}_{{C}} += dot(s, b{{C}});
          //#end
        }
        //#end
        //#end
      }
    }
  }

  let plane = p.out_h * p.out_w;
  //#repeat C {{CB}}
  let col{{C}} = n0 + {{C}}u * {{SG}}u + lane;
  let yo{{C}} = out_base(min(col{{C}}, p.cols - 1u));
  //#end
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  {
    let m = m0 + {{Q}}u * {{SG}}u + {{I}}u;
    if (m < p.M) {
      let oc = g * p.M + m;
      var b = 0.0;
      if (p.has_bias != 0u) { b = bias[p.off_bias + oc]; }
      //#repeat C {{CB}}
      if (col{{C}} < p.cols) { y[yo{{C}} + oc * plane] = acc_{{Q}}_{{I}}_{{C}} + b; }
      //#end
    }
  }
  //#end
  //#end
}
