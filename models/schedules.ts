/**
 * Schedules for learning rate, EMA momentum and weight decay: pure functions of the step index
 * (no GPU). Apply them between steps through the optimizer's mutable groups, e.g.
 * `for (const g of opt.groups) g.lr = warmupCosine(k, { base: 0.3, warmup: 500, total: 10_000 })`.
 */

function checkSteps(op: string, k: number, total: number): void {
  if (!Number.isFinite(k) || k < 0) throw new Error(`${op}: step ${k} must be a finite number >= 0`);
  if (!(total > 0)) throw new Error(`${op}: total steps must be > 0, got ${total}`);
}

/**
 * Cosine interpolation from `start` (k = 0) to `end` (k >= total):
 * end + (start - end)·(1 + cos(π·k/total))/2.
 */
export function cosineSchedule(start: number, end: number, k: number, total: number): number {
  checkSteps('cosineSchedule', k, total);
  const t = Math.min(k, total) / total;
  return end + (start - end) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** The rate reached at the end of warmup. */
  base: number;
  /** Warmup steps (0 for none). */
  warmup: number;
  /** Total steps; the rate is `final` from here on. */
  total: number;
  /** Rate at the end of the cosine (default 0). */
  final?: number;
  /** Rate at step 0 of the warmup (default 0). */
  warmupStart?: number;
}

/**
 * Linear warmup then cosine decay (SimCLR, BYOL, DINO): for k < warmup,
 * warmupStart + (base - warmupStart)·k/warmup; then a cosine from `base` to `final` over the
 * remaining total - warmup steps.
 */
export function warmupCosine(k: number, o: WarmupCosineOptions): number {
  checkSteps('warmupCosine', k, o.total);
  if (!(o.warmup >= 0 && o.warmup < o.total)) throw new Error(`warmupCosine: warmup ${o.warmup} must be in [0, total ${o.total})`);
  const start = o.warmupStart ?? 0;
  if (k < o.warmup) return start + (o.base - start) * (k / o.warmup);
  return cosineSchedule(o.base, o.final ?? 0, k - o.warmup, o.total - o.warmup);
}

/**
 * BYOL's target-network momentum (arXiv:2006.07733, eq. after (2)): 1 - (1 - m0)·(cos(π·k/K) + 1)/2,
 * rising from m0 at k = 0 to 1 at k = K (also DINO's teacher momentum). `end` defaults to 1.
 */
export function emaMomentum(m0: number, k: number, total: number, end = 1): number {
  return cosineSchedule(m0, end, k, total);
}

/** Cosine weight-decay schedule from `start` to `end` (DINO: 0.04 to 0.4 over training). */
export function weightDecaySchedule(start: number, end: number, k: number, total: number): number {
  return cosineSchedule(start, end, k, total);
}
