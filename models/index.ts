/** Models: the module system and layers (backbones, heads and SSL methods build on these). */
export {
  Module, param, buffer, isParameter, isBuffer, snakeCase,
  type StateValue, type StateDictInput, type LoadOptions, type LoadResult,
} from './nn/module.js';
export {
  Linear, Sequential, MLP, Dropout, Identity, ReLU, GELU, Tanh, Sigmoid,
  type Layer, type LinearOptions, type DropoutOptions, type MLPOptions, type MLPActivation,
} from './nn/layers.js';
export { BatchNorm1d, BatchNorm2d, LayerNorm, type BatchNormLayerOptions, type LayerNormOptions } from './nn/norm.js';
export {
  calculateGain, fanInOut, kaimingUniform, kaimingNormal, xavierUniform, xavierNormal, truncNormal,
  type Nonlinearity, type FanMode, type InitGeneratorOptions, type KaimingOptions, type XavierOptions, type TruncNormalOptions,
} from './nn/init.js';
export {
  SGD, AdamW, LARS, FlatOptimizer, clipGradNorm, flattenParams,
  type ParamEntry, type ParamGroupSpec, type ParamGroup, type SGDOptions, type AdamWOptions, type LARSOptions, type ExcludeRule,
} from './optim.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten } from './nn/pool.js';
export { emaUpdate } from './ema.js';
export { cosineSchedule, warmupCosine, emaMomentum, weightDecaySchedule, type WarmupCosineOptions } from './schedules.js';
export {
  fitClassifier, evaluateAccuracy, shuffledIndices,
  type Dataset, type Classifier, type StepOptimizer, type FitOptions,
} from './classifier.js';
export { Conv2d, type Conv2dLayerOptions } from './nn/conv.js';
export {
  ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, resnetTiny, createResNet, RESNET_PRESETS,
  type ResNetOptions, type ResNetPresetOptions, type ResNetStem, type ResNetBlock, type ResNetPreset, type BlockOptions, type ResNetBatchNormOptions,
} from './backbones/resnet.js';
export {
  ProjectionHead, PredictionHead, DINOHead, WeightNormLinear, Prototypes, type ProjectionHeadOptions, type DINOHeadOptions,
} from './heads.js';
/** Checkpoints: `checkpoint.save(module)` / `checkpoint.load(module, bytes, { strict })` (safetensors, PyTorch names). */
export * as checkpoint from './checkpoint.js';
export type { SaveOptions, CheckpointLoadOptions } from './checkpoint.js';
export {
  Attention, Mlp, DropPath, TransformerBlock, initLinearTimm,
  type AttentionLayerOptions, type AttentionCallOptions, type MlpOptions, type DropPathOptions, type TransformerBlockOptions,
} from './nn/attention.js';
export {
  VisionTransformer, PatchEmbed, sincosPosEmbed2d, createViT, vitTiny, vitSmall, vitBase, VIT_PRESETS,
  type ViTOptions, type PatchEmbedOptions, type PosEmbedKind, type ViTPreset,
} from './backbones/vit.js';
export { byolLoss, negativeCosine, simsiamLoss } from './ssl/losses.js';
export {
  extractFeatures, reestimateBatchNorm, knnPredict, knnAccuracy, linearProbe, collapseFigure, evaluateBackbone,
  type Backbone, type EvalSource, type SourceOptions, type Features, type BatchNormReestimateOptions, type KnnOptions,
  type LinearProbeOptions, type LinearProbeResult, type EvaluateOptions, type BackboneEvaluation,
} from './eval.js';
export {
  createMethod, methodDefaults, scaledLr, viewPresets, isMethodName, METHOD_NAMES, SimCLR, MoCo, BYOL, SimSiam,
  KeyQueue, MomentumUpdater, momentumCopy, stopGradient, symmetricLoss, pooledFeatures,
  type MethodName, type MethodOptionsMap, type MethodDefaults, type OptimizerDefaults, type AugmentDefaults,
  type SimCLROptions, type MoCoOptions, type BYOLOptions, type SimSiamOptions, type SSLMethod, type StepProgress, type StepStats,
  type BackboneSource, type BaseMethodOptions, type MomentumOptions,
} from './ssl/index.js';
