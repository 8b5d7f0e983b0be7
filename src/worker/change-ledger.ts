// The change ledger: the rules that turn one service's stream of changes for one account into the
// account's new items. It takes the items the snapshot holds (the previous snapshot's, or a
// checkpoint's) and the changes in order, and answers what to store, what to remove, and which
// containers keep their old cursor and why. It does no I/O: downloads and writes stay in the engine
// around it (backup-account.ts), which tells it how each store ended.
//
// The rules, in the order a newcomer asks about them:
//  - Moves. A move shows as a `remove` from one container and an `upsert` in another, in either
//    order. A remove only counts when the stored item is in the container that reports it, and every
//    removal waits for the end of the account: an item named by an upsert in this run is still in
//    the source (even when its download failed and it keeps its previous version), so it stays.
//  - Resyncs. A container whose token expired (or that is listed from scratch while the snapshot
//    holds its items) is listed again; once that listing ends (`containerDone`), what the snapshot
//    holds in it and no upsert of this run named is gone.
//  - Removed containers take their items along (unless an upsert named them elsewhere).
//  - Leftovers of an interrupted base listing: without a cursor the service lists everything, so
//    what the snapshot holds and the listing did not name is gone, once the account was read whole.
//  - Deleted between listing and download: a 404 for an upserted item means it is gone.
//  - Held-back containers keep their previous cursor, so the next run lists their changes again:
//    an item that could not be stored (`ItemFailed`), an excluded version that is not in the
//    snapshot (`ItemExcluded`, so that it is seen again once the exclusion is deleted), a container
//    that could not be read to the end (`ContainerFailed`), and a container whose removals had to
//    wait (`RemovalDeferred`, below).
//  - Failed containers make removals uncertain where items keep their id across containers (mail
//    folders; not drives): an item that left a container while another container of the account
//    could not be read may have moved into that one. Such removals wait:
//    the item stays, and the container it left keeps its cursor, so the next run replays the
//    removal and reads the failed container again.
//  - A stopped account (the run was cancelled or hit a run-level failure) removes nothing and keeps
//    its previous cursor: what it stored stays, and the next run replays the rest.
import type { Change, SourceItem } from '../providers/provider.ts';

/** What the ledger needs of an item the snapshot holds. */
export interface LedgerItem {
  container?: string;
  size: number;
}

/** The account's items as the snapshot holds them (the writer's view of the open account). */
export interface LedgerItems {
  get(id: string): LedgerItem | undefined;
  readonly size: number;
  /** Ids in `container` (every id when undefined); items may be removed while this is iterated. */
  ids(container?: string): Iterable<string>;
}

/** A set of item ids; the writer offers one kept on disk, so that a resync of a big folder stays flat in memory. */
export interface IdSet {
  has(id: string): boolean;
  add(id: string): void;
  delete(id: string): boolean;
}

export type HoldReason = 'ItemFailed' | 'ItemExcluded' | 'ContainerFailed' | 'RemovalDeferred';

/** What the engine does for one change. */
export type LedgerStep =
  | { action: 'store'; item: SourceItem }
  /** The version is excluded by an ObjectExclusion: not attempted, not counted as skipped. */
  | { action: 'skip-excluded'; item: SourceItem }
  | { action: 'none' };

export interface LedgerOptions {
  /** The account has no cursor: the stream lists everything (a base backup or its retry). */
  base: boolean;
  /** An item keeps its id when it moves between containers (BackupService.movesBetweenContainers; default true). */
  movesBetweenContainers?: boolean;
  /** Whether this version of the item is excluded. */
  excluded?: (id: string, version: string) => boolean;
  /** Where the ids named by this run are kept (default: in memory). */
  named?: IdSet;
}

export interface Removal {
  id: string;
  size: number;
}

export interface LedgerResult {
  /** Every container was read to the end and the account was not stopped: the base, if it was one, is complete. */
  complete: boolean;
  /** Containers that keep their previous cursor, and why. */
  held: ReadonlyMap<string, HoldReason>;
  /** Containers that could not be read to the end. */
  failedContainers: readonly string[];
}

export class ChangeLedger {
  readonly #items: LedgerItems;
  /** A base listing over a snapshot that already holds items (an interrupted base): what it does not name is gone. */
  readonly #sweepAll: boolean;
  readonly #excluded: (id: string, version: string) => boolean;
  readonly #movesBetweenContainers: boolean;
  /**
   * Ids an upsert of this run named and no 404 took back: they are in the source. Only what a sweep
   * or a removal could touch is kept (ids the snapshot held, and everything a listing from scratch
   * names), so a plain base backup names nothing.
   */
  readonly #named: IdSet;
  /** Removals reported by the source: id → the container it left (undefined: gone wherever it is). */
  readonly #pending = new Map<string, string | undefined>();
  /** Containers being listed again from scratch, until their listing ends. */
  readonly #resyncing = new Set<string>();
  /** Containers listed again to the end, or gone: what they hold and no upsert named is gone. */
  readonly #swept = new Set<string>();
  readonly #failed = new Set<string>();
  readonly #held = new Map<string, HoldReason>();

  constructor(items: LedgerItems, options: LedgerOptions) {
    this.#items = items;
    this.#sweepAll = options.base && items.size > 0;
    this.#excluded = options.excluded ?? (() => false);
    this.#movesBetweenContainers = options.movesBetweenContainers ?? true;
    this.#named = options.named ?? new Set<string>();
  }

  /** The next change of the stream, and what the engine must do for it. */
  apply(change: Change): LedgerStep {
    switch (change.type) {
      case 'upsert': {
        const { item } = change;
        this.#name(item);
        this.#pending.delete(item.id);
        if (this.#excluded(item.id, item.version)) {
          this.#hold(item.container, 'ItemExcluded');
          return { action: 'skip-excluded', item };
        }
        return { action: 'store', item };
      }
      case 'remove':
        if (this.#holds(change.id, change.container) && !this.#named.has(change.id)) this.#pending.set(change.id, change.container);
        return { action: 'none' };
      case 'resync':
        this.#resyncing.add(change.container);
        return { action: 'none' };
      case 'containerDone':
        if (this.#resyncing.delete(change.container)) this.#swept.add(change.container);
        return { action: 'none' };
      case 'containerRemoved':
        this.#resyncing.delete(change.container);
        this.#swept.add(change.container);
        return { action: 'none' };
      case 'containerFailed':
        // A listing that did not end names too little to tell what is gone.
        this.#resyncing.delete(change.container);
        this.#failed.add(change.container);
        this.#hold(change.container, 'ContainerFailed');
        return { action: 'none' };
    }
  }

  /** The source answered 404 for an upserted item: it was deleted since it was listed. */
  gone(item: Pick<SourceItem, 'id'>): void {
    this.#named.delete(item.id);
    this.#pending.set(item.id, undefined);
  }

  /** An upserted item could not be stored: its previous version stays and its container is read again next run. */
  failed(item: Pick<SourceItem, 'container'>): void {
    this.#hold(item.container, 'ItemFailed');
  }

  /**
   * The removals, once the stream has ended and every store has settled; the engine removes each
   * one from the writer as it comes (the ledger reads the items as they are then). `stopped`: the
   * account did not read its stream to the end (cancelled, or a run-level failure).
   */
  *removals(stopped: boolean): Generator<Removal> {
    if (stopped) return;
    // Something could not be read: an item that left a container may have gone there.
    const uncertain = this.#movesBetweenContainers && this.#failed.size > 0;
    for (const [id, container] of this.#pending) {
      if (!this.#holds(id, container) || this.#named.has(id)) continue;
      if (uncertain && container !== undefined) {
        this.#hold(container, 'RemovalDeferred');
        continue;
      }
      yield* this.#remove(id);
    }
    for (const container of this.#swept) {
      for (const id of this.#items.ids(container)) {
        if (this.#named.has(id)) continue;
        if (uncertain) {
          this.#hold(container, 'RemovalDeferred');
          break;
        }
        yield* this.#remove(id);
      }
    }
    if (this.#sweepAll && this.#failed.size === 0) {
      for (const id of this.#items.ids()) if (!this.#named.has(id)) yield* this.#remove(id);
    }
  }

  /** How the account's stream ended; call after removals(). */
  result(stopped: boolean): LedgerResult {
    return { complete: !stopped && this.#failed.size === 0, held: this.#held, failedContainers: [...this.#failed] };
  }

  *#remove(id: string): Generator<Removal> {
    const item = this.#items.get(id);
    if (item) yield { id, size: item.size };
  }

  /** Whether the snapshot holds `id` in `container` (anywhere when undefined; items stored without a container match any). */
  #holds(id: string, container: string | undefined): boolean {
    const item = this.#items.get(id);
    return item !== undefined && (container === undefined || item.container === undefined || item.container === container);
  }

  #name(item: SourceItem): void {
    if (this.#sweepAll || this.#resyncing.has(item.container) || this.#items.get(item.id) !== undefined) this.#named.add(item.id);
  }

  #hold(container: string, reason: HoldReason): void {
    if (!this.#held.has(container)) this.#held.set(container, reason);
  }
}
