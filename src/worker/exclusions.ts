// Which object versions of one account an ObjectExclusion names: pure. An exclusion gives an
// object id and version, and optionally the account (an address or id); the service comes from
// the object backup status report, where the failed version is listed. A version the report does
// not list is ignored with a reason when the exclusion names this account (an exclusion for any
// account is only reported where it matches).
import type { Account } from '../providers/provider.ts';
import type { ExclusionRequest, ObjectRecord } from './object-status.ts';

export interface Exclusion {
  /** An address or id; any account when absent. */
  account?: string;
  objectId: string;
  version: string;
}

export interface ExclusionMatch {
  requests: ExclusionRequest[];
  /** Named for this account, but not in its report. */
  ignored: (ExclusionRequest & { reason: string })[];
}

function forAccount(exclusion: Exclusion, account: Account): boolean {
  return exclusion.account === undefined || exclusion.account === account.id || exclusion.account.toLowerCase() === account.address;
}

export function matchExclusions(records: readonly ObjectRecord[], exclusions: readonly Exclusion[], account: Account): ExclusionMatch {
  const requests: ExclusionRequest[] = [];
  const ignored: ExclusionMatch['ignored'] = [];
  for (const e of exclusions.filter((x) => forAccount(x, account))) {
    const listed = records.filter((o) => o.id === e.objectId && o.version === e.version);
    for (const o of listed) requests.push({ account: account.id, service: o.service, id: o.id, version: o.version });
    if (listed.length === 0 && e.account !== undefined) {
      ignored.push({
        account: account.address,
        service: '',
        id: e.objectId,
        version: e.version,
        reason: 'no such object version in the object backup status report',
      });
    }
  }
  return { requests, ignored };
}
