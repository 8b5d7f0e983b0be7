// Which accounts a run of a policy backs up, and on which shard: pure decisions over the
// discovered directory, the policy's account selection, the Connector's discovery settings and
// the accounts already protected. Shards split accounts by a stable hash of their id, so an
// account stays on its shard from run to run (its delta tokens live in that shard's snapshots).
import { createHash } from 'node:crypto';
import type { Account, AccountKind, BackupService, Directory } from '../providers/provider.ts';

export interface AccountSelector {
  address?: string;
  id?: string;
  group?: string;
}

export interface SelectionInput {
  directory: Directory;
  accounts: { mode: 'all' | 'include'; include?: AccountSelector[]; exclude?: AccountSelector[] };
  discovery: { autoAddUsers: boolean; autoAddSharedMailboxes: boolean; includeUnlicensed: boolean };
  /** Ids of accounts already protected by earlier runs; empty on the first run, which adds everything. */
  known: ReadonlySet<string>;
  services: readonly BackupService[];
  /** Restrict to these addresses or ids (a BackupRun's spec.accounts). */
  only?: readonly string[];
  shard: { index: number; count: number };
}

export interface SelectedAccount {
  account: Account;
  services: BackupService[];
}

export interface Selection {
  /** Accounts of this shard, each with the services that apply to it, sorted by address. */
  accounts: SelectedAccount[];
  /** Accounts selected on every shard together (for "accounts done of total"). */
  totalAccounts: number;
  /** Groups named by selectors that the directory does not have (reason GroupsMissing). */
  missingGroups: string[];
}

/** The shard an account belongs to: stable across runs and machines. */
export function shardOf(accountId: string, count: number): number {
  if (count <= 1) return 0;
  return createHash('sha256').update(accountId).digest().readUInt32BE(0) % count;
}

function groupIds(directory: Directory, name: string): string[] | undefined {
  const lower = name.toLowerCase();
  const found = directory.groups.filter(
    (g) => g.id.toLowerCase() === lower || g.displayName.toLowerCase() === lower || g.mail?.toLowerCase() === lower,
  );
  return found.length > 0 ? found.flatMap((g) => [g.id.toLowerCase(), ...(g.mail ? [g.mail.toLowerCase()] : [])]) : undefined;
}

function matcher(directory: Directory, selectors: readonly AccountSelector[], missing: Set<string>): (a: Account) => boolean {
  const addresses = new Set<string>();
  const ids = new Set<string>();
  const groups = new Set<string>();
  for (const s of selectors) {
    if (s.address) addresses.add(s.address.toLowerCase());
    if (s.id) ids.add(s.id.toLowerCase());
    if (s.group) {
      const found = groupIds(directory, s.group);
      if (found) for (const g of found) groups.add(g);
      else missing.add(s.group);
    }
  }
  return (a) => addresses.has(a.address.toLowerCase()) || ids.has(a.id.toLowerCase()) || a.groups.some((g) => groups.has(g.toLowerCase()));
}

function discoverable(a: Account, input: SelectionInput): boolean {
  if (a.kind === 'user' && !a.licensed && !input.discovery.includeUnlicensed) return false;
  if (input.known.size === 0 || input.known.has(a.id)) return true;
  if (a.kind === 'user') return input.discovery.autoAddUsers;
  if (a.kind === 'sharedMailbox') return input.discovery.autoAddSharedMailboxes;
  return true;
}

export function selectAccounts(input: SelectionInput): Selection {
  const missing = new Set<string>();
  const include = matcher(input.directory, input.accounts.include ?? [], missing);
  const exclude = matcher(input.directory, input.accounts.exclude ?? [], missing);
  const only = input.only && input.only.length > 0 ? new Set(input.only.map((s) => s.toLowerCase())) : undefined;
  const servicesFor = (kind: AccountKind) => input.services.filter((s) => s.accountKinds.includes(kind));
  const chosen: SelectedAccount[] = [];
  for (const account of input.directory.accounts) {
    const services = servicesFor(account.kind);
    if (services.length === 0) continue;
    // Listed by name, an account is protected whatever the discovery settings say.
    const picked = input.accounts.mode === 'include' ? include(account) : discoverable(account, input) || include(account);
    if (!picked || exclude(account)) continue;
    if (only && !only.has(account.address.toLowerCase()) && !only.has(account.id.toLowerCase())) continue;
    chosen.push({ account, services });
  }
  chosen.sort((a, b) => a.account.address.localeCompare(b.account.address));
  return {
    accounts: chosen.filter((c) => shardOf(c.account.id, input.shard.count) === input.shard.index),
    totalAccounts: chosen.length,
    missingGroups: [...missing].sort(),
  };
}
