/**
 * backward(): reverse-mode differentiation over the recorded nodes. Nodes reachable from the loss
 * are visited in reverse eager order (their sequence numbers are a topological order, so no
 * recursion is needed on deep networks). Broadcasting is undone once, generically, here; every
 * gradient's shape is checked against its input's; saved tensors are freed as soon as a node's
 * backward has run; leaves that require grad accumulate into `.grad`.
 */
import { fmt, sameShape } from '../src/shape.js';
import { Tensor } from '../src/tensor.js';
import { keep, scope } from '../src/scope.js';
import { runtime } from '../src/runtime.js';
import { binary } from '../src/kernels/elementwise.js';
import { full } from '../src/creation.js';
import { reshape } from '../src/views.js';
import { sum } from '../src/kernels/reduce.js';

const add = (a: Tensor, b: Tensor | number): Tensor => binary('add', a, b);
import { noGrad } from './grad_mode.js';
import type { GradNode } from './op.js';

/** Sums `g` over the dims that broadcasting added or expanded, to `shape`. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, axes, false);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

/** Options of {@link backward}. */
export interface BackwardOptions {
  /** Keep saved tensors so backward can run through the graph again (default false). */
  retainGraph?: boolean;
}

/**
 * Computes gradients of `loss` w.r.t. every leaf that requires grad, accumulating into `.grad`.
 * `grad` is the upstream gradient (required unless `loss` has one element; then it is 1).
 */
export function backward(loss: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!loss.requiresGrad) throw new Error(`backward: the tensor ${fmt(loss.shape)} does not require grad (no recorded op leads to it)`);
  if (!grad && loss.size !== 1) throw new Error(`backward: loss has shape ${fmt(loss.shape)}; pass the upstream gradient for a non-scalar output`);
  if (grad && !sameShape(grad.shape, loss.shape)) {
    throw new Error(`backward: upstream gradient ${fmt(grad.shape)} does not match output ${fmt(loss.shape)}`);
  }
  // Submit the recorded forward first: the GPU runs it while the backward is being recorded.
  runtime().flush();
  noGrad(() => run(loss, grad, !!opts.retainGraph));
}

function collect(root: GradNode): GradNode[] {
  const seen = new Set<GradNode>([root]);
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (const a of n.args) {
      const m = a instanceof Tensor ? (a.node as GradNode | null) : null;
      if (m && !seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
    }
  }
  return [...seen].sort((x, y) => y.seq - x.seq);
}

function run(loss: Tensor, upstream: Tensor | undefined, retain: boolean): void {
  const grads = new Map<Tensor, Tensor>();
  const owned = new Set<Tensor>(); // gradients created here (disposed when consumed)
  const start = upstream ?? full(loss.shape, 1);
  if (!upstream) owned.add(start);
  const accumulate = (t: Tensor, g: Tensor, gOwned: boolean) => {
    const prev = grads.get(t);
    if (!prev) {
      grads.set(t, g);
      if (gOwned) owned.add(g);
      return;
    }
    const s = add(prev, g);
    if (owned.has(prev)) prev.dispose();
    if (gOwned) g.dispose();
    grads.set(t, s);
    owned.add(s);
  };
  if (!loss.node) {
    // A leaf that requires grad: d loss / d loss.
    accumulate(loss, start, owned.has(start));
  } else {
    grads.set(loss, start);
    for (const node of collect(loss.node as GradNode)) {
      if (node.done) throw new Error(`backward: '${node.name}' was already differentiated; pass { retainGraph: true } to run backward twice`);
      const g = grads.get(node.output);
      if (!g) continue;
      grads.delete(node.output);
      // A rule's temporaries are freed by the scope; the gradients it returns survive.
      const rs = scope(() => node.backward(node.ctx, g));
      let gHeld = false;
      node.args.forEach((a, i) => {
        const r = rs[i];
        if (!r) return;
        if (!(a instanceof Tensor) || !a.requiresGrad) {
          if (r !== g) r.dispose();
          return;
        }
        const u = unbroadcast(r, a.shape);
        if (u !== r && r !== g) r.dispose();
        if (!sameShape(u.shape, a.shape)) {
          throw new Error(`backward: '${node.name}' gave a gradient ${fmt(u.shape)} for argument ${i} of shape ${fmt(a.shape)}`);
        }
        // A pass-through rule hands on g itself: later arguments may still need it, so g's
        // ownership stays with the `owned` set and is settled after the loop; a second argument
        // that receives g itself gets its own copy (two entries must never share one tensor).
        if (u !== g) accumulate(a, u, true);
        else if (!gHeld) {
          gHeld = true;
          accumulate(a, g, false);
        } else accumulate(a, add(g, 0), true);
      });
      if (owned.has(g) && ![...grads.values()].includes(g)) g.dispose();
      if (!retain) {
        for (const t of node.ctx.saved) t.dispose();
        node.ctx.saved = [];
        node.done = true;
      }
    }
  }
  // What is left in the map belongs to leaves (or to tensors whose grad nobody needs).
  for (const [t, g] of grads) {
    if (t.node || !t.requiresGrad) {
      if (owned.has(g)) g.dispose();
      continue;
    }
    // A leaf's .grad is a standalone contiguous tensor, even when a rule handed on a view of g
    // (permute, slice, expand): optimizers read it as a flat buffer.
    const standalone = g.isContiguous && g.offset === 0 && g.storage.length === g.size && g.storage.refs === 1;
    const own = owned.has(g) && standalone ? g : add(g, 0);
    if (own !== g && owned.has(g)) g.dispose();
    if (t.grad) {
      const s = add(t.grad, own);
      t.grad.dispose();
      own.dispose();
      t.grad = keep(s);
    } else {
      t.grad = keep(own);
    }
  }
}

/** A view of `x` that shares its storage but is cut from the graph. */
export function detach(x: Tensor): Tensor {
  return x.view(x.shape, x.strides, x.offset);
}
