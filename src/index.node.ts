/**
 * webgrad's Node entry: everything of the browser entry, plus Dawn (the `webgpu` package) as the
 * WebGPU provider when `navigator.gpu` is absent.
 * @packageDocumentation
 */
import { registerGpuProvider } from './device.js';
import { dawnProvider } from './dawn.node.js';

registerGpuProvider(dawnProvider);

export * from './index.js';
export { saveCheckpointFile, loadCheckpointFile } from '../models/checkpoint.node.js';
export { loadFashionMnist, fashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, type FashionMnistOptions } from './data/fashion_mnist.node.js';
export { loadImageFolder } from './data/image_folder.node.js';
export {
  train, evaluateCheckpoint, evaluateRun, findCheckpoint, readRunCheckpoint,
  type TrainOptions, type TrainResult, type StepRecord, type EpochRecord, type RunState, type MonitorPoint,
} from '../models/train/train.node.js';
export { resolveConfig, parseConfigInput, trainConfigSchema, type TrainConfig, type TrainConfigInput } from '../models/train/config.js';
export type { EvaluationReport } from '../models/train/report.js';
