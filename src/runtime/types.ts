// The contract between the controller runtime and the reconcilers. A reconciler sees only a
// key and reads the world as it is now (level-triggered); it never learns which event woke it.

/** `namespace/name` of the object a reconcile is about. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

export function keyToString(key: ObjectKey): string {
  return `${key.namespace}/${key.name}`;
}

export function keyFromString(key: string): ObjectKey {
  const slash = key.indexOf('/');
  if (slash < 0) throw new Error(`object key "${key}" is not namespace/name`);
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** What a reconcile asks of the queue when it returns normally. */
export interface ReconcileResult {
  /** Reconcile this key again after this many milliseconds (timed work such as the next schedule). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  /** Controller name, used in metrics labels and logs (for example `backuppolicy`). */
  readonly name: string;
  reconcile(key: ObjectKey, signal: AbortSignal): Promise<ReconcileResult | void>;
}

/**
 * An error that retrying cannot fix (for example an invalid object the user must change).
 * The work queue forgets the key instead of backing off; the next change to the object wakes it.
 */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

export { systemClock, type Clock } from '../time/clock.ts';
