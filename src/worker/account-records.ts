// What the worker remembers about each account between runs, in the repository next to the
// snapshots: its object backup status report (failed object versions and their transitions),
// when each service finished its base backup (until then the account is Onboarding), and when it
// was last backed up whole. One sealed object per policy and account, rewritten after each run
// that touched the account; never under Object Lock, since it is state, not backup data.
import { createHash } from 'node:crypto';
import { RepositoryError } from '../repository/errors.ts';
import type { Repository } from '../repository/repository.ts';
import type { AccountStatus, ObjectRecord } from './object-status.ts';

export interface ServiceRecord {
  /** When the first full backup of the service finished (ISO); unset while it is onboarding. */
  baseCompleted?: string;
  /** When the service was last backed up to the end (ISO). */
  lastSuccess?: string;
  /** Items skipped in the last run. */
  skipped: number;
}

export interface AccountRecord {
  version: 1;
  policy: string;
  account: string;
  address: string;
  kind: string;
  services: Record<string, ServiceRecord>;
  objects: ObjectRecord[];
  status: AccountStatus;
  updated: string;
}

const PREFIX = 'accounts/';

function recordName(policy: string, account: string): string {
  const key = createHash('sha256').update(`${policy}\u0000${account}`).digest('hex');
  return `${PREFIX}${key}`;
}

export async function readAccountRecord(repository: Repository, policy: string, account: string): Promise<AccountRecord | undefined> {
  const name = recordName(policy, account);
  try {
    return JSON.parse((await repository.getSealed(name)).toString('utf8')) as AccountRecord;
  } catch (error) {
    if (error instanceof RepositoryError && error.code === 'NotFound') return undefined;
    throw error;
  }
}

export async function writeAccountRecord(repository: Repository, record: AccountRecord): Promise<void> {
  await repository.storage.put(recordName(record.policy, record.account), repository.sealBytes(Buffer.from(JSON.stringify(record))));
}

/** Every account record of a policy (the accounts a policy already protects). */
export async function readAccountRecords(repository: Repository, policy: string): Promise<AccountRecord[]> {
  const out: AccountRecord[] = [];
  for await (const object of repository.storage.list(PREFIX)) {
    const record = JSON.parse((await repository.getSealed(object.name)).toString('utf8')) as AccountRecord;
    if (record.policy === policy) out.push(record);
  }
  return out.sort((a, b) => a.address.localeCompare(b.address));
}
