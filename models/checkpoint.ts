/**
 * Checkpoints: a module's parameters and buffers as one safetensors file under their PyTorch
 * state_dict names (`layer1.0.bn1.running_mean`), so files move between webgrad and PyTorch
 * (torchvision / timm) unchanged. Works on bytes (`Uint8Array` / `ArrayBuffer`) in Node and in
 * browsers; `checkpoint.node.ts` adds files. Integer buffers (`num_batches_tracked`) are written
 * as I64, as PyTorch stores them; I32 and I64 both load.
 */
import { readSafetensors, writeSafetensors, type SafeFile, type SafeTensor } from '../src/safetensors.js';
import { fmt, sameShape } from '../src/shape.js';
import type { Module, LoadResult } from './nn/module.js';

/** Options of {@link save}. */
export interface SaveOptions {
  /** String metadata stored in the header's `__metadata__` (`format: 'pt'` is added, as safetensors' torch writer does). */
  metadata?: Record<string, string>;
}

/** Options of {@link load}. */
export interface CheckpointLoadOptions {
  /** Missing and unexpected keys are errors (default true); shape and dtype mismatches always are. */
  strict?: boolean;
}

/**
 * Serialises `module.stateDict()` (parameters and buffers, PyTorch names and order) as a
 * safetensors file: f32 tensors as F32, i32 ones as I64. Reads every tensor back from the GPU
 * (flushing the pending work), hence async.
 */
export async function save(module: Module, { metadata = {} }: SaveOptions = {}): Promise<Uint8Array> {
  const entries = await Promise.all([...module.stateDict()].map(async ([k, t]): Promise<[string, SafeTensor]> => {
    if (t.dtype === 'f32') return [k, { dtype: 'F32', shape: [...t.shape], data: (await t.data()) as Float32Array }];
    if (t.dtype === 'i32') return [k, { dtype: 'I64', shape: [...t.shape], data: BigInt64Array.from(await t.data() as Int32Array, (v) => BigInt(v)) }];
    throw new Error(`checkpoint.save(${module.constructor.name}): '${k}' ${fmt(t.shape)} is ${t.dtype}; checkpoints hold f32 and i32 tensors`);
  }));
  return writeSafetensors(entries, { format: 'pt', ...metadata });
}

/**
 * Loads a safetensors checkpoint into `module` in place (optimizers keep their references). Every
 * key is checked before anything is written, and one error lists every missing, unexpected,
 * mis-shaped and wrongly typed (float vs integer) key. With `strict: false`, missing and
 * unexpected keys are allowed and returned.
 */
export function load(module: Module, bytes: Uint8Array | ArrayBuffer, { strict = true }: CheckpointLoadOptions = {}): LoadResult {
  const { tensors } = readSafetensors(bytes);
  const own = module.stateDict();
  const missing = [...own.keys()].filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !own.has(k));
  const shapes: string[] = [];
  const dtypes: string[] = [];
  for (const [k, t] of own) {
    const v = tensors.get(k);
    if (!v) continue;
    if (!sameShape(v.shape, t.shape)) shapes.push(`${k} (checkpoint ${fmt(v.shape)}, module ${fmt(t.shape)})`);
    if ((v.dtype === 'F32') !== (t.dtype === 'f32')) dtypes.push(`${k} (checkpoint ${v.dtype}, module ${t.dtype})`);
  }
  const problems = [
    strict && missing.length ? `${missing.length} missing: ${missing.join(', ')}` : '',
    strict && unexpected.length ? `${unexpected.length} unexpected: ${unexpected.join(', ')}` : '',
    shapes.length ? `${shapes.length} mis-shaped: ${shapes.join(', ')}` : '',
    dtypes.length ? `${dtypes.length} of the wrong type: ${dtypes.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`checkpoint.load(${module.constructor.name}): keys do not match: ${problems.join('; ')}`);
  const present = new Map([...tensors].filter(([k]) => own.has(k)));
  module.loadStateDict(present, { strict: false });
  return { missingKeys: missing, unexpectedKeys: unexpected };
}

/**
 * Parses a safetensors checkpoint without loading it into a module: its tensors by name (dtype,
 * shape, host data) and its metadata, e.g. to inspect a torchvision export or read inputs saved
 * beside it.
 */
export function read(bytes: Uint8Array | ArrayBuffer): SafeFile {
  return readSafetensors(bytes);
}

/**
 * Writes named host tensors (dtype 'F32' | 'I32' | 'I64', shape, data) as safetensors bytes, the
 * counterpart of {@link read} for data that is not a module's state (inputs, references).
 */
export function write(tensors: Iterable<[string, SafeTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  return writeSafetensors(tensors, metadata);
}
