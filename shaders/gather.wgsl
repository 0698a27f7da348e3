// gather.wgsl: indexed reads and writes along one axis: index_select, gather, scatter_add,
//   index_add, one_hot. Every op is one walk over an "iteration shape" (rank <= 8): for element i
//   (multi-index over p.shape) the launcher's strides give
//     the index offset  oi = p.off_i + Σ i_d * si_d      (v = index[oi], the position along the axis)
//     the source offset os = p.off_s + Σ i_d * ss_d + v * p.sv_s
//     the dest offset   od = p.off_o + Σ i_d * so_d + v * p.sv_o
//   (the axis's own stride is 0 in ss/so and moves to sv_s/sv_o on the side the index selects).
//   Values travel as raw 32-bit words, so one kernel serves f32, i32 and u32.
// Out-of-range indices (v < 0 or v >= p.bound; torch would raise, a kernel cannot): gather_read
//   writes 0 (zero bits: 0.0 or 0), gather_add_* and gather_put_one skip the element.
// Layouts: index i32; src (read), dst (read_write) any 32-bit dtype, strided as above.
// Bindings: 0 src (u32 words; unbound for one_hot), 1 index (i32) | 2 acc (atomic<u32>: the
//   add/put entries) 3 out (u32: gather_read) | 4 p. Entry points bind only their own outputs.
// Entry points:
//   gather_read      out[od] = src[os]              (index_select, gather)
//   gather_add_f32   acc[od] += src[os] as f32, by a compare-exchange loop (scatter_add, index_add)
//   gather_add_int   acc[od] += src[os] by atomicAdd (i32 and u32: two's complement words add alike)
//   gather_put_one   acc[od] = 1.0f                 (one_hot into zeros)
// Grid: ceil(n / WG) workgroups, split over x/y above 65535 (linear_wg).
// Overrides: WG (threads per workgroup). Slots: none.
//#include "common.wgsl"

struct Params {
  n: u32, rank: u32, bound: u32, off_i: u32,
  off_s: u32, off_o: u32, sv_s: u32, sv_o: u32,
  shape: array<vec4<u32>, 2>,
  si: array<vec4<u32>, 2>,
  ss: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> acc: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 64u;

struct Site {
  valid: bool,
  os: u32,
  od: u32,
}

// Where element `idx` of the iteration shape reads and writes; `valid` is false for an
// out-of-range index: os/od then lack the axis term (od is still right for gather_read, whose
// launcher sets sv_o = 0).
fn locate(idx: u32) -> Site {
  var rem = idx;
  var oi = p.off_i;
  var os = p.off_s;
  var od = p.off_o;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let u = u32(d);
    let dim = at8(p.shape, u);
    let c = rem % dim;
    rem = rem / dim;
    oi += c * at8(p.si, u);
    os += c * at8(p.ss, u);
    od += c * at8(p.so, u);
  }
  let v = index[oi];
  if (v < 0 || u32(v) >= p.bound) { return Site(false, os, od); }
  return Site(true, os + u32(v) * p.sv_s, od + u32(v) * p.sv_o);
}

@compute @workgroup_size(WG)
fn gather_read(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let s = locate(idx);
  var v = 0u;
  if (s.valid) { v = src[s.os]; }
  out[s.od] = v;
}

@compute @workgroup_size(WG)
fn gather_add_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let s = locate(idx);
  if (!s.valid) { return; }
  let x = bitcast<f32>(src[s.os]);
  // WGSL has no float atomics: retry old -> old + x until no other invocation wrote in between.
  var old = atomicLoad(&acc[s.od]);
  loop {
    let r = atomicCompareExchangeWeak(&acc[s.od], old, bitcast<u32>(bitcast<f32>(old) + x));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(WG)
fn gather_add_int(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let s = locate(idx);
  if (!s.valid) { return; }
  atomicAdd(&acc[s.od], src[s.os]);
}

@compute @workgroup_size(WG)
fn gather_put_one(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let idx = linear_wg(wid, nwg) * WG + lid;
  if (idx >= p.n) { return; }
  let s = locate(idx);
  if (!s.valid) { return; }
  atomicStore(&acc[s.od], 0x3f800000u); // 1.0f
}
