/** Autograd: the tape (`backward`), grad mode, `defineOp`, and the differentiable ops. */
export { backward, detach, unbroadcast, type BackwardOptions } from './tape.js';
export { noGrad, enableGrad, isGradEnabled } from './grad_mode.js';
export { defineOp, OpContext, type OpSpec, type Grads, type GradNode } from './op.js';
export * from './ops/elementwise.js';
export { sum, mean, max, min, variance, argmax, argmin, type Axes, type VarianceOptions } from './ops/reduce.js';
export { softmax, logSoftmax, logsumexp } from './ops/softmax.js';
export { batchNorm, type BatchNormOptions } from './ops/batch_norm.js';
export { layerNorm } from './ops/layer_norm.js';
export {
  reshape, flatten, permute, transpose, slice, expand, squeeze, unsqueeze, concat, stack, pad, contiguous, copy,
} from './ops/shape.js';
export { matmul, matmulNT, matmulTN, matmulShape, type Activation, type MatmulOptions, type MatmulStrategy } from './ops/matmul.js';
export { indexSelect, gather, scatterAdd, indexAdd, oneHot } from './ops/gather.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type Size2, type MaxPool2dOptions, type AvgPool2dOptions } from './ops/pool.js';
export { crossEntropy, type CrossEntropyOptions } from './ops/losses.js';
export { normalize, type NormalizeOptions } from './ops/normalize.js';
export {
  infoNCE, ntXent, mocoLoss, enqueue, mocoV3Loss, instDiscLoss, updateMemoryBank, clipLoss, cpcInfoNCE,
  type InfoNCEOptions, type NtXentOptions, type MocoOptions, type InstDiscOptions, type ContrastiveStrategy,
} from './ops/contrastive.js';
export { scaledDotProductAttention, attentionQKV, type AttentionOptions } from './ops/attention.js';
export { conv2d, conv2dShape, type Conv2dOptions, type Conv2dStrategy } from './ops/conv2d.js';
