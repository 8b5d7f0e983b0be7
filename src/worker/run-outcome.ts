// How a backup run ended, as the job monitor shows it (DESIGN section 3): pure, from what the run
// did. The rules:
//  - Unsuccessful: the whole attempt failed before any account was backed up (a service the
//    provider does not have, a discovery that failed, groups that no longer exist, a repository
//    that could not be opened);
//  - Incomplete: the run began but an error stopped it (storage, credentials, the tenant); what
//    was committed stays usable, and when nothing could be committed the next run resumes from the
//    last checkpoint;
//  - Cancelled: the run was asked to stop; what it stored is committed;
//  - Successful: otherwise, also with skipped items (retried by the next run) and when nothing
//    changed.
import type { Reason } from '../api/reasons.ts';

export type RunOutcome = 'Successful' | 'Incomplete' | 'Unsuccessful' | 'Cancelled';

export interface RunSummary {
  outcome: RunOutcome;
  reason: Reason;
  message: string;
}

/** What a run that got as far as backing up accounts did. */
export interface RunFacts {
  /** The run's signal fired (a cancel, or the Job's deadline). */
  cancelled: boolean;
  /** The first failure that stopped the run (never the cancellation itself). */
  failure?: { reason: Reason; message: string };
  /** The committed snapshot; undefined when the commit could not be made. */
  snapshot?: string;
  accountsDone: number;
  accountsTotal: number;
  added: number;
  removed: number;
  skipped: number;
  failedContainers: number;
}

/** A run that could not start backing up anything. */
export function unsuccessful(reason: Reason, message: string): RunSummary {
  return { outcome: 'Unsuccessful', reason, message };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function summariseRun(facts: RunFacts): RunSummary {
  const progress = `after ${facts.accountsDone} of ${plural(facts.accountsTotal, 'account')}`;
  const kept = facts.snapshot
    ? `what was backed up is in snapshot ${facts.snapshot}`
    : 'nothing could be committed; the next run resumes from the last checkpoint';
  if (facts.failure && facts.failure.reason !== 'Cancelled') {
    const message = facts.failure.message.replace(/[.\s]*$/, '.');
    return { outcome: 'Incomplete', reason: facts.failure.reason, message: `${message} The run stopped ${progress}; ${kept}.` };
  }
  if (facts.cancelled || facts.failure) {
    return { outcome: 'Cancelled', reason: 'Cancelled', message: `The run was cancelled ${progress}; ${kept}.` };
  }
  if (facts.skipped > 0 || facts.failedContainers > 0) {
    const parts = [
      facts.skipped > 0 ? plural(facts.skipped, 'item') : '',
      facts.failedContainers > 0 ? plural(facts.failedContainers, 'folder') : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return {
      outcome: 'Successful',
      reason: 'ItemsSkipped',
      message: `${parts} could not be backed up and will be retried by the next run; see the skipped-items report.`,
    };
  }
  return {
    outcome: 'Successful',
    reason: 'Succeeded',
    message: `${plural(facts.accountsTotal, 'account')} backed up: ${facts.added} items added, ${facts.removed} removed.`,
  };
}
