// The comparison rule for kernel tests, and the per-op report of worst errors.
//   |got - want| <= atol + rtol * |want|, elementwise; NaN must match NaN, inf must match inf.
// Every comparison records its worst absolute and relative error under the op's name; call
// `printReport()` in afterAll to print the table (the issue asks for the worst error per op).
import { expect } from 'vitest';
import { fmt } from '../../src/shape.js';

export interface Tol {
  rtol?: number;
  atol?: number;
}

const report = new Map<string, { maxAbs: number; maxRel: number; checks: number; elements: number }>();

/** Compares arrays; throws with the first offending index, shapes and values. */
export function expectClose(op: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol = {}, shape?: readonly number[]): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  expect(got.length, `${op}: length`).toBe(want.length);
  let maxAbs = 0;
  let maxRel = 0;
  let bad = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      if (!(Object.is(g, w) || (Number.isNaN(w) && Number.isNaN(g)))) bad = bad < 0 ? i : bad;
      continue;
    }
    const d = Math.abs(g - w);
    if (!(d <= atol + rtol * Math.abs(w))) bad = bad < 0 ? i : bad;
    if (d > maxAbs) maxAbs = d;
    const r = d / Math.max(Math.abs(w), 1); // relative where |want| >= 1, absolute below
    if (r > maxRel) maxRel = r;
  }
  const e = report.get(op) ?? { maxAbs: 0, maxRel: 0, checks: 0, elements: 0 };
  report.set(op, { maxAbs: Math.max(e.maxAbs, maxAbs), maxRel: Math.max(e.maxRel, maxRel), checks: e.checks + 1, elements: e.elements + want.length });
  if (bad >= 0) {
    throw new Error(`${op}${shape ? ` ${fmt(shape)}` : ''}: element ${bad}: got ${got[bad]}, want ${want[bad]} ` +
      `(rtol ${rtol}, atol ${atol}; max abs err ${maxAbs.toExponential(2)})`);
  }
}

/** Prints the worst error per op recorded in this test file. */
export function printReport(title: string): void {
  if (report.size === 0) return;
  const rows = [...report.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([op, r]) => `  ${op.padEnd(22)} max abs ${r.maxAbs.toExponential(2)}  max rel ${r.maxRel.toExponential(2)} (|err|/max(|want|,1))  (${r.checks} checks, ${r.elements} elements)`);
  console.log(`worst error per op, ${title}:\n${rows.join('\n')}`);
}
