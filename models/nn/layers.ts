/**
 * Basic layers: Linear, Sequential, MLP, Dropout, Identity and activation modules. Parameters are
 * PyTorch-shaped and PyTorch-initialised (nn.Linear: weight [out, in] ~ U(±1/√in) from
 * kaiming_uniform(a=√5), bias ~ U(±1/√in)), drawn from `opts.generator` or the global generator.
 */
// The autograd barrel, not src/index.ts: the public entry re-exports models/, so importing it here would be a cycle.
import { gelu, matmul, mul, relu, sigmoid, tanh } from '../../autograd/index.js';
import { binary } from '../../src/kernels/elementwise.js';
import { dropoutMask, rand, type Generator } from '../../src/random.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { kaimingUniform, zeros } from './init.js';
import { Module, param } from './module.js';

/** A module mapping one tensor to one tensor: what Sequential chains. */
export type Layer = Module & { forward(x: Tensor): Tensor };

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** The random stream for the initial weights (default: the global generator). */
  generator?: Generator;
}

/** y = x Wᵀ + b over the last dim: [..., in] -> [..., out] (nn.Linear; weight [out, in]). */
export class Linear extends Module {
  readonly weight: Tensor; // [out, in]
  readonly bias: Tensor | null; // [out]

  constructor(readonly inFeatures: number, readonly outFeatures: number, { bias = true, generator }: LinearOptions = {}) {
    super();
    for (const [what, n] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new Error(`Linear: ${what} must be a non-negative integer, got ${n}`);
    }
    this.weight = param(kaimingUniform([outFeatures, inFeatures], { a: Math.sqrt(5), generator }));
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias = !bias ? null : param(bound > 0 ? rand([outFeatures], { low: -bound, high: bound, generator }) : zeros([outFeatures]));
  }

  /** x: [..., in] -> [..., out]; the weight is read transposed by the kernel, never copied. */
  forward(x: Tensor): Tensor {
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(`Linear(${this.inFeatures}, ${this.outFeatures}): input ${fmt(x.shape)} must end in ${this.inFeatures} features`);
    }
    return matmul(x, this.weight, { transB: true, bias: this.bias ?? undefined });
  }
}

/** Chains layers: forward(x) = layers[n-1](...layers[0](x)). State dict names are `0.weight`, `1.bias`, ... */
export class Sequential extends Module {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  // The layers are named by index with no field prefix, as nn.Sequential names them. A subclass
  // that adds parameters of its own must add them here too.
  protected override members(): [string, unknown][] {
    return this.layers.map((m, i) => [String(i), m]);
  }

  /** Number of layers. */
  get length(): number {
    return this.layers.length;
  }

  /** The layer at index i (negative counts from the end). */
  at(i: number): Layer {
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return m;
  }

  /** Applies each layer in turn. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h);
    return h;
  }
}

/** Returns its input unchanged (nn.Identity: a placeholder, e.g. a removed classifier). */
export class Identity extends Module {
  /** x -> x (the same tensor). */
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** max(x, 0) as a module. */
export class ReLU extends Module {
  /** Elementwise ReLU. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** GELU as a module: exact (erf) by default, or `approximate: 'tanh'`. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  /** Elementwise GELU. */
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}

/** tanh as a module. */
export class Tanh extends Module {
  /** Elementwise tanh. */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** Logistic sigmoid as a module. */
export class Sigmoid extends Module {
  /** Elementwise sigmoid. */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Options of {@link Dropout}. */
export interface DropoutOptions {
  /** The random stream for the masks (default: the global generator). */
  generator?: Generator;
}

/**
 * Inverted dropout (nn.Dropout): in training, each element is zeroed with probability p and the
 * survivors are scaled by 1 / (1 - p); in eval mode it is the identity.
 */
export class Dropout extends Module {
  readonly #generator: Generator | undefined;

  constructor(readonly p = 0.5, { generator }: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.#generator = generator;
  }

  /** Drops and rescales in training mode; returns `x` itself in eval mode or when p = 0. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (this.p === 1) return mul(x, 0);
    const keepMask = dropoutMask(x.shape, this.p, { generator: this.#generator });
    const scale = binary('mul', keepMask, 1 / (1 - this.p)); // the mask needs no gradient
    keepMask.dispose();
    const y = mul(x, scale);
    scale.dispose(); // mul saved its own view for backward
    return y;
  }
}

/** Activations {@link MLP} can put between its Linear layers. */
export type MLPActivation = 'relu' | 'gelu' | 'gelu_tanh' | 'tanh' | 'sigmoid';

/** Options of {@link MLP}. */
export interface MLPOptions {
  /** Activation after every Linear except the last (default 'relu'). */
  activation?: MLPActivation;
  /** Biases in every Linear (default true). */
  bias?: boolean;
  /** Dropout probability after each hidden activation (default 0: no Dropout layers). */
  dropout?: number;
  /** The random stream for weights and dropout masks (default: the global generator). */
  generator?: Generator;
}

function activationModule(a: MLPActivation): Layer {
  switch (a) {
    case 'relu': return new ReLU();
    case 'gelu': return new GELU();
    case 'gelu_tanh': return new GELU('tanh');
    case 'tanh': return new Tanh();
    case 'sigmoid': return new Sigmoid();
  }
}

/**
 * Multi-layer perceptron: sizes [in, h1, ..., out] give Linear(in, h1), act, [Dropout], ...,
 * Linear(h_k, out), as an nn.Sequential (so a Linear-ReLU-Linear head has keys `0.*` and `2.*`).
 */
export class MLP extends Sequential {
  constructor(sizes: readonly number[], { activation = 'relu', bias = true, dropout = 0, generator }: MLPOptions = {}) {
    if (sizes.length < 2) throw new Error(`MLP: sizes needs at least [in, out], got [${sizes.join(', ')}]`);
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`MLP: dropout must be in [0, 1), got ${dropout}`);
    const layers: Layer[] = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      layers.push(new Linear(sizes[i], sizes[i + 1], { bias, generator }));
      if (i + 2 === sizes.length) break;
      layers.push(activationModule(activation));
      if (dropout > 0) layers.push(new Dropout(dropout, { generator }));
    }
    super(...layers);
  }
}
