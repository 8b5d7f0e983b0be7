// The job monitor's outcome for every combination DESIGN section 3 names.
import { describe, expect, it } from 'vitest';
import { summariseRun, unsuccessful, type RunFacts } from './run-outcome.ts';

const facts = (extra: Partial<RunFacts> = {}): RunFacts => ({
  cancelled: false,
  snapshot: 'abc123',
  accountsDone: 3,
  accountsTotal: 3,
  added: 10,
  removed: 2,
  skipped: 0,
  failedContainers: 0,
  ...extra,
});

describe('summariseRun', () => {
  it.each([
    ['everything backed up', facts(), 'Successful', 'Succeeded', '3 accounts backed up: 10 items added, 2 removed.'],
    ['nothing changed', facts({ added: 0, removed: 0 }), 'Successful', 'Succeeded', '0 items added, 0 removed'],
    ['skipped items are retried next run', facts({ skipped: 2 }), 'Successful', 'ItemsSkipped', '2 items could not be backed up'],
    ['a folder that could not be read', facts({ failedContainers: 1 }), 'Successful', 'ItemsSkipped', '1 folder could not'],
    [
      'credentials revoked mid-run: the partial snapshot is kept',
      facts({ accountsDone: 1, failure: { reason: 'AuthenticationFailed', message: 'token refused' } }),
      'Incomplete',
      'AuthenticationFailed',
      'token refused. The run stopped after 1 of 3 accounts; what was backed up is in snapshot abc123.',
    ],
    [
      'storage unreachable: nothing committed, the next run resumes',
      facts({ accountsDone: 1, snapshot: undefined, failure: { reason: 'StorageUnavailable', message: 'S3 is down' } }),
      'Incomplete',
      'StorageUnavailable',
      'nothing could be committed; the next run resumes from the last checkpoint',
    ],
    [
      'cancelled',
      facts({ cancelled: true, accountsDone: 2 }),
      'Cancelled',
      'Cancelled',
      'cancelled after 2 of 3 accounts; what was backed up is in snapshot abc123',
    ],
    [
      'cancelled, then the commit failed on storage',
      facts({ cancelled: true, snapshot: undefined, failure: { reason: 'StorageUnavailable', message: 'S3 is down' } }),
      'Incomplete',
      'StorageUnavailable',
      'S3 is down.',
    ],
  ] as const)('%s', (_name, input, outcome, reason, message) => {
    const summary = summariseRun(input);
    expect(summary.outcome).toBe(outcome);
    expect(summary.reason).toBe(reason);
    expect(summary.message).toContain(message);
  });

  it('a run that could not start is Unsuccessful with its reason', () => {
    expect(unsuccessful('GroupsMissing', 'gone')).toEqual({ outcome: 'Unsuccessful', reason: 'GroupsMissing', message: 'gone' });
  });
});
