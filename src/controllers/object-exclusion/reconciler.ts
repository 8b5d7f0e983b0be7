// ObjectExclusion reconciler: checks the policy exists and the list is sane, and reports Ready.
// Matching against the object backup status report comes with the backup workers.
import { objectExclusionKind } from '../../api/object-exclusion.ts';
import type { Reconciler, ObjectKey } from '../../runtime/types.ts';
import type { ControllerContext } from '../context.ts';
import { conditionUpdate, updateStatus } from '../status.ts';
import { decideObjectExclusionReady } from './decide.ts';

export class ObjectExclusionReconciler implements Reconciler {
  readonly name = 'objectexclusion';
  readonly #context: ControllerContext;

  constructor(context: ControllerContext) {
    this.#context = context;
  }

  async reconcile({ namespace, name }: ObjectKey, signal: AbortSignal): Promise<void> {
    const { caches } = this.#context;
    const exclusion = caches.exclusions.get(namespace, name);
    if (!exclusion || exclusion.metadata.deletionTimestamp) return;
    const policy = caches.policies.get(namespace, exclusion.spec.policyRef.name);
    const ready = decideObjectExclusionReady({ exclusion, policy });
    await updateStatus(this.#context, objectExclusionKind, exclusion, [conditionUpdate('Ready', ready)], {}, signal);
  }
}
