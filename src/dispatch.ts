/**
 * The one way kernels are launched. A launcher describes a dispatch (shader, entry point, slots,
 * overrides, inputs, outputs, uniform params, workgroup count); this records it into the shared
 * command batch. Bindings: inputs (read-only storage) from 0, then outputs (read-write storage),
 * then the uniform `p`. A `null` input or output leaves a gap (a binding number the entry point
 * does not use), so entry points of one file can share declarations.
 */
import type { Params } from './command_batch.js';
import type { BindingKind } from './pipeline_cache.js';
import { runtime } from './runtime.js';
import type { Slots } from './shader_source.js';
import type { Tensor } from './tensor.js';

export interface DispatchSpec {
  /** The user-facing op, for labels and error messages. */
  op: string;
  shader: string;
  entry: string;
  slots?: Slots;
  overrides?: Readonly<Record<string, number>>;
  inputs?: readonly (Tensor | GPUBuffer | null)[];
  outputs?: readonly (Tensor | GPUBuffer | null)[];
  params?: Params;
  /**
   * Workgroups: a total count (split over x and y when above the per-dimension limit; the shader
   * computes `wid.x + wid.y * nwg.x` and bounds-checks), or an explicit [x, y, z] grid.
   */
  workgroups: number | readonly [number, number, number];
}

/** Splits a 1-D workgroup count into a grid within the per-dimension limit. */
export function splitGrid(total: number, maxPerDim: number): [number, number, number] {
  if (total <= maxPerDim) return [total, 1, 1];
  const y = Math.ceil(total / maxPerDim);
  if (y > maxPerDim) throw new Error(`webgrad: ${total} workgroups exceed ${maxPerDim}^2`);
  return [Math.ceil(total / y), y, 1];
}

const bufferOf = (b: Tensor | GPUBuffer): GPUBuffer => ('storage' in b ? b.storage.buffer : (b as GPUBuffer));

/** Records one kernel dispatch. Zero workgroups records nothing. */
export function dispatch(spec: DispatchSpec): void {
  const rt = runtime();
  rt.checkErrors(spec.op);
  rt.currentOp = spec.op;
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  const grid = typeof spec.workgroups === 'number' ? splitGrid(spec.workgroups, max) : spec.workgroups;
  if (grid[0] * grid[1] * grid[2] === 0) return;
  for (const g of grid) {
    if (g > max) throw new Error(`${spec.op}: grid [${grid.join(',')}] exceeds maxComputeWorkgroupsPerDimension ${max}`);
  }
  const layout: [number, BindingKind][] = [];
  const storage: { binding: number; buffer: GPUBuffer }[] = [];
  let n = 0;
  for (const t of spec.inputs ?? []) {
    if (t) {
      layout.push([n, 'r']);
      storage.push({ binding: n, buffer: bufferOf(t) });
    }
    n++;
  }
  for (const t of spec.outputs ?? []) {
    if (t) {
      layout.push([n, 'w']);
      storage.push({ binding: n, buffer: bufferOf(t) });
    }
    n++;
  }
  const maxStorage = rt.limits.maxStorageBuffersPerKernel;
  if (storage.length > maxStorage) {
    throw new Error(`${spec.op}: kernel ${spec.shader}.${spec.entry} binds ${storage.length} storage buffers; the limit is ${maxStorage}`);
  }
  const written = new Set((spec.outputs ?? []).filter((t): t is Tensor | GPUBuffer => !!t).map(bufferOf));
  for (const t of spec.inputs ?? []) {
    if (t && written.has(bufferOf(t))) {
      throw new Error(`${spec.op}: a buffer is bound both as input and output of ${spec.shader}.${spec.entry}`);
    }
  }
  if (spec.params) layout.push([n, 'u']);
  const label = `${spec.op}:${spec.shader}.${spec.entry}`;
  const { pipeline, layout: bgl } = rt.pipelines.get(
    { shader: spec.shader, entry: spec.entry, slots: spec.slots, overrides: spec.overrides, layout },
    label,
  );
  rt.batch.dispatch(pipeline, bgl, storage, spec.params ?? null, n, grid, label);
}
