// memory_bank.wgsl: the small kernels around the contrastive losses (launchers in
//   src/kernels/memory_bank.ts).
//
// gdot_fwd: out[i, j] = v_i . mem[idx(i, j)], idx(i, 0) = index[i], idx(i, j) = neg[i, j - 1]
//   (InstDisc: the positive and negative memory-bank rows, gathered in place; [N, K+1, d] is never
//   formed). v [N, d] and mem [n, d] contiguous, read in units of V (d / CH of them per row).
//   Bindings: 0 gv 1 gmem 2 gidx 3 gneg | 4 gout | 5 q. Grid ceil(N * (K+1) / WG).
// gdot_bwd: dv[i, k] = sum_j dl[i, j] mem[idx(i, j), k]. Bindings: 0 gdl 1 gmem 2 gidx 3 gneg |
//   4 gdv (V) | 5 q. Grid ceil(N * d / WG) (d in V units).
// bank_update: mem[index[i]] <- normalize(m * mem[index[i]] + (1 - m) * v[i]) (one invocation
//   per i; rows given twice in `index` race). Bindings: 0 uv 1 uidx | 2 umem | 3 u. Grid ceil(N / WG).
// enqueue: queue[c, (ptr + n) mod K] = k[n, c] for the N rows of k [N, C] (queue [C, K]).
//   Bindings: 0 ek | 1 equeue | 2 e. Grid ceil(N * C / WG).
// Indices outside [0, n) are clamped (the launchers document that they must be valid).
// Slots: V (f32 or vec4<f32>), DOT (the dot product of a and b of type V). Override: WG.
//#include "common.wgsl"

override WG: u32 = 64u;

// ---- memory-bank logits (InstDisc) ----

struct GQ { N: u32, K1: u32, d: u32, n: u32 }

@group(0) @binding(0) var<storage, read> gv: array<{{V}}>;
@group(0) @binding(1) var<storage, read> gmem: array<{{V}}>;
@group(0) @binding(2) var<storage, read> gidx: array<i32>;
@group(0) @binding(3) var<storage, read> gneg: array<i32>;
@group(0) @binding(4) var<storage, read_write> gout: array<f32>;
@group(0) @binding(5) var<uniform> q: GQ;

@group(0) @binding(0) var<storage, read> gdl: array<f32>;
@group(0) @binding(4) var<storage, read_write> gdv: array<{{V}}>;

fn bank_row(i: u32, j: u32) -> u32 {
  var r: i32;
  if (j == 0u) { r = gidx[i]; } else { r = gneg[i * (q.K1 - 1u) + j - 1u]; }
  return u32(clamp(r, 0, i32(q.n) - 1));
}

@compute @workgroup_size(WG)
fn gdot_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * WG + lid;
  if (t >= q.N * q.K1) { return; }
  let i = t / q.K1;
  let r = bank_row(i, t % q.K1);
  var s = 0.0;
  for (var k = 0u; k < q.d; k++) {
    let a = gv[i * q.d + k];
    let b = gmem[r * q.d + k];
    s += {{DOT}};
  }
  gout[t] = s;
}

@compute @workgroup_size(WG)
fn gdot_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * WG + lid;
  if (t >= q.N * q.d) { return; }
  let i = t / q.d;
  let k = t % q.d;
  var acc = {{V}}(0.0);
  for (var j = 0u; j < q.K1; j++) {
    acc += gdl[i * q.K1 + j] * gmem[bank_row(i, j) * q.d + k];
  }
  gdv[t] = acc;
}

// ---- memory-bank update (InstDisc) ----

struct UQ { N: u32, d: u32, n: u32, m: f32 }

@group(0) @binding(0) var<storage, read> uv: array<f32>;
@group(0) @binding(1) var<storage, read> uidx: array<i32>;
@group(0) @binding(2) var<storage, read_write> umem: array<f32>;
@group(0) @binding(3) var<uniform> u: UQ;

@compute @workgroup_size(WG)
fn bank_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= u.N) { return; }
  let r = u32(clamp(uidx[i], 0, i32(u.n) - 1)) * u.d;
  var ss = 0.0;
  for (var k = 0u; k < u.d; k++) {
    let w = u.m * umem[r + k] + (1.0 - u.m) * uv[i * u.d + k];
    ss += w * w;
  }
  let inv = 1.0 / max(sqrt(ss), 1e-12);
  for (var k = 0u; k < u.d; k++) {
    umem[r + k] = (u.m * umem[r + k] + (1.0 - u.m) * uv[i * u.d + k]) * inv;
  }
}

// ---- queue enqueue (MoCo) ----

struct EQ { N: u32, C: u32, K: u32, ptr: u32 }

@group(0) @binding(0) var<storage, read> ek: array<f32>;
@group(0) @binding(1) var<storage, read_write> equeue: array<f32>;
@group(0) @binding(2) var<uniform> e: EQ;

@compute @workgroup_size(WG)
fn enqueue(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * WG + lid;
  if (t >= e.N * e.C) { return; }
  let n = t / e.C;
  let c = t % e.C;
  equeue[c * e.K + (e.ptr + n) % e.K] = ek[t];
}
