// The PyTorch golden-fixture protocol (../shared/fixtures/README.md, copied cases in test/fixtures/):
// files are found by case name in $WEBGRAD_FIXTURES (default test/fixtures/); shapes and
// hyperparameters come from the files; a missing case fails; per tensor
//   max|a - b| <= atol + rtol * max|ref|,  atol = max(1e-6, 10 * f32_torch_max_abs_err[tensor]),
// rtol = 1e-4 for ops, losses and optimizer steps, 1e-3 for whole blocks and networks.
// The worst ratio err / (atol + rtol * scale) per case is printed by printFixtureReport().
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { readSafetensors, toI32, type SafeTensor } from '../../src/safetensors.js';

const DEFAULT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** The fixtures directory in use. */
export const fixturesDir = (): string => process.env.WEBGRAD_FIXTURES ?? DEFAULT_DIR;

interface Manifest {
  cases: Record<string, { f32_torch_max_abs_err?: Record<string, number> }>;
}
const manifests = new Map<string, Manifest>();
function manifestFor(caseName: string): Manifest['cases'][string] {
  const dir = fixturesDir();
  const file = caseName.startsWith('augment_') ? 'augment_manifest.json' : 'manifest.json';
  const key = path.join(dir, file);
  if (!manifests.has(key)) {
    if (!fs.existsSync(key)) throw new Error(`fixtures: ${key} is missing (copy the manifests with the cases)`);
    manifests.set(key, JSON.parse(fs.readFileSync(key, 'utf8')) as Manifest);
  }
  const c = manifests.get(key)!.cases[caseName];
  if (!c) throw new Error(`fixtures: case '${caseName}' is not in ${key}`);
  return c;
}

/** One loaded case: its tensors as float arrays (I64 narrowed to Int32), shapes and metadata. */
export class Fixture {
  constructor(
    readonly name: string,
    readonly tensors: Map<string, SafeTensor>,
    readonly meta: Record<string, string>,
  ) {}

  has(t: string): boolean {
    return this.tensors.has(t);
  }
  /** A tensor's entry; a missing one fails the test. */
  get(t: string): SafeTensor {
    const v = this.tensors.get(t);
    if (!v) throw new Error(`fixture ${this.name}: no tensor '${t}' (has ${[...this.tensors.keys()].join(', ')})`);
    return v;
  }
  shape(t: string): number[] {
    return this.get(t).shape;
  }
  /** f32 data of a tensor. */
  f32(t: string): Float32Array {
    const v = this.get(t);
    if (v.dtype !== 'F32') throw new Error(`fixture ${this.name}: '${t}' is ${v.dtype}, not F32`);
    return v.data as Float32Array;
  }
  /** i32 data of an I32 or I64 tensor. */
  i32(t: string): Int32Array {
    const v = this.get(t);
    if (v.dtype === 'I32') return v.data as Int32Array;
    if (v.dtype === 'I64') return toI32(t, v.data as BigInt64Array);
    throw new Error(`fixture ${this.name}: '${t}' is ${v.dtype}, not an integer tensor`);
  }
  /** A metadata value parsed as JSON (numbers, booleans, lists), or the raw string. */
  param(key: string): unknown {
    const s = this.meta[key];
    if (s === undefined) throw new Error(`fixture ${this.name}: no metadata '${key}' (has ${Object.keys(this.meta).join(', ')})`);
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  }
  /** The f32 rounding floor PyTorch itself shows on a tensor. */
  floor(t: string): number {
    return manifestFor(this.name).f32_torch_max_abs_err?.[t] ?? 0;
  }
}

/** Loads case `name` (a missing file fails). */
export function loadFixture(name: string): Fixture {
  const file = path.join(fixturesDir(), `${name}.safetensors`);
  if (!fs.existsSync(file)) throw new Error(`fixtures: case file ${file} is missing`);
  const { tensors, metadata } = readSafetensors(fs.readFileSync(file));
  return new Fixture(name, tensors, metadata);
}

const worst = new Map<string, number>();

/** Compares `got` with the fixture's tensor `t` under the protocol's rule. */
export function expectFixture(fx: Fixture, t: string, got: ArrayLike<number>, kind: 'op' | 'network' = 'op', gotShape?: readonly number[]): void {
  const ref = fx.f32(t);
  if (gotShape) expect([...gotShape], `${fx.name}.${t} shape`).toEqual(fx.shape(t));
  expect(got.length, `${fx.name}.${t} length`).toBe(ref.length);
  const atol = Math.max(1e-6, 10 * fx.floor(t));
  const rtol = kind === 'op' ? 1e-4 : 1e-3;
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  let at = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= err)) {
      err = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  const bound = atol + rtol * scale;
  const ratio = err / bound;
  worst.set(fx.name, Math.max(worst.get(fx.name) ?? 0, ratio));
  if (!(err <= bound)) {
    throw new Error(`fixture ${fx.name}.${t}: max |err| ${err.toExponential(3)} at ${at} (got ${got[at]}, want ${ref[at]}) exceeds ${bound.toExponential(3)} = ${atol.toExponential(2)} + ${rtol} * ${scale.toExponential(2)}`);
  }
}

/** Prints the worst err/bound ratio per case. */
export function printFixtureReport(title: string): void {
  if (!worst.size) return;
  const rows = [...worst].sort(([a], [b]) => a.localeCompare(b)).map(([c, r]) => `  ${c.padEnd(32)} worst err/bound ${r.toFixed(3)}`);
  console.log(`fixtures (${fixturesDir()}), ${title}:\n${rows.join('\n')}`);
}
