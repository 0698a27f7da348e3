/**
 * defineOp: an op's forward and backward side by side. The returned function runs `forward`
 * eagerly; when grad mode is on and a tensor argument requires grad, it records a node on the
 * output (inputs, saved tensors, context) that `backward()` later visits in reverse eager order.
 */
import { Tensor } from '../src/tensor.js';
import { isGradEnabled } from './grad_mode.js';

/** What forward and backward share: saved tensors, plain values, and which inputs need grads. */
export class OpContext {
  /** Tensors saved by forward for backward (views sharing storage; freed after backward). */
  saved: Tensor[] = [];
  /** Non-tensor values forward wants backward to see. */
  data: Record<string, unknown> = {};
  /** needs[i]: argument i is a tensor that requires grad (only meaningful when recording). */
  needs: boolean[] = [];

  /** Saves tensors for backward (as views, so the caller may dispose its own handles). */
  save(...ts: Tensor[]): void {
    for (const t of ts) this.saved.push(t.view(t.shape, t.strides, t.offset));
  }

  /** True when argument `i` needs a gradient. */
  needsGrad(i: number): boolean {
    return this.needs[i] ?? false;
  }
}

/** A gradient per argument (null for numbers, options and arguments that need none). */
export type Grads = readonly (Tensor | null | undefined)[];

/** The spec of an op: its name, forward and backward. */
export interface OpSpec<A extends unknown[]> {
  name: string;
  forward(ctx: OpContext, ...args: A): Tensor;
  /** Gradients of the loss w.r.t. each argument, given the gradient `g` of the output. */
  backward?(ctx: OpContext, g: Tensor): Grads;
}

let nextSeq = 1;

/** A recorded application of an op. */
export interface GradNode {
  readonly seq: number;
  readonly name: string;
  readonly args: readonly unknown[];
  readonly output: Tensor;
  readonly ctx: OpContext;
  readonly backward: (ctx: OpContext, g: Tensor) => Grads;
  /** Set once backward has visited it (its saved tensors are freed). */
  done: boolean;
}

/** Makes an op from its spec; the result is a plain function of the forward's arguments. */
export function defineOp<A extends unknown[]>(spec: OpSpec<A>): (...args: A) => Tensor {
  const op = (...args: A): Tensor => {
    const ctx = new OpContext();
    const record = isGradEnabled() && args.some((a) => a instanceof Tensor && a.requiresGrad);
    if (record) ctx.needs = args.map((a) => a instanceof Tensor && a.requiresGrad);
    const out = spec.forward(ctx, ...args);
    if (!record) {
      for (const t of ctx.saved) t.dispose();
      return out;
    }
    if (!spec.backward) {
      for (const t of ctx.saved) t.dispose();
      throw new Error(`${spec.name}: not differentiable (called on a tensor that requires grad; wrap in noGrad() or detach())`);
    }
    const node: GradNode = { seq: nextSeq++, name: spec.name, args, output: out, ctx, backward: spec.backward, done: false };
    out.requiresGrad = true;
    out.node = node;
    return out;
  };
  Object.defineProperty(op, 'name', { value: spec.name });
  return op;
}
