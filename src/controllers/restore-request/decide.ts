// Pure decisions for a RestoreRequest: validation and the phase it should show now.
import type { BackupPolicy } from '../../api/backup-policy.ts';
import type { RestoreRequest } from '../../api/restore-request.ts';
import { finish, isFinished, type RunDecision } from '../run-status.ts';
import { failed, pending } from '../verdict.ts';

export interface RestoreRequestInput {
  restore: RestoreRequest;
  policy: BackupPolicy | undefined;
  now: Date;
}

export function decideRestoreRequest({ restore, policy, now }: RestoreRequestInput): RunDecision | undefined {
  if (isFinished(restore.status?.phase)) return undefined;
  const startedAt = restore.status?.startTime ?? restore.metadata.creationTimestamp;
  if (restore.spec.cancel) {
    return finish('Cancelled', failed('Cancelled', 'The restore was cancelled through spec.cancel.'), startedAt, now);
  }
  if (!policy) {
    return {
      phase: 'Scheduled',
      succeeded: pending(
        'PolicyNotFound',
        `BackupPolicy "${restore.spec.policyRef.name}" named in spec.policyRef does not exist in this namespace.`,
      ),
    };
  }
  const notBackedUp = (restore.spec.scope.services ?? []).filter((service) => !policy.spec.services.includes(service));
  if (notBackedUp.length > 0) {
    return finish(
      'Unsuccessful',
      failed(
        'InvalidConfiguration',
        `spec.scope.services lists ${notBackedUp.join(', ')}, which BackupPolicy "${policy.metadata.name}" does not back up.`,
      ),
      startedAt,
      now,
    );
  }
  if (restore.spec.source.pointInTime && Date.parse(restore.spec.source.pointInTime) > now.getTime()) {
    return finish('Unsuccessful', failed('InvalidConfiguration', 'spec.source.pointInTime is in the future.'), startedAt, now);
  }
  return { phase: 'Scheduled', succeeded: pending('Scheduled', 'The restore is valid and waiting for a worker.') };
}
