/**
 * Tensor lifetimes. `scope(fn)` disposes every tensor created inside `fn` except the ones it
 * returns and the ones marked with `keep()`; the survivors move to the enclosing scope. Optional
 * debug mode warns when a tensor is garbage-collected without `dispose()` (it never frees anything:
 * JS GC cannot see GPU memory pressure).
 */

/** What a scope needs of a tensor. */
export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

/** Called by every tensor constructor. */
export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top && !kept.has(t)) top.add(t);
}

/** Excludes `t` from every scope's cleanup (parameters, optimizer state, caches). Returns `t`. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  for (const s of stack) s.delete(t);
  return t;
}

/** Marks tensors found in `v` (a tensor, or arrays / plain objects / Maps of them). */
function collect(v: unknown, out: Set<Disposable>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if ('dispose' in v && 'disposed' in v) {
    out.add(v as Disposable);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor it created, except those it returns (directly or inside
 * arrays, plain objects or Maps) and kept ones. `fn` must be synchronous.
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Disposable>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new Error('scope(fn): fn must be synchronous (it returned a Promise); await outside the scope');
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = stack[stack.length - 1];
  for (const t of mine) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Number of open scopes (for tests). */
export function scopeDepth(): number {
  return stack.length;
}

let registry: FinalizationRegistry<string> | null = null;

/** Turns on warnings for tensors garbage-collected without `dispose()` (debugging only). */
export function setLeakWarnings(on: boolean): void {
  registry = on
    ? new FinalizationRegistry((where: string) => console.warn(`webgrad: tensor GC'd without dispose (created at ${where})`))
    : null;
}

/** Registers a new tensor with the leak detector when it is on. */
export function watchLeak(t: object, token: object): void {
  if (!registry) return;
  const where = new Error().stack?.split('\n').slice(3, 6).join(' <- ').trim() ?? 'unknown';
  registry.register(t, where, token);
}

export function unwatchLeak(token: object): void {
  registry?.unregister(token);
}
