// Backs up one service of one account into a snapshot: opens the account from what the repository
// holds of it (a checkpoint of an interrupted attempt, else the previous snapshot), lists the
// service's changes since that state's cursor, stores what the change ledger says to store, removes
// what it says is gone, and hands the writer the new cursor only when every change up to it is in
// the snapshot. Content is read only for new or changed items (the writer reuses what the parent or
// a checkpoint has). A failing item is tried again at the end of the account, then recorded as
// skipped and as a Failure in the object report, while its previous version stays in the snapshot.
// What an error means (this item, this container, the whole run) is decided by failures.ts.
import type { Reason } from '../api/reasons.ts';
import type { Account, BackupService, Change, SourceItem } from '../providers/provider.ts';
import type { SnapshotWriter, StoredAccount } from '../repository/writer.ts';
import { ChangeLedger } from './change-ledger.ts';
import { classifyFailure, type Failure } from './failures.ts';
import type { ObjectIssue, Observation } from './object-status.ts';

export interface Tally {
  count: number;
  bytes: number;
}

export interface SkippedItem {
  account: string;
  service: string;
  id: string;
  version: string;
  path: string;
  name: string;
  size: number;
  issue: ObjectIssue;
}

export interface AccountServiceOutcome {
  account: string;
  service: string;
  added: Tally;
  removed: Tally;
  skipped: Tally;
  unchanged: number;
  /** Every container was read to the end: the cursor advanced and, on a first run, the base is complete. */
  complete: boolean;
  /** Started from the checkpoint of an earlier attempt (and brought up to date from its cursor). */
  resumed: boolean;
  /** The run stopped (cancelled, or a run-level failure) before this service was read to the end. */
  stopped: boolean;
  /** Containers that could not be read to the end. */
  failedContainers: number;
  observations: Observation[];
  skippedItems: SkippedItem[];
  /** Set when the run must stop: the reason, a message for the operator, and whether our storage failed. */
  stop?: RunStop;
}

/** Why a run stops (failures.ts decides). */
export interface RunStop {
  reason: Reason;
  message: string;
  storage: boolean;
}

export interface BackupAccountOptions {
  /** Items whose content is downloaded at once for this account (default 16). */
  itemConcurrency?: number;
  /** Ids of objects that have records in the object report: their successes are observed. */
  reported?: ReadonlySet<string>;
  /** Excluded object versions (`id\u0000version`): not attempted, not counted as skipped. */
  excluded?: ReadonlySet<string>;
  /** Called after each item, for progress. */
  onItem?: (bytes: number) => void;
  /** Stops the account early (the run was cancelled, or another account hit a run-level failure). */
  signal?: AbortSignal;
}

const tally = (): Tally => ({ count: 0, bytes: 0 });

/** One account's service while it is backed up: the ledger, the downloads in flight, and the tallies. */
class ServiceBackup {
  readonly #writer: SnapshotWriter;
  readonly #service: BackupService;
  readonly #account: Account;
  readonly #options: BackupAccountOptions;
  readonly #outcome: AccountServiceOutcome;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #retryLater: SourceItem[] = [];
  #ledger!: ChangeLedger;
  /** The change stream failed before its end: the account's service is not read whole. */
  #listingBroken = false;

  constructor(writer: SnapshotWriter, service: BackupService, account: Account, options: BackupAccountOptions) {
    this.#writer = writer;
    this.#service = service;
    this.#account = account;
    this.#options = options;
    this.#outcome = {
      account: account.id,
      service: service.name,
      added: tally(),
      removed: tally(),
      skipped: tally(),
      unchanged: 0,
      complete: false,
      resumed: false,
      stopped: false,
      failedContainers: 0,
      observations: [],
      skippedItems: [],
    };
  }

  get #stopped(): boolean {
    return this.#outcome.stop !== undefined || this.#options.signal?.aborted === true;
  }

  async run(): Promise<AccountServiceOutcome> {
    const { id: account } = this.#account;
    const service = this.#service.name;
    // An account an interrupted attempt finished is brought up to date from its checkpointed
    // cursor (one delta round), never carried as it was when that attempt died.
    const resumed = await this.#writer.resumedAccount(account, service);
    const from: StoredAccount | undefined = resumed ?? (await this.#writer.previousAccount(account, service));
    this.#outcome.resumed = resumed !== undefined;
    const items = await this.#writer.openAccount(account, service, from);
    const excluded = this.#options.excluded;
    this.#ledger = new ChangeLedger(items, {
      base: from?.deltaToken === undefined,
      movesBetweenContainers: this.#service.movesBetweenContainers,
      // A resync of a big folder names every item: the ids are kept on disk with the writer.
      named: this.#writer.idSet(),
      ...(excluded ? { excluded: (id: string, version: string) => excluded.has(`${id}\u0000${version}`) } : {}),
    });
    const run = this.#service.changes(this.#account, from?.deltaToken, { previousVersion: (id) => items.get(id)?.version });
    try {
      for await (const change of run.changes) {
        if (this.#stopped) break;
        await this.#apply(change);
      }
    } catch (error) {
      this.#listingFailed(error);
    }
    await Promise.all(this.#inFlight);
    if (!this.#stopped) for (const item of this.#retryLater.splice(0)) await this.#store(item, true);
    // Items still waiting for their retry (the run stopped early) stay at their previous version.
    this.#outcome.stopped = this.#stopped;
    const stopped = this.#stopped || this.#listingBroken;
    for (const { id, size } of this.#ledger.removals(stopped)) {
      this.#writer.removeItem(account, service, id);
      this.#outcome.removed.count++;
      this.#outcome.removed.bytes += size;
      this.#outcome.observations.push({ kind: 'gone', account, service, id });
    }
    const result = this.#ledger.result(stopped);
    this.#outcome.complete = result.complete;
    // The cursor advances only when every change up to it is in the snapshot: a stopped account
    // keeps the cursor it started from (replaying changes from it is harmless), and the containers
    // the ledger holds back keep theirs.
    const cursor = stopped ? from?.deltaToken : run.cursor(new Set(result.held.keys()));
    if (cursor !== undefined) this.#writer.setDeltaToken(account, service, cursor);
    await this.#writer.finishAccount(account, service);
    return this.#outcome;
  }

  async #apply(change: Change): Promise<void> {
    const step = this.#ledger.apply(change);
    if (step.action === 'store') {
      await this.#dispatch(step.item);
      return;
    }
    const { id: account } = this.#account;
    const service = this.#service.name;
    if (change.type === 'containerDone') {
      this.#outcome.observations.push({ kind: 'succeeded', account, service, id: `container:${change.container}`, version: 'container' });
    } else if (change.type === 'containerFailed') {
      this.#outcome.failedContainers++;
      this.#outcome.observations.push({
        kind: 'failed',
        account,
        service,
        id: `container:${change.container}`,
        version: 'container',
        path: change.path,
        issue: change.issue,
      });
    }
  }

  async #dispatch(item: SourceItem): Promise<void> {
    while (this.#inFlight.size >= (this.#options.itemConcurrency ?? 16)) await Promise.race(this.#inFlight);
    const task = this.#store(item, false).finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  async #store(item: SourceItem, lastTry: boolean): Promise<void> {
    const { id: account } = this.#account;
    const service = this.#service.name;
    try {
      const result = await this.#writer.addItem({
        account,
        service,
        id: item.id,
        version: item.version,
        container: item.container,
        path: item.path,
        name: item.name,
        ...(item.sender === undefined ? {} : { sender: item.sender }),
        size: item.size,
        ...(item.created === undefined ? {} : { created: item.created }),
        modified: item.modified,
        ...(item.metadata === undefined ? {} : { metadata: item.metadata }),
        content: () => item.content(),
      });
      if (result === 'added') {
        this.#outcome.added.count++;
        this.#outcome.added.bytes += item.size;
      } else this.#outcome.unchanged++;
      if (this.#options.reported?.has(item.id))
        this.#outcome.observations.push({ kind: 'succeeded', account, service, id: item.id, version: item.version });
      this.#options.onItem?.(item.size);
    } catch (error) {
      const failure = classifyFailure(error, { stage: 'item', cancelled: this.#options.signal?.aborted === true });
      if (failure.scope === 'run') return this.#stop(failure);
      if (failure.gone) return this.#ledger.gone(item);
      if (!lastTry) {
        this.#retryLater.push(item);
        return;
      }
      this.#ledger.failed(item);
      this.#outcome.skipped.count++;
      this.#outcome.skipped.bytes += item.size;
      this.#outcome.skippedItems.push({
        account: this.#account.address,
        service,
        id: item.id,
        version: item.version,
        path: item.path,
        name: item.name,
        size: item.size,
        issue: failure.issue,
      });
      this.#outcome.observations.push({
        kind: 'failed',
        account,
        service,
        id: item.id,
        version: item.version,
        path: `${item.path}/${item.name}`,
        issue: failure.issue,
      });
    }
  }

  /** The change stream itself failed: the account's service is read no further this run. */
  #listingFailed(error: unknown): void {
    const failure = classifyFailure(error, { stage: 'listing', cancelled: this.#options.signal?.aborted === true });
    if (failure.scope === 'run') return this.#stop(failure);
    // The service cannot go on for this account: it keeps what it has and its cursor.
    this.#listingBroken = true;
    this.#outcome.failedContainers++;
    this.#outcome.observations.push({
      kind: 'failed',
      account: this.#account.id,
      service: this.#service.name,
      id: `container:${this.#service.name}`,
      version: 'container',
      path: '',
      issue: failure.issue,
    });
  }

  #stop(failure: Failure): void {
    this.#outcome.stop ??= { reason: failure.reason, message: failure.issue.message, storage: failure.storage };
  }
}

export function backupAccountService(
  writer: SnapshotWriter,
  service: BackupService,
  account: Account,
  options: BackupAccountOptions = {},
): Promise<AccountServiceOutcome> {
  return new ServiceBackup(writer, service, account, options).run();
}
