// The outcome of a validation step: the Ready (or Succeeded) condition to write, as data.
import type { Reason } from '../api/reasons.ts';
import { reasonMessage } from '../api/reasons.ts';

export interface Verdict {
  status: 'True' | 'False' | 'Unknown';
  reason: Reason;
  message: string;
}

export function ok(reason: Reason, message: string): Verdict {
  return { status: 'True', reason, message };
}

export function failed(reason: Reason, detail: string): Verdict {
  return { status: 'False', reason, message: reasonMessage(reason, detail) };
}

export function pending(reason: Reason, detail: string): Verdict {
  return { status: 'Unknown', reason, message: reasonMessage(reason, detail) };
}

/** Which keys a Secret in the object's namespace has: `undefined` when the Secret does not exist. */
export type SecretKeys = (name: string) => ReadonlySet<string> | undefined;

/** Checks that a Secret exists and holds the keys; returns a failed verdict naming what is missing. */
export function checkSecret(secrets: SecretKeys, field: string, name: string, keys: readonly string[]): Verdict | undefined {
  const present = secrets(name);
  if (!present) return failed('SecretNotFound', `Secret "${name}" named in ${field} does not exist in this namespace.`);
  const missing = keys.filter((key) => !present.has(key));
  if (missing.length > 0) {
    return failed('SecretNotFound', `Secret "${name}" named in ${field} has no key ${missing.map((k) => `"${k}"`).join(', ')}.`);
  }
  return undefined;
}
