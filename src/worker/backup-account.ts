// Backs up one service of one account into a snapshot: starts from the previous snapshot's items
// of the account, applies the service's changes since the stored cursor, and hands the writer the
// new cursor only when every change up to it is applied. Content is read only for new or changed
// items (the writer reuses what the parent or a checkpoint has); a failing item is tried again at
// the end of the account, then recorded as skipped and as a Failure in the object report, while
// its previous version stays in the snapshot.
import type { Reason } from '../api/reasons.ts';
import type { Account, BackupService, Change, SourceItem } from '../providers/provider.ts';
import { SourceError } from '../providers/provider.ts';
import type { SnapshotWriter } from '../repository/writer.ts';
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
  /** Was this the service's base backup (no cursor before)? */
  base: boolean;
  /** Taken whole from a checkpoint of an earlier attempt of this run. */
  resumed: boolean;
  observations: Observation[];
  skippedItems: SkippedItem[];
  /** Set when the run must stop: the reason and a message for the operator. */
  fatal?: { reason: Reason; message: string };
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
  /** Stops the account early (the run was cancelled or hit its deadline). */
  signal?: AbortSignal;
}

const tally = (): Tally => ({ count: 0, bytes: 0 });

function internalIssue(error: unknown): ObjectIssue {
  return { source: 'internal', code: 'InternalError', message: error instanceof Error ? error.message : String(error) };
}

/** An error as the object report shows it, and whether it ends the run. */
function classify(error: unknown): { issue: ObjectIssue; notFound: boolean; fatal?: Reason } {
  if (error instanceof SourceError)
    return { issue: error.issue, notFound: error.notFound, ...(error.fatalReason ? { fatal: error.fatalReason } : {}) };
  return { issue: internalIssue(error), notFound: false };
}

export async function backupAccountService(
  writer: SnapshotWriter,
  service: BackupService,
  account: Account,
  options: BackupAccountOptions = {},
): Promise<AccountServiceOutcome> {
  const outcome: AccountServiceOutcome = {
    account: account.id,
    service: service.name,
    added: tally(),
    removed: tally(),
    skipped: tally(),
    unchanged: 0,
    complete: false,
    base: false,
    resumed: false,
    observations: [],
    skippedItems: [],
  };
  const resumed = await writer.resumedAccount(account.id, service.name);
  if (resumed) {
    // An earlier attempt of this run finished the account and checkpointed it: take it whole.
    writer.carryAccount(account.id, service.name, resumed);
    return { ...outcome, unchanged: resumed.items, complete: true, resumed: true };
  }
  const previous = await writer.previousAccount(account.id, service.name);
  outcome.base = previous?.deltaToken === undefined;
  const entries = await writer.openAccount(account.id, service.name, previous);
  const concurrency = options.itemConcurrency ?? 16;
  const inFlight = new Set<Promise<void>>();
  const retryLater: SourceItem[] = [];
  /** Containers being listed again after an expired token: the ids the listing named. */
  const resyncing = new Map<string, Set<string>>();
  let fatal: { reason: Reason; message: string } | undefined;
  let failedContainers = 0;
  // Without a cursor the service lists everything; what the previous snapshot has and the listing
  // does not name (left over from an attempt that stopped) is gone from the source.
  const seenInFullListing = outcome.base ? new Set<string>() : undefined;

  // Removals wait for the end of the account: a move shows as a remove from one container and an
  // upsert in another, in either order, and an item named by an upsert in this run is still in the
  // source (even when its download failed and it keeps its previous version).
  const upserted = new Set<string>();
  /** Containers with an item that could not be stored: their cursor stays, so the item is tried again next run. */
  const heldBack = new Set<string>();
  const pendingRemovals = new Map<string, string | undefined>();
  /** The stored item `id`, when it is in `container` (any container when undefined). */
  const storedIn = (id: string, container: string | undefined) => {
    const entry = entries.get(id);
    return entry && (container === undefined || entry.container === undefined || entry.container === container) ? entry : undefined;
  };
  const remove = (id: string, container: string | undefined): void => {
    if (storedIn(id, container)) pendingRemovals.set(id, container);
  };
  const applyRemovals = (): void => {
    for (const [id, container] of pendingRemovals) {
      const entry = storedIn(id, container);
      if (entry && !upserted.has(id)) removeNow(id, entry.size);
    }
    pendingRemovals.clear();
  };
  const removeNow = (id: string, size: number): void => {
    writer.removeItem(account.id, service.name, id);
    outcome.removed.count++;
    outcome.removed.bytes += size;
    outcome.observations.push({ kind: 'gone', account: account.id, service: service.name, id });
  };

  const store = async (item: SourceItem, lastTry: boolean): Promise<void> => {
    if (options.excluded?.has(`${item.id}\u0000${item.version}`)) {
      // Not in the snapshot: once the exclusion is deleted, the next run must see the item again.
      heldBack.add(item.container);
      return;
    }
    try {
      const result = await writer.addItem({
        account: account.id,
        service: service.name,
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
        outcome.added.count++;
        outcome.added.bytes += item.size;
      } else outcome.unchanged++;
      if (options.reported?.has(item.id))
        outcome.observations.push({ kind: 'succeeded', account: account.id, service: service.name, id: item.id, version: item.version });
      options.onItem?.(item.size);
    } catch (error) {
      const { issue, notFound, fatal: fatalReason } = classify(error);
      if (fatalReason) {
        fatal ??= { reason: fatalReason, message: issue.message };
        return;
      }
      if (notFound) {
        // Deleted between the listing and the download: gone, not failed.
        upserted.delete(item.id);
        remove(item.id, undefined);
        return;
      }
      if (!lastTry) {
        retryLater.push(item);
        return;
      }
      outcome.skipped.count++;
      outcome.skipped.bytes += item.size;
      heldBack.add(item.container);
      const path = `${item.path}/${item.name}`;
      outcome.skippedItems.push({
        account: account.address,
        service: service.name,
        id: item.id,
        version: item.version,
        path: item.path,
        name: item.name,
        size: item.size,
        issue,
      });
      outcome.observations.push({
        kind: 'failed',
        account: account.id,
        service: service.name,
        id: item.id,
        version: item.version,
        path,
        issue,
      });
    }
  };

  const dispatch = async (item: SourceItem): Promise<void> => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    const task = store(item, false).finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  const apply = async (change: Change): Promise<void> => {
    switch (change.type) {
      case 'upsert':
        upserted.add(change.item.id);
        pendingRemovals.delete(change.item.id);
        resyncing.get(change.item.container)?.add(change.item.id);
        seenInFullListing?.add(change.item.id);
        await dispatch(change.item);
        return;
      case 'remove':
        // Only when the stored item is in the container that reports it (a move reports both sides).
        remove(change.id, change.container);
        return;
      case 'resync':
        resyncing.set(change.container, new Set());
        return;
      case 'containerDone': {
        const seen = resyncing.get(change.container);
        if (seen) {
          await Promise.all(inFlight);
          for (const [id, entry] of [...entries]) if (entry.container === change.container && !seen.has(id)) remove(id, change.container);
          resyncing.delete(change.container);
        }
        outcome.observations.push({
          kind: 'succeeded',
          account: account.id,
          service: service.name,
          id: `container:${change.container}`,
          version: 'container',
        });
        return;
      }
      case 'containerRemoved':
        await Promise.all(inFlight);
        for (const [id, entry] of [...entries]) if (entry.container === change.container) remove(id, change.container);
        return;
      case 'containerFailed': {
        failedContainers++;
        const { issue } = change;
        outcome.observations.push({
          kind: 'failed',
          account: account.id,
          service: service.name,
          id: `container:${change.container}`,
          version: 'container',
          path: change.path,
          issue,
        });
        return;
      }
    }
  };

  const run = service.changes(account, previous?.deltaToken, { previousVersion: (id) => entries.get(id)?.version });
  try {
    for await (const change of run.changes) {
      if (fatal || options.signal?.aborted) break;
      await apply(change);
    }
  } catch (error) {
    const { issue, fatal: fatalReason } = classify(error);
    fatal ??= { reason: fatalReason ?? 'InternalError', message: issue.message };
  }
  await Promise.all(inFlight);
  if (!fatal && !options.signal?.aborted) {
    for (const item of retryLater.splice(0)) await store(item, true);
  }
  // Items still waiting for their retry (the run stopped early) stay at their previous version.
  const stopped = fatal !== undefined || options.signal?.aborted === true;
  outcome.complete = !stopped && failedContainers === 0;
  if (outcome.complete && seenInFullListing) {
    for (const id of [...entries.keys()]) if (!seenInFullListing.has(id)) remove(id, undefined);
  }
  applyRemovals();
  // The cursor advances only when every change up to it is in the snapshot. A stopped or partly
  // failed account keeps the previous cursor (replaying changes from it is harmless); the
  // service's own cursor already keeps failed containers at their old tokens.
  const cursor = stopped ? previous?.deltaToken : run.cursor(heldBack);
  if (cursor !== undefined) writer.setDeltaToken(account.id, service.name, cursor);
  await writer.finishAccount(account.id, service.name);
  if (fatal) outcome.fatal = fatal;
  return outcome;
}
