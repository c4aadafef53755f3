// Process-wide state of the library: the default GPU context, whether gradients are recorded, and
// the stack of open scopes that collect the tensors made inside them.
import type { GpuContext } from './runtime/context';

interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

let current: GpuContext | null = null;
let gradEnabled = true;
const scopes: Set<Disposable>[] = [];

export function setContext(ctx: GpuContext | null): void {
  current = ctx;
}

export function getContext(): GpuContext {
  if (!current) {
    throw new Error(
      'no GPU context: call initNode() (Node, from "wgtensor/node") or init() (browser) before making tensors',
    );
  }
  return current;
}

export function hasContext(): boolean {
  return current !== null;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function rejectAsync(name: string, result: unknown): void {
  if (result instanceof Promise) {
    throw new Error(`${name}() takes a synchronous function (GPU work is recorded synchronously); got an async one`);
  }
}

/** Runs `fn` without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    const result = fn();
    rejectAsync('noGrad', result);
    return result;
  } finally {
    gradEnabled = previous;
  }
}

/** Runs `fn` with gradient recording switched on or off. */
export function withGrad<T>(enabled: boolean, fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Registers a new tensor with the innermost open scope. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from the scope that tracks it (it then lives until disposed by hand). */
export function untrack(t: Disposable): void {
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.delete(t)) return;
}

function collect(value: unknown, into: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('dispose' in value && 'disposed' in value) {
    into.add(value as Disposable);
    return;
  }
  let values: unknown[];
  if (Array.isArray(value)) values = value;
  else if (value instanceof Map) values = [...value.values()];
  else if ([Object.prototype, null].includes(Object.getPrototypeOf(value))) values = Object.values(value);
  else return;
  for (const v of values) collect(v, into, seen);
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (directly or
 * inside arrays, Maps and plain objects), which move to the enclosing scope.
 */
export function scope<T>(fn: () => T): T {
  const made = new Set<Disposable>();
  scopes.push(made);
  let result: T;
  try {
    result = fn();
    rejectAsync('scope', result);
  } catch (error) {
    scopes.pop();
    for (const t of made) if (!t.disposed) t.dispose();
    throw error;
  }
  scopes.pop();
  const kept = new Set<Disposable>();
  collect(result, kept);
  for (const t of made) {
    if (kept.has(t)) track(t);
    else if (!t.disposed) t.dispose();
  }
  return result;
}
