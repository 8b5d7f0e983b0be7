// One backup run of one shard: discover the tenant, select this shard's accounts, back up each
// selected service of each account (several accounts at once, since the source's quotas are per
// account), carry the previous state of accounts the run did not reach, commit one snapshot, and
// record per account its object report and status. The outcome follows the job monitor's rules:
// Successful (skipped items may exist and are retried), Incomplete (stopped by an error; the
// partial snapshot is committed and usable), Unsuccessful (nothing could be done), Cancelled.
import type { Reason } from '../api/reasons.ts';
import type { Account, BackupService, Provider, ProviderStats } from '../providers/provider.ts';
import { SourceError } from '../providers/provider.ts';
import { RepositoryError } from '../repository/errors.ts';
import type { Repository } from '../repository/repository.ts';
import type { SnapshotWriter } from '../repository/writer.ts';
import { readAccountRecord, readAccountRecords, writeAccountRecord, type AccountRecord } from './account-records.ts';
import { backupAccountService, type AccountServiceOutcome, type SkippedItem, type Tally } from './backup-account.ts';
import { accountStatus, applyExclusions, applyObservations, type AccountStatus, type ExclusionRequest } from './object-status.ts';
import { selectAccounts, type SelectionInput } from './selection.ts';
import { skippedItemsCsv, skippedReportName } from './skipped-report.ts';

export type RunOutcome = 'Successful' | 'Incomplete' | 'Unsuccessful' | 'Cancelled';

export interface ServiceStatistics {
  added: Tally;
  removed: Tally;
  skipped: Tally;
}

export interface RunProgress {
  accountsDone: number;
  accountsTotal: number;
  itemsDone: number;
  bytesDone: number;
}

export interface BackupRunInput {
  policy: string;
  run: string;
  shard: { index: number; count: number };
  provider: Provider;
  repository: Repository;
  /** Services of the policy, by name. */
  services: readonly string[];
  accounts: SelectionInput['accounts'];
  discovery: SelectionInput['discovery'];
  /** A BackupRun's spec.accounts: only these. */
  only?: readonly string[];
  /** Accounts backed up at once. */
  concurrency: number;
  /** Object versions to exclude (the policy's ObjectExclusions); `account` is an address or id, any when absent. */
  exclusions?: readonly { account?: string; objectId: string; version: string }[];
  clock?: () => Date;
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
  checkpointEveryMs?: number;
  checkpointEveryBytes?: number;
  /**
   * After an account is finished, write a checkpoint if the last one is older than this (default
   * 60 s): a killed worker's next attempt then takes finished accounts whole.
   */
  checkpointAfterAccountMs?: number;
  itemConcurrency?: number;
}

export interface AccountSummary {
  id: string;
  address: string;
  kind: string;
  status: AccountStatus;
}

export interface BackupRunResult {
  outcome: RunOutcome;
  reason: Reason;
  message: string;
  snapshot?: string;
  startTime: string;
  completionTime: string;
  statistics: { total: ServiceStatistics; services: Record<string, ServiceStatistics> };
  accounts: { total: number; shard: number; done: number; byStatus: Record<AccountStatus, number>; list: AccountSummary[] };
  /** Object versions failing now (status Failure) and excluded, over this shard's accounts. */
  objects: { failed: number; excluded: number };
  /** Folders or drives that could not be listed to the end. */
  failedContainers: number;
  /** Where the skipped-items CSV is in the repository, when items were skipped. */
  skippedReport?: string;
  exclusions: { excluded: ExclusionRequest[]; ignored: (ExclusionRequest & { reason: string })[] };
  requests: ProviderStats;
}

const emptyStats = (): ServiceStatistics => ({
  added: { count: 0, bytes: 0 },
  removed: { count: 0, bytes: 0 },
  skipped: { count: 0, bytes: 0 },
});

function add(into: Tally, from: Tally): void {
  into.count += from.count;
  into.bytes += from.bytes;
}

function fatalOf(error: unknown): { reason: Reason; message: string } {
  if (error instanceof SourceError) return { reason: error.fatalReason ?? 'InternalError', message: error.message };
  if (error instanceof RepositoryError) return { reason: error.reason, message: error.message };
  return { reason: 'InternalError', message: error instanceof Error ? error.message : String(error) };
}

export async function runBackup(input: BackupRunInput): Promise<BackupRunResult> {
  const clock = input.clock ?? (() => new Date());
  const startTime = clock().toISOString();
  const stats = { total: emptyStats(), services: {} as Record<string, ServiceStatistics> };
  const byStatus: Record<AccountStatus, number> = { Success: 0, Partial: 0, Failed: 0, Onboarding: 0 };
  const result = (outcome: RunOutcome, reason: Reason, message: string, extra: Partial<BackupRunResult> = {}): BackupRunResult => ({
    outcome,
    reason,
    message,
    startTime,
    completionTime: clock().toISOString(),
    statistics: stats,
    accounts: { total: 0, shard: 0, done: 0, byStatus, list: [] },
    objects: { failed: 0, excluded: 0 },
    failedContainers: 0,
    exclusions: { excluded: [], ignored: [] },
    requests: input.provider.stats(),
    ...extra,
  });

  const services: BackupService[] = [];
  for (const name of input.services) {
    const service = input.provider.services.get(name);
    if (!service)
      return result(
        'Unsuccessful',
        'InvalidConfiguration',
        `The ${input.provider.name} provider has no service ${name}; remove it from spec.services.`,
      );
    services.push(service);
  }

  let directory;
  let known: Set<string>;
  try {
    directory = await input.provider.discover();
    known = new Set((await readAccountRecords(input.repository, input.policy)).map((r) => r.account));
  } catch (error) {
    const fatal = fatalOf(error);
    return result('Unsuccessful', fatal.reason, `Discovery of the tenant failed: ${fatal.message}`);
  }
  const selection = selectAccounts({
    directory,
    accounts: input.accounts,
    discovery: input.discovery,
    known,
    services,
    ...(input.only ? { only: input.only } : {}),
    shard: input.shard,
  });
  if (selection.missingGroups.length > 0) {
    return result(
      'Unsuccessful',
      'GroupsMissing',
      `The account selection names groups the tenant no longer has: ${selection.missingGroups.join(', ')}.`,
    );
  }

  let writer: SnapshotWriter;
  try {
    writer = await input.repository.snapshotWriter({
      policy: input.policy,
      run: input.run,
      shard: input.shard.index,
      parent: 'latest',
      ...(input.checkpointEveryMs === undefined ? {} : { checkpointEveryMs: input.checkpointEveryMs }),
      ...(input.checkpointEveryBytes === undefined ? {} : { checkpointEveryBytes: input.checkpointEveryBytes }),
    });
  } catch (error) {
    const fatal = fatalOf(error);
    return result('Unsuccessful', fatal.reason, fatal.message);
  }

  const progress: RunProgress = { accountsDone: 0, accountsTotal: selection.accounts.length, itemsDone: 0, bytesDone: 0 };
  const report = (): void => input.onProgress?.({ ...progress });
  const stop = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
  let fatal: { reason: Reason; message: string } | undefined;
  const skippedItems: SkippedItem[] = [];
  const summaries: AccountSummary[] = [];
  let failedContainers = 0;
  let failedObjects = 0;
  let excludedObjects = 0;
  const exclusions: BackupRunResult['exclusions'] = { excluded: [], ignored: [] };
  const reached = new Set<string>();
  let lastCheckpoint = clock().getTime();

  const backupAccount = async (account: Account, accountServices: BackupService[]): Promise<void> => {
    reached.add(account.id);
    const now = clock();
    const previous = await readAccountRecord(input.repository, input.policy, account.id);
    let objects = previous?.objects ?? [];
    // An ObjectExclusion names an object id and version (and optionally the account); the
    // service comes from the report, where the failed version is listed.
    const requested = (input.exclusions ?? []).filter(
      (e) => e.account === undefined || e.account === account.id || e.account.toLowerCase() === account.address,
    );
    const requests: ExclusionRequest[] = [];
    for (const e of requested) {
      const listed = objects.filter((o) => o.id === e.objectId && o.version === e.version);
      if (listed.length > 0)
        for (const o of listed) requests.push({ account: account.id, service: o.service, id: o.id, version: o.version });
      else if (e.account !== undefined)
        exclusions.ignored.push({
          account: account.address,
          service: '',
          id: e.objectId,
          version: e.version,
          reason: 'no such object version in the object backup status report',
        });
    }
    const applied = applyExclusions(objects, requests, now);
    objects = applied.records;
    exclusions.excluded.push(...applied.excluded.map((x) => ({ ...x, account: account.address })));
    exclusions.ignored.push(...applied.ignored.map((x) => ({ ...x, account: account.address })));
    const record: AccountRecord = previous ?? {
      version: 1,
      policy: input.policy,
      account: account.id,
      address: account.address,
      kind: account.kind,
      services: {},
      objects: [],
      status: 'Onboarding',
      updated: now.toISOString(),
    };
    const outcomes: AccountServiceOutcome[] = [];
    for (const service of accountServices) {
      if (signal.aborted) {
        await carryForward(writer, account.id, service.name);
        continue;
      }
      const mine = objects.filter((o) => o.service === service.name);
      const outcome = await backupAccountService(writer, service, account, {
        ...(input.itemConcurrency === undefined ? {} : { itemConcurrency: input.itemConcurrency }),
        reported: new Set(mine.map((o) => o.id)),
        excluded: new Set(mine.filter((o) => o.status === 'Excluded').map((o) => `${o.id}\u0000${o.version}`)),
        signal,
        onItem: (bytes) => {
          progress.itemsDone++;
          progress.bytesDone += bytes;
        },
      });
      outcomes.push(outcome);
      const serviceStats = (stats.services[service.name] ??= emptyStats());
      for (const s of [serviceStats, stats.total]) {
        add(s.added, outcome.added);
        add(s.removed, outcome.removed);
        add(s.skipped, outcome.skipped);
      }
      skippedItems.push(...outcome.skippedItems);
      failedContainers += outcome.observations.filter((o) => o.kind === 'failed' && o.id.startsWith('container:')).length;
      const at = clock().toISOString();
      const serviceRecord = (record.services[service.name] ??= { skipped: 0 });
      serviceRecord.skipped = outcome.skipped.count;
      if (outcome.complete) {
        serviceRecord.lastSuccess = at;
        serviceRecord.baseCompleted ??= at;
      }
      objects = applyObservations(objects, outcome.observations, clock());
      if (outcome.fatal && !fatal) {
        fatal = outcome.fatal;
        stop.abort();
      }
    }
    const onboarding = accountServices.some((s) => !record.services[s.name]?.baseCompleted);
    const skipped = outcomes.reduce((n, o) => n + o.skipped.count, 0);
    const status = accountStatus({ onboarding, records: objects, skippedItems: skipped, now: clock() });
    Object.assign(record, { address: account.address, kind: account.kind, objects, status, updated: clock().toISOString() });
    await writeAccountRecord(input.repository, record);
    byStatus[status]++;
    failedObjects += objects.filter((o) => o.status === 'Failure').length;
    excludedObjects += objects.filter((o) => o.status === 'Excluded').length;
    summaries.push({ id: account.id, address: account.address, kind: account.kind, status });
    progress.accountsDone++;
    if (clock().getTime() - lastCheckpoint >= (input.checkpointAfterAccountMs ?? 60_000) && !signal.aborted) {
      lastCheckpoint = clock().getTime();
      await writer.checkpoint();
    }
    report();
  };

  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < selection.accounts.length && !signal.aborted) {
        const { account, services: accountServices } = selection.accounts[next++]!;
        await backupAccount(account, accountServices);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, selection.accounts.length)) }, worker));
    // Accounts the run did not reach keep their previous state, so the snapshot is whole.
    for (const { account, services: accountServices } of selection.accounts) {
      if (reached.has(account.id)) continue;
      for (const service of accountServices) await carryForward(writer, account.id, service.name);
    }
    let skippedReport: string | undefined;
    if (skippedItems.length > 0) {
      skippedReport = skippedReportName(input.policy, input.run, input.shard.index);
      await input.repository.putSealed(skippedReport, Buffer.from(skippedItemsCsv(skippedItems)));
    }
    const snapshot = await writer.commit();
    const cancelled = input.signal?.aborted === true && !fatal;
    const skipped = stats.total.skipped.count;
    const extra: Partial<BackupRunResult> = {
      snapshot: snapshot.id,
      accounts: {
        total: selection.totalAccounts,
        shard: selection.accounts.length,
        done: progress.accountsDone,
        byStatus,
        list: summaries,
      },
      objects: { failed: failedObjects, excluded: excludedObjects },
      failedContainers,
      exclusions,
      ...(skippedReport ? { skippedReport } : {}),
    };
    if (cancelled)
      return result(
        'Cancelled',
        'Cancelled',
        `The run was cancelled after ${progress.accountsDone} of ${selection.accounts.length} accounts; what was backed up is in snapshot ${snapshot.id}.`,
        extra,
      );
    if (fatal) {
      return result(
        'Incomplete',
        fatal.reason,
        `${fatal.message} The run stopped after ${progress.accountsDone} of ${selection.accounts.length} accounts; what was backed up is in snapshot ${snapshot.id}.`,
        extra,
      );
    }
    if (skipped > 0 || failedContainers > 0) {
      const parts = [skipped > 0 ? `${skipped} items` : '', failedContainers > 0 ? `${failedContainers} folders` : '']
        .filter(Boolean)
        .join(' and ');
      return result(
        'Successful',
        'ItemsSkipped',
        `${parts} could not be backed up and will be retried by the next run; see the skipped-items report.`,
        extra,
      );
    }
    return result(
      'Successful',
      'Succeeded',
      `${selection.accounts.length} accounts backed up: ${stats.total.added.count} items added, ${stats.total.removed.count} removed.`,
      extra,
    );
  } catch (error) {
    await writer.abort();
    const failure = fatalOf(error);
    return result('Incomplete', failure.reason, `The run stopped: ${failure.message}; the next run resumes from its last checkpoint.`);
  }
}

async function carryForward(writer: SnapshotWriter, account: string, service: string): Promise<void> {
  const previous = await writer.previousAccount(account, service);
  if (previous) writer.carryAccount(account, service, previous);
}
