import { describe, expect, it } from 'vitest';
import type { Account } from '../providers/provider.ts';
import { matchExclusions } from './exclusions.ts';
import type { ObjectRecord } from './object-status.ts';

const account: Account = { id: 'u1', address: 'jdoe@contoso.com', displayName: 'J', kind: 'user', licensed: true, groups: [] };
const record = (id: string, version: string, service = 'mail'): ObjectRecord => ({
  account: 'u1',
  service,
  id,
  version,
  path: 'Inbox/x',
  status: 'Failure',
  issue: { source: 'graph', code: 'E', message: 'm' },
  firstFailure: '2026-12-01T00:00:00Z',
  lastAttempt: '2026-12-01T00:00:00Z',
  statusChanged: '2026-12-01T00:00:00Z',
});

describe('matchExclusions', () => {
  const records = [record('m1', 'v1'), record('f1', 'v1', 'onedrive')];

  it('takes the service of each named version from the report, by address, id or any account', () => {
    const match = matchExclusions(
      records,
      [
        { account: 'JDoe@contoso.com', objectId: 'm1', version: 'v1' },
        { account: 'u1', objectId: 'f1', version: 'v1' },
        { objectId: 'm1', version: 'v1' },
      ],
      account,
    );
    expect(match.requests).toEqual([
      { account: 'u1', service: 'mail', id: 'm1', version: 'v1' },
      { account: 'u1', service: 'onedrive', id: 'f1', version: 'v1' },
      { account: 'u1', service: 'mail', id: 'm1', version: 'v1' },
    ]);
    expect(match.ignored).toEqual([]);
  });

  it('reports a version the report does not list only when the exclusion names this account', () => {
    const match = matchExclusions(
      records,
      [
        { account: 'u1', objectId: 'm1', version: 'v0' },
        { objectId: 'nope', version: 'v1' },
        { account: 'someone@else.com', objectId: 'm1', version: 'v1' },
      ],
      account,
    );
    expect(match.requests).toEqual([]);
    expect(match.ignored).toEqual([expect.objectContaining({ account: 'jdoe@contoso.com', id: 'm1', version: 'v0' })]);
  });
});
