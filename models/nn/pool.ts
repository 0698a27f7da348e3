/**
 * Pooling and flattening modules over NCHW tensors, as PyTorch's nn.MaxPool2d, nn.AvgPool2d,
 * nn.AdaptiveAvgPool2d and nn.Flatten (no parameters, no state; ceil_mode=False).
 */
// The autograd barrel, not src/index.ts: the public entry re-exports models/, so importing it here would be a cycle.
import { adaptiveAvgPool2d, avgPool2d, flatten, maxPool2d } from '../../autograd/index.js';
import type { AvgPool2dOptions, MaxPool2dOptions, Size2 } from '../../autograd/index.js';
import type { Tensor } from '../../src/tensor.js';
import { Module } from './module.js';

/** Max pooling (nn.MaxPool2d): stride defaults to the kernel size, padding acts as -inf. */
export class MaxPool2d extends Module {
  readonly options: MaxPool2dOptions;

  constructor(readonly kernelSize: Size2, options: MaxPool2dOptions = {}) {
    super();
    this.options = { ...options };
  }

  /** x [N, C, H, W] -> [N, C, OH, OW]. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

/** Average pooling (nn.AvgPool2d): stride defaults to the kernel size, count_include_pad by default. */
export class AvgPool2d extends Module {
  readonly options: AvgPool2dOptions;

  constructor(readonly kernelSize: Size2, options: AvgPool2dOptions = {}) {
    super();
    this.options = { ...options };
  }

  /** x [N, C, H, W] -> [N, C, OH, OW]. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}

/**
 * Adaptive average pooling (nn.AdaptiveAvgPool2d) to a fixed output size; `new
 * AdaptiveAvgPool2d(1)` is the global average pooling before a ResNet's classifier.
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Size2) {
    super();
  }

  /** x [N, C, H, W] -> [N, C, OH, OW]. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Merges dims startDim..endDim into one (nn.Flatten; default [N, C, H, W] -> [N, C*H*W]). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  /** A view where x is contiguous, a copy otherwise. */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
