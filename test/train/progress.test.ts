// The pieces of `webgrad train` that need no GPU: the progress display (a rewritten line on a
// terminal, a line every N steps otherwise), the report table and the SVG plot.
import { describe, expect, it } from 'vitest';
import { Progress, formatDuration, type ProgressStep } from '../../models/train/progress.js';
import { formatReportTable, gainsOf, type EvaluationReport } from '../../models/train/report.js';
import { plotSvg } from '../../models/train/plot.js';

const at = (step: number): ProgressStep => ({ step, totalSteps: 6, epoch: step >= 3 ? 1 : 0, epochs: 2, loss: 1.5 - step / 10, lr: 0.01, imagesPerSec: 123.4, secondsPerStep: 2 });

describe('train output', () => {
  it('prints a line every N steps without a terminal, and rewrites one line on a terminal', () => {
    let text = '';
    const p = new Progress({ write: (s) => (text += s), isTTY: false }, 4);
    for (let s = 0; s < 6; s++) p.step(at(s));
    p.line('epoch done');
    expect(text).toBe(`${Progress.text(at(3))}\n${Progress.text(at(5))}\nepoch done\n`);
    expect(Progress.text(at(3))).toBe('epoch 2/2  step 4/6  loss 1.2000  lr 0.0100  123.4 img/s  ETA 4s');
    let tty = '';
    const q = new Progress({ write: (s) => (tty += s), isTTY: true, columns: 120 }, 4);
    q.step(at(0));
    q.step(at(1));
    q.line('done');
    expect(tty.startsWith('\r[')).toBe(true);
    expect(tty.split('\r').length).toBe(3);
    expect(tty.endsWith('\x1b[K\ndone\n')).toBe(true);
    expect([formatDuration(5), formatDuration(185), formatDuration(3725)]).toEqual(['5s', '3m05s', '1h02m']);
  });

  it('formats the report table with the gain over random init', () => {
    const trained = { knn: { '20': 0.85, '200': 0.8 }, linearProbe: 0.87 };
    const randomInit = { knn: { '20': 0.8, '200': 0.78 }, linearProbe: 0.86 };
    const r: EvaluationReport = {
      trained, randomInit, gain: gainsOf(trained, randomInit), featureDim: 64, trainImages: 100, testImages: 50, bnImages: 100, seconds: 1,
      collapse: { value: 0.08, dim: 128, healthy: 1 / Math.sqrt(128), ratio: 0.08 * Math.sqrt(128), images: 64 },
    };
    expect(r.gain.knn20).toBeCloseTo(5, 10);
    const t = formatReportTable(r).split('\n');
    expect(t[0]).toMatch(/kNN k=20 +kNN k=200 +linear probe/);
    expect(t[1]).toMatch(/^trained +85\.00% +80\.00% +87\.00%$/);
    expect(t[2]).toMatch(/^random init +80\.00% +78\.00% +86\.00%$/);
    expect(t[3]).toMatch(/^gain \(points\) +\+5\.00 +\+2\.00 +\+1\.00$/);
    expect(t[5]).toMatch(/^collapse figure: 0\.0800 \(healthy 1\/sqrt\(128\) = 0\.0884; ratio 0\.91/);
  });

  it('draws the loss and kNN panels as SVG', () => {
    const svg = plotSvg({ title: 'simclr <test>', loss: [[0, 5], [1, 4.5], [2, 4]], knn: [[0, 0.7], [1, 0.75]], k: 20, randomInit: 0.7 });
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain('simclr &lt;test&gt;');
    expect((svg.match(/<path /g) ?? []).length).toBe(2);
    expect((svg.match(/<circle /g) ?? []).length).toBe(2);
    expect(svg).toContain('random init 70.00%');
    expect(plotSvg({ title: 't', loss: [], knn: [], k: 20 })).toContain('no data');
  });
});
