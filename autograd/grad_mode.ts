/** Whether ops record for autograd. `noGrad(fn)` turns recording off (EMA teachers, queues, eval). */

let enabled = true;

/** True while ops are recorded for backward. */
export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` with recording off; returns its result. */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Runs `fn` with recording on (inside a `noGrad`); returns its result. */
export function enableGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = true;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
