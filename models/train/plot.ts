/**
 * The run plot as a small hand-written SVG (no plotting dependency): the training loss per step on
 * the left, the kNN monitor's accuracy per epoch on the right (with the random-init network's as a
 * dashed line when known). Pure string building; `train.node.ts` writes it and a PNG of it
 * (sharp renders the SVG). Browser-safe.
 */

/** What {@link plotSvg} draws. */
export interface PlotData {
  /** A title line (method, backbone, data). */
  title: string;
  /** Loss per step: [step, loss] pairs. */
  loss: readonly (readonly [number, number])[];
  /** kNN accuracy (0..1) per epoch: [epoch, accuracy] pairs (epoch 0 = before training). */
  knn: readonly (readonly [number, number])[];
  /** The kNN k of the monitor (label). */
  k: number;
  /** Random-init accuracy at the same k, drawn dashed (optional). */
  randomInit?: number;
  /** The monitor's [train, test] image counts, shown in the panel title (optional). */
  knnImages?: readonly [number, number];
}

const W = 960;
const H = 360;
const PANEL = { w: 380, h: 260, top: 50 };
const LEFT = [70, 520];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Rounds a step between ticks to 1, 2 or 5 times a power of ten. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Axis ticks: the multiples of a 1-2-5 step within [lo, hi] (integers only for `integer`). */
export function ticks(lo: number, hi: number, count = 5, integer = false): number[] {
  const st = integer ? Math.max(1, niceStep(hi - lo, count)) : niceStep(hi - lo, count);
  const out: number[] = [];
  // Multiples of the step by integer index (a running sum drifts: 0 came out as -5.551e-17); || 0 turns -0 into 0.
  for (let i = Math.ceil(lo / st - 1e-9); i * st <= hi + st * 1e-9; i++) out.push(Number((i * st).toPrecision(12)) || 0);
  return out;
}

const label = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());

interface Range { x0: number; x1: number; y0: number; y1: number }

function range(points: readonly (readonly [number, number])[], extraY: number[] = []): Range {
  const xs = points.map((p) => p[0]);
  const ys = [...points.map((p) => p[1]), ...extraY].filter(Number.isFinite);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  return { x0, x1, y0: y0 - pad, y1: y1 + pad };
}

function panel(left: number, title: string, xLabel: string, points: readonly (readonly [number, number])[], r: Range, opts: { markers?: boolean; color: string; hline?: { y: number; text: string } }): string {
  const { w, h, top } = PANEL;
  const sx = (x: number) => left + ((x - r.x0) / (r.x1 - r.x0)) * w;
  const sy = (y: number) => top + h - ((y - r.y0) / (r.y1 - r.y0)) * h;
  const parts: string[] = [];
  parts.push(`<text x="${left + w / 2}" y="${top - 12}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (const t of ticks(r.y0, r.y1)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${left}" x2="${left + w}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${label(t)}</text>`);
  }
  for (const t of ticks(r.x0, r.x1, 6, true)) {
    const x = sx(t).toFixed(1);
    parts.push(`<text x="${x}" y="${top + h + 16}" text-anchor="middle" font-size="11">${label(t)}</text>`);
  }
  parts.push(`<text x="${left + w / 2}" y="${top + h + 34}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  if (opts.hline && Number.isFinite(opts.hline.y)) {
    const y = sy(opts.hline.y).toFixed(1);
    parts.push(`<line x1="${left}" x2="${left + w}" y1="${y}" y2="${y}" stroke="#999" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${left + w - 4}" y="${Number(y) - 5}" text-anchor="end" font-size="11" fill="#666">${esc(opts.hline.text)}</text>`);
  }
  const finite = points.filter((p) => Number.isFinite(p[1]));
  if (finite.length) {
    const d = finite.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${opts.color}" stroke-width="1.5"/>`);
    if (opts.markers) for (const p of finite) parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${opts.color}"/>`);
  } else {
    parts.push(`<text x="${left + w / 2}" y="${top + h / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text>`);
  }
  return parts.join('\n');
}

/** The SVG document of a run's plot (see the module comment). */
export function plotSvg(d: PlotData): string {
  const knnPct = d.knn.map(([e, a]) => [e, 100 * a] as const);
  const ri = d.randomInit !== undefined ? 100 * d.randomInit : undefined;
  const body = [
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15">${esc(d.title)}</text>`,
    panel(LEFT[0], 'training loss', 'step', d.loss, range(d.loss), { color: '#1f77b4' }),
    panel(LEFT[1], `kNN monitor (k = ${d.k}${d.knnImages ? `, ${d.knnImages[0]} / ${d.knnImages[1]} images` : ''}), %`, 'epoch', knnPct, range(knnPct, ri !== undefined ? [ri] : []), {
      color: '#d62728', markers: true, hline: ri !== undefined ? { y: ri, text: `random init ${ri.toFixed(2)}%` } : undefined,
    }),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">\n${body.join('\n')}\n</svg>\n`;
}
