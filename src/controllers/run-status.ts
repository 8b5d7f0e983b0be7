// Status fields of a run-like object (BackupRun, RestoreRequest) from a RunDecision.
import type { RunDecision } from './backup-run/decide.ts';
import type { StatusFields } from './status.ts';

export function runStatusFields(decision: RunDecision, previous: StatusFields | undefined): StatusFields {
  const fields: StatusFields = { phase: decision.phase };
  const finished = decision.completionTime !== undefined;
  if (previous?.startTime) fields.startTime = previous.startTime;
  if (finished) {
    fields.completionTime = decision.completionTime;
    fields.duration = decision.duration;
    if (decision.phase !== 'Successful') {
      fields.reason = decision.succeeded.reason;
      fields.message = decision.succeeded.message;
    }
  }
  return fields;
}
