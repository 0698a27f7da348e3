// matmul_simd.wgsl: the CPU-SIMD strategy of matmul, for adapters that run shaders on CPU SIMD
//   units (lavapipe: subgroup 8, SwiftShader: 4). There every storage load is serialised per lane,
//   so the kernel minimises loaded elements per lane: a workgroup is ONE subgroup of SG lanes, every
//   load is a vec4 along K, and A's rows are shared through subgroupBroadcast
//   (../docs/design.md "Two kernel strategies"; ../shared/peers/lavapipe-limits.md).
//
// gemm: C[bi] = ACT(A[bi] . B[bi] + bias) with A as vec4 rows [M][K4] and B as vec4 rows [N][K4]
//   (B transposed): element offsets in vec4 units, row strides p.ars / p.brs, batch offsets from
//   bi decomposed over p.bshape with strides p.bsa / p.bsb (vec4 units; 0 = broadcast).
//   A workgroup computes a (SG*RA) x (SG*CB) tile: lane l loads RA vec4s of A (rows q*SG + l)
//   and CB vec4s of B (columns c*SG + l) per K step, receives every lane's A vec4s by
//   subgroupBroadcast, and accumulates C[q*SG + i][c*SG + l] for all i, q, c (RA*SG*CB values).
//   Rows and columns past M / N are clamped on load and skipped on store.
//   Bindings: 0 a (read vec4) 1 b (read vec4) 2 bias (read f32; dummy without HAS_BIAS) |
//   3 c (read_write f32, contiguous [batch, M, N]) | 4 p (Gemm).
// Operands that cannot be read in place are first packed into vec4 rows by pack_vec4.wgsl.
// Grid: [tiles_n * tiles_m * batch] folded over x, y, z (x fastest).
// Slots: SG (subgroup size = workgroup size), RA, CB (register tile), ACT (epilogue expression
//   of v). Overrides: HAS_BIAS.
enable subgroups;
//#include "common.wgsl"

struct Gemm {
  M: u32, N: u32, K4: u32, batch: u32,
  ars: u32, brs: u32, off_a: u32, off_b: u32,
  tiles_n: u32, tiles_m: u32, brank: u32, off_bias: u32,
  bshape: array<vec4<u32>, 2>,
  bsa: array<vec4<u32>, 2>,
  bsb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Gemm;

override HAS_BIAS: u32 = 0u;

fn epilogue(acc: f32, n: u32) -> f32 {
  var v = acc;
  if (HAS_BIAS != 0u) { v += bias[p.off_bias + n]; }
  return {{ACT}};
}

@compute @workgroup_size({{SG}})
fn gemm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let bi = lin / tiles;
  if (bi >= p.batch) { return; }  // uniform across the workgroup
  let t = lin % tiles;
  let n0 = (t % p.tiles_n) * ({{SG}}u * {{CB}}u);
  let m0 = (t / p.tiles_n) * ({{SG}}u * {{RA}}u);

  var rem = bi;
  var oa = p.off_a;
  var ob = p.off_b;
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let u = u32(d);
    let dim = at8(p.bshape, u);
    let i = rem % dim;
    rem = rem / dim;
    oa += i * at8(p.bsa, u);
    ob += i * at8(p.bsb, u);
  }
  //#repeat Q {{RA}}
  let ar{{Q}} = oa + min(m0 + {{Q}}u * {{SG}}u + lane, p.M - 1u) * p.ars;
  //#end
  //#repeat C {{CB}}
  let br{{C}} = ob + min(n0 + {{C}}u * {{SG}}u + lane, p.N - 1u) * p.brs;
  //#end

  // One named scalar per accumulator, so the JIT keeps them in registers.
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  //#repeat C {{CB}}
  var acc_{{Q}}_{{I}}_{{C}} = 0.0;
  //#end
  //#end
  //#end
  for (var k4 = 0u; k4 < p.K4; k4++) {
    //#repeat Q {{RA}}
    let a{{Q}} = a[ar{{Q}} + k4];
    //#end
    //#repeat C {{CB}}
    let b{{C}} = b[br{{C}} + k4];
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

  let base = bi * p.M * p.N;
  //#repeat Q {{RA}}
  //#repeat I {{SG}}
  {
    let m = m0 + {{Q}}u * {{SG}}u + {{I}}u;
    if (m < p.M) {
      //#repeat C {{CB}}
      {
        let n = n0 + {{C}}u * {{SG}}u + lane;
        if (n < p.N) { c[base + m * p.N + n] = epilogue(acc_{{Q}}_{{I}}_{{C}}, n); }
      }
      //#end
    }
  }
  //#end
  //#end
}
