// reduce.wgsl: sum, mean, max, min, var, argmax, argmin of x over any set of axes.
//   x: any strided view of T, read in place through the row geometry of rows.wgsl (no copies).
//   out: [rows] contiguous (keepdim only changes the shape the launcher gives it); T, or i32 for
//   the arg ops. var is two-pass: the row's mean, then the sum of squared deviations.
//   Max/min/arg ops keep the lowest index on ties and let NaN win, as PyTorch does.
// Bindings: 0 x (read) | 1 out (read_write) | 2 p (uniform Params).
// Entry points and grids (both split over x/y above 65,535 workgroups; linear_wg):
//   reduce_serial  one invocation per row, a serial loop: short rows, or many rows.
//                  Grid ceil(rows / WG).
//   reduce_row     one workgroup per row: lanes stride over the row, then a butterfly over lanes
//                  (subgroup shuffles or workgroup memory, slot XOR). Grid rows.
// Slots: T element type of x (f32, i32, u32); TO element type of out; SG, XOR (rows.wgsl).
// Overrides: WG; OP (0 sum, 1 max, 2 min, 3 var); FINAL (0 value, 1 value / p.div, 2 index);
//   FLOAT (1 when T is f32: NaN-aware comparisons).
//#include "rows.wgsl"

struct Params {
  g: Rows,
  div: f32, _p0: u32, _p1: u32, _p2: u32,   // mean: len; var: max(0, len - correction)
}

@group(0) @binding(0) var<storage, read> x: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> out: array<{{TO}}>;
@group(0) @binding(2) var<uniform> p: Params;

override OP: u32 = 0u;
override FINAL: u32 = 0u;
override FLOAT: u32 = 1u;

const SUM = 0u;
const MAX = 1u;
const VAR = 3u;

// A partial result: a value and the row index it came from (-1: no element seen yet).
struct Acc { v: {{T}}, i: i32 }

// By bits, so no fast-math rewrite of `v != v` can hide a NaN.
fn is_nan(v: {{T}}) -> bool {
  return FLOAT != 0u && (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Merges two partials. Sums add. Max/min prefer the lower index on ties and NaN over numbers,
// so the result is the same whatever order partials meet in (all butterfly lanes agree).
fn combine(a: Acc, b: Acc) -> Acc {
  if (OP == SUM || OP == VAR) { return Acc(a.v + b.v, 0); }
  if (b.i < 0) { return a; }
  if (a.i < 0) { return b; }
  let an = is_nan(a.v);
  let bn = is_nan(b.v);
  let earlier = b.i < a.i;
  var take_b: bool;
  if (an || bn) {
    take_b = bn && (!an || earlier);
  } else if (OP == MAX) {
    take_b = b.v > a.v || (b.v == a.v && earlier);
  } else {
    take_b = b.v < a.v || (b.v == a.v && earlier);
  }
  if (take_b) { return b; }
  return a;
}

// Partial over row elements start, start + step, ...; with `dev`, of (v - mean)^2 (var pass 2).
fn scan(base: u32, start: u32, step: u32, mean: f32, dev: bool) -> Acc {
  var a = Acc({{T}}(0), -1);
  for (var c = cursor_at(base, start); c.q < p.g.outer; c = cursor_next(c, base, step)) {
    var v = x[cursor_x(c)];
    if (dev) {
      let d = f32(v) - mean;
      v = {{T}}(d * d);
    }
    a = combine(a, Acc(v, i32(cursor_k(c))));
  }
  return a;
}

fn result(a: Acc) -> {{TO}} {
  if (FINAL == 2u) { return {{TO}}(a.i); }
  if (FINAL == 1u) { return {{TO}}(f32(a.v) / p.div); }
  return {{TO}}(a.v);
}

// Combination of every lane's partial, in every lane. Call from uniform control flow.
fn all_lanes(a: Acc, lid: u32) -> Acc {
  var r = a;
  for (var m = 1u; m < WG; m <<= 1u) {
    let o = lane_xor(vec2<u32>(bitcast<u32>(r.v), bitcast<u32>(r.i)), m, lid);
    r = combine(r, Acc(bitcast<{{T}}>(o.x), bitcast<i32>(o.y)));
  }
  return r;
}

@compute @workgroup_size(WG)
fn reduce_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg) * WG + lid;
  if (row >= p.g.rows) { return; }
  let o = row_offsets(row);
  var a = scan(o.x, 0u, 1u, 0.0, false);
  if (OP == VAR) {
    a = scan(o.x, 0u, 1u, f32(a.v) / f32(p.g.len), true);
  }
  out[o.y] = result(a);
}

@compute @workgroup_size(WG)
fn reduce_row(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg);
  if (row >= p.g.rows) { return; }  // uniform: the same row for the whole workgroup
  let o = row_offsets(row);
  var a = all_lanes(scan(o.x, lid, WG, 0.0, false), lid);
  if (OP == VAR) {
    a = all_lanes(scan(o.x, lid, WG, f32(a.v) / f32(p.g.len), true), lid);
  }
  if (lid == 0u) { out[o.y] = result(a); }
}
