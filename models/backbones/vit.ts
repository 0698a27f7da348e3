/**
 * Vision Transformer with timm's layout and state dict names (`patch_embed.proj`, `cls_token`,
 * `pos_embed`, `blocks.N.norm1`, `blocks.N.attn.qkv`, `blocks.N.mlp.fc1`, `norm`, `head`), so
 * timm / MAE / MoCo v3 / DINO checkpoints load unchanged:
 *  - learned position embedding (a parameter, trunc-normal std 0.02 as timm) or the fixed 2-D
 *    sin-cos one of MAE / MoCo v3 (a buffer `pos_embed`: saved and loaded, never trained; a zero
 *    row for the class token);
 *  - `forwardMasked(x, keep)`: the MAE encoder on a subset of patch tokens (position embedding
 *    added before the gather, class token prepended after, no attention mask);
 *  - `frozenPatchEmbed`: MoCo v3's random patch projection that is never trained.
 * Init as timm: Linear weights trunc_normal(std 0.02), biases 0, LayerNorms 1 / 0 (eps 1e-6), class
 * token N(0, 1e-6²), patch projection PyTorch's Conv2d default.
 */
// The autograd barrel, not src/index.ts: the public entry re-exports models/, so importing it here would be a cycle.
import { add, concat, expand, gather, mean, reshape, slice, transpose, unsqueeze } from '../../autograd/index.js';
import { tensor as upload } from '../../src/creation.js';
import { randn, type Generator } from '../../src/random.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { TransformerBlock, initLinearTimm, type AttentionCallOptions } from '../nn/attention.js';
import { Conv2d } from '../nn/conv.js';
import { truncNormal } from '../nn/init.js';
import { Dropout, Identity, Linear } from '../nn/layers.js';
import { Module, buffer, param } from '../nn/module.js';
import { LayerNorm } from '../nn/norm.js';

/** [h, w] from a number or a pair. */
const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * MAE's fixed 2-D sin-cos position embedding (`get_2d_sincos_pos_embed`), row-major over a
 * gridH x gridW patch grid, as host f32 [(classToken ? 1 : 0) + gridH·gridW, embedDim]: for the
 * patch at (row i, col j), features [sin(j ω), cos(j ω), sin(i ω), cos(i ω)] with
 * ω_k = 10000^(-k / (D/4)), k < D/4; the class token's row is zeros. embedDim % 4 == 0.
 */
export function sincosPosEmbed2d(embedDim: number, gridH: number, gridW: number = gridH, { classToken = true } = {}): Float32Array {
  if (!Number.isInteger(embedDim) || embedDim < 4 || embedDim % 4 !== 0) {
    throw new Error(`sincosPosEmbed2d: embedDim must be a positive multiple of 4, got ${embedDim}`);
  }
  const q = embedDim / 4;
  const omega = Array.from({ length: q }, (_, k) => 1 / 10000 ** (k / q));
  const pre = classToken ? 1 : 0;
  const out = new Float32Array((pre + gridH * gridW) * embedDim);
  for (let i = 0; i < gridH; i++) {
    for (let j = 0; j < gridW; j++) {
      const row = (pre + i * gridW + j) * embedDim;
      for (let k = 0; k < q; k++) {
        out[row + k] = Math.sin(j * omega[k]);
        out[row + q + k] = Math.cos(j * omega[k]);
        out[row + 2 * q + k] = Math.sin(i * omega[k]);
        out[row + 3 * q + k] = Math.cos(i * omega[k]);
      }
    }
  }
  return out;
}

/** Options of {@link PatchEmbed}. */
export interface PatchEmbedOptions {
  /** Input image size, square or [h, w] (default 224). */
  imgSize?: number | readonly [number, number];
  /** Patch side, also the convolution's stride (default 16). */
  patchSize?: number;
  /** Input channels (default 3). */
  inChans?: number;
  /** Token width (default 768). */
  embedDim?: number;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * timm's PatchEmbed: `proj` = Conv2d(inChans, embedDim, kernel = stride = patch), then
 * flatten(2).transpose(1, 2): [B, C, H, W] -> [B, (H/p)·(W/p), D], patches row-major.
 */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  readonly imgSize: [number, number];
  readonly patchSize: number;
  readonly inChans: number;
  readonly gridSize: [number, number];
  readonly numPatches: number;

  constructor({ imgSize = 224, patchSize = 16, inChans = 3, embedDim = 768, generator }: PatchEmbedOptions = {}) {
    super();
    const [h, w] = pair(imgSize);
    if (!Number.isInteger(patchSize) || patchSize < 1 || !(h > 0 && w > 0) || h % patchSize !== 0 || w % patchSize !== 0) {
      throw new Error(`PatchEmbed: image ${h}x${w} must be a positive multiple of the patch size ${patchSize}`);
    }
    this.proj = new Conv2d(inChans, embedDim, patchSize, { stride: patchSize, generator });
    this.imgSize = [h, w];
    this.patchSize = patchSize;
    this.inChans = inChans;
    this.gridSize = [h / patchSize, w / patchSize];
    this.numPatches = this.gridSize[0] * this.gridSize[1];
  }

  /** x [B, C, H, W] (exactly the configured size) -> [B, N, D]. */
  forward(x: Tensor): Tensor {
    const [h, w] = this.imgSize;
    if (x.rank !== 4 || x.shape[1] !== this.inChans || x.shape[2] !== h || x.shape[3] !== w) {
      throw new Error(`PatchEmbed (image ${h}x${w}, patch ${this.patchSize}): input ${fmt(x.shape)} must be [B, ${this.inChans}, ${h}, ${w}]`);
    }
    const y = this.proj.forward(x); // [B, D, gh, gw]
    return transpose(reshape(y, [y.shape[0], y.shape[1], this.numPatches]), 1, 2);
  }
}

/** Position embedding kinds of {@link VisionTransformer}. */
export type PosEmbedKind = 'learned' | 'sincos';

/** Options of {@link VisionTransformer} (timm's VisionTransformer keyword arguments, camelCase). */
export interface ViTOptions {
  /** Input image size, square or [h, w] (default 224). */
  imgSize?: number | readonly [number, number];
  /** Patch side (default 16). */
  patchSize?: number;
  /** Input channels (default 3). */
  inChans?: number;
  /** Classes of the `head` Linear; 0 makes `head` an Identity, so `forward` gives the pooled feature (default 1000). */
  numClasses?: number;
  /** Token width D (default 768). */
  embedDim?: number;
  /** Number of blocks (default 12). */
  depth?: number;
  /** Attention heads; embedDim must be divisible by it (default 12). */
  numHeads?: number;
  /** MLP hidden width = mlpRatio · D (default 4). */
  mlpRatio?: number;
  /** Bias in every qkv projection (default true). */
  qkvBias?: boolean;
  /** Prepend a learned class token `cls_token` (default true). */
  classToken?: boolean;
  /** What `forward` / `pool` reduce the tokens to: the class token, or the mean of the patch tokens (default: 'token' with a class token, else 'avg'). */
  globalPool?: 'token' | 'avg';
  /** 'learned' (a parameter, default) or 'sincos' (fixed MAE / MoCo v3 2-D sin-cos, a buffer). */
  posEmbed?: PosEmbedKind;
  /** MoCo v3: the patch projection stays at its random init (requiresGrad false: no gradient, no update). */
  frozenPatchEmbed?: boolean;
  /** LayerNorm eps (default 1e-6). */
  eps?: number;
  /** The MLPs' GELU: exact ('gelu', default, as timm) or 'gelu_tanh'. */
  activation?: 'gelu' | 'gelu_tanh';
  /** Dropout on the tokens after the position embedding (default 0). */
  posDropRate?: number;
  /** Dropout after each attention projection and in each MLP (default 0). */
  projDropRate?: number;
  /** Stochastic depth, rising linearly from 0 at the first block to this at the last (default 0). */
  dropPathRate?: number;
  /** Dropout before the head (default 0). */
  dropRate?: number;
  /** The random stream for the initial weights and random masks (default: the global generator). */
  generator?: Generator;
}

/**
 * timm's VisionTransformer: patch embedding, class token, position embedding, pre-norm blocks,
 * final LayerNorm `norm`, and an optional classifier `head`. Entry points:
 * `forwardFeatures(x)` (final-norm tokens [B, T, D], class token first, as timm),
 * `forward(x)` (pooled [B, D] through the head), `forwardMasked(x, keep)` (MAE encoder),
 * `embed` / `embedMasked` / `encode` (the same, in steps), `pool`, `forwardHead`.
 */
export class VisionTransformer extends Module {
  readonly patchEmbed: PatchEmbed;
  readonly clsToken: Tensor | null; // [1, 1, D]
  readonly posEmbed: Tensor; // [1, T, D]: a parameter (learned) or a buffer (sincos)
  readonly posDrop: Dropout;
  readonly blocks: TransformerBlock[];
  readonly norm: LayerNorm;
  readonly headDrop: Dropout;
  head: Linear | Identity;
  readonly embedDim: number;
  readonly numPrefixTokens: number;
  readonly globalPool: 'token' | 'avg';
  readonly posEmbedKind: PosEmbedKind;
  numClasses: number;
  readonly #generator: Generator | undefined;

  constructor({
    imgSize = 224, patchSize = 16, inChans = 3, numClasses = 1000, embedDim = 768, depth = 12, numHeads = 12, mlpRatio = 4,
    qkvBias = true, classToken = true, globalPool, posEmbed = 'learned', frozenPatchEmbed = false, eps = 1e-6, activation = 'gelu',
    posDropRate = 0, projDropRate = 0, dropPathRate = 0, dropRate = 0, generator,
  }: ViTOptions = {}) {
    super();
    for (const [what, n] of [['embedDim', embedDim], ['depth', depth], ['numHeads', numHeads], ['inChans', inChans]] as const) {
      if (!Number.isInteger(n) || n < (what === 'depth' ? 0 : 1)) throw new Error(`VisionTransformer: ${what} must be a ${what === 'depth' ? 'non-negative' : 'positive'} integer, got ${n}`);
    }
    if (embedDim % numHeads !== 0) throw new Error(`VisionTransformer: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    if (!Number.isInteger(numClasses) || numClasses < 0) throw new Error(`VisionTransformer: numClasses must be a non-negative integer, got ${numClasses}`);
    const pool = globalPool ?? (classToken ? 'token' : 'avg');
    if (pool === 'token' && !classToken) throw new Error(`VisionTransformer: globalPool 'token' needs classToken`);
    this.embedDim = embedDim;
    this.numPrefixTokens = classToken ? 1 : 0;
    this.globalPool = pool;
    this.posEmbedKind = posEmbed;
    this.numClasses = numClasses;
    this.#generator = generator;

    this.patchEmbed = new PatchEmbed({ imgSize, patchSize, inChans, embedDim, generator });
    if (frozenPatchEmbed) {
      this.patchEmbed.proj.weight.requiresGrad = false;
      if (this.patchEmbed.proj.bias) this.patchEmbed.proj.bias.requiresGrad = false;
    }
    const [gh, gw] = this.patchEmbed.gridSize;
    const tokens = this.numPrefixTokens + gh * gw;
    this.clsToken = classToken ? param(randn([1, 1, embedDim], { std: 1e-6, generator })) : null;
    if (posEmbed === 'learned') {
      this.posEmbed = param(truncNormal([1, tokens, embedDim], { std: 0.02, generator }));
    } else if (posEmbed === 'sincos') {
      this.posEmbed = buffer(upload(sincosPosEmbed2d(embedDim, gh, gw, { classToken }), { shape: [1, tokens, embedDim] }));
    } else {
      throw new Error(`VisionTransformer: posEmbed must be 'learned' or 'sincos', got ${String(posEmbed)}`);
    }
    this.posDrop = new Dropout(posDropRate, { generator });
    this.blocks = Array.from({ length: depth }, (_, i) => new TransformerBlock(embedDim, {
      numHeads, mlpRatio, qkvBias, projDrop: projDropRate, eps, activation, generator,
      dropPath: depth > 1 ? (dropPathRate * i) / (depth - 1) : dropPathRate,
    }));
    this.norm = new LayerNorm(embedDim, { eps });
    this.headDrop = new Dropout(dropRate, { generator });
    this.head = this.#makeHead(numClasses);
  }

  #makeHead(numClasses: number): Linear | Identity {
    const g = this.#generator;
    return numClasses > 0 ? initLinearTimm(new Linear(this.embedDim, numClasses, { generator: g }), { generator: g }) : new Identity();
  }

  /**
   * Replaces the classifier (timm's reset_classifier): a fresh Linear(D, numClasses) with timm's
   * init, or an Identity for 0 (then `forward` gives the pooled [B, D] feature). The old head's
   * parameters are disposed.
   */
  resetClassifier(numClasses: number): void {
    if (!Number.isInteger(numClasses) || numClasses < 0) throw new Error(`VisionTransformer.resetClassifier: numClasses must be a non-negative integer, got ${numClasses}`);
    this.head.dispose();
    this.head = this.#makeHead(numClasses);
    this.numClasses = numClasses;
  }

  /** Number of patch tokens N = (H/p)·(W/p). */
  get numPatches(): number {
    return this.patchEmbed.numPatches;
  }

  /** The class token, plus its position embedding row, expanded to [B, 1, D]. */
  #prefix(B: number): Tensor[] {
    if (!this.clsToken) return [];
    return [expand(add(this.clsToken, slice(this.posEmbed, 1, 0, 1)), [B, 1, this.embedDim])];
  }

  /** Patch tokens with their position embedding: [B, N, D]. */
  #patches(x: Tensor): Tensor {
    return add(this.patchEmbed.forward(x), slice(this.posEmbed, 1, this.numPrefixTokens));
  }

  /**
   * Tokens entering the first block: [B, T, D] = cat(cls + pos[0], patches + pos[1:]) after the
   * position dropout (timm's `_pos_embed`, in MAE's order of additions; the same values).
   */
  embed(x: Tensor): Tensor {
    const p = this.#patches(x);
    const pre = this.#prefix(p.shape[0]);
    return this.posDrop.forward(pre.length ? concat([...pre, p], 1) : p);
  }

  /**
   * MAE's encoder input: patch tokens with their position embedding, gathered per sample at
   * `keep` (i32 [B, K], patch indices 0..N-1 in any order; out-of-range indices read zeros),
   * then the class token (with its position row) prepended: [B, 1 + K, D].
   */
  embedMasked(x: Tensor, keep: Tensor): Tensor {
    const B = x.shape[0];
    if (keep.dtype !== 'i32' || keep.rank !== 2 || keep.shape[0] !== B || keep.shape[1] > this.numPatches) {
      throw new Error(`VisionTransformer.embedMasked: keep must be i32 [B, K] with B = ${B} and K <= ${this.numPatches} patches, got ${keep.dtype} ${fmt(keep.shape)} for input ${fmt(x.shape)}`);
    }
    const p = this.#patches(x);
    const index = expand(unsqueeze(keep, 2), [B, keep.shape[1], this.embedDim]);
    const kept = gather(p, 1, index);
    const pre = this.#prefix(B);
    return this.posDrop.forward(pre.length ? concat([...pre, kept], 1) : kept);
  }

  /** The blocks and the final norm on a token sequence [B, T, D] (`opts`: attention mask / causal, rarely needed). */
  encode(tokens: Tensor, opts: AttentionCallOptions = {}): Tensor {
    if (tokens.rank !== 3 || tokens.shape[2] !== this.embedDim) {
      throw new Error(`VisionTransformer.encode: tokens ${fmt(tokens.shape)} must be [B, T, ${this.embedDim}]`);
    }
    let h = tokens;
    for (const b of this.blocks) h = b.forward(h, opts);
    return this.norm.forward(h);
  }

  /** timm's forward_features: x [B, C, H, W] -> final-norm tokens [B, T, D] (class token first). */
  forwardFeatures(x: Tensor): Tensor {
    return this.encode(this.embed(x));
  }

  /**
   * The MAE encoder on a subset of patches: x [B, C, H, W], keep i32 [B, K] -> final-norm tokens
   * [B, 1 + K, D] (class token first). Equal to `encode` of the gathered embedded tokens: no
   * attention mask, the dropped patches are simply absent.
   */
  forwardMasked(x: Tensor, keep: Tensor): Tensor {
    return this.encode(this.embedMasked(x, keep));
  }

  /** Pools final-norm tokens [B, T, D] to [B, D]: the class token, or the mean of the patch tokens. */
  pool(tokens: Tensor): Tensor {
    if (this.globalPool === 'token') return reshape(slice(tokens, 1, 0, 1), [tokens.shape[0], this.embedDim]);
    return mean(slice(tokens, 1, this.numPrefixTokens), 1);
  }

  /** Pool, dropout and head: [B, T, D] -> [B, numClasses]; with `preLogits` (or no head) the pooled [B, D]. */
  forwardHead(tokens: Tensor, { preLogits = false } = {}): Tensor {
    const pooled = this.headDrop.forward(this.pool(tokens));
    return preLogits ? pooled : this.head.forward(pooled);
  }

  /** x [B, C, H, W] -> logits [B, numClasses], or the pooled feature [B, D] when numClasses is 0. */
  forward(x: Tensor): Tensor {
    return this.forwardHead(this.forwardFeatures(x));
  }
}

/** Sizes of the named presets (patch 16, 224 px, mlp ratio 4 unless overridden). */
export const VIT_PRESETS = {
  tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  small: { embedDim: 384, depth: 12, numHeads: 6 },
  base: { embedDim: 768, depth: 12, numHeads: 12 },
} as const satisfies Record<string, Pick<ViTOptions, 'embedDim' | 'depth' | 'numHeads'>>;

/** A preset name of {@link VIT_PRESETS}. */
export type ViTPreset = keyof typeof VIT_PRESETS;

/** A preset's ViT; `opts` override anything (image size, patch, classes, position embedding, ...). */
export function createViT(preset: ViTPreset, opts: ViTOptions = {}): VisionTransformer {
  const p = VIT_PRESETS[preset];
  if (!p) throw new Error(`createViT: unknown preset '${String(preset)}' (have ${Object.keys(VIT_PRESETS).join(', ')})`);
  return new VisionTransformer({ patchSize: 16, imgSize: 224, mlpRatio: 4, ...p, ...opts });
}

/** ViT-Ti/16 (timm vit_tiny_patch16_224: D 192, depth 12, 3 heads; 5,717,416 parameters with 1000 classes). */
export const vitTiny = (opts: ViTOptions = {}): VisionTransformer => createViT('tiny', opts);
/** ViT-S/16 (timm vit_small_patch16_224: D 384, depth 12, 6 heads; 22,050,664 parameters with 1000 classes). */
export const vitSmall = (opts: ViTOptions = {}): VisionTransformer => createViT('small', opts);
/** ViT-B/16 (timm vit_base_patch16_224: D 768, depth 12, 12 heads; 86,567,656 parameters with 1000 classes). */
export const vitBase = (opts: ViTOptions = {}): VisionTransformer => createViT('base', opts);
