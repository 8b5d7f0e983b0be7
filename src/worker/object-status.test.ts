import { describe, expect, it } from 'vitest';
import { accountStatus, applyExclusions, applyObservations } from './object-status.ts';
import type { ObjectIssue, ObjectRecord, Observation } from './object-status.ts';

const issue: ObjectIssue = { source: 'graph', code: 'ErrorInternalServerError', message: 'An internal server error occurred.' };
const key = { account: 'ann@contoso.com', service: 'mail', id: 'AAMk1' };
const day = (n: number): Date => new Date(Date.UTC(2026, 10, 1 + n, 6));
const failed = (version: string): Observation => ({ ...key, kind: 'failed', version, path: '/Inbox/Quarterly report', issue });
const succeeded = (version: string): Observation => ({ ...key, kind: 'succeeded', version });
const gone: Observation = { ...key, kind: 'gone' };

function statuses(records: ObjectRecord[]): Record<string, string> {
  return Object.fromEntries(records.map((r) => [r.version, r.status]));
}

describe('object backup status report', () => {
  it('lists an object only once it fails, and keeps the first failure time across retries', () => {
    let records = applyObservations([], [succeeded('v1')], day(0));
    expect(records).toEqual([]);
    records = applyObservations(records, [failed('v1')], day(0));
    records = applyObservations(records, [failed('v1')], day(1));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      status: 'Failure',
      path: '/Inbox/Quarterly report',
      issue,
      firstFailure: day(0).toISOString(),
      lastAttempt: day(1).toISOString(),
    });
  });

  it('turns Failure into Success when a later attempt works, and drops it 30 days later', () => {
    let records = applyObservations([], [failed('v1')], day(0));
    records = applyObservations(records, [succeeded('v1')], day(1));
    expect(statuses(records)).toEqual({ v1: 'Success' });
    records = applyObservations(records, [], day(30));
    expect(records).toHaveLength(1);
    records = applyObservations(records, [], day(32));
    expect(records).toEqual([]);
  });

  it('turns Failure into NotAvailable when the source no longer has the object, and drops it 30 days later', () => {
    let records = applyObservations([], [failed('v1')], day(0));
    records = applyObservations(records, [gone], day(2));
    expect(statuses(records)).toEqual({ v1: 'NotAvailable' });
    expect(applyObservations(records, [], day(33))).toEqual([]);
  });

  it('treats a changed object as a new version: the old failing version is no longer available', () => {
    let records = applyObservations([], [failed('v1')], day(0));
    records = applyObservations(records, [failed('v2')], day(1));
    expect(statuses(records)).toEqual({ v1: 'NotAvailable', v2: 'Failure' });
    records = applyObservations(records, [succeeded('v2')], day(2));
    expect(statuses(records)).toEqual({ v1: 'NotAvailable', v2: 'Success' });
  });

  it('keeps Excluded versions forever, does not retry them, and turns them to Success when a newer version is backed up', () => {
    let records = applyObservations([], [failed('v1')], day(0));
    records = applyExclusions(records, [{ ...key, version: 'v1' }], day(1)).records;
    expect(statuses(records)).toEqual({ v1: 'Excluded' });
    records = applyObservations(records, [failed('v1')], day(2));
    expect(statuses(records)).toEqual({ v1: 'Excluded' });
    records = applyObservations(records, [], day(400));
    expect(statuses(records)).toEqual({ v1: 'Excluded' });
    records = applyObservations(records, [succeeded('v2')], day(401));
    expect(statuses(records)).toEqual({ v1: 'Success' });
  });
});

describe('exclusions', () => {
  it('excludes only Failure versions, says why the others are ignored, and undoes when the request goes away', () => {
    let records = applyObservations(
      [],
      [failed('v1'), { account: 'bob', service: 'mail', id: 'X', kind: 'failed', version: 'v9', path: '/Inbox/x', issue }],
      day(0),
    );
    records = applyObservations(records, [{ account: 'bob', service: 'mail', id: 'X', kind: 'succeeded', version: 'v9' }], day(1));
    const result = applyExclusions(
      records,
      [
        { ...key, version: 'v1' },
        { account: 'bob', service: 'mail', id: 'X', version: 'v9' },
        { ...key, version: 'nope' },
      ],
      day(2),
    );
    expect(result.excluded).toEqual([{ ...key, version: 'v1' }]);
    expect(result.ignored.map((i) => i.reason)).toEqual([
      'only versions with status Failure can be excluded; this version is Success',
      'no such object version in the object backup status report',
    ]);
    const undone = applyExclusions(result.records, [], day(3));
    expect(undone.records.find((r) => r.id === 'AAMk1')?.status).toBe('Failure');
  });
});

describe('account status', () => {
  it('is Onboarding during a base backup, whatever fails', () => {
    const records = applyObservations([], [failed('v1')], day(0));
    expect(accountStatus({ onboarding: true, records, skippedItems: 3, now: day(5) })).toBe('Onboarding');
  });

  it('is Partial while an object fails, Failed once it has failed for 24 hours, Success when it recovers', () => {
    let records = applyObservations([], [failed('v1')], day(0));
    expect(accountStatus({ onboarding: false, records, skippedItems: 0, now: new Date(day(0).getTime() + 3_600_000) })).toBe('Partial');
    expect(accountStatus({ onboarding: false, records, skippedItems: 0, now: day(1) })).toBe('Failed');
    records = applyObservations(records, [succeeded('v1')], day(1));
    expect(accountStatus({ onboarding: false, records, skippedItems: 0, now: day(1) })).toBe('Success');
    expect(accountStatus({ onboarding: false, records, skippedItems: 2, now: day(1) })).toBe('Partial');
  });
});
