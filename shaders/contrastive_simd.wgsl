// contrastive_simd.wgsl: the CPU-SIMD strategy of the fused contrastive loss (row-wise
//   cross-entropy over a similarity matrix that is never written to memory), for adapters whose
//   shaders run on CPU SIMD units (lavapipe: subgroup 8; SwiftShader: 4). A workgroup is ONE
//   subgroup; every load is a vec4 along the feature axis; rows of the "other" operand are shared
//   through subgroupBroadcast (../docs/design.md "Two kernel strategies").
//
// The loss (per batch b, row i of A [M, d] against the rows j of B [nb, d]):
//   s_ij = scale * A_i . B_j,  masked where DIAG and j == i,
//   lse_i = log(sum_j exp(s_ij) [+ exp(scale * e_i) with EXTRA]),
//   loss_i = lse_i - s_i,pos(i),  pos(i) = posidx[i] (POS_INDEX) or (i + shift) mod nb, or the
//   extra logit scale * e_i itself with EXTRA (then no column of B is positive).
// Backward: dS_ij = g_i (softmax_ij - [j == pos(i)]); dA = scale dS B, dB = scale dS^T A.
//
// Operands: vec4 rows along d (D4 = ceil(d / 4) vec4s, zero-padded past d), row r of batch b of
//   the "own" operand x at x[xoff + b * xbs + r * xrs + k4] (vec4 units), likewise the "other"
//   operand y. pack_vec4.wgsl writes any strided f32 operand in that form when it cannot be read
//   in place.
//   Per-row arrays of A (lse, g, loss, extra, posidx) are contiguous [batch, M] (aux = b * M;
//   extra and posidx start at element p.aux_off, 0 from the launcher).
//
// Entry points (a workgroup = SG lanes, own rows x = r0 + q*SG + lane for q < RA; a column tile
//   is SG*CB other rows y = y0 + c*SG + i, i the broadcast lane, so each lane holds whole rows of
//   the tile and needs no cross-lane reduction):
//   fwd    own = A, other = B: streams over column tiles with an online max / sum per row.
//          Bindings: 0 xs 1 ys 2 extra (f32; dummy without EXTRA) 3 posidx (i32; dummy without
//          POS_INDEX) | 4 lse_out 5 loss_out ([batch, M] f32) | 6 p.
//   bwd    recomputes the S tiles and accumulates d(own) = sum_y coef(x, y) * y_row, with
//            coef = scale * (OWN_TERM   * g_x (exp(s - lse_x) - [y == pos(x)])
//                          + OTHER_TERM * g_y (exp(s - lse_y) - [x == pos(y)])), 0 where masked:
//          dA: own = A, OWN_TERM; dB: own = B, OTHER_TERM; when A and B are the same tensor
//          (S symmetric) one pass with both terms gives dA + dB. The result dx [batch, own, D4]
//          (vec4) is read-modified-written once per column tile by the lane owning the row.
//          Bindings: 0 xs 1 ys 2 lse_in 3 g_in 4 posidx_b (dummy without POS_INDEX) | 5 dx | 6 p.
// Grid (fwd, bwd): tiles * batch workgroups, folded over x, y, z (x fastest).
// Slots: SG (subgroup size = workgroup size), RA (own row groups), CB (other row groups).
// Overrides: DIAG, POS_INDEX, EXTRA, OWN_TERM, OTHER_TERM.
enable subgroups;
//#include "common.wgsl"

struct Geo {
  own_rows: u32, other_rows: u32, D4: u32, batch: u32,
  xrs: u32, xbs: u32, xoff: u32, tiles: u32,
  yrs: u32, ybs: u32, yoff: u32, M: u32,
  nb: u32, shift: u32, aux_off: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read> xs: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ys: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> extra: array<f32>;
@group(0) @binding(3) var<storage, read> posidx: array<i32>;
@group(0) @binding(4) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(6) var<uniform> p: Geo;

@group(0) @binding(2) var<storage, read> lse_in: array<f32>;
@group(0) @binding(3) var<storage, read> g_in: array<f32>;
@group(0) @binding(4) var<storage, read> posidx_b: array<i32>;
@group(0) @binding(5) var<storage, read_write> dx: array<vec4<f32>>;

override DIAG: u32 = 0u;
override POS_INDEX: u32 = 0u;
override EXTRA: u32 = 0u;
override OWN_TERM: u32 = 1u;
override OTHER_TERM: u32 = 0u;

// Below every logit: the running max of a row that has seen no column yet.
const LOW: f32 = -3.0e38;
const NONE: u32 = 0xffffffffu;

// The positive column of A-row i (aux = b * M), read from the fwd bindings.
fn pos_fwd(aux: u32, i: u32) -> u32 {
  if (EXTRA != 0u) { return NONE; }
  if (POS_INDEX != 0u) { return u32(posidx[p.aux_off + aux + i]); }
  return (i + p.shift) % p.nb;
}

// pos_fwd for the bwd bindings (storage variables cannot be passed to a function).
fn pos_bwd(aux: u32, i: u32) -> u32 {
  if (EXTRA != 0u) { return NONE; }
  if (POS_INDEX != 0u) { return u32(posidx_b[p.aux_off + aux + i]); }
  return (i + p.shift) % p.nb;
}

// Linear workgroup index over a folded grid.
fn lin_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}

@compute @workgroup_size({{SG}})
fn fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lane: u32) {
  let lin = lin_of(wid, nwg);
  let bi = lin / p.tiles;
  if (bi >= p.batch) { return; }  // uniform across the workgroup
  let r0 = (lin % p.tiles) * ({{SG}}u * {{RA}}u);
  let ox = p.xoff + bi * p.xbs;
  let oy = p.yoff + bi * p.ybs;
  let aux = bi * p.M;
  //#repeat Q {{RA}}
  let x{{Q}} = r0 + {{Q}}u * {{SG}}u + lane;
  let xc{{Q}} = min(x{{Q}}, p.own_rows - 1u);
  let xr{{Q}} = ox + xc{{Q}} * p.xrs;
  let pos{{Q}} = pos_fwd(aux, xc{{Q}});
  var m{{Q}} = LOW;
  var l{{Q}} = 0.0;
  var sp{{Q}} = 0.0;
  //#end

  for (var y0 = 0u; y0 < p.other_rows; y0 += {{SG}}u * {{CB}}u) {
    //#repeat C {{CB}}
    let yr{{C}} = oy + min(y0 + {{C}}u * {{SG}}u + lane, p.other_rows - 1u) * p.yrs;
    //#end
    // One named scalar per logit of the tile, so the JIT keeps them in registers.
    //#repeat Q {{RA}}
    //#repeat C {{CB}}
    //#repeat I {{SG}}
    var s_{{Q}}_{{C}}_{{I}} = 0.0;
    //#end
    //#end
    //#end
    for (var k4 = 0u; k4 < p.D4; k4++) {
      //#repeat Q {{RA}}
      let a{{Q}} = xs[xr{{Q}} + k4];
      //#end
      //#repeat C {{CB}}
      let b{{C}} = ys[yr{{C}} + k4];
      //#end
      //#repeat C {{CB}}
      //#repeat I {{SG}}
      {
        let bb = subgroupBroadcast(b{{C}}, {{I}}u);
        //#repeat Q {{RA}}
        s_{{Q}}_{{C}}_{{I}} += dot(a{{Q}}, bb);
        //#end
      }
      //#end
      //#end
    }
    // Online softmax update of each own row over the tile's columns.
    //#repeat Q {{RA}}
    {
      var tm = LOW;
      //#repeat C {{CB}}
      //#repeat I {{SG}}
      {
        let y = y0 + {{C}}u * {{SG}}u + {{I}}u;
        let s = s_{{Q}}_{{C}}_{{I}} * p.scale;
        let ok = y < p.other_rows && !(DIAG != 0u && y == x{{Q}});
        s_{{Q}}_{{C}}_{{I}} = select(LOW, s, ok);
        tm = max(tm, s_{{Q}}_{{C}}_{{I}});
        sp{{Q}} = select(sp{{Q}}, s, y == pos{{Q}});
      }
      //#end
      //#end
      let mn = max(m{{Q}}, tm);
      var acc = l{{Q}} * exp(m{{Q}} - mn);
      //#repeat C {{CB}}
      //#repeat I {{SG}}
      acc += select(0.0, exp(s_{{Q}}_{{C}}_{{I}} - mn), s_{{Q}}_{{C}}_{{I}} > LOW);
      //#end
      //#end
      m{{Q}} = mn;
      l{{Q}} = acc;
    }
    //#end
  }

  //#repeat Q {{RA}}
  if (x{{Q}} < p.own_rows) {
    var m = m{{Q}};
    var l = l{{Q}};
    var sp = sp{{Q}};
    if (EXTRA != 0u) {
      let se = p.scale * extra[p.aux_off + aux + x{{Q}}];
      let mn = max(m, se);
      l = l * exp(m - mn) + exp(se - mn);
      m = mn;
      sp = se;
    }
    let lse = m + log(l);
    lse_out[aux + x{{Q}}] = lse;
    loss_out[aux + x{{Q}}] = lse - sp;
  }
  //#end
}

@compute @workgroup_size({{SG}})
fn bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lane: u32) {
  let lin = lin_of(wid, nwg);
  let bi = lin / p.tiles;
  if (bi >= p.batch) { return; }  // uniform across the workgroup
  let r0 = (lin % p.tiles) * ({{SG}}u * {{RA}}u);
  let ox = p.xoff + bi * p.xbs;
  let oy = p.yoff + bi * p.ybs;
  let aux = bi * p.M;
  let dbase = bi * p.own_rows;
  //#repeat Q {{RA}}
  let x{{Q}} = r0 + {{Q}}u * {{SG}}u + lane;
  let xc{{Q}} = min(x{{Q}}, p.own_rows - 1u);
  let xr{{Q}} = ox + xc{{Q}} * p.xrs;
  var gx{{Q}} = 0.0;
  var lx{{Q}} = 0.0;
  var px{{Q}} = NONE;
  if (OWN_TERM != 0u) {
    gx{{Q}} = g_in[aux + xc{{Q}}];
    lx{{Q}} = lse_in[aux + xc{{Q}}];
    px{{Q}} = pos_bwd(aux, xc{{Q}});
  }
  //#end

  for (var y0 = 0u; y0 < p.other_rows; y0 += {{SG}}u * {{CB}}u) {
    //#repeat C {{CB}}
    let yc{{C}} = min(y0 + {{C}}u * {{SG}}u + lane, p.other_rows - 1u);
    let yr{{C}} = oy + yc{{C}} * p.yrs;
    // (g, lse, pos) of the other row this lane loads, shared with the others by broadcast.
    var ya{{C}} = vec3<u32>(0u, 0u, NONE);
    if (OTHER_TERM != 0u) {
      ya{{C}} = vec3<u32>(bitcast<u32>(g_in[aux + yc{{C}}]), bitcast<u32>(lse_in[aux + yc{{C}}]), pos_bwd(aux, yc{{C}}));
    }
    //#end
    //#repeat Q {{RA}}
    //#repeat C {{CB}}
    //#repeat I {{SG}}
    var s_{{Q}}_{{C}}_{{I}} = 0.0;
    //#end
    //#end
    //#end
    for (var k4 = 0u; k4 < p.D4; k4++) {
      //#repeat Q {{RA}}
      let a{{Q}} = xs[xr{{Q}} + k4];
      //#end
      //#repeat C {{CB}}
      let b{{C}} = ys[yr{{C}} + k4];
      //#end
      //#repeat C {{CB}}
      //#repeat I {{SG}}
      {
        let bb = subgroupBroadcast(b{{C}}, {{I}}u);
        //#repeat Q {{RA}}
        s_{{Q}}_{{C}}_{{I}} += dot(a{{Q}}, bb);
        //#end
      }
      //#end
      //#end
    }
    // The logits become the coefficients of the other rows in d(own).
    //#repeat C {{CB}}
    //#repeat I {{SG}}
    {
      let y = y0 + {{C}}u * {{SG}}u + {{I}}u;
      let ya = subgroupBroadcast(ya{{C}}, {{I}}u);
      let gy = bitcast<f32>(ya.x);
      let ly = bitcast<f32>(ya.y);
      //#repeat Q {{RA}}
      {
        let s = s_{{Q}}_{{C}}_{{I}} * p.scale;
        var c = 0.0;
        if (OWN_TERM != 0u) { c += gx{{Q}} * (exp(s - lx{{Q}}) - select(0.0, 1.0, y == px{{Q}})); }
        if (OTHER_TERM != 0u) { c += gy * (exp(s - ly) - select(0.0, 1.0, x{{Q}} == ya.z)); }
        let ok = y < p.other_rows && !(DIAG != 0u && y == x{{Q}});
        s_{{Q}}_{{C}}_{{I}} = select(0.0, c * p.scale, ok);
      }
      //#end
    }
    //#end
    //#end
    for (var k4 = 0u; k4 < p.D4; k4++) {
      //#repeat C {{CB}}
      let b{{C}} = ys[yr{{C}} + k4];
      //#end
      //#repeat Q {{RA}}
      var o{{Q}} = vec4<f32>(0.0);
      //#end
      //#repeat C {{CB}}
      //#repeat I {{SG}}
      {
        let bb = subgroupBroadcast(b{{C}}, {{I}}u);
        //#repeat Q {{RA}}
        o{{Q}} += s_{{Q}}_{{C}}_{{I}} * bb;
        //#end
      }
      //#end
      //#end
      //#repeat Q {{RA}}
      if (x{{Q}} < p.own_rows) {
        let at = (dbase + x{{Q}}) * p.D4 + k4;
        if (y0 != 0u) { o{{Q}} += dx[at]; }
        dx[at] = o{{Q}};
      }
      //#end
    }
  }
}
