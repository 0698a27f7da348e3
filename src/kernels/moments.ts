/**
 * The TS side of shaders/moments.wgsl, shared by the norm launchers (batch_norm.ts,
 * layer_norm.ts): the kernel shape for a set of rows (channels) reduced to their moments, and
 * whether the elements can be loaded as vec4.
 */
import { runtime } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { planRows, type RowPath } from './rows.js';

/** Slots, overrides and workgroup count of one norm launch. */
export interface NormPlan {
  slots: { SG: number; XOR: string; V: string; CH: number };
  overrides: { WG: number; ROW: number };
  workgroups: number;
}

/**
 * Picks the kernel shape for `rows` rows of `len` loads each (rows.ts planRows: a serial loop
 * per row for short rows or many rows, else a workgroup per row meeting in subgroup shuffles or
 * a workgroup-memory butterfly); `ch` = 4 loads vec4s.
 */
export function planNorm(op: string, rows: number, len: number, ch: 1 | 4, path?: RowPath): NormPlan {
  const plan = planRows(op, rows, len, path);
  return {
    slots: { ...plan.slots, V: ch === 4 ? 'vec4<f32>' : 'f32', CH: ch },
    overrides: { WG: plan.wg, ROW: plan.path === 'serial' ? 0 : 1 },
    workgroups: plan.workgroups,
  };
}

/** 4 when every value (element counts, strides, offsets) is a multiple of 4, else 1. */
export function vecWidth(...values: number[]): 1 | 4 {
  return values.every((v) => v % 4 === 0) ? 4 : 1;
}

/** The buffer bound for an absent optional input (gamma/beta without affine). */
export const orDummy = (t: Tensor | null): Tensor | GPUBuffer => t ?? runtime().dummy;
