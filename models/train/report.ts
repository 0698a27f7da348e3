/**
 * The final report of a run (what `report.json` holds) and its text table: kNN (k = 20, 200) and
 * linear probe for the trained network and for the same architecture at its random init, the
 * gain, and the collapse figure. Browser-safe.
 */
import type { BackboneEvaluation } from '../eval.js';

/** Accuracies of one network (fractions in [0, 1]). */
export interface NetworkScores {
  /** kNN accuracy keyed by k. */
  knn: Record<string, number>;
  /** Linear-probe test accuracy, or null when skipped. */
  linearProbe: number | null;
}

/** The collapse figure of the projector outputs (mean per-dimension std of L2-normalised z). */
export interface CollapseReport {
  value: number;
  /** Width d of z. */
  dim: number;
  /** 1/√d, the healthy value. */
  healthy: number;
  /** value · √d (1 healthy, 0 collapsed). */
  ratio: number;
  /** Images used. */
  images: number;
}

/** Everything the final evaluation measured. */
export interface EvaluationReport {
  trained: NetworkScores;
  randomInit: NetworkScores;
  /** Trained minus random init, in percentage points, keyed like the scores ('knn20', 'knn200', 'linearProbe'). */
  gain: Record<string, number>;
  collapse: CollapseReport | null;
  featureDim: number;
  trainImages: number;
  testImages: number;
  bnImages: number;
  seconds: number;
}

/** The scores of an evaluation. */
export function scoresOf(e: BackboneEvaluation): NetworkScores {
  return { knn: Object.fromEntries(Object.entries(e.knn).map(([k, v]) => [String(k), v])), linearProbe: e.linearProbe };
}

/** Gains in points (trained - random init) for every kNN k and the probe. */
export function gainsOf(trained: NetworkScores, random: NetworkScores): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(trained.knn)) out[`knn${k}`] = 100 * (trained.knn[k] - random.knn[k]);
  if (trained.linearProbe !== null && random.linearProbe !== null) out.linearProbe = 100 * (trained.linearProbe - random.linearProbe);
  return out;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(2)}%`);
const pts = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);

/** The report as a fixed-width text table (rows: trained, random init, gain in points; then the collapse figure). */
export function formatReportTable(r: EvaluationReport): string {
  const ks = Object.keys(r.trained.knn);
  const head = ['', ...ks.map((k) => `kNN k=${k}`), 'linear probe'];
  const rows = [
    ['trained', ...ks.map((k) => pct(r.trained.knn[k])), pct(r.trained.linearProbe)],
    ['random init', ...ks.map((k) => pct(r.randomInit.knn[k])), pct(r.randomInit.linearProbe)],
    ['gain (points)', ...ks.map((k) => pts(r.gain[`knn${k}`])), pts(r.gain.linearProbe)],
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ');
  const out = [line(head), ...rows.map(line)];
  out.push(`features: ${r.featureDim}-d pooled backbone output; ${r.trainImages} train / ${r.testImages} test images; BN re-estimated on ${r.bnImages}`);
  if (r.collapse) {
    const c = r.collapse;
    out.push(`collapse figure: ${c.value.toFixed(4)} (healthy 1/sqrt(${c.dim}) = ${c.healthy.toFixed(4)}; ratio ${c.ratio.toFixed(2)}, collapse is 0)`);
  }
  return out.join('\n');
}
