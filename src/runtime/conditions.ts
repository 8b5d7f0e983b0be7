// metav1.Condition helpers. `setCondition` is the one place a condition is written: it keeps
// lastTransitionTime while the status stays the same (so "Ready since" tells the truth) and
// records the generation the condition was computed from. All functions are pure.
import { formatTime } from './time-format.ts';
import type { Clock } from './types.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339, to the second. */
  lastTransitionTime: string;
  /** CamelCase reason from the reasons catalog. */
  reason: string;
  message: string;
}

/** What a reconciler decides; the helper fills in the times and the generation. */
export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Returns a new list with `update` applied: replaced in place if a condition of that type exists,
 * appended otherwise. The transition time moves only when the status changes.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  generation: number | undefined,
  clock: Clock,
): Condition[] {
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    lastTransitionTime: existing && existing.status === update.status ? existing.lastTransitionTime : formatTime(clock.now()),
    reason: update.reason,
    message: update.message,
  };
  if (!existing) return [...list, next];
  return list.map((c) => (c === existing ? next : c));
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
