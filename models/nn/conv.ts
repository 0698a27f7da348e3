/**
 * Convolution layers. Parameters are PyTorch-shaped and PyTorch-initialised (nn.Conv2d: weight
 * [out, in/groups, kh, kw] from kaiming_uniform(a=√5), i.e. U(±1/√fan_in), and bias U(±1/√fan_in)
 * with fan_in = in/groups·kh·kw), drawn from `opts.generator` or the global generator.
 */
// The autograd barrel, not src/index.ts: the public entry re-exports models/, so importing it here would be a cycle.
import { conv2d, type Conv2dStrategy } from '../../autograd/index.js';
import { rand, type Generator } from '../../src/random.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { kaimingUniform, zeros } from './init.js';
import { Module, param } from './module.js';

/** Options of {@link Conv2d} (nn.Conv2d's keyword arguments). */
export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  /** Zeros on both sides of each axis, or 'valid' / 'same' (default 0). */
  padding?: number | [number, number] | 'valid' | 'same';
  dilation?: number | [number, number];
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Kernel family for this layer (default: the adapter's). */
  strategy?: Conv2dStrategy;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/** 2-D convolution over [N, in, H, W] (nn.Conv2d; weight [out, in/groups, kh, kw], bias [out]). */
export class Conv2d extends Module {
  readonly weight: Tensor; // [out, in/groups, kh, kw]
  readonly bias: Tensor | null; // [out]
  readonly kernelSize: [number, number];
  readonly stride: number | [number, number];
  readonly padding: number | [number, number] | 'valid' | 'same';
  readonly dilation: number | [number, number];
  readonly groups: number;
  readonly strategy: Conv2dStrategy | undefined;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, strategy, generator }: Conv2dLayerOptions = {},
  ) {
    super();
    const k: [number, number] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    for (const [what, n] of [['inChannels', inChannels], ['outChannels', outChannels], ['groups', groups], ['kernelSize', k[0]], ['kernelSize', k[1]]] as const) {
      if (!Number.isInteger(n) || n < (what === 'inChannels' || what === 'outChannels' ? 0 : 1)) {
        throw new Error(`Conv2d: ${what} must be a ${what.endsWith('Channels') ? 'non-negative' : 'positive'} integer, got ${n}`);
      }
    }
    if (inChannels % groups !== 0) throw new Error(`Conv2d: ${inChannels} input channels are not divisible by groups=${groups}`);
    if (outChannels % groups !== 0) throw new Error(`Conv2d: ${outChannels} output channels are not divisible by groups=${groups}`);
    this.kernelSize = k;
    this.stride = stride;
    this.padding = padding;
    this.dilation = dilation;
    this.groups = groups;
    this.strategy = strategy;
    const shape = [outChannels, inChannels / groups, k[0], k[1]];
    const fanIn = (inChannels / groups) * k[0] * k[1];
    this.weight = param(fanIn > 0 ? kaimingUniform(shape, { a: Math.sqrt(5), generator }) : zeros(shape));
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    this.bias = !bias ? null : param(bound > 0 ? rand([outChannels], { low: -bound, high: bound, generator }) : zeros([outChannels]));
  }

  /** x: [N, in, H, W] -> [N, out, Ho, Wo]. */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`Conv2d(${this.inChannels}, ${this.outChannels}, kernel ${fmt(this.kernelSize)}): input ${fmt(x.shape)} must be [N, ${this.inChannels}, H, W]`);
    }
    return conv2d(x, this.weight, {
      bias: this.bias, stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups, strategy: this.strategy,
    });
  }
}
