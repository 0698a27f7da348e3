/**
 * webgrad: WebGPU tensors, kernels and (in later modules) autograd and self-supervised methods.
 * This entry is the browser one (no Node imports); `index.node.ts` adds Dawn for Node.
 * @packageDocumentation
 */
export { init, runtime, hasRuntime, flush, sync, destroyRuntime, Runtime, type InitOptions } from './runtime.js';
export { acquireDevice, describeAdapter, isCpuAdapter, NO_ADAPTER_HELP, type AdapterDescription, type Strategy } from './device.js';
export { Tensor } from './tensor.js';
export type { DType } from './dtype.js';
export { scope, keep, setLeakWarnings } from './scope.js';
export { tensor, empty, full, zeros, ones, zerosLike, onesLike, fullLike, arange, type NestedArray, type TensorOptions } from './creation.js';
// The ops (elementwise, reductions, softmax, shape ops, matmul, gather family, losses) come from
// autograd/: they record gradients when an input requires grad, and are plain kernels otherwise.
export * from '../autograd/index.js';
export type { Operand } from './kernels/elementwise.js';
export type { PoolStats } from './buffer_pool.js';
export {
  Generator, defaultGenerator, manualSeed, randomBits, rand, randn, randint, randperm, bernoulli, dropoutMask,
  type GeneratorState, type RandomOptions, type RandOptions, type RandnOptions,
} from './random.js';
export { hostWords, hostWordsAt, hostUniform, hostRandint, randpermHost } from './random_host.js';
export * from '../models/index.js';
export { parseIdx, imageSplit, flattenImages, FASHION_MNIST_MEAN, FASHION_MNIST_STD, type Idx, type ImageSplit } from './data/idx.js';
export {
  ArrayDataset, SubsetDataset, firstN, datasetLabels, imageSize,
  type Dataset, type PixelDType, type PixelArray, type ImageShape, type ArrayDatasetOptions,
} from './data/dataset.js';
export {
  ImageFolderDataset, imageFolderFromFiles, IMG_EXTENSIONS, compareCodePoints, hasImageExtension,
  type ImageFolderOptions, type SkippedImage, type ImageFolderSample, type FolderFile, type ResizePolicy,
} from './data/image_folder.js';
export { DataLoader, type LoaderOptions, type Batch, type BatchTiming } from './data/loader.js';
export { imagesToFloat, uploadPacked, type Normalization } from './kernels/data.js';
export { augmentBatch, type AugmentParams, type AugmentBatchOptions, type Boxes, type JitterParams, type ColorPath } from './kernels/augment.js';
export {
  augment, augmentViews, sampleAugmentParams, simclrPreset, mocoV2Preset, byolPresets, multiCropPresets,
  resizedCropBox, erasingBox, roundHalfEven, blurKernelSize, UNIFORMS_PER_IMAGE, IMAGENET_MEAN, IMAGENET_STD,
  type AugmentPreset, type PresetOptions, type MultiCropOptions,
} from './data/augment.js';
