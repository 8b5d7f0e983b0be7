// Index files map blob → pack, offset, length. Each writer writes its own index files (no shared
// object is ever rewritten, so concurrent writers need no lock); the master index is the union.
import { randomBytes } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { zstdDecompressBody } from './compression.ts';
import { open, seal } from './crypto.ts';
import { RepositoryError } from './errors.ts';
import type { BlobType, PackedBlob } from './pack.ts';
import { openScratchDatabase } from './scratch.ts';

const compress = promisify(zlib.zstdCompress);

export interface PackEntry {
  id: string;
  size: number;
  blobs: PackedBlob[];
}

export interface BlobLocation {
  packId: string;
  type: BlobType;
  offset: number;
  length: number;
}

type EncodedPack = [id: string, size: number, blobs: [string, BlobType, number, number][]];

export interface IndexFileContent {
  packs: PackEntry[];
  /** Index files this one replaces (written by prune); readers ignore them even if they could not be deleted. */
  supersedes: string[];
}

export async function encodeIndex(encryptionKey: Buffer, packs: readonly PackEntry[], supersedes: readonly string[] = []): Promise<Buffer> {
  const encoded: EncodedPack[] = packs.map((p) => [p.id, p.size, p.blobs.map((b) => [b.id, b.type, b.offset, b.length])]);
  return seal(encryptionKey, await compress(Buffer.from(JSON.stringify({ version: 1, packs: encoded, supersedes }))));
}

export async function decodeIndex(encryptionKey: Buffer, sealed: Buffer, what: string): Promise<IndexFileContent> {
  const plaintext = open(encryptionKey, sealed, what);
  try {
    const parsed = JSON.parse((await zstdDecompressBody(plaintext)).toString('utf8')) as { packs: EncodedPack[]; supersedes?: string[] };
    return {
      packs: parsed.packs.map(([id, size, blobs]) => ({
        id,
        size,
        blobs: blobs.map(([bid, type, offset, length]) => ({ id: bid, type, offset, length })),
      })),
      supersedes: parsed.supersedes ?? [],
    };
  } catch (error) {
    throw new RepositoryError('Corrupt', `${what} is damaged: ${(error as Error).message}`);
  }
}

export function newObjectId(): string {
  return randomBytes(32).toString('hex');
}

/** A pack as the index keeps it in memory: where its blobs' rows are in the scratch table. */
interface PackRows {
  id: string;
  size: number;
  number: number;
  /** Rowid of its first blob and how many it has: a pack's rows are inserted together. */
  first: number;
  count: number;
  /** Listed by an index file (not only found from its header, or uploaded and not indexed yet). */
  listed: boolean;
}

const TYPES: readonly BlobType[] = ['data', 'tree'];

/**
 * The union of every index file: where each blob is, and which packs exist. The blobs are in a
 * scratch database on local disk (see scratch.ts), not in memory: a repository of millions of
 * blobs costs a few MiB of page cache. Packs stay in memory (a few per hundred MiB stored).
 */
export class MasterIndex {
  readonly #db: DatabaseSync;
  readonly #packs = new Map<string, PackRows>();
  readonly #byNumber: PackRows[] = [];
  readonly #insert: StatementSync;
  readonly #has: StatementSync;
  readonly #get: StatementSync;
  readonly #rows: StatementSync;
  readonly #deleteRows: StatementSync;
  /** Distinct blobs, counted when asked (check and stats). */
  #blobCount: number | undefined = 0;
  /** Index file name → the packs it lists, for prune and check. */
  readonly files = new Map<string, string[]>();

  constructor() {
    this.#db = openScratchDatabase(4 * 1024);
    this.#db.exec(
      'CREATE TABLE blobs (id BLOB NOT NULL, pack INTEGER NOT NULL, type INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL)',
    );
    this.#db.exec(BY_ID);
    this.#insert = this.#db.prepare('INSERT INTO blobs VALUES (?, ?, ?, ?, ?)');
    this.#has = this.#db.prepare('SELECT 1 FROM blobs WHERE id = ? LIMIT 1');
    // The first pack that lists a blob is where it is read from (the rowid order is the order packs were added).
    this.#get = this.#db.prepare('SELECT pack, type, offset, length FROM blobs WHERE id = ? ORDER BY rowid LIMIT 1');
    this.#rows = this.#db.prepare('SELECT id, type, offset, length FROM blobs WHERE rowid >= ? AND rowid < ? ORDER BY rowid');
    this.#deleteRows = this.#db.prepare('DELETE FROM blobs WHERE rowid >= ? AND rowid < ?');
    for (const statement of [this.#get, this.#rows]) statement.setReturnArrays(true);
  }

  addPack(pack: PackEntry): void {
    this.#insertPack(pack);
  }

  addFile(name: string, packs: readonly PackEntry[]): void {
    for (const pack of packs) this.#insertPack(pack);
    this.#listFile(name, packs);
  }

  /**
   * Adds index files as they are read. Into an empty index (opening a repository) the id index is
   * built once at the end: sorting beats inserting at random.
   */
  async addFiles(files: AsyncIterable<readonly [name: string, packs: readonly PackEntry[]]>): Promise<void> {
    if (this.#packs.size > 0) {
      for await (const [name, packs] of files) this.addFile(name, packs);
      return;
    }
    this.#db.exec('DROP INDEX blobs_by_id');
    try {
      for await (const [name, packs] of files) this.addFile(name, packs);
    } finally {
      this.#db.exec(BY_ID);
    }
  }

  /** Forgets index files (superseded by prune's): packs no other file lists go with them. */
  removeFiles(names: Iterable<string>): void {
    let removed = false;
    for (const name of names) removed = this.files.delete(name) || removed;
    if (!removed) return;
    const listed = new Set([...this.files.values()].flat());
    const unlisted = [...this.#packs.values()].filter((p) => p.listed && !listed.has(p.id));
    for (const pack of unlisted) {
      this.#deleteRows.run(pack.first, pack.first + pack.count);
      this.#packs.delete(pack.id);
    }
    this.#blobCount = undefined;
  }

  #insertPack(pack: PackEntry): void {
    if (this.#packs.has(pack.id)) return;
    const rows: PackRows = {
      id: pack.id,
      size: pack.size,
      number: this.#byNumber.length,
      first: 0,
      count: pack.blobs.length,
      listed: false,
    };
    for (const [i, blob] of pack.blobs.entries()) {
      const { lastInsertRowid } = this.#insert.run(
        Buffer.from(blob.id, 'hex'),
        rows.number,
        TYPES.indexOf(blob.type),
        blob.offset,
        blob.length,
      );
      if (i === 0) rows.first = Number(lastInsertRowid);
    }
    this.#packs.set(pack.id, rows);
    this.#byNumber.push(rows);
    this.#blobCount = undefined;
  }

  #listFile(name: string, packs: readonly PackEntry[]): void {
    for (const pack of packs) this.#packs.get(pack.id)!.listed = true;
    this.files.set(
      name,
      packs.map((p) => p.id),
    );
  }

  clear(): void {
    this.#db.exec('DELETE FROM blobs');
    this.#packs.clear();
    this.#byNumber.length = 0;
    this.files.clear();
    this.#blobCount = 0;
  }

  has(blobId: string): boolean {
    return this.#has.get(Buffer.from(blobId, 'hex')) !== undefined;
  }

  get(blobId: string): BlobLocation | undefined {
    const row = this.#get.get(Buffer.from(blobId, 'hex')) as unknown as [number, number, number, number] | undefined;
    if (!row) return undefined;
    const [pack, type, offset, length] = row;
    return { packId: this.#byNumber[pack]!.id, type: TYPES[type]!, offset, length };
  }

  /** A pack and its blobs (read from the scratch table). */
  pack(packId: string): PackEntry | undefined {
    const rows = this.#packs.get(packId);
    return rows && this.#entry(rows);
  }

  /** Every pack with its blobs, one at a time. */
  get packs(): IterableIterator<PackEntry> {
    const entry = (rows: PackRows) => this.#entry(rows);
    return (function* (packs: Iterable<PackRows>) {
      for (const rows of packs) yield entry(rows);
    })([...this.#packs.values()]);
  }

  get packCount(): number {
    return this.#packs.size;
  }

  get blobCount(): number {
    this.#blobCount ??= Number(
      (this.#db.prepare('SELECT COUNT(DISTINCT id) FROM blobs').get() as Record<string, number>)['COUNT(DISTINCT id)'],
    );
    return this.#blobCount;
  }

  #entry(rows: PackRows): PackEntry {
    const blobs = (this.#rows.all(rows.first, rows.first + rows.count) as unknown as [Uint8Array, number, number, number][]).map(
      ([id, type, offset, length]): PackedBlob => ({ id: Buffer.from(id).toString('hex'), type: TYPES[type]!, offset, length }),
    );
    return { id: rows.id, size: rows.size, blobs };
  }
}

const BY_ID = 'CREATE INDEX blobs_by_id ON blobs (id)';
