/**
 * Launchers of the memory-bank and queue kernels around the contrastive losses
 * (shaders/memory_bank.wgsl): InstDisc's memory-bank logits (rows gathered inside the kernel, the
 * [N, K + 1, d] block is never formed) and their gradient, InstDisc's in-place momentum update of
 * the bank rows, and MoCo's in-place FIFO enqueue of keys into the [C, K] queue.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';
import { flatAux } from './elementwise.js';

const WG = 64;

/** The slots of memory_bank.wgsl for scalar (f32) rows; the update and enqueue entries use these. */
const SCALAR_SLOTS = { V: 'f32', DOT: 'a * b' };

/** The rows of a memory bank gathered per sample: index [N] (positives) and negatives [N, K]. */
function bankGeometry(op: string, v: Tensor, memory: Tensor, index: Tensor, neg: Tensor) {
  const shapes = `v ${v.dtype} ${fmt(v.shape)}, memory ${memory.dtype} ${fmt(memory.shape)}, index ${index.dtype} ${fmt(index.shape)}, negatives ${neg.dtype} ${fmt(neg.shape)}`;
  if (v.dtype !== 'f32' || v.rank !== 2 || memory.dtype !== 'f32' || memory.rank !== 2 || memory.shape[1] !== v.shape[1]
    || index.dtype !== 'i32' || index.rank !== 1 || index.shape[0] !== v.shape[0]
    || neg.dtype !== 'i32' || neg.rank !== 2 || neg.shape[0] !== v.shape[0]) {
    throw new Error(`${op}: expects v f32 [N, d], memory f32 [n, d], index i32 [N], negatives i32 [N, K], got ${shapes}`);
  }
  if (memory.shape[0] === 0) throw new Error(`${op}: the memory bank is empty (${shapes})`);
  const [N, d] = v.shape;
  const ch = d % 4 === 0 ? 4 : 1;
  return { N, d, K1: neg.shape[1] + 1, n: memory.shape[0], ch };
}

const bankSlots = (ch: number) => (ch === 4 ? { V: 'vec4<f32>', DOT: 'dot(a, b)' } : SCALAR_SLOTS);

/** Contiguous, offset-0 copies where needed (the kernels index from 0); returns the tensors and a disposer. */
function flatAll(ts: Tensor[]): { ts: Tensor[]; free: () => void } {
  const f = ts.map(flatAux);
  return { ts: f.map((x) => x.t), free: () => f.forEach((x) => x.temp && x.t.dispose()) };
}

/**
 * Memory-bank logits: out[i, j] = v_i . memory[r(i, j)] with r(i, 0) = index[i] and
 * r(i, j) = negatives[i, j - 1]; [N, K + 1]. The rows are gathered inside the kernel.
 */
export function bankLogits(v: Tensor, memory: Tensor, index: Tensor, negatives: Tensor): Tensor {
  const g = bankGeometry('bankLogits', v, memory, index, negatives);
  const out = Tensor.empty([g.N, g.K1], 'f32');
  if (g.N === 0) return out;
  const f = flatAll([v, memory, index, negatives]);
  dispatch({
    op: 'bankLogits',
    shader: 'memory_bank',
    entry: 'gdot_fwd',
    slots: bankSlots(g.ch),
    overrides: { WG },
    inputs: f.ts,
    outputs: [out],
    params: new Params().u32(g.N, g.K1, g.d / g.ch, g.n),
    workgroups: Math.ceil((g.N * g.K1) / WG),
  });
  f.free();
  return out;
}

/** The gradient of {@link bankLogits} w.r.t. v: dv_i = sum_j dlogits[i, j] memory[r(i, j)]. */
export function bankLogitsBackward(dlogits: Tensor, v: Tensor, memory: Tensor, index: Tensor, negatives: Tensor): Tensor {
  const g = bankGeometry('bankLogits', v, memory, index, negatives);
  const dv = Tensor.empty([g.N, g.d], 'f32');
  if (g.N === 0) return dv;
  const f = flatAll([dlogits, memory, index, negatives]);
  dispatch({
    op: 'bankLogits.backward',
    shader: 'memory_bank',
    entry: 'gdot_bwd',
    slots: bankSlots(g.ch),
    overrides: { WG },
    inputs: f.ts,
    outputs: [dv],
    params: new Params().u32(g.N, g.K1, g.d / g.ch, g.n),
    workgroups: Math.ceil((g.N * g.d / g.ch) / WG),
  });
  f.free();
  return dv;
}

/**
 * In place: memory[index[i]] <- normalize(momentum * memory[index[i]] + (1 - momentum) * v[i]).
 * `memory` must be contiguous; indices must be in range and distinct (repeated rows race).
 */
export function launchBankUpdate(memory: Tensor, index: Tensor, v: Tensor, momentum: number): void {
  const op = 'updateMemoryBank';
  const shapes = `memory ${memory.dtype} ${fmt(memory.shape)}, index ${index.dtype} ${fmt(index.shape)}, v ${v.dtype} ${fmt(v.shape)}`;
  if (memory.dtype !== 'f32' || memory.rank !== 2 || index.dtype !== 'i32' || index.rank !== 1
    || v.dtype !== 'f32' || v.rank !== 2 || v.shape[0] !== index.shape[0] || v.shape[1] !== memory.shape[1]) {
    throw new Error(`${op}: expects memory f32 [n, d], index i32 [N], v f32 [N, d], got ${shapes}`);
  }
  if (!memory.isContiguous || memory.offset !== 0) throw new Error(`${op}: memory must be a contiguous tensor (it is updated in place), got a view of ${fmt(memory.shape)}`);
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`${op}: momentum must be in [0, 1], got ${momentum}`);
  const N = v.shape[0];
  if (N === 0) return;
  const f = flatAll([v, index]);
  dispatch({
    op,
    shader: 'memory_bank',
    entry: 'bank_update',
    slots: SCALAR_SLOTS,
    overrides: { WG },
    inputs: f.ts,
    outputs: [memory],
    params: new Params().u32(N, memory.shape[1], memory.shape[0]).f32(momentum),
    workgroups: Math.ceil(N / WG),
  });
  f.free();
}

/** In place: queue[:, (ptr + n) mod K] = k[n] for the rows of k [N, C] (queue [C, K]). */
export function launchEnqueue(queue: Tensor, k: Tensor, ptr: number): void {
  const op = 'enqueue';
  const shapes = `queue ${queue.dtype} ${fmt(queue.shape)}, keys ${k.dtype} ${fmt(k.shape)}`;
  if (queue.dtype !== 'f32' || queue.rank !== 2 || k.dtype !== 'f32' || k.rank !== 2 || k.shape[1] !== queue.shape[0]) {
    throw new Error(`${op}: expects queue f32 [C, K] and keys f32 [N, C], got ${shapes}`);
  }
  if (!queue.isContiguous || queue.offset !== 0) throw new Error(`${op}: queue must be a contiguous tensor (it is updated in place), got a view of ${fmt(queue.shape)}`);
  const [C, K] = queue.shape;
  const N = k.shape[0];
  if (N > K) throw new Error(`${op}: ${N} keys do not fit in a queue of ${K} (${shapes})`);
  if (!Number.isInteger(ptr) || ptr < 0 || ptr >= K) throw new Error(`${op}: ptr must be an integer in [0, ${K}), got ${ptr}`);
  if (N === 0) return;
  const f = flatAll([k]);
  dispatch({
    op,
    shader: 'memory_bank',
    entry: 'enqueue',
    slots: SCALAR_SLOTS,
    overrides: { WG },
    inputs: f.ts,
    outputs: [queue],
    params: new Params().u32(N, C, K, ptr),
    workgroups: Math.ceil((N * C) / WG),
  });
  f.free();
}
