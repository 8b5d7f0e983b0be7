// BackupRun reconciler: validates the run against its policy, honours spec.cancel, and shows the
// phase and Succeeded condition. It does not launch the worker Job yet: a valid run waits in Scheduled.
import { backupRunKind } from '../../api/backup-run.ts';
import type { Reconciler, ObjectKey } from '../../runtime/types.ts';
import type { ControllerContext } from '../context.ts';
import { runStatusFields } from '../run-status.ts';
import { conditionUpdate, updateStatus } from '../status.ts';
import { decideBackupRun } from './decide.ts';

export class BackupRunReconciler implements Reconciler {
  readonly name = 'backuprun';
  readonly #context: ControllerContext;

  constructor(context: ControllerContext) {
    this.#context = context;
  }

  async reconcile({ namespace, name }: ObjectKey, signal: AbortSignal): Promise<void> {
    const { caches, clock } = this.#context;
    const run = caches.runs.get(namespace, name);
    if (!run || run.metadata.deletionTimestamp) return;
    const policy = caches.policies.get(namespace, run.spec.policyRef.name);
    const decision = decideBackupRun({ run, policy, now: clock.now() });
    if (!decision) return;
    await updateStatus(
      this.#context,
      backupRunKind,
      run,
      [conditionUpdate('Succeeded', decision.succeeded)],
      runStatusFields(decision, run.status),
      signal,
    );
  }
}
