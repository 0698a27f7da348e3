/**
 * What `train` needs from the model side, by name: backbones for 1 x 28 x 28 images
 * ('resnet-tiny', 'resnet18', 'resnet34', 'resnet50' with the small-image stem, and 'vit-tiny', the
 * Fashion-MNIST ViT of methods.md: patch 4 (49 tokens), width 64, depth 4, 4 heads), the method
 * built by `createMethod` with its recipe's options, the recipe as config defaults, the view
 * presets, and the projector output the collapse figure reads. Browser-safe.
 */
import type { AugmentPreset } from '../../src/data/augment.js';
import type { ImageShape } from '../../src/data/dataset.js';
import type { Generator } from '../../src/random.js';
import type { Tensor } from '../../src/tensor.js';
import { createResNet } from '../backbones/resnet.js';
import { VisionTransformer } from '../backbones/vit.js';
import type { Module } from '../nn/module.js';
import { pooledFeatures, type Backbone } from '../ssl/common.js';
import { METHOD_NAMES, createMethod, isMethodName, methodDefaults, scaledLr, viewPresets as recipePresets, type MethodName } from '../ssl/index.js';
import type { SSLMethod } from '../ssl/method.js';
import type { MethodTrainDefaults, TrainConfig } from './config.js';

/** Backbone names `train` builds. */
export const BACKBONES = ['resnet-tiny', 'resnet18', 'resnet34', 'resnet50', 'vit-tiny'] as const;

/** 'resnet' or 'vit' for a known backbone name; throws a config error otherwise. */
export function backboneKind(name: string): 'resnet' | 'vit' {
  if (!(BACKBONES as readonly string[]).includes(name)) throw new Error(`config: backbone: unknown '${name}' (have ${BACKBONES.join(', ')})`);
  return name.startsWith('vit') ? 'vit' : 'resnet';
}

function methodName(name: string): MethodName {
  if (!isMethodName(name)) throw new Error(`config: method: unknown '${name}' (have ${METHOD_NAMES.join(', ')})`);
  return name;
}

/**
 * Backbone `name` for 1-channel 28 x 28 images with its initial weights from `generator`; its
 * pooled output (64-d for resnet-tiny and vit-tiny) is what evaluation reads.
 */
export function buildBackbone(name: string, generator: Generator): Backbone {
  if (backboneKind(name) === 'vit') {
    return new VisionTransformer({
      imgSize: 28, patchSize: 4, inChans: 1, numClasses: 0, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 4, generator,
    }) as Backbone;
  }
  return createResNet(name, { inChannels: 1, stem: 'small', numClasses: null, generator }) as Backbone;
}

/** The recipe of `method` for `backbone` as config defaults (lr scaled to the run's batch size). */
export function methodTrainDefaults(method: string, backbone: string): MethodTrainDefaults {
  const d = methodDefaults(methodName(method), { backbone: backboneKind(backbone) });
  return {
    optimizer: d.optimizer.kind, weightDecay: d.optimizer.weightDecay, momentum: d.optimizer.momentum,
    warmupEpochs: d.optimizer.warmupEpochs, batchSize: d.batchSize, epochs: d.epochs,
    lrForBatch: (b) => scaledLr(d.optimizer, b),
  };
}

/**
 * The method of config `c` (its recipe's head sizes, temperature, momentum, queue), over backbones
 * from `backbone` (called once for the online network, again for a momentum copy) and heads drawn
 * from `generator`.
 */
export function buildMethod(c: TrainConfig, backbone: () => Backbone, generator: Generator): SSLMethod {
  const name = methodName(c.method);
  const d = methodDefaults(name, { backbone: backboneKind(c.backbone) });
  return createMethod(name, { ...d.options, backbone, generator } as Parameters<typeof createMethod>[1]);
}

/** One augmentation preset per view for `method`'s recipe; checks the count against the method's views and the image shape. */
export function viewPresets(method: string, numViews: number, shape: ImageShape, backbone = 'resnet-tiny'): AugmentPreset[] {
  const d = methodDefaults(methodName(method), { backbone: backboneKind(backbone) });
  const presets = recipePresets(d.augment);
  if (presets.length !== numViews) throw new Error(`train: ${method} takes ${numViews} views but its recipe has ${presets.length} presets`);
  for (const p of presets) {
    if (p.size[0] !== shape[1] || p.size[1] !== shape[2] || (p.normalize && p.normalize.mean.length !== shape[0])) {
      throw new Error(`train: preset '${p.name}' makes ${p.size.join('x')} images with ${p.normalize?.mean.length ?? '?'} channels; the data is [${shape.join(', ')}]`);
    }
  }
  return presets;
}

/** The method's projector output g(f(x)) [N, d] (its `projectionHead` over the pooled feature), or null if it has none. */
export function projectorOutput(method: SSLMethod, x: Tensor): Tensor | null {
  const head = (method as unknown as { projectionHead?: Module & { forward(x: Tensor): Tensor } }).projectionHead;
  if (!head || typeof head.forward !== 'function') return null;
  return head.forward(pooledFeatures(method.backbone as Backbone, x));
}
