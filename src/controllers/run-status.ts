// What BackupRun and RestoreRequest share as run-like objects: the decision their reconcilers
// make, how a decision finishes a run, and the status fields a decision writes.
import { FINISHED_PHASES, type RunPhase } from '../api/backup-run.ts';
import { formatDuration } from '../api/duration.ts';
import type { StatusFields } from './status.ts';
import type { Verdict } from './verdict.ts';

export interface RunDecision {
  phase: RunPhase;
  succeeded: Verdict;
  /** Set when the run finishes now. */
  completionTime?: string;
  duration?: string;
}

export function isFinished(phase: RunPhase | undefined): boolean {
  return phase !== undefined && FINISHED_PHASES.includes(phase);
}

/** Marks a run finished at `now`, with its duration measured from its start (or creation). */
export function finish(phase: RunPhase, succeeded: Verdict, startedAt: string | undefined, now: Date): RunDecision {
  const start = startedAt ? Date.parse(startedAt) : now.getTime();
  return { phase, succeeded, completionTime: now.toISOString(), duration: formatDuration(now.getTime() - start) };
}

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
