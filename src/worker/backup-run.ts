// One backup run of one shard, as named steps: resolve the policy's services, discover the tenant
// and select this shard's accounts, open the snapshot writer, back up each selected account
// (several at once, since the source's quotas are per account), carry the previous state of the
// accounts the run did not reach, commit one snapshot, and summarise the outcome by the job
// monitor's rules (run-outcome.ts). Per account it also keeps its object report and status
// (account-records.ts). What an error stops (an item, a container, the run) is failures.ts's call.
import { eachLimit } from '../concurrency/map-limit.ts';
import type { BackupService, Provider, ProviderStats } from '../providers/provider.ts';
import type { Repository } from '../repository/repository.ts';
import type { SnapshotWriter } from '../repository/writer.ts';
import { readAccountRecord, readAccountRecords, writeAccountRecord, type AccountRecord } from './account-records.ts';
import { backupAccountService, type AccountServiceOutcome, type RunStop, type SkippedItem, type Tally } from './backup-account.ts';
import { matchExclusions, type Exclusion } from './exclusions.ts';
import { classifyFailure, type Failure } from './failures.ts';
import { accountStatus, applyExclusions, applyObservations, type AccountStatus, type ExclusionRequest } from './object-status.ts';
import { summariseRun, unsuccessful, type RunSummary } from './run-outcome.ts';
import { selectAccounts, type SelectedAccount, type Selection, type SelectionInput } from './selection.ts';
import { skippedItemsCsv, skippedReportName } from './skipped-report.ts';

export type { RunOutcome } from './run-outcome.ts';

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
  /** Object versions to exclude (the policy's ObjectExclusions). */
  exclusions?: readonly Exclusion[];
  clock?: () => Date;
  /** Cancels the run: what was stored is committed. */
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
  checkpointEveryMs?: number;
  checkpointEveryBytes?: number;
  /**
   * After an account is finished, write a checkpoint if the last one is older than this (default
   * 60 s): a killed worker's next attempt then starts finished accounts from their checkpointed
   * state and cursor.
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

export interface BackupRunResult extends RunSummary {
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
  /** The checkpoints of an interrupted attempt this run resumed from (none for a run that starts afresh). */
  resumedFrom: string[];
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

/** Everything a run accumulates while its accounts are backed up. */
interface RunState {
  readonly input: BackupRunInput;
  readonly clock: () => Date;
  readonly writer: SnapshotWriter;
  readonly selection: Selection;
  /** Fires when a run-level failure stops the run; `signal` also fires on the input's cancel. */
  readonly stop: AbortController;
  readonly signal: AbortSignal;
  /** The first failure that stopped the run. */
  failure?: RunStop;
  readonly statistics: BackupRunResult['statistics'];
  readonly byStatus: Record<AccountStatus, number>;
  readonly progress: RunProgress;
  readonly skippedItems: SkippedItem[];
  readonly summaries: AccountSummary[];
  readonly exclusions: BackupRunResult['exclusions'];
  /** Accounts and services handed to the engine (`account\u0000service`); the others are carried at the commit. */
  readonly started: Set<string>;
  failedContainers: number;
  failedObjects: number;
  excludedObjects: number;
  lastCheckpoint: number;
}

/** The policy's services as the provider offers them, or the first one it does not offer. */
export function resolveServices(provider: Provider, names: readonly string[]): { services: BackupService[] } | { missing: string } {
  const services: BackupService[] = [];
  for (const name of names) {
    const service = provider.services.get(name);
    if (!service) return { missing: name };
    services.push(service);
  }
  return { services };
}

export async function runBackup(input: BackupRunInput): Promise<BackupRunResult> {
  const clock = input.clock ?? (() => new Date());
  const startTime = clock().toISOString();
  const ended = (summary: RunSummary, run?: RunState, extra: Partial<BackupRunResult> = {}): BackupRunResult => ({
    ...summary,
    startTime,
    completionTime: clock().toISOString(),
    statistics: run?.statistics ?? { total: emptyStats(), services: {} },
    accounts: { total: 0, shard: 0, done: 0, byStatus: run?.byStatus ?? { Success: 0, Partial: 0, Failed: 0, Onboarding: 0 }, list: [] },
    objects: { failed: 0, excluded: 0 },
    failedContainers: 0,
    exclusions: { excluded: [], ignored: [] },
    resumedFrom: [],
    requests: input.provider.stats(),
    ...extra,
  });
  const cancelled = (): boolean => input.signal?.aborted === true;

  const resolved = resolveServices(input.provider, input.services);
  if ('missing' in resolved) {
    return ended(
      unsuccessful(
        'InvalidConfiguration',
        `The ${input.provider.name} provider has no service ${resolved.missing}; remove it from spec.services.`,
      ),
    );
  }
  const discovered = await discoverAndSelect(input, resolved.services);
  if ('outcome' in discovered) return ended(discovered);
  const selection = discovered;
  if (selection.missingGroups.length > 0) {
    return ended(
      unsuccessful('GroupsMissing', `The account selection names groups the tenant no longer has: ${selection.missingGroups.join(', ')}.`),
    );
  }
  let writer: SnapshotWriter;
  try {
    writer = await openWriter(input);
  } catch (error) {
    const failure = classifyFailure(error, { stage: 'listing', cancelled: cancelled() });
    return ended(unsuccessful(failure.reason, failure.issue.message));
  }

  const run = newRunState(input, clock, writer, selection);
  await eachLimit(
    selection.accounts,
    input.concurrency,
    (selected) => backupAccount(run, selected),
    () => run.signal.aborted,
  );
  const committed = await commitRun(run);
  const total = run.statistics.total;
  const summary = summariseRun({
    cancelled: cancelled(),
    ...(run.failure ? { failure: run.failure } : {}),
    ...(committed.snapshot ? { snapshot: committed.snapshot } : {}),
    accountsDone: run.progress.accountsDone,
    accountsTotal: selection.accounts.length,
    added: total.added.count,
    removed: total.removed.count,
    skipped: total.skipped.count,
    failedContainers: run.failedContainers,
  });
  return ended(summary, run, {
    ...committed,
    accounts: {
      total: selection.totalAccounts,
      shard: selection.accounts.length,
      done: run.progress.accountsDone,
      byStatus: run.byStatus,
      list: run.summaries,
    },
    objects: { failed: run.failedObjects, excluded: run.excludedObjects },
    failedContainers: run.failedContainers,
    exclusions: run.exclusions,
    resumedFrom: [...writer.resumedFrom],
  });
}

/** Discovers the tenant and selects this shard's accounts (accounts the repository knows count as protected). */
async function discoverAndSelect(input: BackupRunInput, services: BackupService[]): Promise<Selection | RunSummary> {
  const failed = (error: unknown, what: string): RunSummary => {
    const failure = classifyFailure(error, { stage: 'listing', cancelled: input.signal?.aborted === true });
    return unsuccessful(failure.reason, `${what}${failure.issue.message}`);
  };
  let directory;
  let known: Set<string>;
  try {
    directory = await input.provider.discover();
  } catch (error) {
    return failed(error, 'Discovery of the tenant failed: ');
  }
  try {
    known = new Set((await readAccountRecords(input.repository, input.policy)).map((r) => r.account));
  } catch (error) {
    return failed(error, '');
  }
  return selectAccounts({
    directory,
    accounts: input.accounts,
    discovery: input.discovery,
    known,
    services,
    ...(input.only ? { only: input.only } : {}),
    shard: input.shard,
  });
}

function openWriter(input: BackupRunInput): Promise<SnapshotWriter> {
  return input.repository.snapshotWriter({
    policy: input.policy,
    run: input.run,
    shard: input.shard.index,
    parent: 'latest',
    ...(input.checkpointEveryMs === undefined ? {} : { checkpointEveryMs: input.checkpointEveryMs }),
    ...(input.checkpointEveryBytes === undefined ? {} : { checkpointEveryBytes: input.checkpointEveryBytes }),
  });
}

function newRunState(input: BackupRunInput, clock: () => Date, writer: SnapshotWriter, selection: Selection): RunState {
  const stop = new AbortController();
  return {
    input,
    clock,
    writer,
    selection,
    stop,
    signal: input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal,
    statistics: { total: emptyStats(), services: {} },
    byStatus: { Success: 0, Partial: 0, Failed: 0, Onboarding: 0 },
    progress: { accountsDone: 0, accountsTotal: selection.accounts.length, itemsDone: 0, bytesDone: 0 },
    skippedItems: [],
    summaries: [],
    exclusions: { excluded: [], ignored: [] },
    started: new Set(),
    failedContainers: 0,
    failedObjects: 0,
    excludedObjects: 0,
    lastCheckpoint: clock().getTime(),
  };
}

const stopOf = (failure: Failure): RunStop => ({ reason: failure.reason, message: failure.issue.message, storage: failure.storage });

/** Stops the run at its first failure; the cancellation itself is not a failure. */
function stopRun(run: RunState, stop: RunStop): void {
  if (stop.reason !== 'Cancelled') run.failure ??= stop;
  run.stop.abort();
}

/** Backs up every selected service of one account, then records its object report and status. */
async function backupAccount(run: RunState, { account, services }: SelectedAccount): Promise<void> {
  const { input, clock } = run;
  try {
    const previous = await readAccountRecord(input.repository, input.policy, account.id);
    const record: AccountRecord = previous ?? {
      version: 1,
      policy: input.policy,
      account: account.id,
      address: account.address,
      kind: account.kind,
      services: {},
      objects: [],
      status: 'Onboarding',
      updated: clock().toISOString(),
    };
    const matched = matchExclusions(record.objects, input.exclusions ?? [], account);
    const applied = applyExclusions(record.objects, matched.requests, clock());
    let objects = applied.records;
    run.exclusions.excluded.push(...applied.excluded.map((x) => ({ ...x, account: account.address })));
    run.exclusions.ignored.push(...matched.ignored, ...applied.ignored.map((x) => ({ ...x, account: account.address })));
    let skipped = 0;
    // Backed up to the end: every service read its stream through.
    let whole = true;
    for (const service of services) {
      // Services the run no longer reaches are carried as they were at the commit.
      if (run.signal.aborted) {
        whole = false;
        break;
      }
      run.started.add(`${account.id}\u0000${service.name}`);
      const mine = objects.filter((o) => o.service === service.name);
      const outcome = await backupAccountService(run.writer, service, account, {
        ...(input.itemConcurrency === undefined ? {} : { itemConcurrency: input.itemConcurrency }),
        reported: new Set(mine.map((o) => o.id)),
        excluded: new Set(mine.filter((o) => o.status === 'Excluded').map((o) => `${o.id}\u0000${o.version}`)),
        signal: run.signal,
        onItem: (bytes) => {
          run.progress.itemsDone++;
          run.progress.bytesDone += bytes;
        },
      });
      recordOutcome(run, record, outcome);
      skipped += outcome.skipped.count;
      if (outcome.stopped) whole = false;
      objects = applyObservations(objects, outcome.observations, clock());
      if (outcome.stop) stopRun(run, outcome.stop);
    }
    const onboarding = services.some((s) => !record.services[s.name]?.baseCompleted);
    const status = accountStatus({ onboarding, records: objects, skippedItems: skipped, now: clock() });
    Object.assign(record, { address: account.address, kind: account.kind, objects, status, updated: clock().toISOString() });
    await writeAccountRecord(input.repository, record);
    run.byStatus[status]++;
    run.failedObjects += objects.filter((o) => o.status === 'Failure').length;
    run.excludedObjects += objects.filter((o) => o.status === 'Excluded').length;
    run.summaries.push({ id: account.id, address: account.address, kind: account.kind, status });
    if (whole) run.progress.accountsDone++;
    if (clock().getTime() - run.lastCheckpoint >= (input.checkpointAfterAccountMs ?? 60_000) && !run.signal.aborted) {
      run.lastCheckpoint = clock().getTime();
      await run.writer.checkpoint();
    }
    input.onProgress?.({ ...run.progress });
  } catch (error) {
    // The account's own bookkeeping failed (its record, a checkpoint): our storage, most often.
    stopRun(run, stopOf(classifyFailure(error, { stage: 'listing', cancelled: input.signal?.aborted === true })));
  }
}

/** Adds one service's outcome to the run's statistics and the account's service record. */
function recordOutcome(run: RunState, record: AccountRecord, outcome: AccountServiceOutcome): void {
  const serviceStats = (run.statistics.services[outcome.service] ??= emptyStats());
  for (const s of [serviceStats, run.statistics.total]) {
    add(s.added, outcome.added);
    add(s.removed, outcome.removed);
    add(s.skipped, outcome.skipped);
  }
  run.skippedItems.push(...outcome.skippedItems);
  run.failedContainers += outcome.failedContainers;
  const at = run.clock().toISOString();
  const serviceRecord = (record.services[outcome.service] ??= { skipped: 0 });
  serviceRecord.skipped = outcome.skipped.count;
  if (outcome.complete) {
    serviceRecord.lastSuccess = at;
    serviceRecord.baseCompleted ??= at;
  }
}

/**
 * Carries what the run did not reach (so the snapshot is whole), writes the skipped-items report and
 * commits. After a storage failure, or when the commit fails, the writer gives up instead: its packs
 * and last checkpoint stay, and the next run resumes from that checkpoint.
 */
async function commitRun(run: RunState): Promise<{ snapshot?: string; skippedReport?: string }> {
  const { input, writer } = run;
  if (run.failure?.storage) {
    await giveUp(writer);
    return {};
  }
  try {
    for (const { account, services } of run.selection.accounts) {
      for (const service of services) {
        if (!run.started.has(`${account.id}\u0000${service.name}`)) await carryForward(writer, account.id, service.name);
      }
    }
    let skippedReport: string | undefined;
    if (run.skippedItems.length > 0) {
      skippedReport = skippedReportName(input.policy, input.run, input.shard.index);
      await input.repository.putSealed(skippedReport, Buffer.from(skippedItemsCsv(run.skippedItems)));
    }
    const snapshot = await writer.commit();
    return { snapshot: snapshot.id, ...(skippedReport ? { skippedReport } : {}) };
  } catch (error) {
    await giveUp(writer);
    run.failure ??= stopOf(classifyFailure(error, { stage: 'listing', cancelled: false }));
    return {};
  }
}

/** Abandons the writer; with the storage down its lock cannot be released, and expires by itself. */
async function giveUp(writer: SnapshotWriter): Promise<void> {
  await writer.abort().catch(() => undefined);
}

async function carryForward(writer: SnapshotWriter, account: string, service: string): Promise<void> {
  const previous = await writer.previousAccount(account, service);
  if (previous) writer.carryAccount(account, service, previous);
}
