// attention_bwd_q.wgsl: fused attention backward, part 1: dQ (and D = rowsum(dO * O)).
//   An invocation owns R query rows, as in the forward, with q (pre-scaled), dO and the dQ
//   accumulator in registers. Per key tile it recomputes p = exp(s - lse) from the saved lse,
//   dp = dO . v and ds = p (dp - D), and accumulates dq += ds k; dq is scaled once at the end.
//   D is written to stats[BH * Tq + bh * Tq + i] for the dK/dV kernel (attention_bwd_kv.wgsl),
//   which runs after this one. See attention_common.wgsl for layouts, masking and stats.
// Bindings: 0 q 1 k 2 v 3 mask 4 o 5 dO (read) | 6 dq (read_write, layout p.gq)
//   7 stats (read_write f32: lse read, D written) | 8 p (Attn).
// Grid and slots: as attention_fwd.wgsl.
{{ENABLE}}
//#include "common.wgsl"
//#include "attention_common.wgsl"

//#include "attention_load.wgsl" NAME=q BINDING=0
//#include "attention_load.wgsl" NAME=k BINDING=1
//#include "attention_load.wgsl" NAME=v BINDING=2
//#include "attention_load.wgsl" NAME=o BINDING=4
//#include "attention_load.wgsl" NAME=go BINDING=5
//#include "attention_store.wgsl" NAME=gq BINDING=6

@group(0) @binding(3) var<storage, read> mb: array<f32>;
@group(0) @binding(7) var<storage, read_write> st: array<f32>;
@group(0) @binding(8) var<uniform> p: Attn;

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
  let kbase = base_of(p.k, b, h);
  let vbase = base_of(p.v, b, h);

  //#repeat I {{R}}
  let i{{I}} = row0 + {{I}}u * {{WG}}u + lid;
  let ic{{I}} = min(i{{I}}, p.Tq - 1u);
  let lse{{I}} = st[bh * p.Tq + ic{{I}}];
  var d{{I}} = 0.0;
  //#repeat C {{HD4}}
  let q{{I}}_{{C}} = ld_q(base_of(p.q, b, h) + ic{{I}} * p.q.w, {{C}}u) * p.scale;
  let g{{I}}_{{C}} = ld_go(base_of(p.go, b, h) + ic{{I}} * p.go.w, {{C}}u);
  d{{I}} += dot(g{{I}}_{{C}}, ld_o(base_of(p.o, b, h) + ic{{I}} * p.o.w, {{C}}u));
  var dq{{I}}_{{C}} = vec4<f32>(0.0);
  //#end
  //#end

  let ntiles = (p.Tk + {{SG}}u - 1u) / {{SG}}u;
  for (var t = 0u; t < ntiles; t++) {
    let kt = t * {{SG}}u;
    let key = min(kt + lane, p.Tk - 1u);
    //#repeat C {{HD4}}
    let k_{{C}} = ld_k(kbase + key * p.k.w, {{C}}u);
    let v_{{C}} = ld_v(vbase + key * p.v.w, {{C}}u);
    //#end
    //#repeat J {{SG}}
    {
      //#repeat I {{R}}
      var s{{I}} = 0.0;
      var dp{{I}} = 0.0;
      //#end
      //#repeat C {{HD4}}
      let kk{{C}} = {{BC}}(k_{{C}}, {{J}}u);
      {
        let vv = {{BC}}(v_{{C}}, {{J}}u);
        //#repeat I {{R}}
        s{{I}} += dot(q{{I}}_{{C}}, kk{{C}});
        dp{{I}} += dot(g{{I}}_{{C}}, vv);
        //#end
      }
      //#end
      //#repeat I {{R}}
      let ds{{I}} = exp(masked(s{{I}}, i{{I}}, kt + {{J}}u, b, h) - lse{{I}}) * (dp{{I}} - d{{I}});
      //#end
      //#repeat C {{HD4}}
      //#repeat I {{R}}
      dq{{I}}_{{C}} += ds{{I}} * kk{{C}};
      //#end
      //#end
    }
    //#end
  }

  let gbase = base_of(p.gq, b, h);
  //#repeat I {{R}}
  if (i{{I}} < p.Tq) {
    st[p.BH * p.Tq + bh * p.Tq + i{{I}}] = d{{I}};
    //#repeat C {{HD4}}
    st_gq(gbase + i{{I}} * p.gq.w, {{C}}u, dq{{I}}_{{C}} * p.scale);
    //#end
  }
  //#end
}
