// ObjectExclusion reconciler: checks that the policy exists and that no object version is listed
// twice, and reports Ready. It changes no object backup status report: the backup worker matches the
// exclusions against the report of each account it backs up (`saasbackup worker backup --exclusions`).
// The controller does not hand them to a worker yet, so status.excluded and status.ignored stay unset.
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
