/**
 * ResNets with torchvision's layout, names and initialisation (He et al. 2016, torchvision's
 * "v1.5": a Bottleneck strides in its 3x3 conv), so torchvision state_dicts load unchanged:
 * `conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, ..., `fc`.
 *  - Two stems: 'imagenet' (7x7/2 conv + 3x3/2 max pool) and 'small' (3x3/1 conv, no max pool;
 *    the CIFAR / Fashion-MNIST variant used by SimCLR and the SSL literature at 28-32 px).
 *  - Any input channel count, any base width (stage i has baseWidth * 2^i planes), any number of
 *    stages (ResNet-tiny has three).
 *  - `numClasses: null` (or 0) makes `fc` an Identity, so `forward` returns the pooled feature;
 *    `features(x)` always does.
 *  - Init as torchvision: conv weights kaiming_normal(fan_out, relu), BN weight 1 / bias 0, `fc`
 *    nn.Linear's default; `zeroInitResidual` zeroes each block's last BN weight, so every residual
 *    branch starts at zero and each block starts as the identity (Goyal et al. 2017).
 */
import { add, flatten, relu } from '../../autograd/index.js';
import { copyInto, fillInto } from '../../src/kernels/elementwise.js';
import type { Generator } from '../../src/random.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { Conv2d } from '../nn/conv.js';
import { kaimingNormal } from '../nn/init.js';
import { Identity, Linear, Sequential, type Layer } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { AdaptiveAvgPool2d, MaxPool2d } from '../nn/pool.js';

/** Which first layers a ResNet has: ImageNet's 7x7/2 conv + max pool, or a 3x3/1 conv for 28-32 px images. */
export type ResNetStem = 'imagenet' | 'small';

/** A bias-free conv with torchvision's ResNet init: kaiming_normal(mode fan_out, relu). */
function resnetConv(inC: number, outC: number, k: number, stride: number, padding: number, generator?: Generator): Conv2d {
  const conv = new Conv2d(inC, outC, k, { stride, padding, bias: false, generator });
  const w = kaimingNormal(conv.weight.shape, { mode: 'fan_out', nonlinearity: 'relu', generator });
  copyInto(conv.weight, w);
  w.dispose();
  return conv;
}

/** Options shared by {@link BasicBlock} and {@link Bottleneck}. */
export interface BlockOptions {
  /** Stride of the block's spatial conv (and of its downsample shortcut); default 1. */
  stride?: number;
  /**
   * A 1x1 conv + BN shortcut (`downsample.0`, `downsample.1`). Default: when the stride is not 1
   * or the channel count changes, as torchvision's `_make_layer`; `true` without a reason is allowed.
   */
  downsample?: boolean;
  /** Zero the last BN's weight, so the residual branch outputs zero at init (default false). */
  zeroInitResidual?: boolean;
  /** eps and momentum of the block's BatchNorm2d layers (default PyTorch's 1e-5 and 0.1). */
  batchNorm?: ResNetBatchNormOptions;
  /** The random stream for the conv weights (default: the global generator). */
  generator?: Generator;
}

/** The BatchNorm2d settings a ResNet may change (affine and running statistics always on, as torchvision). */
export interface ResNetBatchNormOptions {
  eps?: number;
  momentum?: number | null;
}

/** The 1x1 conv + BN projection shortcut torchvision builds (keys `downsample.0.*`, `downsample.1.*`). */
function downsampleFor(inC: number, outC: number, stride: number, bn: ResNetBatchNormOptions, generator?: Generator): Sequential {
  return new Sequential(resnetConv(inC, outC, 1, stride, 0, generator), new BatchNorm2d(outC, bn));
}

/** Common to both block kinds: out = relu(branch(x) + shortcut(x)). */
abstract class ResidualBlock extends Module {
  /** Output channels over `planes` (1 for BasicBlock, 4 for Bottleneck). */
  static readonly expansion: number = 1;
  abstract readonly downsample: Sequential | null;
  abstract readonly inChannels: number;
  abstract readonly outChannels: number;

  /** The residual branch alone (before the addition and the final ReLU). */
  abstract branch(x: Tensor): Tensor;

  /** The shortcut: x itself, or the downsample projection. */
  shortcut(x: Tensor): Tensor {
    return this.downsample ? this.downsample.forward(x) : x;
  }

  /** x: [N, inChannels, H, W] -> [N, outChannels, H / stride, W / stride]. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`${this.constructor.name}(${this.inChannels} -> ${this.outChannels}): input ${fmt(x.shape)} must be [N, ${this.inChannels}, H, W]`);
    }
    return relu(add(this.branch(x), this.shortcut(x)));
  }
}

/** torchvision's BasicBlock: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. */
export class BasicBlock extends ResidualBlock {
  static override readonly expansion = 1;
  // Field order is torchvision's registration order (state_dict order).
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly outChannels: number;

  constructor(readonly inChannels: number, readonly planes: number, { stride = 1, downsample, zeroInitResidual = false, batchNorm: bn = {}, generator }: BlockOptions = {}) {
    super();
    this.outChannels = planes;
    this.conv1 = resnetConv(inChannels, planes, 3, stride, 1, generator);
    this.bn1 = new BatchNorm2d(planes, bn);
    this.conv2 = resnetConv(planes, planes, 3, 1, 1, generator);
    this.bn2 = new BatchNorm2d(planes, bn);
    if (zeroInitResidual) fillInto(this.bn2.weight!, 0);
    this.downsample = (downsample ?? (stride !== 1 || inChannels !== planes)) ? downsampleFor(inChannels, planes, stride, bn, generator) : null;
  }

  /** bn2(conv2(relu(bn1(conv1(x))))). */
  branch(x: Tensor): Tensor {
    return this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
  }
}

/**
 * torchvision's Bottleneck (v1.5): conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1(4 * planes)-BN,
 * plus the shortcut, then ReLU.
 */
export class Bottleneck extends ResidualBlock {
  static override readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly outChannels: number;

  constructor(readonly inChannels: number, readonly planes: number, { stride = 1, downsample, zeroInitResidual = false, batchNorm: bn = {}, generator }: BlockOptions = {}) {
    super();
    const out = planes * Bottleneck.expansion;
    this.outChannels = out;
    this.conv1 = resnetConv(inChannels, planes, 1, 1, 0, generator);
    this.bn1 = new BatchNorm2d(planes, bn);
    this.conv2 = resnetConv(planes, planes, 3, stride, 1, generator);
    this.bn2 = new BatchNorm2d(planes, bn);
    this.conv3 = resnetConv(planes, out, 1, 1, 0, generator);
    this.bn3 = new BatchNorm2d(out, bn);
    if (zeroInitResidual) fillInto(this.bn3.weight!, 0);
    this.downsample = (downsample ?? (stride !== 1 || inChannels !== out)) ? downsampleFor(inChannels, out, stride, bn, generator) : null;
  }

  /** bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))). */
  branch(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    return this.bn3.forward(this.conv3.forward(relu(this.bn2.forward(this.conv2.forward(h)))));
  }
}

/** A residual block of either kind. */
export type ResNetBlock = BasicBlock | Bottleneck;

/** Options of {@link ResNet}. */
export interface ResNetOptions {
  /** Blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18; stage i has baseWidth * 2^i planes. */
  layers: readonly number[];
  /** 'basic' (BasicBlock, ResNet-18/34) or 'bottleneck' (ResNet-50 and deeper). Default 'basic'. */
  block?: 'basic' | 'bottleneck';
  /** Input image channels (default 3). */
  inChannels?: number;
  /** Planes of the stem and the first stage (default 64, torchvision's). */
  baseWidth?: number;
  /** 'imagenet' (7x7/2 + max pool, default) or 'small' (3x3/1, no max pool). */
  stem?: ResNetStem;
  /** Classes of the final Linear `fc` (default 1000); null or 0 make `fc` an Identity. */
  numClasses?: number | null;
  /** Zero each block's last BN weight (torchvision's zero_init_residual; default false). */
  zeroInitResidual?: boolean;
  /** eps and momentum of every BatchNorm2d (default PyTorch's 1e-5 and 0.1). */
  batchNorm?: ResNetBatchNormOptions;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * A ResNet with torchvision's state_dict names. `forward(x)` = `fc(features(x))`; with `fc` an
 * Identity (numClasses null / 0, or assign `model.fc = new Identity()`), the pooled feature.
 */
export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d | Identity;
  /** The stages (state_dict names `layer1`, `layer2`, ...). */
  readonly stages: Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  /** The classifier; replace it with an Identity to get the pooled feature from forward(). */
  fc: Layer;
  /** Channels of the pooled feature (512 for ResNet-18/34 at width 64, 2048 for ResNet-50). */
  readonly featureDim: number;
  readonly inChannels: number;
  readonly stem: ResNetStem;

  constructor({
    layers, block = 'basic', inChannels = 3, baseWidth = 64, stem = 'imagenet', numClasses = 1000, zeroInitResidual = false, batchNorm = {}, generator,
  }: ResNetOptions) {
    super();
    if (!layers.length || !layers.every((n) => Number.isInteger(n) && n >= 1)) {
      throw new Error(`ResNet: layers must be a non-empty list of positive block counts, got [${layers.join(', ')}]`);
    }
    for (const [what, n] of [['inChannels', inChannels], ['baseWidth', baseWidth]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`ResNet: ${what} must be a positive integer, got ${n}`);
    }
    if (stem !== 'imagenet' && stem !== 'small') throw new Error(`ResNet: stem must be 'imagenet' or 'small', got '${String(stem)}'`);
    if (block !== 'basic' && block !== 'bottleneck') throw new Error(`ResNet: block must be 'basic' or 'bottleneck', got '${String(block)}'`);
    if (numClasses !== null && !(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`ResNet: numClasses must be a non-negative integer or null, got ${numClasses}`);
    }
    this.inChannels = inChannels;
    this.stem = stem;
    this.conv1 = stem === 'imagenet'
      ? resnetConv(inChannels, baseWidth, 7, 2, 3, generator)
      : resnetConv(inChannels, baseWidth, 3, 1, 1, generator);
    this.bn1 = new BatchNorm2d(baseWidth, batchNorm);
    this.maxpool = stem === 'imagenet' ? new MaxPool2d(3, { stride: 2, padding: 1 }) : new Identity();
    const Block = block === 'basic' ? BasicBlock : Bottleneck;
    let inC = baseWidth;
    this.stages = layers.map((n, i) => {
      const planes = baseWidth * 2 ** i;
      const blocks: ResNetBlock[] = [];
      for (let b = 0; b < n; b++) {
        const blk = new Block(inC, planes, { stride: b === 0 && i > 0 ? 2 : 1, zeroInitResidual, batchNorm, generator });
        inC = blk.outChannels;
        blocks.push(blk);
      }
      return new Sequential(...blocks);
    });
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.featureDim = inC;
    this.fc = numClasses ? new Linear(inC, numClasses, { generator }) : new Identity();
  }

  // torchvision's names and order: conv1, bn1, (relu, maxpool: no state), layer1..layerN, (avgpool), fc.
  protected override members(): [string, unknown][] {
    return [
      ['conv1', this.conv1], ['bn1', this.bn1], ['maxpool', this.maxpool],
      ...this.stages.map((s, i): [string, unknown] => [`layer${i + 1}`, s]),
      ['avgpool', this.avgpool], ['fc', this.fc],
    ];
  }

  /** Every residual block, stage by stage (for zero-init checks, per-block hooks, ...). */
  blocks(): ResNetBlock[] {
    return this.stages.flatMap((s) => s.layers as ResNetBlock[]);
  }

  /** The feature map after the last stage: x [N, inChannels, H, W] -> [N, featureDim, h, w]. */
  featureMap(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`ResNet: input ${fmt(x.shape)} must be [N, ${this.inChannels}, H, W]`);
    }
    let h = this.maxpool.forward(relu(this.bn1.forward(this.conv1.forward(x))));
    for (const s of this.stages) h = s.forward(h);
    return h;
  }

  /** The globally average-pooled feature: x [N, inChannels, H, W] -> [N, featureDim]. */
  features(x: Tensor): Tensor {
    return flatten(this.avgpool.forward(this.featureMap(x)), 1);
  }

  /** fc(features(x)): [N, numClasses] logits, or [N, featureDim] when fc is an Identity. */
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.features(x));
  }
}

/** Options of the presets: everything but the block kind and counts. */
export type ResNetPresetOptions = Omit<ResNetOptions, 'layers' | 'block'>;

/** ResNet-18 (BasicBlock, [2, 2, 2, 2]); 11,689,512 parameters with the defaults. */
export function resnet18(opts: ResNetPresetOptions = {}): ResNet {
  return new ResNet({ ...opts, layers: [2, 2, 2, 2], block: 'basic' });
}

/** ResNet-34 (BasicBlock, [3, 4, 6, 3]); 21,797,672 parameters with the defaults. */
export function resnet34(opts: ResNetPresetOptions = {}): ResNet {
  return new ResNet({ ...opts, layers: [3, 4, 6, 3], block: 'basic' });
}

/** ResNet-50 (Bottleneck, [3, 4, 6, 3]); 25,557,032 parameters with the defaults. */
export function resnet50(opts: ResNetPresetOptions = {}): ResNet {
  return new ResNet({ ...opts, layers: [3, 4, 6, 3], block: 'bottleneck' });
}

/**
 * ResNet-tiny: the small-image stem, base width 16 and one BasicBlock in each of three stages
 * (16/32/64 channels), no classifier (a 64-d pooled feature) unless `numClasses` is given. The
 * default backbone for Fashion-MNIST.
 */
export function resnetTiny(opts: ResNetPresetOptions = {}): ResNet {
  return new ResNet({ stem: 'small', baseWidth: 16, numClasses: null, ...opts, layers: [1, 1, 1], block: 'basic' });
}

/** The preset names {@link createResNet} knows. */
export const RESNET_PRESETS = ['resnet18', 'resnet34', 'resnet50', 'resnet-tiny'] as const;
/** One of {@link RESNET_PRESETS}. */
export type ResNetPreset = (typeof RESNET_PRESETS)[number];

/** A preset by name ('resnet18', 'resnet34', 'resnet50', 'resnet-tiny'), e.g. from a CLI flag. */
export function createResNet(name: ResNetPreset | string, opts: ResNetPresetOptions = {}): ResNet {
  switch (name) {
    case 'resnet18': return resnet18(opts);
    case 'resnet34': return resnet34(opts);
    case 'resnet50': return resnet50(opts);
    case 'resnet-tiny': return resnetTiny(opts);
    default: throw new Error(`createResNet: unknown preset '${name}' (${RESNET_PRESETS.join(', ')})`);
  }
}
