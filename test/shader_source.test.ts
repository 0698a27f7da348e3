// The shader template (no GPU needed): includes, slots, repeats, and its errors.
import { describe, expect, it } from 'vitest';
import { renderShader } from '../src/shader_source.js';
import { sizeClass } from '../src/buffer_pool.js';
import { broadcastShapes, isContiguous, normAxes, stridesOf } from '../src/shape.js';
import { splitGrid } from '../src/dispatch.js';
import { collapseDims } from '../src/kernels/elementwise.js';

const SRC = {
  lib: 'fn lib() {}',
  main: '//#include "lib.wgsl"\n//#include "lib.wgsl"\nconst N = {{N}}u;\nfn f() -> {{T}} { return {{EXPR}}; }',
  rep: 'var s = 0.0;\n//#repeat L {{SG}}\ns += subgroupBroadcast(v, {{L}}u);\n//#end\nlet t = {{X}};',
  nested: '//#repeat I 2\n//#repeat J 3\nacc[{{I}}][{{J}}] = 0.0;\n//#end\n//#end',
  open: '//#repeat I 2\nx;',
  stray: 'x;\n//#end',
  load: 'var<storage, read> {{NAME}}b: array<{{T}}>; // binding {{B}}',
  io: '//#include "load.wgsl" NAME=q B=0\n//#include "load.wgsl" NAME=k B=1\n//#include "load.wgsl" NAME=q B=0',
  badArg: '//#include "load.wgsl" NAME=q B=0 X=1',
  badTok: '//#include "load.wgsl" NAME',
};

describe('shader template', () => {
  it('includes each file once and fills slots', () => {
    const out = renderShader('main', { N: 4, T: 'f32', EXPR: 'a + b' }, SRC);
    expect(out.match(/fn lib/g)?.length).toBe(1);
    expect(out).toContain('const N = 4u;');
    expect(out).toContain('fn f() -> f32 { return a + b; }');
  });

  it('throws on a missing or an unused slot, and on an unknown shader', () => {
    expect(() => renderShader('main', { N: 4, T: 'f32' }, SRC)).toThrow("shader 'main': missing slot 'EXPR'");
    expect(() => renderShader('main', { N: 4, T: 'f32', EXPR: '1', EXTRA: 2 }, SRC)).toThrow("shader 'main': unused slot(s) EXTRA");
    expect(() => renderShader('nope', {}, SRC)).toThrow(/shader 'nope' not found/);
  });

  it('includes a file once per distinct arguments, arguments before slots', () => {
    const out = renderShader('io', { T: 'f32' }, SRC);
    expect(out).toContain('var<storage, read> qb: array<f32>; // binding 0');
    expect(out).toContain('var<storage, read> kb: array<f32>; // binding 1');
    expect(out.match(/qb:/g)?.length).toBe(1);
    expect(() => renderShader('badArg', { T: 'f32' }, SRC)).toThrow('argument X is not used');
    expect(() => renderShader('badTok', { T: 'f32' }, SRC)).toThrow("cannot read argument 'NAME'");
  });

  it('unrolls repeat blocks with constant lanes, counts from slots, nesting', () => {
    const out = renderShader('rep', { SG: 4, X: 1 }, SRC);
    expect(out.match(/subgroupBroadcast/g)?.length).toBe(4);
    expect(out).toContain('subgroupBroadcast(v, 3u)');
    expect(out).not.toContain('{{L}}');
    const n = renderShader('nested', {}, SRC);
    expect(n.match(/acc\[/g)?.length).toBe(6);
    expect(n).toContain('acc[1][2] = 0.0;');
    expect(() => renderShader('open', {}, SRC)).toThrow('//#repeat without //#end');
    expect(() => renderShader('stray', {}, SRC)).toThrow('//#end without //#repeat');
  });
});

describe('pure helpers', () => {
  it('size classes waste at most 25% and are stable', () => {
    for (const b of [1, 255, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1, 123_456_789]) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c).toBeLessThanOrEqual(Math.max(256, b * 1.25));
      expect(sizeClass(c)).toBe(c);
    }
  });

  it('broadcasting, strides, axes, grid split, dim merging', () => {
    expect(broadcastShapes('op', [3, 1], [1, 4], [4])).toEqual([3, 4]);
    expect(() => broadcastShapes('add', [2, 3], [4])).toThrow('add: shapes [2,3] and [4] cannot be broadcast');
    expect(stridesOf([2, 3, 4])).toEqual([12, 4, 1]);
    expect(isContiguous([2, 1, 4], [4, 99, 1])).toBe(true);
    expect(isContiguous([2, 3], [1, 2])).toBe(false);
    expect(normAxes('sum', [-1, 0], [2, 3, 4])).toEqual([0, 2]);
    expect(() => normAxes('sum', [1, -1], [2, 3])).toThrow(/repeated axis/);
    expect(splitGrid(10, 65535)).toEqual([10, 1, 1]);
    const [x, y] = splitGrid(200_000, 65535);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
    expect(collapseDims([2, 3, 4], [[12, 4, 1], [0, 0, 1]])).toEqual({ shape: [6, 4], strides: [[4, 1], [0, 1]] });
    expect(collapseDims([2, 1, 4], [[4, 4, 1]])).toEqual({ shape: [8], strides: [[1]] });
  });
});
