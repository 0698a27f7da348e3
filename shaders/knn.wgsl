// knn.wgsl: per-row top-k selection, for the kNN monitor (models/eval.ts).
//   For each row r of a similarity block sim [rows, n] (element (r, j) at p.off + r * p.rs + j * p.cs:
//   any strides, so a transposed block [n, rows] read with rs = 1 gives the lanes of a SIMD group
//   adjacent addresses), the k largest values in descending order with their column indices:
//     vals[r * k + t], idx[r * k + t], t = 0..k-1.
//   Order is total and deterministic: by value descending, equal values by column ascending (the
//   lower train index first), i.e. exactly the first k of a stable descending sort. A NaN counts as
//   the lowest f32 value. Needs 1 <= k <= min(n, KMAX).
// Method: one invocation per row scans its n values once, keeping the best k so far in a binary
//   heap (private arrays) whose root is the worst of them, "worse" meaning a lower value, or an
//   equal value at a higher column. Columns arrive in increasing order, so a new value enters
//   only when it beats the root strictly; the heap is heap-sorted best-first at the end. A row costs
//   O(n + insertions * log k); random similarities give about k * ln(n / k) insertions.
// Layouts: sim f32, vals f32 [rows, k], idx i32 [rows, k] (contiguous).
// Bindings: 0 sim | 1 vals, 2 idx | 3 p.
// Grid: ceil(rows / WG) workgroups, split over x/y above 65535 (linear_wg).
// Overrides: WG (threads per workgroup). Slots: KMAX (capacity of the private heap, >= k).
//#include "common.wgsl"

struct Params { rows: u32, n: u32, k: u32, off: u32, rs: u32, cs: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> sim: array<f32>;
@group(0) @binding(1) var<storage, read_write> vals: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 64u;
const LOWEST: f32 = -0x1.fffffep+127f;

// (av, ai) ranks below (bv, bi): a lower value, or the same value at a higher column.
fn worse(av: f32, ai: i32, bv: f32, bi: i32) -> bool {
  return av < bv || (av == bv && ai > bi);
}

// Places (v, i) at the root of the heap hv/hi[0..size) and sifts it down (children never worse
// than their parent).
fn sift_down(hv: ptr<function, array<f32, {{KMAX}}>>, hi: ptr<function, array<i32, {{KMAX}}>>, size: u32, v: f32, i: i32) {
  var h = 0u;
  loop {
    let l = 2u * h + 1u;
    if (l >= size) { break; }
    var c = l;
    if (l + 1u < size && worse((*hv)[l + 1u], (*hi)[l + 1u], (*hv)[l], (*hi)[l])) { c = l + 1u; }
    if (!worse((*hv)[c], (*hi)[c], v, i)) { break; }
    (*hv)[h] = (*hv)[c];
    (*hi)[h] = (*hi)[c];
    h = c;
  }
  (*hv)[h] = v;
  (*hi)[h] = i;
}

@compute @workgroup_size(WG)
fn knn_topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
  var hv: array<f32, {{KMAX}}>;
  var hi: array<i32, {{KMAX}}>;
  let k = p.k;
  let base = p.off + row * p.rs;
  for (var j = 0u; j < p.n; j++) {
    let raw = sim[base + j * p.cs];
    // NaN test on the bits: a compiler may assume that float NaNs do not exist and fold raw != raw.
    let v = select(raw, LOWEST, (bitcast<u32>(raw) & 0x7fffffffu) > 0x7f800000u);
    if (j < k) {
      // Filling: push and sift up (the new column is the highest so far: it loses ties).
      var h = j;
      while (h > 0u) {
        let up = (h - 1u) / 2u;
        if (!worse(v, i32(j), hv[up], hi[up])) { break; }
        hv[h] = hv[up];
        hi[h] = hi[up];
        h = up;
      }
      hv[h] = v;
      hi[h] = i32(j);
    } else if (v > hv[0]) {
      sift_down(&hv, &hi, k, v, i32(j));
    }
  }
  // Heap sort: the worst goes last each time, so the arrays end best-first.
  for (var end = k - 1u; end > 0u; end--) {
    let v = hv[end];
    let i = hi[end];
    hv[end] = hv[0];
    hi[end] = hi[0];
    sift_down(&hv, &hi, end, v, i);
  }
  let o = row * k;
  for (var t = 0u; t < k; t++) {
    vals[o + t] = hv[t];
    idx[o + t] = hi[t];
  }
}
