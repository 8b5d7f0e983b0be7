// Writes a reconciler's verdict to an object's status: conditions through the one helper that
// keeps lastTransitionTime, observedGeneration, server-side apply on /status, and an Event when
// a condition changes (not on every reconcile, so Events tell a story instead of repeating).
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, GROUP, VERSION, type KindDefinition, type ObjectMeta } from '../api/kind.ts';
import { setCondition, getCondition, type Condition, type ConditionUpdate } from '../runtime/conditions.ts';
import { applyStatus } from '../runtime/status.ts';
import type { ControllerContext } from './context.ts';
import type { Verdict } from './verdict.ts';

interface StatusBearer {
  metadata: ObjectMeta;
  status?: { conditions?: Condition[] } & object;
}

/** Status fields a reconciler owns besides conditions and observedGeneration. */
export type StatusFields = Record<string, unknown>;

export function conditionUpdate(type: string, verdict: Verdict): ConditionUpdate {
  return { type, status: verdict.status, reason: verdict.reason, message: verdict.message };
}

/** The status to write (pure): previous conditions updated, plus the other owned fields. */
export function desiredStatus(
  object: StatusBearer,
  updates: readonly ConditionUpdate[],
  fields: StatusFields,
  now: Date,
): { conditions: Condition[]; observedGeneration?: number } & StatusFields {
  const clock = { now: () => now };
  let conditions = object.status?.conditions ?? [];
  for (const update of updates) conditions = setCondition(conditions, update, object.metadata.generation, clock);
  return { ...fields, conditions, observedGeneration: object.metadata.generation };
}

/** True when writing `desired` would change nothing the operator owns. */
export function statusUnchanged(object: StatusBearer, desired: StatusFields): boolean {
  const current = (object.status ?? {}) as StatusFields;
  return Object.entries(desired).every(([key, value]) => isDeepStrictEqual(current[key], value));
}

export async function updateStatus(
  context: ControllerContext,
  kind: KindDefinition,
  object: StatusBearer,
  updates: readonly ConditionUpdate[],
  fields: StatusFields,
  signal: AbortSignal,
): Promise<void> {
  const desired = desiredStatus(object, updates, fields, context.clock.now());
  if (statusUnchanged(object, desired)) return;
  await applyStatus(
    context.kubeConfig,
    {
      group: GROUP,
      version: VERSION,
      plural: kind.plural,
      kind: kind.kind,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
    },
    desired,
    signal,
  );
  for (const update of updates) {
    const before = getCondition(object.status?.conditions, update.type);
    if (before?.status === update.status && before.reason === update.reason) continue;
    await context.events.record(
      { apiVersion: API_VERSION, kind: kind.kind, metadata: object.metadata },
      update.status === 'False' ? 'Warning' : 'Normal',
      update.reason,
      update.message,
    );
    context.logger.info(
      {
        kind: kind.kind,
        namespace: object.metadata.namespace,
        name: object.metadata.name,
        condition: update.type,
        status: update.status,
        reason: update.reason,
      },
      update.message,
    );
  }
}
