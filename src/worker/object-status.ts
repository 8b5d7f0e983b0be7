// The object backup status report: only object versions that failed at least once are listed,
// with their path in the source, id, version, status, issue and last attempt. Pure transitions,
// applied by the worker to each account it backs up (exclusions included: they come with the run):
//
//   Failure       retried every run; a newer version replaces it (the old one is NotAvailable)
//   Success       a later attempt, or a newer version, was backed up; leaves the report 30 days later
//   NotAvailable  the source says the object no longer exists; leaves the report 30 days later
//   Excluded      a user excluded that Failure version; never retried, kept forever; a newer
//                 version is an object of its own and, once backed up, turns it into Success
import type { SourceIssue } from '../providers/provider.ts';

export type ObjectStatus = 'Failure' | 'Success' | 'NotAvailable' | 'Excluded';

/** The issue of an object version, as the source (or our code) raised it. */
export type ObjectIssue = SourceIssue;

export interface ObjectKey {
  account: string;
  service: string;
  id: string;
}

export interface ObjectRecord extends ObjectKey {
  version: string;
  path: string;
  status: ObjectStatus;
  issue: ObjectIssue;
  /** When this version first failed (ISO). */
  firstFailure: string;
  /** When the container holding the object was last attempted (ISO). */
  lastAttempt: string;
  /** When the status last changed (ISO); the 30-day expiry counts from here. */
  statusChanged: string;
}

export type Observation =
  | (ObjectKey & { kind: 'failed'; version: string; path: string; issue: ObjectIssue })
  | (ObjectKey & { kind: 'succeeded'; version: string })
  | (ObjectKey & { kind: 'gone' });

export const RECORD_RETENTION_MS = 30 * 86_400_000;
export const FAILED_ACCOUNT_AFTER_MS = 24 * 3_600_000;

const objectKey = (k: ObjectKey): string => `${k.account}\u0000${k.service}\u0000${k.id}`;

/** Applies one run's observations to the report and drops records past their retention. */
export function applyObservations(records: readonly ObjectRecord[], observations: Iterable<Observation>, now: Date): ObjectRecord[] {
  const at = now.toISOString();
  const byObject = new Map<string, ObjectRecord[]>();
  for (const r of records) {
    const key = objectKey(r);
    const list = byObject.get(key) ?? [];
    list.push({ ...r });
    byObject.set(key, list);
  }
  const set = (r: ObjectRecord, status: ObjectStatus): void => {
    if (r.status !== status) {
      r.status = status;
      r.statusChanged = at;
    }
  };
  for (const o of observations) {
    const key = objectKey(o);
    const list = byObject.get(key) ?? [];
    if (o.kind === 'failed') {
      let record = list.find((r) => r.version === o.version);
      if (record?.status === 'Excluded') continue; // excluded versions are not attempted
      for (const other of list) if (other !== record && other.status === 'Failure') set(other, 'NotAvailable');
      if (!record) {
        record = {
          account: o.account,
          service: o.service,
          id: o.id,
          version: o.version,
          path: o.path,
          status: 'Failure',
          issue: o.issue,
          firstFailure: at,
          lastAttempt: at,
          statusChanged: at,
        };
        list.push(record);
        byObject.set(key, list);
      } else {
        if (record.status !== 'Failure') record.firstFailure = at;
        set(record, 'Failure');
        record.issue = o.issue;
        record.path = o.path;
        record.lastAttempt = at;
      }
    } else if (o.kind === 'succeeded') {
      for (const r of list) {
        if (r.status === 'Failure' || (r.status === 'Excluded' && r.version !== o.version)) set(r, 'Success');
        r.lastAttempt = at;
      }
    } else {
      for (const r of list) {
        if (r.status === 'Failure') set(r, 'NotAvailable');
        r.lastAttempt = at;
      }
    }
  }
  const cutoff = now.getTime() - RECORD_RETENTION_MS;
  const out: ObjectRecord[] = [];
  for (const list of byObject.values()) {
    for (const r of list) {
      if ((r.status === 'Success' || r.status === 'NotAvailable') && Date.parse(r.statusChanged) < cutoff) continue;
      out.push(r);
    }
  }
  return out;
}

export interface ExclusionRequest extends ObjectKey {
  version: string;
}

export interface ExclusionResult {
  records: ObjectRecord[];
  excluded: ExclusionRequest[];
  ignored: (ExclusionRequest & { reason: string })[];
}

/**
 * Sets the excluded versions: requested Failure versions become Excluded; Excluded versions no
 * longer requested (the ObjectExclusion was deleted: undo) become Failure again and are retried.
 * Anything else requested is ignored, with the reason.
 */
export function applyExclusions(records: readonly ObjectRecord[], requests: readonly ExclusionRequest[], now: Date): ExclusionResult {
  const at = now.toISOString();
  const wanted = new Map(requests.map((r) => [`${objectKey(r)}\u0000${r.version}`, r]));
  const excluded: ExclusionRequest[] = [];
  const ignored: (ExclusionRequest & { reason: string })[] = [];
  const found = new Set<string>();
  const out = records.map((r) => {
    const key = `${objectKey(r)}\u0000${r.version}`;
    const request = wanted.get(key);
    const copy = { ...r };
    if (request) {
      found.add(key);
      if (r.status === 'Failure' || r.status === 'Excluded') {
        if (r.status === 'Failure') copy.statusChanged = at;
        copy.status = 'Excluded';
        excluded.push(request);
      } else {
        ignored.push({ ...request, reason: `only versions with status Failure can be excluded; this version is ${r.status}` });
      }
    } else if (r.status === 'Excluded') {
      copy.status = 'Failure';
      copy.statusChanged = at;
    }
    return copy;
  });
  for (const [key, request] of wanted) {
    if (!found.has(key)) ignored.push({ ...request, reason: 'no such object version in the object backup status report' });
  }
  return { records: out, excluded, ignored };
}

export type AccountStatus = 'Success' | 'Partial' | 'Failed' | 'Onboarding';

/**
 * An account's status: Onboarding while any of its services is in its base backup; Failed when
 * one object has been failing for 24 hours; Partial when objects fail or items were skipped;
 * otherwise Success.
 */
export function accountStatus(input: {
  onboarding: boolean;
  records: readonly ObjectRecord[];
  skippedItems: number;
  now: Date;
}): AccountStatus {
  if (input.onboarding) return 'Onboarding';
  const failing = input.records.filter((r) => r.status === 'Failure');
  if (failing.some((r) => input.now.getTime() - Date.parse(r.firstFailure) >= FAILED_ACCOUNT_AFTER_MS)) return 'Failed';
  if (failing.length > 0 || input.skippedItems > 0) return 'Partial';
  return 'Success';
}
