// What a snapshot writer knows of the items of the accounts it has open, in a scratch database on
// local disk (scratch.ts), so that memory does not grow with the size of a mailbox: per item its
// version, container, size and where its whole entry is in the spill file (spill.ts), and the
// stored versions an added item may take its content from. Accounts, containers and id sets are
// small numbers here; the writer keeps what they stand for.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { openScratchDatabase } from './scratch.ts';
import type { SpillRef } from './spill.ts';

/** An item's row: its container is the account's own number for it. */
export interface CatalogRow extends SpillRef {
  version: string;
  container: number | undefined;
  size: number;
}

/** A row of a stored version an added item may reuse: its entry (with its content) is in the spill file. */
export interface ReusableRow extends SpillRef {
  version: string;
}

/** Enough for a tree: where the entries are, and their sizes. */
export interface TreeRow extends SpillRef {
  id: string;
  size: number;
}

/** Page cache of the scratch database. 8 MiB held a 100,000-item account's hot pages in a measured run. */
const CACHE_KIB = 8 * 1024;

type Row = [string, number | null, number, number, number];

export class ScratchCatalog {
  readonly #db: DatabaseSync;
  readonly #entry: StatementSync;
  readonly #insertEntry: StatementSync;
  readonly #replaceEntry: StatementSync;
  readonly #deleteEntry: StatementSync;
  readonly #deleteAccount: StatementSync;
  readonly #deleteAccountReusable: StatementSync;
  readonly #ids: StatementSync;
  readonly #idsIn: StatementSync;
  readonly #treeRows: StatementSync;
  readonly #reusable: StatementSync;
  readonly #insertReusable: StatementSync;
  readonly #replaceReusable: StatementSync;
  readonly #hasId: StatementSync;
  readonly #addId: StatementSync;
  readonly #deleteId: StatementSync;
  #accounts = 0;
  #idSets = 0;

  constructor() {
    const db = openScratchDatabase(CACHE_KIB);
    this.#db = db;
    db.exec(`
      CREATE TABLE entries (account INTEGER NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL, container INTEGER,
        size INTEGER NOT NULL, at INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (account, id)) WITHOUT ROWID;
      CREATE TABLE reusable (account INTEGER NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL,
        at INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (account, id)) WITHOUT ROWID;
      CREATE TABLE ids (idset INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (idset, id)) WITHOUT ROWID;
    `);
    this.#entry = db.prepare('SELECT version, container, size, at, length FROM entries WHERE account = ? AND id = ?');
    this.#insertEntry = db.prepare('INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#replaceEntry = db.prepare(
      'UPDATE entries SET version = ?, container = ?, size = ?, at = ?, length = ? WHERE account = ? AND id = ?',
    );
    this.#deleteEntry = db.prepare('DELETE FROM entries WHERE account = ? AND id = ?');
    this.#deleteAccount = db.prepare('DELETE FROM entries WHERE account = ?');
    this.#deleteAccountReusable = db.prepare('DELETE FROM reusable WHERE account = ?');
    this.#ids = db.prepare('SELECT id FROM entries WHERE account = ? AND id > ? ORDER BY id LIMIT ?');
    this.#idsIn = db.prepare('SELECT id FROM entries WHERE account = ? AND id > ? AND container = ? ORDER BY id LIMIT ?');
    this.#treeRows = db.prepare('SELECT id, size, at, length FROM entries WHERE account = ? AND id > ? ORDER BY id LIMIT ?');
    this.#reusable = db.prepare('SELECT version, at, length FROM reusable WHERE account = ? AND id = ?');
    this.#insertReusable = db.prepare('INSERT OR IGNORE INTO reusable VALUES (?, ?, ?, ?, ?)');
    this.#replaceReusable = db.prepare('INSERT OR REPLACE INTO reusable VALUES (?, ?, ?, ?, ?)');
    this.#hasId = db.prepare('SELECT 1 FROM ids WHERE idset = ? AND id = ?');
    this.#addId = db.prepare('INSERT OR IGNORE INTO ids VALUES (?, ?)');
    this.#deleteId = db.prepare('DELETE FROM ids WHERE idset = ? AND id = ?');
    for (const statement of [this.#entry, this.#ids, this.#idsIn, this.#treeRows, this.#reusable]) statement.setReturnArrays(true);
  }

  /** A number for a new account's rows. */
  newAccount(): number {
    return this.#accounts++;
  }

  entry(account: number, id: string): CatalogRow | undefined {
    const row = this.#entry.get(account, id) as unknown as Row | undefined;
    if (!row) return undefined;
    const [version, container, size, at, length] = row;
    return { version, container: container ?? undefined, size, at, length };
  }

  /** Sets an item's row; returns whether the item is new to the account. */
  setEntry(account: number, id: string, row: CatalogRow): boolean {
    const container = row.container ?? null;
    if (this.#insertEntry.run(account, id, row.version, container, row.size, row.at, row.length).changes === 1) return true;
    this.#replaceEntry.run(row.version, container, row.size, row.at, row.length, account, id);
    return false;
  }

  /** Sets rows that are new to the account; returns how many were new. */
  addEntries(account: number, rows: Iterable<[id: string, row: CatalogRow]>): number {
    let added = 0;
    for (const [id, row] of rows) {
      const { changes } = this.#insertEntry.run(account, id, row.version, row.container ?? null, row.size, row.at, row.length);
      added += Number(changes);
    }
    return added;
  }

  deleteEntry(account: number, id: string): boolean {
    return this.#deleteEntry.run(account, id).changes === 1;
  }

  /** Up to `limit` ids after `after` (in container `container` when given), in id order. */
  ids(account: number, after: string, limit: number, container?: number): string[] {
    const rows = (container === undefined
      ? this.#ids.all(account, after, limit)
      : this.#idsIn.all(account, after, container, limit)) as unknown as [string][];
    return rows.map(([id]) => id);
  }

  /** Up to `limit` rows after `after`, in id order: one tree's worth. */
  treeRows(account: number, after: string, limit: number): TreeRow[] {
    const rows = this.#treeRows.all(account, after, limit) as unknown as [string, number, number, number][];
    return rows.map(([id, size, at, length]) => ({ id, size, at, length }));
  }

  reusable(account: number, id: string): ReusableRow | undefined {
    const row = this.#reusable.get(account, id) as unknown as [string, number, number] | undefined;
    return row && { version: row[0], at: row[1], length: row[2] };
  }

  setReusable(account: number, id: string, row: ReusableRow): void {
    this.#replaceReusable.run(account, id, row.version, row.at, row.length);
  }

  /** Stored versions to reuse; `replace` decides who wins over a version already there. */
  addReusable(account: number, rows: Iterable<[id: string, row: ReusableRow]>, replace: boolean): void {
    const statement = replace ? this.#replaceReusable : this.#insertReusable;
    for (const [id, row] of rows) statement.run(account, id, row.version, row.at, row.length);
  }

  /** Frees an account's rows. */
  deleteAccount(account: number): void {
    this.#deleteAccount.run(account);
    this.#deleteAccountReusable.run(account);
  }

  newIdSet(): IdSet {
    const idset = this.#idSets++;
    const has = this.#hasId;
    const add = this.#addId;
    const remove = this.#deleteId;
    return {
      has: (id) => has.get(idset, id) !== undefined,
      add: (id) => void add.run(idset, id),
      delete: (id) => remove.run(idset, id).changes === 1,
    };
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/** A scratch set of item ids, kept on disk with the writer's other scratch state. */
export interface IdSet {
  has(id: string): boolean;
  add(id: string): void;
  delete(id: string): boolean;
}
