/** Autograd: the tape (`backward`), grad mode, `defineOp`, and the differentiable ops. */
export { backward, detach, unbroadcast, type BackwardOptions } from './tape.js';
export { noGrad, enableGrad, isGradEnabled } from './grad_mode.js';
export { defineOp, OpContext, type OpSpec, type Grads, type GradNode } from './op.js';
export * from './ops/elementwise.js';
