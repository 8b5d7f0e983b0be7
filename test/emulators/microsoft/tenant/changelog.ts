// The delta engine behind every Graph delta query. Each collection (a mail folder's messages, a
// drive's items, a calendar's events...) keeps an append-only log of changes stamped from one
// tenant-wide sequence. A delta round reads the changes in (since, upto] in sequence order with
// keyset paging (the cursor is the last sequence returned), so items changed while a client pages
// are never skipped: they move past `upto` and come in the next round. The first round (since 0)
// returns live items only; later rounds also return tombstones (`@removed`).
//
// Tokens carry the log's epoch: expire() bumps it, and older tokens then get the service's
// "token expired" answer (410 with syncStateNotFound for mail, resyncRequired for drives).

export class Sequence {
  private value = 0;

  next(): number {
    return ++this.value;
  }

  get current(): number {
    return this.value;
  }
}

export type RemovedReason = 'deleted' | 'changed';

interface Entry {
  seq: number;
  id: string;
}

interface ItemRecord<T> {
  seq: number;
  item: T | undefined;
  reason?: RemovedReason;
}

export interface Change<T> {
  id: string;
  seq: number;
  /** The item as it is now; undefined for a removal. */
  item: T | undefined;
  reason?: RemovedReason;
}

/** Where a delta round stands: what a skip token or delta token encodes. */
export interface DeltaCursor {
  /** Changes after this sequence number... */
  s: number;
  /** ...up to and including this one (fixed when the round starts). */
  u: number;
  /** The last sequence number already returned in this round. */
  c: number;
  /** The log's epoch when the token was issued. */
  e: number;
}

export interface DeltaRead<T> {
  changes: Change<T>[];
  /** Set when more pages follow in this round. */
  next?: DeltaCursor;
  /** Set on the last page: the cursor the next round starts from. */
  delta?: DeltaCursor;
}

export class ExpiredDeltaToken extends Error {}

export class ChangeLog<T> {
  private readonly sequence: Sequence;
  private readonly entries: Entry[] = [];
  private readonly records = new Map<string, ItemRecord<T>>();
  private liveCount = 0;
  /** Tokens issued before the last expire() carry an older epoch. */
  epoch = 1;

  constructor(sequence: Sequence) {
    this.sequence = sequence;
  }

  /** Adds or changes an item: it comes again in the next delta round. */
  put(id: string, item: T): void {
    const seq = this.sequence.next();
    const old = this.records.get(id);
    if (!old?.item) this.liveCount++;
    this.records.set(id, { seq, item });
    this.entries.push({ seq, id });
  }

  /** Removes an item, leaving a tombstone that later delta rounds report as `@removed`. */
  remove(id: string, reason: RemovedReason = 'deleted'): boolean {
    const old = this.records.get(id);
    if (!old?.item) return false;
    const seq = this.sequence.next();
    this.liveCount--;
    this.records.set(id, { seq, item: undefined, reason });
    this.entries.push({ seq, id });
    return true;
  }

  get(id: string): T | undefined {
    return this.records.get(id)?.item;
  }

  has(id: string): boolean {
    return this.records.get(id)?.item !== undefined;
  }

  get size(): number {
    return this.liveCount;
  }

  /** Live items, in the order they last changed. */
  *values(): IterableIterator<T> {
    for (const entry of this.entries) {
      const record = this.records.get(entry.id);
      if (record?.seq === entry.seq && record.item !== undefined) yield record.item;
    }
  }

  /** Makes every token issued so far expired. */
  expire(): void {
    this.epoch++;
  }

  /** A cursor that starts a new round from the current state (`token=latest`). */
  latest(): DeltaCursor {
    const u = this.sequence.current;
    return { s: u, u, c: u, e: this.epoch };
  }

  /** A cursor for a first round: everything live now. */
  start(): DeltaCursor {
    return { s: 0, u: this.sequence.current, c: 0, e: this.epoch };
  }

  /** Continues a round from a delta token: changes after its `u`, up to now. */
  resume(token: DeltaCursor): DeltaCursor {
    this.check(token);
    return { s: token.u, u: this.sequence.current, c: token.u, e: this.epoch };
  }

  check(token: DeltaCursor): void {
    if (token.e !== this.epoch) throw new ExpiredDeltaToken('delta token expired');
  }

  /** One page of the round `cursor` belongs to. */
  read(cursor: DeltaCursor, limit: number): DeltaRead<T> {
    this.check(cursor);
    const initial = cursor.s === 0;
    const changes: Change<T>[] = [];
    let i = this.firstAfter(cursor.c);
    let last = cursor.c;
    for (; i < this.entries.length; i++) {
      const entry = this.entries[i] as Entry;
      if (entry.seq > cursor.u) break;
      const record = this.records.get(entry.id);
      if (!record || record.seq !== entry.seq) continue; // superseded by a later change
      if (changes.length === limit) {
        return { changes, next: { ...cursor, c: last } };
      }
      last = entry.seq;
      if (record.item === undefined && initial) continue;
      changes.push({ id: entry.id, seq: entry.seq, item: record.item, ...(record.reason ? { reason: record.reason } : {}) });
    }
    return { changes, delta: { s: cursor.u, u: cursor.u, c: cursor.u, e: cursor.e } };
  }

  private firstAfter(seq: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Entry).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
