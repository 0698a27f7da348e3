/**
 * Transformer layers with timm's structure and state dict names: `Attention` (`qkv`, `proj`) on
 * the fused attention op (no T x T matrix, forward or backward), `Mlp` (`fc1`, `act`, `fc2`),
 * `DropPath` (stochastic depth) and the pre-norm ViT block `TransformerBlock` (timm's `Block`:
 * `norm1`, `attn`, `norm2`, `mlp`).
 * Linear weights start as timm's ViT init: truncated normal (std 0.02, cut at ±2), zero biases;
 * LayerNorms start at 1 / 0 (eps 1e-6 by default, as timm's ViTs).
 */
// The autograd barrel, not src/index.ts: the public entry re-exports models/, so importing it here would be a cycle.
import { add, attentionQKV, mul, type AttentionOptions } from '../../autograd/index.js';
import { binary, copyInto, fillInto } from '../../src/kernels/elementwise.js';
import { dropoutMask, type Generator } from '../../src/random.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { truncNormal } from './init.js';
import { Dropout, GELU, Identity, Linear, type Layer } from './layers.js';
import { Module } from './module.js';
import { LayerNorm } from './norm.js';

/**
 * Re-initialises a Linear as timm's `init_weights_vit_timm`: weight ~ trunc_normal(std 0.02,
 * cut at ±2), bias = 0, in place. Returns the layer.
 */
export function initLinearTimm(layer: Linear, { std = 0.02, generator }: { std?: number; generator?: Generator } = {}): Linear {
  const w = truncNormal(layer.weight.shape, { std, generator });
  copyInto(layer.weight, w);
  w.dispose();
  if (layer.bias) fillInto(layer.bias, 0);
  return layer;
}

/** A Linear with timm's ViT init (see {@link initLinearTimm}). */
const timmLinear = (i: number, o: number, bias: boolean, generator?: Generator): Linear =>
  initLinearTimm(new Linear(i, o, { bias, generator }), { generator });

/** Options of {@link Attention}. */
export interface AttentionLayerOptions {
  /** Number of heads; dim must be divisible by it (default 8, as timm). */
  numHeads?: number;
  /** Bias in the qkv projection (default true, as timm's ViTs). */
  qkvBias?: boolean;
  /**
   * Dropout on the attention probabilities. Only 0 is supported: the fused kernel never forms
   * the probabilities (timm's default, and every SSL recipe here, uses 0).
   */
  attnDrop?: number;
  /** Dropout after the output projection (default 0). */
  projDrop?: number;
  /** Score scale (default 1 / sqrt(head dim)). */
  scale?: number;
  /** The random stream for the initial weights and dropout masks (default: the global generator). */
  generator?: Generator;
}

/** Per-call options of {@link Attention.forward}: passed through to the fused op. */
export type AttentionCallOptions = Pick<AttentionOptions, 'mask' | 'causal'>;

/**
 * timm's multi-head self-attention: `qkv` = Linear(D, 3D) packed [q | k | v] (head-major inside
 * each), softmax(scale · q kᵀ + mask) v per head by the fused `attentionQKV` op, heads merged,
 * then `proj` = Linear(D, D) and dropout. x [B, T, D] -> [B, T, D].
 */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly attnDrop: Identity;
  readonly proj: Linear;
  readonly projDrop: Dropout;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;

  constructor(readonly dim: number, { numHeads = 8, qkvBias = true, attnDrop = 0, projDrop = 0, scale, generator }: AttentionLayerOptions = {}) {
    super();
    if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads !== 0) {
      throw new Error(`Attention: dim ${dim} must be a positive multiple of numHeads ${numHeads}`);
    }
    if (attnDrop !== 0) {
      throw new Error(`Attention: attnDrop ${attnDrop} is not supported: the fused attention kernel never forms the attention probabilities (use 0)`);
    }
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.scale = scale ?? 1 / Math.sqrt(this.headDim);
    this.qkv = timmLinear(dim, 3 * dim, qkvBias, generator);
    this.attnDrop = new Identity();
    this.proj = timmLinear(dim, dim, true, generator);
    this.projDrop = new Dropout(projDrop, { generator });
  }

  /** x [B, T, D] -> [B, T, D]; `mask` (additive, broadcastable to [B, H, T, T]) and `causal` reach the fused op. */
  forward(x: Tensor, opts: AttentionCallOptions = {}): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new Error(`Attention(dim ${this.dim}, heads ${this.numHeads}): input ${fmt(x.shape)} must be [B, T, ${this.dim}]`);
    }
    const a = attentionQKV(this.qkv.forward(x), this.numHeads, { mask: opts.mask, causal: opts.causal, scale: this.scale });
    return this.projDrop.forward(this.proj.forward(a));
  }
}

/** Options of {@link Mlp}. */
export interface MlpOptions {
  /** Width of fc2's output (default: in). */
  outFeatures?: number;
  /** 'gelu' (exact, erf; timm's default) or 'gelu_tanh'. */
  activation?: 'gelu' | 'gelu_tanh';
  /** Biases in fc1 and fc2 (default true). */
  bias?: boolean;
  /** Dropout after the activation and after fc2 (default 0). */
  drop?: number;
  /** The random stream for the initial weights and dropout masks (default: the global generator). */
  generator?: Generator;
}

/** timm's transformer MLP: `fc1` -> GELU (`act`) -> dropout -> `fc2` -> dropout. [..., in] -> [..., out]. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly act: GELU;
  readonly drop1: Dropout;
  readonly fc2: Linear;
  readonly drop2: Dropout;

  constructor(inFeatures: number, hiddenFeatures: number, { outFeatures = inFeatures, activation = 'gelu', bias = true, drop = 0, generator }: MlpOptions = {}) {
    super();
    this.fc1 = timmLinear(inFeatures, hiddenFeatures, bias, generator);
    this.act = new GELU(activation === 'gelu_tanh' ? 'tanh' : 'none');
    this.drop1 = new Dropout(drop, { generator });
    this.fc2 = timmLinear(hiddenFeatures, outFeatures, bias, generator);
    this.drop2 = new Dropout(drop, { generator });
  }

  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    return this.drop2.forward(this.fc2.forward(this.drop1.forward(this.act.forward(this.fc1.forward(x)))));
  }
}

/** Options of {@link DropPath}. */
export interface DropPathOptions {
  /** The random stream for the masks (default: the global generator). */
  generator?: Generator;
}

/**
 * Stochastic depth (timm's DropPath): in training, each sample's residual branch is zeroed with
 * probability p and the kept ones scaled by 1 / (1 - p); identity in eval mode or for p = 0.
 */
export class DropPath extends Module {
  readonly #generator: Generator | undefined;

  constructor(readonly p = 0, { generator }: DropPathOptions = {}) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`DropPath: p must be in [0, 1), got ${p}`);
    this.#generator = generator;
  }

  /** x [B, ...] -> x with whole samples dropped (training, p > 0), else `x` itself. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keepMask = dropoutMask([x.shape[0], ...x.shape.slice(1).map(() => 1)], this.p, { generator: this.#generator });
    const scale = binary('mul', keepMask, 1 / (1 - this.p));
    keepMask.dispose();
    const y = mul(x, scale);
    scale.dispose();
    return y;
  }
}

/** Options of {@link TransformerBlock}. */
export interface TransformerBlockOptions {
  /** Number of attention heads (default 8). */
  numHeads?: number;
  /** MLP hidden width = mlpRatio · dim (default 4). */
  mlpRatio?: number;
  /** Bias in the qkv projection (default true). */
  qkvBias?: boolean;
  /** Dropout after the attention projection and in the MLP (default 0). */
  projDrop?: number;
  /** Attention-probability dropout: only 0 (see {@link AttentionLayerOptions.attnDrop}). */
  attnDrop?: number;
  /** Stochastic depth on both residual branches (default 0). */
  dropPath?: number;
  /** LayerNorm eps (default 1e-6, as timm's ViTs). */
  eps?: number;
  /** The MLP's GELU: exact ('gelu', default) or 'gelu_tanh'. */
  activation?: 'gelu' | 'gelu_tanh';
  /** The random stream for the initial weights and random masks (default: the global generator). */
  generator?: Generator;
}

/**
 * timm's pre-norm transformer block: x + drop_path(attn(norm1(x))), then
 * x + drop_path(mlp(norm2(x))). x [B, T, D] -> [B, T, D].
 */
export class TransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly dropPath1: Layer;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPath2: Layer;

  constructor(readonly dim: number, { numHeads = 8, mlpRatio = 4, qkvBias = true, projDrop = 0, attnDrop = 0, dropPath = 0, eps = 1e-6, activation = 'gelu', generator }: TransformerBlockOptions = {}) {
    super();
    const hidden = Math.floor(dim * mlpRatio);
    if (!(hidden >= 1)) throw new Error(`TransformerBlock: mlpRatio ${mlpRatio} gives no hidden units for dim ${dim}`);
    this.norm1 = new LayerNorm(dim, { eps });
    this.attn = new Attention(dim, { numHeads, qkvBias, attnDrop, projDrop, generator });
    this.dropPath1 = dropPath > 0 ? new DropPath(dropPath, { generator }) : new Identity();
    this.norm2 = new LayerNorm(dim, { eps });
    this.mlp = new Mlp(dim, hidden, { activation, drop: projDrop, generator });
    this.dropPath2 = dropPath > 0 ? new DropPath(dropPath, { generator }) : new Identity();
  }

  /** x [B, T, D] -> [B, T, D]; `opts` (mask, causal) reach the attention. */
  forward(x: Tensor, opts: AttentionCallOptions = {}): Tensor {
    const h = add(x, this.dropPath1.forward(this.attn.forward(this.norm1.forward(x), opts)));
    return add(h, this.dropPath2.forward(this.mlp.forward(this.norm2.forward(h))));
  }
}
