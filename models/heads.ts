/**
 * The heads the self-supervised methods share, with the names and initialisation of the methods'
 * reference code so their checkpoints load:
 *  - {@link ProjectionHead}: Linear-BN-ReLU stacks (SimCLR, MoCo v2/v3, BYOL, SimSiam projectors),
 *    optionally ending in a BN without affine parameters (SimSiam, MoCo v3);
 *  - {@link PredictionHead}: the same stack as a predictor (BYOL 256-4096-256, SimSiam 2048-512-2048);
 *  - {@link DINOHead}: DINO's MLP with GELU, an L2-normalised bottleneck and a weight-normalised
 *    last layer (`mlp.*`, `last_layer.weight_g`, `last_layer.weight_v`);
 *  - {@link Prototypes}: SwAV's prototype vectors (a bias-free Linear whose rows are re-normalised
 *    in place after each step).
 */
import { matmul, mul, noGrad, normalize } from '../autograd/index.js';
import { copyInto, fillInto } from '../src/kernels/elementwise.js';
import type { Generator } from '../src/random.js';
import { scope } from '../src/scope.js';
import { fmt } from '../src/shape.js';
import type { Tensor } from '../src/tensor.js';
import { kaimingUniform, ones, truncNormal } from './nn/init.js';
import { GELU, Linear, ReLU, Sequential, type Layer } from './nn/layers.js';
import { Module, param } from './nn/module.js';
import { BatchNorm1d } from './nn/norm.js';

/** Options of {@link ProjectionHead} and {@link PredictionHead}. */
export interface ProjectionHeadOptions {
  /** BatchNorm1d after every hidden Linear (before its ReLU); default true. */
  batchNorm?: boolean;
  /** A BatchNorm1d without affine parameters after the last Linear (SimSiam, MoCo v3); default false. */
  lastBatchNorm?: boolean;
  /**
   * Biases in the Linear layers that a BN follows (default false: the BN's mean subtraction
   * cancels them, as in the SimCLR, MoCo v3 and SimSiam code). Linears without a BN after them
   * always have a bias.
   */
  biasBeforeBatchNorm?: boolean;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * A projection MLP: sizes [in, h1, ..., out] give Linear(in, h1) [BN] ReLU ... Linear(h_k, out)
 * [BN(affine=False)], as one nn.Sequential (keys `0.weight`, `1.running_mean`, ...). Input
 * [N, in] -> [N, out]. SimCLR v1: [2048, 2048, 128]; SimSiam: [2048, 2048, 2048, 2048] with
 * lastBatchNorm; MoCo v3: [2048, 4096, 256] with lastBatchNorm.
 */
export class ProjectionHead extends Sequential {
  readonly sizes: readonly number[];

  constructor(sizes: readonly number[], { batchNorm = true, lastBatchNorm = false, biasBeforeBatchNorm = false, generator }: ProjectionHeadOptions = {}) {
    if (sizes.length < 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error(`${new.target.name}: sizes must be at least [in, out] positive integers, got [${sizes.join(', ')}]`);
    }
    const layers: Layer[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const last = i + 2 === sizes.length;
      const bn = last ? lastBatchNorm : batchNorm;
      layers.push(new Linear(sizes[i], sizes[i + 1], { bias: !bn || biasBeforeBatchNorm, generator }));
      if (bn) layers.push(new BatchNorm1d(sizes[i + 1], { affine: !last }));
      if (!last) layers.push(new ReLU());
    }
    super(...layers);
    this.sizes = [...sizes];
  }

  /** x [N, in] -> [N, out]. */
  override forward(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.sizes[0]) {
      throw new Error(`${this.constructor.name}([${this.sizes.join(', ')}]): input ${fmt(x.shape)} must be [N, ${this.sizes[0]}]`);
    }
    return super.forward(x);
  }
}

/**
 * A predictor MLP (BYOL: [256, 4096, 256]; SimSiam: [2048, 512, 2048]): a {@link ProjectionHead}
 * with BN after the hidden layers and none on the output (its default options).
 */
export class PredictionHead extends ProjectionHead {}

/** Options of {@link DINOHead} (DINO's DINOHead keyword arguments and defaults). */
export interface DINOHeadOptions {
  /** Linear layers before the bottleneck, the bottleneck one included (default 3). */
  nlayers?: number;
  /** Width of the hidden layers (default 2048). */
  hiddenDim?: number;
  /** Width of the L2-normalised bottleneck (default 256). */
  bottleneckDim?: number;
  /** BatchNorm1d after the hidden Linears (default false). */
  useBn?: boolean;
  /** Keep the last layer's weight_g fixed at 1, i.e. unit-norm prototype rows (default true). */
  normLastLayer?: boolean;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * A weight-normalised bias-free Linear (torch.nn.utils.weight_norm with dim 0): W = g · v / ||v||
 * row-wise, parameters `weight_g` [out, 1] and `weight_v` [out, in].
 */
export class WeightNormLinear extends Module {
  readonly weightG: Tensor; // [out, 1]
  readonly weightV: Tensor; // [out, in]

  constructor(readonly inFeatures: number, readonly outFeatures: number, { generator }: { generator?: Generator } = {}) {
    super();
    this.weightG = param(ones([outFeatures, 1]));
    // nn.Linear's init, as DINO builds its last layer after applying trunc_normal to the MLP.
    this.weightV = param(kaimingUniform([outFeatures, inFeatures], { a: Math.sqrt(5), generator }));
  }

  /** x [..., in] -> [..., out] with the effective weight g · v / ||v|| (differentiable in g and v). */
  forward(x: Tensor): Tensor {
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`WeightNormLinear(${this.inFeatures}, ${this.outFeatures}): input ${fmt(x.shape)} must end in ${this.inFeatures} features`);
    }
    const w = mul(normalize(this.weightV, { dim: 1, eps: 0 }), this.weightG);
    return matmul(x, w, { transB: true });
  }
}

/**
 * DINO's projection head (Caron et al. 2021, facebookresearch/dino `DINOHead`): an MLP
 * in -> hidden (GELU) ... -> bottleneck, L2 normalisation, then a weight-normalised bias-free
 * Linear to `outDim` prototypes whose weight_g is fixed at 1 (normLastLayer). Keys: `mlp.0.*`,
 * `mlp.2.*`, ... (`mlp.weight` when nlayers is 1), `last_layer.weight_g`, `last_layer.weight_v`.
 * Linear weights are trunc_normal(std 0.02), biases 0. Input [N, in] -> [N, outDim].
 */
export class DINOHead extends Module {
  readonly mlp: Layer;
  readonly lastLayer: WeightNormLinear;

  constructor(readonly inDim: number, readonly outDim: number, {
    nlayers = 3, hiddenDim = 2048, bottleneckDim = 256, useBn = false, normLastLayer = true, generator,
  }: DINOHeadOptions = {}) {
    super();
    if (!Number.isInteger(nlayers) || nlayers < 1) throw new Error(`DINOHead: nlayers must be a positive integer, got ${nlayers}`);
    const lin = (i: number, o: number): Linear => {
      const l = new Linear(i, o, { generator });
      const w = truncNormal([o, i], { std: 0.02, generator });
      copyInto(l.weight, w);
      w.dispose();
      fillInto(l.bias!, 0);
      return l;
    };
    if (nlayers === 1) {
      this.mlp = lin(inDim, bottleneckDim);
    } else {
      const layers: Layer[] = [lin(inDim, hiddenDim)];
      if (useBn) layers.push(new BatchNorm1d(hiddenDim));
      layers.push(new GELU());
      for (let i = 0; i < nlayers - 2; i++) {
        layers.push(lin(hiddenDim, hiddenDim));
        if (useBn) layers.push(new BatchNorm1d(hiddenDim));
        layers.push(new GELU());
      }
      layers.push(lin(hiddenDim, bottleneckDim));
      this.mlp = new Sequential(...layers);
    }
    this.lastLayer = new WeightNormLinear(bottleneckDim, outDim, { generator });
    if (normLastLayer) this.lastLayer.weightG.requiresGrad = false;
  }

  /** x [N, in] -> [N, outDim]: last_layer(normalize(mlp(x))). */
  forward(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inDim) throw new Error(`DINOHead(${this.inDim} -> ${this.outDim}): input ${fmt(x.shape)} must be [N, ${this.inDim}]`);
    return this.lastLayer.forward(normalize(this.mlp.forward(x), { dim: -1 }));
  }
}

/**
 * SwAV's prototypes (Caron et al. 2020): `nPrototypes` vectors of size `dim` as a bias-free
 * Linear (`weight` [nPrototypes, dim]; nn.Linear init), scoring L2-normalised features. Call
 * {@link Prototypes.normalize} after each optimizer step (and once at the start), as SwAV does,
 * to put every row back on the unit sphere.
 */
export class Prototypes extends Module {
  readonly weight: Tensor; // [nPrototypes, dim]

  constructor(readonly dim: number, readonly nPrototypes: number, { generator }: { generator?: Generator } = {}) {
    super();
    this.weight = new Linear(dim, nPrototypes, { bias: false, generator }).weight;
  }

  /** z [N, dim] -> scores [N, nPrototypes] = z · Wᵀ. */
  forward(z: Tensor): Tensor {
    if (z.rank !== 2 || z.shape[1] !== this.dim) throw new Error(`Prototypes(${this.dim}, ${this.nPrototypes}): input ${fmt(z.shape)} must be [N, ${this.dim}]`);
    return matmul(z, this.weight, { transB: true });
  }

  /** Rescales every prototype row to unit L2 norm, in place and without recording a gradient. */
  normalize(): void {
    noGrad(() => scope(() => {
      copyInto(this.weight, normalize(this.weight, { dim: 1 }));
    }));
  }
}
