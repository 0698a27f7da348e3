// attention_bwd_kv.wgsl: fused attention backward, part 2: dK and dV.
//   An invocation owns R key rows with k, v and the dK, dV accumulators in registers. Per query
//   tile of SG queries, lane l loads query row (tile + l) of q (pre-scaled) and dO plus its lse and
//   D (written by attention_bwd_q.wgsl, which runs first), shared by subgroupBroadcast; then
//   p = exp(s - lse), dv += p dO, dp = dO . v, ds = p (dp - D), dk += ds q. Both gradients go to
//   one output buffer (layouts p.gk and p.gv), so a packed qkv gradient needs no copies.
// Bindings: 0 q 1 k 2 v 3 mask 4 dO 5 stats (read) | 6 dkv (read_write) | 7 p (Attn).
// Grid: B*H*tiles workgroups with tiles = ceil(Tk / (WG * R)). Slots: as attention_fwd.wgsl.
{{ENABLE}}
//#include "common.wgsl"
//#include "attention_common.wgsl"

//#include "attention_load.wgsl" NAME=q BINDING=0
//#include "attention_load.wgsl" NAME=k BINDING=1
//#include "attention_load.wgsl" NAME=v BINDING=2
//#include "attention_load.wgsl" NAME=go BINDING=4
//#include "attention_store.wgsl" NAME=gkv BINDING=6

@group(0) @binding(3) var<storage, read> mb: array<f32>;
@group(0) @binding(5) var<storage, read> st: array<f32>;
@group(0) @binding(7) var<uniform> p: Attn;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let lin = linear_wg(wid, nwg);
  let bh = lin / p.tiles;
  if (bh >= p.BH) { return; }  // uniform across the workgroup
  let b = bh / p.H;
  let h = bh % p.H;
  let lane = lid % {{SG}}u;
  let row0 = (lin % p.tiles) * ({{WG}}u * {{R}}u);
  let qbase = base_of(p.q, b, h);
  let gbase = base_of(p.go, b, h);

  //#repeat I {{R}}
  let j{{I}} = row0 + {{I}}u * {{WG}}u + lid;
  let jc{{I}} = min(j{{I}}, p.Tk - 1u);
  //#repeat C {{HD4}}
  let k{{I}}_{{C}} = ld_k(base_of(p.k, b, h) + jc{{I}} * p.k.w, {{C}}u);
  let v{{I}}_{{C}} = ld_v(base_of(p.v, b, h) + jc{{I}} * p.v.w, {{C}}u);
  var dk{{I}}_{{C}} = vec4<f32>(0.0);
  var dv{{I}}_{{C}} = vec4<f32>(0.0);
  //#end
  //#end

  let ntiles = (p.Tq + {{SG}}u - 1u) / {{SG}}u;
  for (var t = 0u; t < ntiles; t++) {
    let qt = t * {{SG}}u;
    let qi = min(qt + lane, p.Tq - 1u);
    let lse_l = st[bh * p.Tq + qi];
    let d_l = st[p.BH * p.Tq + bh * p.Tq + qi];
    //#repeat C {{HD4}}
    let q_{{C}} = ld_q(qbase + qi * p.q.w, {{C}}u) * p.scale;
    let g_{{C}} = ld_go(gbase + qi * p.go.w, {{C}}u);
    //#end
    //#repeat J {{SG}}
    {
      let lse = {{BCF}}(lse_l, {{J}}u);
      let dd = {{BCF}}(d_l, {{J}}u);
      //#repeat I {{R}}
      var s{{I}} = 0.0;
      var dp{{I}} = 0.0;
      //#end
      //#repeat C {{HD4}}
      let qq{{C}} = {{BC}}(q_{{C}}, {{J}}u);
      let gg{{C}} = {{BC}}(g_{{C}}, {{J}}u);
      //#repeat I {{R}}
      s{{I}} += dot(k{{I}}_{{C}}, qq{{C}});
      dp{{I}} += dot(v{{I}}_{{C}}, gg{{C}});
      //#end
      //#end
      //#repeat I {{R}}
      let pr{{I}} = exp(masked(s{{I}}, qt + {{J}}u, j{{I}}, b, h) - lse);
      let ds{{I}} = pr{{I}} * (dp{{I}} - dd);
      //#end
      //#repeat C {{HD4}}
      //#repeat I {{R}}
      dk{{I}}_{{C}} += ds{{I}} * qq{{C}};
      dv{{I}}_{{C}} += pr{{I}} * gg{{C}};
      //#end
      //#end
    }
    //#end
  }

  let kbase = base_of(p.gk, b, h);
  let vbase = base_of(p.gv, b, h);
  //#repeat I {{R}}
  if (j{{I}} < p.Tk) {
    //#repeat C {{HD4}}
    st_gkv(kbase + j{{I}} * p.gk.w, {{C}}u, dk{{I}}_{{C}});
    st_gkv(vbase + j{{I}} * p.gv.w, {{C}}u, dv{{I}}_{{C}});
    //#end
  }
  //#end
}
