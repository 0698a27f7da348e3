// elementwise.wgsl: out = EXPR(a[, b[, c]]) over N-d strided inputs with broadcasting (stride 0).
//   Inputs and output are addressed by (offset, strides) over the output shape, so views,
//   broadcasts and strided writes (concat, pad, copies into slices) need no extra copies.
// Bindings: 0 a, 1 b, 2 c (read) | 3 out (read_write) | 4 p. map0 uses no input (fill); map1 a; map2 a, b; map3 a, b, c.
// Grid: ceil(n / WG) workgroups, split over x/y above 65535 (linear_wg).
// Slots: TA, TB, TC, TO element types; EXPR the scalar expression of `a`, `b`, `c` (and of the
//   scalars p.s0 / p.s1, raw u32 bits: the launcher writes bitcast<T>(p.s0)).
// Overrides: WG (threads per workgroup).
//#include "common.wgsl"

struct Params {
  n: u32, rank: u32, flat: u32, off_o: u32,     // flat: bit 0 a, 1 b, 2 c, 3 out are contiguous
  off_a: u32, off_b: u32, off_c: u32, s0: u32,
  s1: u32, _p0: u32, _p1: u32, _p2: u32,
  shape: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
  sc: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> in_a: array<{{TA}}>;
@group(0) @binding(1) var<storage, read> in_b: array<{{TB}}>;
@group(0) @binding(2) var<storage, read> in_c: array<{{TC}}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{TO}}>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 64u;

// Offsets of element `idx` (row-major over p.shape) in a, b, c and out.
fn offsets(idx: u32) -> vec4<u32> {
  var o = vec4<u32>(p.off_a + idx, p.off_b + idx, p.off_c + idx, p.off_o + idx);
  if (p.flat == 15u) { return o; }
  var rem = idx;
  var ia = p.off_a; var ib = p.off_b; var ic = p.off_c; var io = p.off_o;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let u = u32(d);
    let dim = at8(p.shape, u);
    let c = rem % dim;
    rem = rem / dim;
    ia += c * at8(p.sa, u);
    ib += c * at8(p.sb, u);
    ic += c * at8(p.sc, u);
    io += c * at8(p.so, u);
  }
  return select(vec4<u32>(ia, ib, ic, io), o, vec4<bool>((p.flat & 1u) != 0u, (p.flat & 2u) != 0u,
                (p.flat & 4u) != 0u, (p.flat & 8u) != 0u));
}

// The op: EXPR over a, b, c (zeros where an entry point has fewer inputs) and the element index.
fn f(a: {{TA}}, b: {{TB}}, c: {{TC}}, idx: u32) -> {{TO}} {
  return {{EXPR}};
}

@compute @workgroup_size(WG)
fn map0(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  out[offsets(idx).w] = f({{TA}}(0), {{TB}}(0), {{TC}}(0), idx);
}

@compute @workgroup_size(WG)
fn map1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let o = offsets(idx);
  out[o.w] = f(in_a[o.x], {{TB}}(0), {{TC}}(0), idx);
}

@compute @workgroup_size(WG)
fn map2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let o = offsets(idx);
  out[o.w] = f(in_a[o.x], in_b[o.y], {{TC}}(0), idx);
}

@compute @workgroup_size(WG)
fn map3(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let o = offsets(idx);
  out[o.w] = f(in_a[o.x], in_b[o.y], in_c[o.z], idx);
}
