// The run plot's axis ticks and SVG (pure string building, no GPU).
import { describe, expect, it } from 'vitest';
import { plotSvg, ticks } from '../../models/train/plot.js';

describe('plot', () => {
  it('puts ticks on exact multiples of a 1-2-5 step, zero included', () => {
    expect(ticks(-0.8, 0.001)).toEqual([-0.8, -0.6, -0.4, -0.2, 0]);
    expect(ticks(0.1, 0.7)).toEqual([0.2, 0.4, 0.6]);
    expect(ticks(0.1, 0.35)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
    expect(ticks(-3e-3, 3e-3)).toEqual([-0.002, 0, 0.002]);
    expect(ticks(0, 234, 6, true)).toEqual([0, 50, 100, 150, 200]);
    expect(ticks(0, 1, 6, true)).toEqual([0, 1]);
    for (const t of ticks(-1.3, 2.9)) expect(Object.is(t, -0)).toBe(false);
  });

  it('labels the axes with plain numbers for a loss that crosses zero (SimSiam)', () => {
    const loss = Array.from({ length: 235 }, (_, i) => [i, 0.001 - 0.75 * (1 - Math.exp(-i / 40))] as const);
    const svg = plotSvg({ title: 'simsiam', loss, knn: [[0, 0.63], [1, 0.672]], k: 20, randomInit: 0.63 });
    const labels = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    const numeric = labels.filter((l) => /^[-\d.e+]+$/.test(l));
    expect(numeric).toContain('0');
    expect(numeric).toContain('-0.6');
    for (const l of numeric) expect(l, l).not.toMatch(/e/);
  });
});
