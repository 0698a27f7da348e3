/**
 * The method registry the CLI drives: {@link createMethod} builds a method by its CLI name,
 * {@link methodDefaults} gives its training recipe for the Fashion-MNIST protocol
 * (`../shared/methods.md`: 1 x 28 x 28 images, resnet-tiny or a tiny ViT, batch 256, SGD with
 * cosine, augmentations for grey 28 px images), and {@link viewPresets} / {@link scaledLr} turn
 * that recipe into augmentation presets and a learning rate.
 */
import {
  byolPresets, mocoV2Preset, simclrPreset, type AugmentPreset, type PresetOptions,
} from '../../src/data/augment.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '../../src/data/idx.js';
import { BYOL, type BYOLOptions } from './byol.js';
import type { SSLMethod } from './method.js';
import { MoCo, type MoCoOptions } from './moco.js';
import { SimCLR, type SimCLROptions } from './simclr.js';
import { SimSiam, type SimSiamOptions } from './simsiam.js';

/** The methods {@link createMethod} knows, as the CLI spells them. */
export const METHOD_NAMES = ['simclr', 'moco-v2', 'byol', 'simsiam'] as const;
/** A name of {@link METHOD_NAMES}. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** Each method's constructor options. */
export interface MethodOptionsMap {
  simclr: SimCLROptions;
  'moco-v2': MoCoOptions;
  byol: BYOLOptions;
  simsiam: SimSiamOptions;
}

/** True when `name` is one of {@link METHOD_NAMES}. */
export const isMethodName = (name: string): name is MethodName => (METHOD_NAMES as readonly string[]).includes(name);

const COMMON = ['backbone', 'featureDim', 'generator'];
const KEYS: Record<MethodName, string[]> = {
  simclr: ['projectionHidden', 'projectionOut', 'projectionLayers', 'temperature'],
  'moco-v2': ['projectionHidden', 'projectionOut', 'queueSize', 'temperature', 'momentum', 'momentumSchedule', 'symmetric'],
  byol: ['projectionHidden', 'projectionOut', 'predictionHidden', 'momentum', 'momentumSchedule'],
  simsiam: ['projectionHidden', 'projectionOut', 'projectionLayers', 'predictionHidden'],
};

/**
 * Builds method `name` from `opts`: `backbone` (a module, or a factory `() => module`; MoCo and
 * BYOL need the factory for their momentum copy), `featureDim` (the backbone's pooled width;
 * inferred from `featureDim` / `embedDim` when absent) and the method's own options (see
 * {@link MethodOptionsMap}). Unknown names and unknown option keys are errors.
 */
export function createMethod<N extends MethodName>(name: N, opts: MethodOptionsMap[N]): SSLMethod {
  if (!isMethodName(name)) throw new Error(`createMethod: unknown method '${String(name)}' (have ${METHOD_NAMES.join(', ')})`);
  const bad = Object.keys(opts ?? {}).filter((k) => !COMMON.includes(k) && !KEYS[name].includes(k));
  if (bad.length) throw new Error(`createMethod('${name}'): unknown option(s) ${bad.join(', ')} (it takes ${[...COMMON, ...KEYS[name]].join(', ')})`);
  switch (name) {
    case 'simclr': return new SimCLR(opts as SimCLROptions);
    case 'moco-v2': return new MoCo(opts as MoCoOptions);
    case 'byol': return new BYOL(opts as BYOLOptions);
    default: return new SimSiam(opts as SimSiamOptions);
  }
}

/** The optimizer part of a recipe. */
export interface OptimizerDefaults {
  kind: 'sgd' | 'lars' | 'adamw';
  /** The lr at `referenceBatch`; see {@link scaledLr}. */
  baseLr: number;
  /** lr = baseLr × (B / referenceBatch) ('linear') or × √(B / referenceBatch) ('sqrt'). */
  lrScaling: 'linear' | 'sqrt';
  referenceBatch: number;
  weightDecay: number;
  /** SGD / LARS momentum (AdamW: β1). */
  momentum: number;
  /** Epochs of linear warmup, possibly fractional (then a cosine decay to 0); SimCLR / BYOL use 10 of 100-1000. */
  warmupEpochs: number;
}

/** The augmentation part of a recipe: a preset of src/data/augment.ts, its options, and the crop scale. */
export interface AugmentDefaults {
  /** 'simclr' (simclrPreset, both views), 'mocov2' (mocoV2Preset, both views) or 'byol' (byolPresets, asymmetric pair). */
  preset: 'simclr' | 'mocov2' | 'byol';
  /** The preset's options (size 28, 1 channel, Fashion-MNIST normalisation; SimCLR: strength, blur). */
  options: PresetOptions & { strength?: number; blur?: boolean };
  /** RandomResizedCrop area range replacing the preset's (0.3-1 for 28 px images, methods.md). */
  scale: [number, number];
}

/** A method's training recipe for the Fashion-MNIST protocol (what the CLI fills its flags with). */
export interface MethodDefaults<N extends MethodName = MethodName> {
  method: N;
  optimizer: OptimizerDefaults;
  batchSize: number;
  epochs: number;
  augment: AugmentDefaults;
  /** Method options (head sizes, temperature, EMA momentum, queue); add `backbone` for createMethod. */
  options: Omit<MethodOptionsMap[N], 'backbone' | 'featureDim' | 'generator'>;
}

const fmnistAug = () => ({ size: 28, channels: 1 as const, normalize: { mean: [FASHION_MNIST_MEAN], std: [FASHION_MNIST_STD] } });

/**
 * The Fashion-MNIST recipe of method `name` for a 'resnet' (resnet-tiny, the default) or 'vit'
 * backbone. ResNet: SGD momentum 0.9, lr 0.06 (SimSiam 0.05) × B/256, weight decay 5e-4, 0.1
 * warmup epochs then cosine (the small-scale CIFAR recipes of the papers and lightly's
 * benchmarks). ViT: AdamW, lr 5e-4 × B/256, weight decay 0.05, 0.2 warmup epochs (DINO / MoCo v3
 * style). Batch 256. Heads are narrowed for the 64-d pooled feature; augmentations keep each
 * paper's preset (hue, saturation and grayscale are identities on 1 channel) with the crop scale
 * 0.3-1 of methods.md. Epochs: 2. On this machine's lavapipe an epoch of the 60,000 images (234
 * steps) takes 21-28 min for resnet-tiny and the evaluation 5-7 min, so the README's results table
 * runs 1 epoch per method (27-33 min; every method +3.8 to +8.5 kNN points over random init).
 * MoCo: queue 4096, m 0.99, symmetric; BYOL: τ_base 0.99.
 */
export function methodDefaults<N extends MethodName>(name: N, { backbone = 'resnet' }: { backbone?: 'resnet' | 'vit' } = {}): MethodDefaults<N> {
  if (!isMethodName(name)) throw new Error(`methodDefaults: unknown method '${String(name)}' (have ${METHOD_NAMES.join(', ')})`);
  if (backbone !== 'resnet' && backbone !== 'vit') throw new Error(`methodDefaults: backbone must be 'resnet' or 'vit', got '${String(backbone)}'`);
  const vit = backbone === 'vit';
  const optimizer: OptimizerDefaults = vit
    ? { kind: 'adamw', baseLr: 5e-4, lrScaling: 'linear', referenceBatch: 256, weightDecay: 0.05, momentum: 0.9, warmupEpochs: 0.2 }
    : { kind: 'sgd', baseLr: 0.06, lrScaling: 'linear', referenceBatch: 256, weightDecay: 5e-4, momentum: 0.9, warmupEpochs: 0.1 };
  const scale: [number, number] = [0.3, 1];
  const table: { [K in MethodName]: { options: MethodDefaults<K>['options']; augment: AugmentDefaults; baseLr?: number } } = {
    simclr: {
      options: { projectionHidden: 256, projectionOut: 128, projectionLayers: 2, temperature: 0.2 },
      augment: { preset: 'simclr', options: { ...fmnistAug(), strength: 0.5, blur: false }, scale },
    },
    'moco-v2': {
      options: { projectionHidden: 256, projectionOut: 128, queueSize: 4096, temperature: 0.2, momentum: 0.99, momentumSchedule: 'constant', symmetric: true },
      augment: { preset: 'mocov2', options: fmnistAug(), scale },
    },
    byol: {
      options: { projectionHidden: 512, projectionOut: 128, predictionHidden: 512, momentum: 0.99, momentumSchedule: 'cosine' },
      augment: { preset: 'byol', options: fmnistAug(), scale },
    },
    simsiam: {
      options: { projectionHidden: 256, projectionOut: 256, projectionLayers: 2, predictionHidden: 64 },
      augment: { preset: 'mocov2', options: fmnistAug(), scale },
      baseLr: 0.05,
    },
  };
  const t = table[name] as (typeof table)[N];
  if (t.baseLr !== undefined && !vit) optimizer.baseLr = t.baseLr;
  return { method: name, optimizer, batchSize: 256, epochs: 2, augment: t.augment, options: t.options };
}

/** The lr of a recipe at batch size `batchSize`: baseLr × (B / referenceBatch), or its square root with 'sqrt' scaling. */
export function scaledLr(o: OptimizerDefaults, batchSize: number): number {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new Error(`scaledLr: batch size must be a positive integer, got ${batchSize}`);
  const r = batchSize / o.referenceBatch;
  return o.baseLr * (o.lrScaling === 'sqrt' ? Math.sqrt(r) : r);
}

/** The augmentation presets of a recipe, one per view (pass them to augmentViews). */
export function viewPresets(a: AugmentDefaults): AugmentPreset[] {
  const views = a.preset === 'byol' ? byolPresets(a.options)
    : a.preset === 'mocov2' ? [mocoV2Preset(a.options), mocoV2Preset(a.options)]
      : a.preset === 'simclr' ? [simclrPreset(a.options), simclrPreset(a.options)]
        : null;
  if (!views) throw new Error(`viewPresets: unknown preset '${String(a.preset)}' (simclr, mocov2, byol)`);
  for (const v of views) v.scale = [a.scale[0], a.scale[1]];
  return views;
}

export { SimCLR, type SimCLROptions } from './simclr.js';
export { MoCo, type MoCoOptions } from './moco.js';
export { BYOL, type BYOLOptions } from './byol.js';
export { SimSiam, type SimSiamOptions } from './simsiam.js';
export type { SSLMethod, StepProgress, StepStats } from './method.js';
export {
  KeyQueue, MomentumUpdater, momentumCopy, stopGradient, symmetricLoss, pooledFeatures, inferFeatureDim,
  type BackboneSource, type BaseMethodOptions, type MomentumOptions,
} from './common.js';
