// The one place the worker decides what an error means: whether it concerns one item, one
// container (a folder, a drive, a service's listing), or the whole run, with the catalog reason and
// the issue the object report shows. Everything the engine catches goes through classifyFailure.
//
// The rules:
//  - our storage failing (RepositoryError: unreachable, refused, key invalid, corrupt) stops the
//    run at once: no source object is ever recorded as failed because of our storage;
//  - once the run is cancelled, a failing item or listing (most often a wait given up: an
//    AbortError) is the cancellation, not a failure of the source: nothing is recorded for it and
//    the next run tries again; before that, a request that timed out is a failure like any other;
//  - the source saying that nothing more can succeed (credentials revoked, tenant gone) stops the
//    run with that reason;
//  - the source saying an item does not exist (404, 410) means the item is gone, not failed;
//  - any other failure of the source concerns what was being read: the item being downloaded,
//    or the container being listed;
//  - an error of our own while an item is read (a stream cut, a bug in a mapping) concerns that
//    item; while changes are listed it stops the run, since the listing cannot go on.
import type { Reason } from '../api/reasons.ts';
import { SourceError, type SourceIssue } from '../providers/provider.ts';
import { RepositoryError } from '../repository/errors.ts';

export type FailureScope = 'item' | 'container' | 'run';

export interface FailureContext {
  /** What was being done: reading one item's content, or listing changes (or the account's own bookkeeping). */
  stage: 'item' | 'listing';
  /** The run's signal has fired: waits that were given up are the cancellation, not a failure. */
  cancelled: boolean;
}

export interface Failure {
  scope: FailureScope;
  /** The catalog reason: the run's when the scope is the run, else what the object report implies. */
  reason: Reason;
  /** What the object report and the skipped-items report show (never for storage failures). */
  issue: SourceIssue;
  /** The source says the item no longer exists: it is removed, not failed. */
  gone: boolean;
  /**
   * Our storage failed: nothing more is written by this run, not even its snapshot (an account
   * being opened or finished may be half in the writer); the next run resumes from the last checkpoint.
   */
  storage: boolean;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function classifyFailure(error: unknown, { stage, cancelled }: FailureContext): Failure {
  if (error instanceof RepositoryError) {
    return {
      scope: 'run',
      reason: error.reason,
      issue: { source: 'internal', code: error.code, message: `the repository storage failed: ${error.message}` },
      gone: false,
      storage: true,
    };
  }
  if (error instanceof SourceError && error.fatalReason)
    return { scope: 'run', reason: error.fatalReason, issue: error.issue, gone: false, storage: false };
  if (cancelled) {
    return {
      scope: 'run',
      reason: 'Cancelled',
      issue: { source: 'internal', code: 'Cancelled', message: 'the run was cancelled' },
      gone: false,
      storage: false,
    };
  }
  if (error instanceof SourceError) {
    if (stage === 'item' && error.notFound)
      return { scope: 'item', reason: 'ItemsSkipped', issue: error.issue, gone: true, storage: false };
    return { scope: stage === 'item' ? 'item' : 'container', reason: 'ItemsSkipped', issue: error.issue, gone: false, storage: false };
  }
  const issue: SourceIssue = { source: 'internal', code: 'InternalError', message: messageOf(error) };
  return {
    scope: stage === 'item' ? 'item' : 'run',
    reason: stage === 'item' ? 'ItemsSkipped' : 'InternalError',
    issue,
    gone: false,
    storage: false,
  };
}
