// Pure decisions for a BackupRun: which phase and Succeeded condition it should show now.
// Launching worker Jobs is not part of this version; a valid run waits in Scheduled.
import type { BackupPolicy } from '../../api/backup-policy.ts';
import type { BackupRun } from '../../api/backup-run.ts';
import { finish, isFinished, type RunDecision } from '../run-status.ts';
import { failed, pending } from '../verdict.ts';

export interface BackupRunInput {
  run: BackupRun;
  policy: BackupPolicy | undefined;
  now: Date;
}

/** Returns undefined when the run is finished: a finished run is history and never changes again. */
export function decideBackupRun({ run, policy, now }: BackupRunInput): RunDecision | undefined {
  if (isFinished(run.status?.phase)) return undefined;
  const startedAt = run.status?.startTime ?? run.metadata.creationTimestamp;
  if (run.spec.cancel) {
    return finish('Cancelled', failed('Cancelled', 'The run was cancelled through spec.cancel.'), startedAt, now);
  }
  if (!policy) {
    // GitOps may apply the run before its policy: wait rather than fail.
    return {
      phase: 'Scheduled',
      succeeded: pending(
        'PolicyNotFound',
        `BackupPolicy "${run.spec.policyRef.name}" named in spec.policyRef does not exist in this namespace.`,
      ),
    };
  }
  const unknownServices = (run.spec.services ?? []).filter((service) => !policy.spec.services.includes(service));
  if (unknownServices.length > 0) {
    return finish(
      'Unsuccessful',
      failed(
        'InvalidConfiguration',
        `spec.services lists ${unknownServices.join(', ')}, which BackupPolicy "${policy.metadata.name}" does not back up (it backs up ${policy.spec.services.join(', ')}).`,
      ),
      startedAt,
      now,
    );
  }
  return {
    phase: 'Scheduled',
    succeeded: pending('Scheduled', 'The run is valid and waiting for a worker.'),
  };
}
