// RestoreRequest reconciler: validates the request against its policy, honours spec.cancel, and
// shows the phase and Succeeded condition. Running restores comes with the restore workers.
import { restoreRequestKind } from '../../api/restore-request.ts';
import type { Reconciler, ObjectKey } from '../../runtime/types.ts';
import type { ControllerContext } from '../context.ts';
import { runStatusFields } from '../run-status.ts';
import { conditionUpdate, updateStatus } from '../status.ts';
import { decideRestoreRequest } from './decide.ts';

export class RestoreRequestReconciler implements Reconciler {
  readonly name = 'restorerequest';
  readonly #context: ControllerContext;

  constructor(context: ControllerContext) {
    this.#context = context;
  }

  async reconcile({ namespace, name }: ObjectKey, signal: AbortSignal): Promise<void> {
    const { caches, clock } = this.#context;
    const restore = caches.restores.get(namespace, name);
    if (!restore || restore.metadata.deletionTimestamp) return;
    const policy = caches.policies.get(namespace, restore.spec.policyRef.name);
    const decision = decideRestoreRequest({ restore, policy, now: clock.now() });
    if (!decision) return;
    await updateStatus(
      this.#context,
      restoreRequestKind,
      restore,
      [conditionUpdate('Succeeded', decision.succeeded)],
      runStatusFields(decision, restore.status),
      signal,
    );
  }
}
