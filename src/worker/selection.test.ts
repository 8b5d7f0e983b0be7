import { describe, expect, it } from 'vitest';
import type { Account, BackupService, Directory } from '../providers/provider.ts';
import { selectAccounts, shardOf, type SelectionInput } from './selection.ts';

const service = (name: string, kinds: BackupService['accountKinds']): BackupService => ({
  name,
  accountKinds: kinds,
  movesBetweenContainers: true,
  changes: () => ({ changes: [], cursor: () => '' }) as never,
});
const mail = service('mail', ['user', 'sharedMailbox']);
const sharepoint = service('sharepoint', ['site']);

const account = (id: string, kind: Account['kind'], extra: Partial<Account> = {}): Account => ({
  id,
  address: `${id}@contoso.com`,
  displayName: id,
  kind,
  licensed: true,
  groups: [],
  ...extra,
});
const directory: Directory = {
  accounts: [
    account('ann', 'user', { groups: ['g-sales', 'sales@contoso.com'] }),
    account('bob', 'user'),
    account('cid', 'user', { licensed: false }),
    account('shared', 'sharedMailbox'),
    account('site1', 'site', { address: 'https://contoso.sharepoint.com/sites/one' }),
  ],
  groups: [{ id: 'g-sales', displayName: 'Sales', mail: 'sales@contoso.com' }],
};

const base: SelectionInput = {
  directory,
  accounts: { mode: 'all' },
  discovery: { autoAddUsers: true, autoAddSharedMailboxes: true, includeUnlicensed: false },
  known: new Set(),
  services: [mail],
  shard: { index: 0, count: 1 },
};
const ids = (input: Partial<SelectionInput>) => selectAccounts({ ...base, ...input }).accounts.map((a) => a.account.id);

describe('account selection', () => {
  it('takes every licensed account a service applies to, and unlicensed ones only when asked', () => {
    expect(ids({})).toEqual(['ann', 'bob', 'shared']);
    expect(ids({ discovery: { ...base.discovery, includeUnlicensed: true } })).toEqual(['ann', 'bob', 'cid', 'shared']);
    expect(ids({ services: [mail, sharepoint] })).toEqual(['ann', 'bob', 'site1', 'shared']); // sorted by address: the site's is its URL
  });

  it('includes and excludes by address, id and group (name, address or id)', () => {
    expect(ids({ accounts: { mode: 'include', include: [{ address: 'BOB@contoso.com' }, { group: 'Sales' }] } })).toEqual(['ann', 'bob']);
    expect(ids({ accounts: { mode: 'all', exclude: [{ group: 'sales@contoso.com' }, { id: 'shared' }] } })).toEqual(['bob']);
  });

  it('adds newly found accounts only when discovery says so, and keeps those already protected', () => {
    const known = new Set(['ann']);
    expect(ids({ known, discovery: { ...base.discovery, autoAddUsers: false } })).toEqual(['ann', 'shared']);
    expect(ids({ known, discovery: { ...base.discovery, autoAddUsers: false, autoAddSharedMailboxes: false } })).toEqual(['ann']);
    // Named in include, an account is protected whatever discovery says.
    expect(
      ids({ known, discovery: { ...base.discovery, autoAddUsers: false }, accounts: { mode: 'all', include: [{ id: 'bob' }] } }),
    ).toEqual(['ann', 'bob', 'shared']);
  });

  it('names groups that no longer exist', () => {
    expect(selectAccounts({ ...base, accounts: { mode: 'include', include: [{ group: 'Gone' }] } }).missingGroups).toEqual(['Gone']);
  });

  it('restricts to the accounts of a BackupRun', () => {
    expect(ids({ only: ['bob@contoso.com', 'shared'] })).toEqual(['bob', 'shared']);
  });

  it('splits accounts over shards by a stable hash: every account on exactly one shard', () => {
    const many: Directory = { accounts: Array.from({ length: 200 }, (_, i) => account(`u${i}`, 'user')), groups: [] };
    const shards = [0, 1, 2].map((index) => selectAccounts({ ...base, directory: many, shard: { index, count: 3 } }));
    const all = shards.flatMap((s) => s.accounts.map((a) => a.account.id));
    expect(new Set(all).size).toBe(200);
    expect(all).toHaveLength(200);
    for (const s of shards) {
      expect(s.totalAccounts).toBe(200);
      expect(s.accounts.length).toBeGreaterThan(40);
    }
    expect(shardOf('u7', 3)).toBe(shardOf('u7', 3));
  });
});
