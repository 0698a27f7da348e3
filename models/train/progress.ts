/**
 * Training progress for a terminal or a log: on a TTY one line rewritten in place (epoch, step,
 * loss, images/s, ETA, a bar); elsewhere (CI, files) a plain line every `every` steps and at the
 * end of each epoch. Hand-rolled (about 60 lines) rather than a dependency: the CLI needs one line.
 * Browser-safe (it writes through the function it is given).
 */

/** Where progress goes: a `write(text)` and whether it is a terminal (rewritable line). */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
  /** Terminal width (default 100). */
  columns?: number;
}

/** One step as the progress line shows it. */
export interface ProgressStep {
  step: number; // 0-based step just finished
  totalSteps: number;
  epoch: number; // 0-based
  epochs: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
  /** Seconds per step, averaged over this session's steps (for the ETA). */
  secondsPerStep: number;
}

/** `1h02m`, `3m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** The progress display (see the module comment). */
export class Progress {
  readonly #sink: ProgressSink;
  readonly #every: number;
  #open = false; // a TTY line is on screen without its newline

  /** Progress to `sink`; without a TTY a line every `every` steps. */
  constructor(sink: ProgressSink, every: number) {
    this.#sink = sink;
    this.#every = Math.max(1, Math.floor(every));
  }

  /** The text of a step's line (without bar or newline). */
  static text(p: ProgressStep): string {
    const eta = formatDuration((p.totalSteps - p.step - 1) * p.secondsPerStep);
    return `epoch ${p.epoch + 1}/${p.epochs}  step ${p.step + 1}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toPrecision(3)}  ${p.imagesPerSec.toFixed(1)} img/s  ETA ${eta}`;
  }

  /** Shows a finished step. */
  step(p: ProgressStep): void {
    const text = Progress.text(p);
    if (this.#sink.isTTY) {
      const width = Math.max(10, Math.min(30, (this.#sink.columns ?? 100) - text.length - 4));
      const done = Math.round((width * (p.step + 1)) / p.totalSteps);
      this.#sink.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${text}\x1b[K`);
      this.#open = true;
    } else if ((p.step + 1) % this.#every === 0 || p.step + 1 === p.totalSteps) {
      this.#sink.write(`${text}\n`);
    }
  }

  /** Prints a whole line (an epoch summary, a message), ending a TTY progress line first. */
  line(text: string): void {
    this.end();
    this.#sink.write(`${text}\n`);
  }

  /** Ends the TTY progress line, if one is open. */
  end(): void {
    if (this.#open) this.#sink.write('\n');
    this.#open = false;
  }
}
