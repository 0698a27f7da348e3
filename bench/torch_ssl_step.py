#!/usr/bin/env python3
"""PyTorch CPU side of bench/ssl_step.mjs: one training step of SimCLR, MoCo v2, BYOL and SimSiam.

    /usr/bin/python3 bench/torch_ssl_step.py --methods simclr,moco-v2,byol,simsiam --batch 128 --runs 5
                                                       # standalone (torch's own init, random views)
    /usr/bin/python3 bench/torch_ssl_step.py --spec '[{"method": "simclr", "case": "simclr.safetensors", ...}]' ...
                                                       # as bench/ssl_step.mjs calls it

Extends the SimCLR case (c) of ../shared/peers/torch_cpu_bench.py to the four methods of models/ssl, built
the way webgrad builds them (models/ssl/*.ts, models/heads.ts), with the same module names, so webgrad's
state dict loads strictly:
  backbone      torchvision.models.resnet18() with the small-image stem (conv1 3x3 stride 1 pad 1,
                maxpool = Identity, fc = Identity: 512-d pooled features), float32 NCHW, training mode
  heads         ProjectionHead(sizes): Linear [BN] ReLU ... Linear [BN(affine=False)] as one nn.Sequential;
                a Linear that a BN follows has no bias (webgrad's default)
  simclr        z = g(f(cat(v1, v2))); NT-Xent (cosine / tau, self-similarity masked, positive i <-> i + N)
  moco-v2       q = g(f(x)), k = g_k(f_k(x)) under no_grad (momentum copy, train-mode BN); loss
                CE([q.k+, q.queue] / tau, label 0) with q, k L2-normalised, queue [C, K]; symmetric: the sum
                ctr(q1, k2) + ctr(q2, k1); after the step EMA of the parameters and both key sets enqueued
  byol          p = h(g(f(x))) online, z = g_t(f_t(x)) target under no_grad; mean(2 - 2 cos(p1, z2)) +
                mean(2 - 2 cos(p2, z1)); after the step EMA (cosine momentum schedule)
  simsiam       z = g(f(x)) (last BN without affine), p = h(z); (D(p1, sg(z2)) + D(p2, sg(z1))) / 2 with
                D = -mean cos
  optimizer     torch.optim.SGD(trainable parameters, lr, momentum, weight_decay)
One step, as webgrad's: opt.zero_grad(set_to_none=True); loss = method.loss(v1, v2); loss.backward();
opt.step(); method.after_step(k); loss.item(). The EMA momentum at step k is webgrad's: constant, or
end + (base - end) (1 + cos(pi min(k, K) / K)) / 2 with K = total_steps. torch.set_num_threads(--threads,
default 2), OMP / OpenBLAS / MKL threads set before the import. Per method: WARMUPS warm-up steps (their
losses are reported, for the cross-check against webgrad), the quiet gate (bench/waitquiet.sh;
--quiet-timeout 0 skips it), 1 untimed step, then --runs timed steps; images/s = 2 x batch / median.
Prints one JSON object on stdout (progress to stderr); without torch it prints {"error": ...} and exits 3.
"""
import os
import sys

# bench/torch_backbone.py sets the BLAS / OpenMP thread counts from --threads before torch loads, and
# prints {"error": ...} and exits 3 when torch is missing; its safetensors reader, small-image ResNet-18
# and quiet gate are shared here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_backbone import blas_library, quiet, read_safetensors, resnet18_small  # noqa: E402

import argparse
import json
import math
import statistics
import time

WARMUPS = 2
MIN_RUNS = 5

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except Exception as e:  # noqa: BLE001 - any import failure means: no torch here
    print(json.dumps({"error": f"torch / torchvision not importable: {e}"}))
    sys.exit(3)

# The standalone configuration: bench/ssl_step.mjs's (methodDefaults with the 512-512-128 head) at batch 128.
DEFAULTS = {
    "simclr": {"proj": [512, 512, 128], "proj_bn": True, "proj_last_bn": False, "temperature": 0.2, "lr": 0.03},
    "moco-v2": {"proj": [512, 512, 128], "proj_bn": False, "proj_last_bn": False, "temperature": 0.2, "queue_size": 4096,
                "symmetric": True, "momentum": 0.99, "momentum_schedule": "constant", "lr": 0.03},
    "byol": {"proj": [512, 512, 128], "proj_bn": True, "proj_last_bn": False, "pred": [128, 512, 128], "momentum": 0.99,
             "momentum_schedule": "cosine", "lr": 0.03},
    "simsiam": {"proj": [512, 512, 128], "proj_bn": True, "proj_last_bn": True, "pred": [128, 64, 128], "lr": 0.025},
}
COMMON = {"sgd_momentum": 0.9, "weight_decay": 5e-4, "total_steps": 100}


def head(sizes, bn=True, last_bn=False):
    """models/heads.ts ProjectionHead: Linear [BN] ReLU ... Linear [BN(affine=False)]; no bias before a BN."""
    layers = []
    for i in range(len(sizes) - 1):
        last = i + 2 == len(sizes)
        b = last_bn if last else bn
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=not b))
        if b:
            layers.append(nn.BatchNorm1d(sizes[i + 1], affine=not last))
        if not last:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def momentum_copy(online):
    import copy
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad = False
    return target


def ema_momentum(c, k):
    """The target momentum after step k, as models/ssl/common.ts MomentumUpdater (end = 1)."""
    base = c["momentum"]
    if c.get("momentum_schedule", "constant") == "constant":
        return base
    total = max(1, c["total_steps"])
    return 1.0 + (base - 1.0) * 0.5 * (1 + math.cos(math.pi * min(k, total) / total))


class EMA:
    def __init__(self, pairs):
        self.t = [p for tgt, _ in pairs for p in tgt.parameters()]
        self.o = [p for _, onl in pairs for p in onl.parameters()]

    @torch.no_grad()
    def update(self, m):
        torch._foreach_mul_(self.t, m)
        torch._foreach_add_(self.t, self.o, alpha=1 - m)


class SimCLR(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.backbone = resnet18_small()
        self.projection_head = head(c["proj"], c["proj_bn"], c["proj_last_bn"])

    def loss(self, v1, v2):
        z = F.normalize(self.projection_head(self.backbone(torch.cat([v1, v2], 0))), dim=1)
        n2 = z.shape[0]
        n = n2 // 2
        sim = (z @ z.t()) / self.c["temperature"]
        sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool), float("-inf"))
        labels = torch.cat([torch.arange(n, n2), torch.arange(0, n)])
        return F.cross_entropy(sim, labels)

    def trainable(self):
        return [p for m in (self.backbone, self.projection_head) for p in m.parameters() if p.requires_grad]

    def after_step(self, k):
        pass


class KeyQueue(nn.Module):
    def __init__(self, dim, size):
        super().__init__()
        self.register_buffer("queue", F.normalize(torch.randn(size, dim), dim=1).t().contiguous())
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.int32))
        self.size = size

    @torch.no_grad()
    def push(self, keys):
        k = F.normalize(keys, dim=1)
        ptr = int(self.queue_ptr[0])
        idx = (torch.arange(k.shape[0]) + ptr) % self.size
        self.queue[:, idx] = k.t()
        self.queue_ptr[0] = (ptr + k.shape[0]) % self.size


class MoCo(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.backbone = resnet18_small()
        self.projection_head = head(c["proj"], c["proj_bn"], c["proj_last_bn"])
        self.backbone_momentum = momentum_copy(self.backbone)
        self.projection_head_momentum = momentum_copy(self.projection_head)
        self.queue = KeyQueue(c["proj"][-1], c["queue_size"])
        self.ema = EMA([(self.backbone_momentum, self.backbone), (self.projection_head_momentum, self.projection_head)])
        self.pending = None

    def ctr(self, q, k):
        q = F.normalize(q, dim=1)
        k = F.normalize(k.detach(), dim=1)
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q @ self.queue.queue.detach()
        logits = torch.cat([l_pos, l_neg], 1) / self.c["temperature"]
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))

    def loss(self, v1, v2):
        q = lambda x: self.projection_head(self.backbone(x))  # noqa: E731

        def k(x):
            with torch.no_grad():
                return self.projection_head_momentum(self.backbone_momentum(x))

        k2 = k(v2)
        if self.c["symmetric"]:
            k1 = k(v1)
            self.pending = torch.cat([k1, k2], 0)
            return self.ctr(q(v1), k2) + self.ctr(q(v2), k1)
        self.pending = k2
        return self.ctr(q(v1), k2)

    def trainable(self):
        return [p for m in (self.backbone, self.projection_head) for p in m.parameters() if p.requires_grad]

    def after_step(self, k):
        self.ema.update(ema_momentum(self.c, k))
        self.queue.push(self.pending)
        self.pending = None


class BYOL(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.backbone = resnet18_small()
        self.projection_head = head(c["proj"], c["proj_bn"], c["proj_last_bn"])
        self.prediction_head = head(c["pred"])
        self.backbone_momentum = momentum_copy(self.backbone)
        self.projection_head_momentum = momentum_copy(self.projection_head)
        self.ema = EMA([(self.backbone_momentum, self.backbone), (self.projection_head_momentum, self.projection_head)])

    def loss(self, v1, v2):
        p = lambda x: self.prediction_head(self.projection_head(self.backbone(x)))  # noqa: E731

        def z(x):
            with torch.no_grad():
                return self.projection_head_momentum(self.backbone_momentum(x))

        def side(pp, zz):
            cos = (F.normalize(pp, dim=1, eps=1e-12) * F.normalize(zz.detach(), dim=1, eps=1e-12)).sum(1)
            return (2 - 2 * cos).mean()

        p1, p2, z1, z2 = p(v1), p(v2), z(v1), z(v2)
        return side(p1, z2) + side(p2, z1)

    def trainable(self):
        return [p for m in (self.backbone, self.projection_head, self.prediction_head) for p in m.parameters() if p.requires_grad]

    def after_step(self, k):
        self.ema.update(ema_momentum(self.c, k))


class SimSiam(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.backbone = resnet18_small()
        self.projection_head = head(c["proj"], c["proj_bn"], c["proj_last_bn"])
        self.prediction_head = head(c["pred"])

    def loss(self, v1, v2):
        z1 = self.projection_head(self.backbone(v1))
        z2 = self.projection_head(self.backbone(v2))
        p1, p2 = self.prediction_head(z1), self.prediction_head(z2)

        def d(p, z):
            pn = F.normalize(p, dim=1, eps=1e-8)
            zn = F.normalize(z.detach(), dim=1, eps=1e-8)
            return -(pn * zn).sum(1).mean()

        return 0.5 * (d(p1, z2) + d(p2, z1))

    def trainable(self):
        return [p for m in (self.backbone, self.projection_head, self.prediction_head) for p in m.parameters() if p.requires_grad]

    def after_step(self, k):
        pass


METHODS = {"simclr": SimCLR, "moco-v2": MoCo, "byol": BYOL, "simsiam": SimSiam}


def run_method(c, v1, v2, state, runs, quiet_timeout):
    name = c["method"]
    torch.manual_seed(0)
    model = METHODS[name](c).train()
    rec = {"method": name, "loaded": False, "load_error": None}
    if state is not None:
        try:
            model.load_state_dict(state, strict=True)
            rec["loaded"] = True
        except Exception as e:  # noqa: BLE001 - reported; the step is still timed from torch's own init
            rec["load_error"] = str(e).split("\n")[0][:300]
    opt = torch.optim.SGD(model.trainable(), lr=c["lr"], momentum=c["sgd_momentum"], weight_decay=c["weight_decay"])
    counter = {"k": 0}

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(v1, v2)
        loss.backward()
        opt.step()
        model.after_step(counter["k"])
        counter["k"] += 1
        return loss.item()

    rec["warm_losses"] = [step() for _ in range(WARMUPS)]
    rec["quiet"] = quiet(quiet_timeout)
    print(f"  torch   {name}: {rec['quiet']}", file=sys.stderr)
    step()  # one untimed step right after the gate
    times, losses = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    n = v1.shape[0] + v2.shape[0]
    rec.update({"losses": losses, "times_ms": [t * 1e3 for t in times], "median_ms": med * 1e3, "images_per_s": n / med})
    if not all(math.isfinite(v) for v in rec["warm_losses"] + losses):
        rec["error"] = "loss not finite"
    print(f"  torch   {name}: {rec['images_per_s']:.1f} img/s, {med * 1e3:.0f} ms/step (runs "
          + " ".join(f"{t * 1e3:.0f}" for t in times) + " ms); loss "
          + ", ".join(f"{v:.5g}" for v in rec["warm_losses"]) + " | " + ", ".join(f"{v:.5g}" for v in losses)
          + ("" if rec["loaded"] or state is None else f"  [own init: {rec['load_error']}]"), file=sys.stderr)
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="simclr,moco-v2,byol,simsiam", help="standalone mode: comma list")
    ap.add_argument("--batch", type=int, default=128, help="standalone mode: images per view")
    ap.add_argument("--spec", help="JSON list of per-method configs with 'case' (safetensors: state dict + view1, view2)")
    ap.add_argument("--runs", type=int, default=MIN_RUNS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet-timeout", type=float, default=60)
    args = ap.parse_args()
    if args.runs < MIN_RUNS:
        ap.error(f"--runs must be >= {MIN_RUNS}")
    torch.set_num_threads(args.threads)
    results = []
    if args.spec:
        for c in json.loads(args.spec):
            st = read_safetensors(c["case"])
            v1, v2 = st.pop("view1"), st.pop("view2")
            results.append(run_method(c, v1, v2, st, args.runs, args.quiet_timeout))
    else:
        torch.manual_seed(0)
        v1 = torch.rand(args.batch, 3, 32, 32) * 2 - 1
        v2 = torch.rand(args.batch, 3, 32, 32) * 2 - 1
        for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
            if name not in DEFAULTS:
                ap.error(f"--methods: unknown method '{name}' ({', '.join(DEFAULTS)})")
            c = {"method": name, **COMMON, **DEFAULTS[name]}
            c["lr"] = DEFAULTS[name]["lr"] * args.batch / 128
            results.append(run_method(c, v1, v2, None, args.runs, args.quiet_timeout))
    print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": args.threads,
                      "blas": blas_library(), "results": results}))


if __name__ == "__main__":
    main()
