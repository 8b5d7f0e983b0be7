// Writes one snapshot. Writers only add new objects with fresh random names (packs, index files,
// their manifests), so any number of them can run at once; each holds a shared lock, which never
// blocks another writer and which prune's exclusive lock waits for (prune must not delete a blob a
// running writer has just reused). The snapshot manifest is written last.
//
// While it runs it writes checkpoint manifests, one at a time (every caller goes through one
// queue), each replacing this writer's previous one: a writer that is killed leaves packs and one
// checkpoint. The next writer of the same policy and shard resumes from a checkpoint only when it
// was written on top of the same parent, after the newest committed snapshot of the policy and
// shard (checkpoints.ts); commit removes every checkpoint of its policy and shard, and prune those
// no writer can resume.
//
// Memory does not grow with the size of an account: the entries of open accounts are in a spill
// file and what the run's decisions need of them in a scratch database (scratch-catalog.ts), both
// on local disk and gone with the process.
import type { BlobEncoder, EncodedBlob } from './blob-encoder.ts';
import { Budget } from './budget.ts';
import { canResume, sameSource } from './checkpoints.ts';
import type { Chunker } from './chunker.ts';
import { newObjectId, type PackEntry } from './index.ts';
import type { HeldLock } from './locks.ts';
import { TREE_ITEMS, type AccountTree, type ItemEntry, type ItemInput, type SnapshotManifest, type SnapshotStats } from './model.ts';
import { PACK_TARGET_BYTES, PackBuilder, packName, type BlobType, type PackedBlob } from './pack.ts';
import { ScratchCatalog, type CatalogRow, type IdSet } from './scratch-catalog.ts';
import { SpillFile, type SpillRef } from './spill.ts';
import { recordSpans } from './tree-records.ts';

export type { IdSet } from './scratch-catalog.ts';

/** What a snapshot writer needs of a repository (Repository implements it). */
export interface WriterRepository {
  clock(): Date;
  readonly chunker: Chunker;
  /** Names, compresses and seals blobs. */
  readonly encoder: BlobEncoder;
  /** Is the blob in a pack of the repository (an index file lists it, or a pack added with addPack)? */
  hasBlob(id: string): boolean;
  /** Finishes a pack: its header sealed with the repository's key, and its id. */
  sealPack(pack: PackBuilder): { id: string; bytes: Buffer; blobs: PackedBlob[] };
  putObject(name: string, bytes: Buffer, sha256?: string): Promise<void>;
  /** Seals and writes a small object (a manifest). */
  putSealed(name: string, plaintext: Buffer): Promise<void>;
  deleteObject(name: string): Promise<void>;
  /** Makes an uploaded pack's blobs known before an index file lists them. */
  addPack(pack: PackEntry): void;
  /** Writes an index file listing these uploaded packs; returns its name. */
  writeIndex(packs: readonly PackEntry[]): Promise<string>;
  /** Committed snapshots or checkpoints, oldest first. */
  snapshots(kind?: 'snapshots' | 'checkpoints'): Promise<SnapshotManifest[]>;
  snapshot(idOrPrefix: string): Promise<SnapshotManifest>;
  /** A tree blob's entries and the plaintext they were decoded from. */
  readTreeBlob(id: string): Promise<{ bytes: Buffer; items: ItemEntry[] }>;
  lock(holder: string, exclusive: boolean): Promise<HeldLock>;
}

export interface SnapshotWriterOptions {
  policy: string;
  run: string;
  shard: number;
  /** Items whose (account, service, id, version) are unchanged are taken from this snapshot without reading content. */
  parent?: 'latest' | string;
  /** Continue from a checkpoint of this policy and shard that can be resumed (default true). */
  resume?: boolean;
  /** Write a checkpoint after this many new bytes (default 256 MiB) or this long (default 5 minutes). */
  checkpointEveryBytes?: number;
  checkpointEveryMs?: number;
  /** Pack uploads in flight at most (default 2). */
  uploads?: number;
  /** Blob bytes being compressed and sealed at most; more waits (default 24 MiB), which bounds memory with many large items. */
  encodeBudgetBytes?: number;
  /** Streamed items read at once at most (default 4); the others' streams wait unread, so memory stays bounded. */
  streamsAtOnce?: number;
  packTargetBytes?: number;
  /**
   * Where the spill file of entries is kept while they are written (default: the OS's temporary
   * directory). The scratch database goes where SQLite puts temporary files (SQLITE_TMPDIR, TMPDIR,
   * /var/tmp, /usr/tmp, /tmp: the first writable one).
   */
  spillDirectory?: string;
}

/** What the engine's decisions need of an item the account holds now. */
export interface StoredItem {
  version: string;
  container?: string;
  size: number;
}

export interface AccountItems {
  get(id: string): StoredItem | undefined;
  /** Ids of the items in `container` (every item when undefined), in id order; removing items while iterating is allowed (the iteration neither skips nor repeats the others). */
  ids(container?: string): Iterable<string>;
  readonly size: number;
}

interface AccountState {
  account: string;
  service: string;
  /** The account's rows in the scratch catalog. */
  number: number;
  /** Items in this snapshot. */
  count: number;
  /** Removals so far: an iteration checks the ids it read before them. */
  removals: number;
  /** Whether the account has stored versions to reuse besides its live items (most have none). */
  reusable: boolean;
  /** The account's containers: the catalog keeps their numbers. */
  containers: string[];
  containerNumbers: Map<string, number>;
  /** Reads what the reusable versions start with, once. */
  prepared?: Promise<void>;
  /** The stored account it was opened from: its trees are taken as they are if nothing changed. */
  from?: StoredAccount;
  changed: boolean;
  deltaToken?: string;
}

/** An account as a snapshot or checkpoint stores it: its trees (read only when needed) and cursor. */
export interface StoredAccount {
  trees: readonly string[];
  items: number;
  bytes: number;
  deltaToken?: string;
}

/** The manifest entry of a stored account taken as it is, with `deltaToken` as its cursor. */
function storedTree(account: string, service: string, from: StoredAccount, deltaToken: string | undefined): AccountTree {
  return {
    account,
    service,
    trees: [...from.trees],
    items: from.items,
    bytes: from.bytes,
    ...(deltaToken === undefined ? {} : { deltaToken }),
  };
}

const TREE_OPEN = Buffer.from('{"items":[');
const TREE_CLOSE = Buffer.from(']}');
/** Ids read from the catalog at once while iterating an account. */
const ID_PAGE = 512;
/** Packs uploaded are listed in an index file at the latest once they hold this many blobs (and at each checkpoint). */
const INDEX_EVERY_BLOBS = 50_000;

const accountKey = (account: string, service: string) => `${account}\u0000${service}`;

function containerNumber(state: AccountState, container: string | undefined): number | undefined {
  if (container === undefined) return undefined;
  let number = state.containerNumbers.get(container);
  if (number === undefined) {
    number = state.containers.push(container) - 1;
    state.containerNumbers.set(container, number);
  }
  return number;
}

function storedItem(state: AccountState, row: CatalogRow): StoredItem {
  const container = row.container === undefined ? undefined : state.containers[row.container];
  return { version: row.version, ...(container === undefined ? {} : { container }), size: row.size };
}

export class SnapshotWriter {
  readonly #repository: WriterRepository;
  readonly #options: SnapshotWriterOptions;
  readonly #accounts = new Map<string, AccountState>();
  readonly #spill: SpillFile;
  readonly #catalog: ScratchCatalog;
  #parent: SnapshotManifest | undefined;
  #resumed: SnapshotManifest | undefined;
  /** Accounts whose trees are written already (finishAccount). */
  readonly #finished = new Map<string, AccountTree>();
  readonly #pending = new Set<string>();
  readonly #uploads = new Set<Promise<void>>();
  /** Packs uploaded whose index has not been written yet. */
  #unindexed: PackEntry[] = [];
  #unindexedBlobs = 0;
  /** The pack being filled; undefined until a blob needs it. */
  #pack: PackBuilder | undefined;
  /** The next pack's memory being found (a pack is opened once however many blobs wait). */
  #packOpening: Promise<void> | undefined;
  /** Flushes under way: from taking their pack until their upload has started. */
  readonly #flushes = new Set<Promise<void>>();
  /** Memory of packs whose upload is done, for the next packs (a pack is built in one buffer). */
  readonly #spareBuffers: Buffer[] = [];
  /** Pack buffers that exist: at most one more than the uploads in flight. */
  #packBuffers = 0;
  #parentId: string | undefined;
  #checkpointName: string | undefined;
  #resumedFrom: string[] = [];
  #bytesSinceCheckpoint = 0;
  #lastCheckpoint: number;
  /** The checkpoint queue: every checkpoint waits for the one before it. */
  #checkpoints: Promise<unknown> = Promise.resolve();
  /** The checkpoint a due time or size started, which addItem waits for. */
  #checkpointing: Promise<unknown> | undefined;
  #failed: unknown;
  #ending = false;
  #committed = false;
  #lock: HeldLock | undefined;
  readonly #encodeBudget: Budget;
  readonly #streamBudget: Budget;
  readonly stats: SnapshotStats = { items: 0, itemsAdded: 0, itemsUnchanged: 0, bytesIn: 0, bytesAdded: 0, blobsAdded: 0 };

  private constructor(repository: WriterRepository, options: SnapshotWriterOptions) {
    this.#repository = repository;
    this.#options = options;
    this.#lastCheckpoint = repository.clock().getTime();
    this.#encodeBudget = new Budget(options.encodeBudgetBytes ?? 24 * 1024 * 1024);
    this.#streamBudget = new Budget(options.streamsAtOnce ?? 4);
    this.#spill = SpillFile.open(options.spillDirectory);
    try {
      this.#catalog = new ScratchCatalog();
    } catch (error) {
      this.#spill.close();
      throw error;
    }
  }

  #newPackBuffer(): Buffer {
    this.#packBuffers += 1;
    // Room for a full pack and its header, so that a pack is rarely grown.
    return Buffer.allocUnsafeSlow((this.#options.packTargetBytes ?? PACK_TARGET_BYTES) + 1024 * 1024);
  }

  /**
   * Memory for the next pack: a finished upload's, a new buffer while there are fewer than
   * `uploads + 1`, or else the buffer of the next upload that finishes (a pack buffer is the
   * writer's largest piece of memory).
   */
  async #takePackBuffer(): Promise<Buffer> {
    const uploads = this.#options.uploads ?? 2;
    for (;;) {
      const spare = this.#spareBuffers.pop();
      if (spare) return spare;
      if (this.#packBuffers <= uploads || this.#uploads.size === 0) return this.#newPackBuffer();
      await Promise.race(this.#uploads);
    }
  }

  static async start(repository: WriterRepository, options: SnapshotWriterOptions): Promise<SnapshotWriter> {
    const writer = new SnapshotWriter(repository, options);
    try {
      writer.#lock = await repository.lock(`writer ${options.policy}/${options.run}/${options.shard}`, false);
      await writer.#loadReusable();
    } catch (error) {
      writer.#closeScratch();
      await writer.#lock?.release();
      throw error;
    }
    return writer;
  }

  /** The checkpoints this writer resumed from (the newest is the one it reads); commit removes them. */
  get resumedFrom(): readonly string[] {
    return this.#resumedFrom;
  }

  async #loadReusable(): Promise<void> {
    const repository = this.#repository;
    const { policy, shard, parent } = this.#options;
    const resume = this.#options.resume ?? true;
    const newest =
      parent === 'latest' || resume ? (await repository.snapshots()).filter((s) => sameSource(s, policy, shard)).at(-1) : undefined;
    if (parent) {
      this.#parent = parent === 'latest' ? newest : await repository.snapshot(parent);
      this.#parentId = this.#parent?.id;
    }
    if (resume) {
      const checkpoints = (await repository.snapshots('checkpoints')).filter(
        (c) => sameSource(c, policy, shard) && canResume(c, newest, this.#parentId),
      );
      this.#resumed = checkpoints.at(-1);
      this.#resumedFrom = checkpoints.map((c) => c.id);
    }
  }

  #storedAccount(manifest: SnapshotManifest | undefined, account: string, service: string): StoredAccount | undefined {
    const tree = manifest?.accounts.find((t) => t.account === account && t.service === service);
    if (!tree) return undefined;
    return {
      trees: tree.trees,
      items: tree.items,
      bytes: tree.bytes,
      ...(tree.deltaToken === undefined ? {} : { deltaToken: tree.deltaToken }),
    };
  }

  /** The account as the parent snapshot has it: the starting point of an incremental backup, and its cursor. */
  async previousAccount(account: string, service: string): Promise<StoredAccount | undefined> {
    return this.#storedAccount(this.#parent, account, service);
  }

  /**
   * The account as the resumed checkpoint has it, when an earlier attempt of this run finished it
   * (its cursor is set): its items and the cursor they are up to date with.
   */
  async resumedAccount(account: string, service: string): Promise<(StoredAccount & { deltaToken: string }) | undefined> {
    const stored = this.#storedAccount(this.#resumed, account, service);
    return stored?.deltaToken === undefined ? undefined : (stored as StoredAccount & { deltaToken: string });
  }

  /**
   * Copies a stored account's entries into the spill file as its trees have them: each tree's bytes
   * in one piece, each entry pointing at its record there, so that no entry is encoded again.
   * `take` gets one tree's entries at a time.
   */
  async #spillTrees(from: StoredAccount, take: (entries: [ItemEntry, SpillRef][]) => void): Promise<void> {
    for (const id of from.trees) {
      const { bytes, items } = await this.#repository.readTreeBlob(id);
      const spans = recordSpans(bytes);
      if (spans?.starts.length !== items.length) {
        // Not the writer's own layout (or not one it knows): encode the entries one by one.
        take(items.map((entry) => [entry, this.#spill.append(JSON.stringify(entry))]));
        continue;
      }
      const base = this.#spill.appendBytes(bytes);
      take(items.map((entry, i) => [entry, { at: base + spans.starts[i]!, length: spans.lengths[i]! }]));
    }
  }

  /** The whole entry of a stored item, as its tree will hold it. */
  #entryOf(ref: SpillRef): ItemEntry {
    return JSON.parse(this.#spill.read(ref)) as ItemEntry;
  }

  /**
   * Starts an account from a stored one (the parent's, for an incremental backup: items the source
   * reports no change for stay as they were). Returns the account's live items, which addItem and
   * removeItem change; callers only read them. If nothing changes, finishing the account keeps the
   * stored trees as they are.
   */
  async openAccount(account: string, service: string, from?: StoredAccount): Promise<AccountItems> {
    this.#throwIfFailed();
    const state = this.#account(account, service);
    if (from) {
      if (state.count > 0 || state.from) state.changed = true;
      else state.from = from;
      // Entries already in the account stay.
      await this.#spillTrees(from, (entries) => {
        state.count += this.#catalog.addEntries(
          state.number,
          entries.map(([entry, ref]): [string, CatalogRow] => [entry.id, this.#row(state, entry, ref)]),
        );
      });
    }
    return this.#items(state);
  }

  #row(state: AccountState, entry: Pick<ItemEntry, 'version' | 'container' | 'size'>, ref: SpillRef): CatalogRow {
    return { version: entry.version, container: containerNumber(state, entry.container), size: entry.size, at: ref.at, length: ref.length };
  }

  #items(state: AccountState): AccountItems {
    const catalog = this.#catalog;
    const get = (id: string): StoredItem | undefined => {
      const row = catalog.entry(state.number, id);
      return row && storedItem(state, row);
    };
    function* ids(container?: string): Generator<string> {
      const number = container === undefined ? undefined : state.containerNumbers.get(container);
      if (container !== undefined && number === undefined) return;
      let after = '';
      for (;;) {
        const page = catalog.ids(state.number, after, ID_PAGE, number);
        if (page.length === 0) return;
        after = page.at(-1)!;
        const removals = state.removals;
        for (const id of page) {
          // Removed since the page was read: not to be named again.
          if (state.removals !== removals && !catalog.entry(state.number, id)) continue;
          yield id;
        }
      }
    }
    return {
      get,
      ids,
      get size() {
        return state.count;
      },
    };
  }

  /** Takes a stored account into this snapshot whole, with its cursor, without reading it. */
  carryAccount(account: string, service: string, from: StoredAccount): void {
    this.#throwIfFailed();
    const key = accountKey(account, service);
    if (this.#finished.has(key) || this.#accounts.has(key)) throw new Error(`account ${account} (${service}) is already in this snapshot`);
    this.#finished.set(key, storedTree(account, service, from, from.deltaToken));
  }

  /** Removes an item from this snapshot (it is gone from the source; older snapshots keep it). */
  removeItem(account: string, service: string, id: string): StoredItem | undefined {
    const state = this.#account(account, service);
    const row = this.#catalog.entry(state.number, id);
    if (!row) return undefined;
    this.#catalog.deleteEntry(state.number, id);
    state.count -= 1;
    state.removals += 1;
    // A move may show as a removal before the upsert elsewhere: the content stays reusable.
    this.#catalog.setReusable(state.number, id, row);
    state.reusable = true;
    state.changed = true;
    return storedItem(state, row);
  }

  /** A scratch set of item ids, on disk with the writer's other scratch state; freed at commit or abort. */
  idSet(): IdSet {
    this.#throwIfFailed();
    return this.#catalog.newIdSet();
  }

  /** Writes the account's trees now and frees its entries: nothing more can be added to it. */
  async finishAccount(account: string, service: string): Promise<void> {
    const key = accountKey(account, service);
    const state = this.#accounts.get(key);
    if (!state) return;
    this.#accounts.delete(key);
    const tree = await this.#writeAccountTrees(state);
    // Together, with no wait between: a checkpoint that read the rows meanwhile takes this tree instead.
    this.#finished.set(key, tree);
    this.#catalog.deleteAccount(state.number);
  }

  #account(account: string, service: string): AccountState {
    this.#throwIfFinished(account, service);
    const key = accountKey(account, service);
    let state = this.#accounts.get(key);
    if (!state) {
      state = {
        account,
        service,
        number: this.#catalog.newAccount(),
        count: 0,
        removals: 0,
        reusable: false,
        containers: [],
        containerNumbers: new Map(),
        changed: false,
      };
      this.#accounts.set(key, state);
    }
    return state;
  }

  /** Reads, once per account, the stored versions an added item may reuse: the checkpoint's, and the parent's unless the account was opened from it. */
  #prepare(state: AccountState): Promise<void> {
    state.prepared ??= (async () => {
      const keep = (from: StoredAccount, replace: boolean) =>
        this.#spillTrees(from, (entries) => {
          state.reusable ||= entries.length > 0;
          this.#catalog.addReusable(
            state.number,
            entries.map(([entry, ref]) => [entry.id, { version: entry.version, at: ref.at, length: ref.length }]),
            replace,
          );
        });
      const fromCheckpoint = this.#storedAccount(this.#resumed, state.account, state.service);
      if (fromCheckpoint) await keep(fromCheckpoint, true);
      const fromParent = this.#storedAccount(this.#parent, state.account, state.service);
      if (fromParent && state.from?.trees !== fromParent.trees) await keep(fromParent, false);
    })();
    return state.prepared;
  }

  /** Adds one item; its content is read only when it is new or changed. */
  async addItem(item: ItemInput): Promise<'added' | 'unchanged'> {
    this.#throwIfFailed();
    const { account, service, content, ...fields } = item;
    const state = this.#account(account, service);
    await this.#prepare(state);
    // Any stored copy of this version will do: the live one, the checkpoint's, the parent's, a removed one.
    const live = this.#catalog.entry(state.number, item.id);
    const reusable = live?.version === item.version || !state.reusable ? live : this.#catalog.reusable(state.number, item.id);
    const reused = reusable?.version === item.version ? this.#entryOf(reusable).content : undefined;
    let outcome: 'added' | 'unchanged';
    let entry: ItemEntry;
    if (reused) {
      entry = { ...fields, content: reused };
      outcome = 'unchanged';
    } else {
      const source = await content();
      const blobs: string[] = [];
      let bytes = 0;
      const streamed = !Buffer.isBuffer(source);
      if (streamed) await this.#streamBudget.take(1);
      try {
        const chunks = Buffer.isBuffer(source) ? this.#repository.chunker.split(source) : this.#repository.chunker.splitStream(source);
        for await (const chunk of chunks) {
          blobs.push(await this.#storeBlob('data', chunk));
          bytes += chunk.length;
        }
      } finally {
        if (streamed) this.#streamBudget.give(1);
      }
      this.stats.bytesIn += bytes;
      this.#bytesSinceCheckpoint += bytes;
      entry = { ...fields, size: item.size ?? bytes, content: blobs };
      outcome = 'added';
    }
    // The account may have been finished while the content was read.
    this.#throwIfFinished(account, service);
    const ref = this.#spill.append(JSON.stringify(entry));
    if (this.#catalog.setEntry(state.number, item.id, this.#row(state, entry, ref))) state.count += 1;
    state.changed = true;
    if (outcome === 'added') this.stats.itemsAdded += 1;
    else this.stats.itemsUnchanged += 1;
    await this.#maybeCheckpoint();
    return outcome;
  }

  /** Records the source's delta token for an account; it is committed only with the data it covers. */
  setDeltaToken(account: string, service: string, token: string): void {
    this.#account(account, service).deltaToken = token;
  }

  async #storeBlob(type: BlobType, plaintext: Buffer): Promise<string> {
    // Naming happens in the encoder (on a worker thread); `keep` decides there, as soon as the
    // name is known, whether the blob is new, and reserves it so that a concurrent copy is not
    // stored twice.
    let reserved: string | undefined;
    const keep = (id: string): boolean => {
      if (this.#pending.has(id) || this.#repository.hasBlob(id)) return false;
      this.#pending.add(id);
      reserved = id;
      return true;
    };
    await this.#encodeBudget.take(plaintext.length);
    let blob: EncodedBlob;
    try {
      blob = await this.#repository.encoder.encode(plaintext, keep);
    } catch (error) {
      if (reserved !== undefined) {
        // Other items may already refer to this blob as pending: the snapshot must not commit.
        this.#pending.delete(reserved);
        this.#failed ??= error;
      }
      throw error;
    } finally {
      this.#encodeBudget.give(plaintext.length);
    }
    if (blob.sealed === undefined) return blob.id;
    let pack: PackBuilder;
    try {
      // The pack is read and added to with no wait in between: a flush may take it at any wait.
      while (!this.#pack) await this.#openPack();
      pack = this.#pack;
      pack.add(blob.id, type, blob.sealed);
    } finally {
      blob.done();
    }
    this.stats.bytesAdded += plaintext.length;
    this.stats.blobsAdded += 1;
    if (pack === this.#pack && pack.size >= (this.#options.packTargetBytes ?? PACK_TARGET_BYTES)) await this.#flushPack();
    return blob.id;
  }

  /** Opens a pack with new memory (once, however many blobs wait for it). */
  #openPack(): Promise<void> {
    this.#packOpening ??= this.#takePackBuffer()
      .then((buffer) => {
        if (this.#pack) this.#spareBuffers.push(buffer);
        else this.#pack = new PackBuilder(buffer);
      })
      .finally(() => (this.#packOpening = undefined));
    return this.#packOpening;
  }

  /** Finishes the current pack and uploads it, with at most `uploads` uploads in flight. */
  async #flushPack(): Promise<void> {
    const builder = this.#pack;
    if (!builder || builder.count === 0) return;
    // The next blob opens the next pack (it waits for memory while the uploads are full).
    this.#pack = undefined;
    const flush = this.#startUpload(builder);
    this.#flushes.add(flush);
    try {
      await flush;
    } finally {
      this.#flushes.delete(flush);
    }
    // The packs' blob lists wait in memory for their index file: write one before they are many.
    if (this.#unindexedBlobs >= INDEX_EVERY_BLOBS) await this.#writeIndex();
  }

  async #startUpload(builder: PackBuilder): Promise<void> {
    const { id, bytes, blobs } = this.#repository.sealPack(builder);
    const uploads = this.#options.uploads ?? 2;
    while (this.#uploads.size >= uploads) await Promise.race(this.#uploads);
    const upload = this.#repository.putObject(packName(id), bytes, id).then(
      () => {
        const entry = { id, size: bytes.length, blobs };
        this.#unindexed.push(entry);
        this.#unindexedBlobs += blobs.length;
        this.#repository.addPack(entry);
        for (const blob of blobs) this.#pending.delete(blob.id);
        this.#spareBuffers.push(builder.recycle());
      },
      (error: unknown) => {
        this.#packBuffers -= 1;
        this.#failed ??= error;
      },
    );
    const tracked = upload.finally(() => this.#uploads.delete(tracked));
    this.#uploads.add(tracked);
  }

  async #drain(): Promise<void> {
    await this.#flushPack();
    await Promise.all(this.#flushes);
    await Promise.all(this.#uploads);
    this.#throwIfFailed();
  }

  async #writeIndex(): Promise<void> {
    if (this.#unindexed.length === 0) return;
    const packs = this.#unindexed;
    this.#unindexed = [];
    this.#unindexedBlobs = 0;
    await this.#repository.writeIndex(packs);
  }

  async #writeAccountTrees(state: AccountState): Promise<AccountTree> {
    const { from } = state;
    if (from && !state.changed && state.count === from.items) {
      // Nothing changed since the stored account: its trees are this snapshot's too.
      return storedTree(state.account, state.service, from, state.deltaToken);
    }
    // The cursor is taken before the first await: a checkpoint may write an open account while its
    // last items are still being added, and a cursor read after them would claim items these trees
    // do not hold. A cursor set already means every item is in (the engine sets it last).
    const deltaToken = state.deltaToken;
    const trees: string[] = [];
    let items = 0;
    let bytes = 0;
    // One buffer for all the account's trees: the encoder copies each before storeBlob returns.
    let memory = Buffer.alloc(0);
    // One tree's rows at a time, in id order; items may be added meanwhile (a checkpoint), the rows read are whole.
    for (let after = ''; ;) {
      const records = this.#catalog.treeRows(state.number, after, TREE_ITEMS);
      if (records.length === 0) break;
      after = records.at(-1)!.id;
      items += records.length;
      // A tree is the entries' own JSON records, copied between its brackets: nothing is parsed or decoded again.
      const treeLength = TREE_OPEN.length + records.reduce((n, r) => n + r.length + 1, 0) + TREE_CLOSE.length - 1;
      if (memory.length < treeLength) memory = Buffer.allocUnsafeSlow(Math.max(treeLength, 2 * memory.length));
      const tree = memory.subarray(0, treeLength);
      let at = TREE_OPEN.copy(tree, 0);
      for (let k = 0; k < records.length;) {
        // Records that follow each other in the spill file one comma apart came from one stored
        // tree in this order (appended records have no gap, trees end in "]}"): one copy, commas included.
        let last = k;
        while (last + 1 < records.length && records[last + 1]!.at === records[last]!.at + records[last]!.length + 1) last++;
        if (k > 0) tree[at++] = 0x2c; // ,
        const first = records[k]!;
        const length = records[last]!.at + records[last]!.length - first.at;
        this.#spill.copyTo({ at: first.at, length }, tree, at);
        at += length;
        for (; k <= last; k++) bytes += records[k]!.size;
      }
      TREE_CLOSE.copy(tree, at);
      trees.push(await this.#storeBlob('tree', tree));
      if (records.length < TREE_ITEMS) break;
    }
    return {
      account: state.account,
      service: state.service,
      trees,
      items,
      bytes,
      ...(deltaToken === undefined ? {} : { deltaToken }),
    };
  }

  /** Writes the trees of every open account and returns the manifest entries of all accounts. */
  async #writeTrees(): Promise<AccountTree[]> {
    const result = new Map<string, AccountTree>();
    for (const [key, state] of [...this.#accounts]) {
      const tree = await this.#writeAccountTrees(state);
      // Finished meanwhile: its rows may have gone while they were read; its own trees are whole.
      result.set(key, this.#finished.get(key) ?? tree);
    }
    for (const [key, tree] of this.#finished) result.set(key, tree);
    return [...result.values()].sort((a, b) => accountKey(a.account, a.service).localeCompare(accountKey(b.account, b.service)));
  }

  /** Makes everything added so far durable and referenced: packs, index, trees, then the manifest. */
  async #persist(kind: 'snapshots' | 'checkpoints', id: string): Promise<SnapshotManifest> {
    // Trees go into the same last pack as the data they reference; one drain uploads both.
    const accounts = await this.#writeTrees();
    await this.#drain();
    await this.#writeIndex();
    const manifest: SnapshotManifest = {
      version: 1,
      id,
      time: this.#repository.clock().toISOString(),
      policy: this.#options.policy,
      run: this.#options.run,
      shard: this.#options.shard,
      checkpoint: kind === 'checkpoints',
      ...(this.#parentId ? { parent: this.#parentId } : {}),
      accounts,
      stats: { ...this.stats, items: accounts.reduce((n, a) => n + a.items, 0) },
    };
    await this.#repository.putSealed(`${kind}/${id}`, Buffer.from(JSON.stringify(manifest)));
    return manifest;
  }

  async #maybeCheckpoint(): Promise<void> {
    const everyBytes = this.#options.checkpointEveryBytes ?? 256 * 1024 * 1024;
    const everyMs = this.#options.checkpointEveryMs ?? 5 * 60_000;
    const due = this.#bytesSinceCheckpoint >= everyBytes || this.#repository.clock().getTime() - this.#lastCheckpoint >= everyMs;
    if (due && !this.#checkpointing && !this.#ending) {
      this.#checkpointing = this.checkpoint().finally(() => (this.#checkpointing = undefined));
    }
    await this.#checkpointing;
  }

  /**
   * Writes a checkpoint manifest now and removes this writer's previous one. Checkpoints are
   * written one after the other, so however many are asked for at once, one of them remains.
   */
  checkpoint(): Promise<SnapshotManifest> {
    if (this.#ending) return Promise.reject(new Error('this snapshot is being committed or aborted: no more checkpoints'));
    const written = this.#checkpoints.then(() => this.#writeCheckpoint());
    this.#checkpoints = written.catch(() => undefined);
    return written;
  }

  async #writeCheckpoint(): Promise<SnapshotManifest> {
    this.#throwIfFailed();
    const previous = this.#checkpointName;
    const manifest = await this.#persist('checkpoints', newObjectId());
    this.#checkpointName = `checkpoints/${manifest.id}`;
    this.#bytesSinceCheckpoint = 0;
    this.#lastCheckpoint = this.#repository.clock().getTime();
    if (previous) await this.#deleteQuietly(previous);
    return manifest;
  }

  /** Commits the snapshot; afterwards no checkpoint of this policy and shard is left. */
  async commit(): Promise<SnapshotManifest> {
    if (this.#ending)
      throw new Error(this.#committed ? 'this snapshot was already committed' : 'this snapshot is being committed or was aborted');
    this.#ending = true;
    await this.#checkpoints;
    const manifest = await this.#persist('snapshots', newObjectId());
    this.#committed = true;
    await this.#removeCheckpoints();
    this.#closeScratch();
    await this.#lock?.release();
    return manifest;
  }

  /**
   * Every checkpoint of this policy and shard is older than the snapshot just committed, so none
   * can be resumed: this writer's own, the ones it resumed, and any other (a killed attempt's).
   */
  async #removeCheckpoints(): Promise<void> {
    const names = new Set([...this.#resumedFrom.map((id) => `checkpoints/${id}`), ...(this.#checkpointName ? [this.#checkpointName] : [])]);
    try {
      const { policy, shard } = this.#options;
      for (const c of await this.#repository.snapshots('checkpoints')) if (sameSource(c, policy, shard)) names.add(`checkpoints/${c.id}`);
    } catch {
      // The snapshot is committed: what could not be listed is never resumed, and prune removes it.
    }
    for (const name of names) await this.#deleteQuietly(name);
  }

  /** Gives up without committing: what was uploaded stays for a later attempt (through the checkpoint) or for prune. */
  async abort(): Promise<void> {
    this.#ending = true;
    await this.#checkpoints;
    await Promise.allSettled(this.#uploads);
    this.#closeScratch();
    await this.#lock?.release();
  }

  #closeScratch(): void {
    this.#spill.close();
    this.#catalog.close();
  }

  async #deleteQuietly(name: string): Promise<void> {
    // A checkpoint under Object Lock stays until its retention ends; prune removes it later.
    await this.#repository.deleteObject(name).catch(() => undefined);
  }

  #throwIfFinished(account: string, service: string): void {
    if (this.#finished.has(accountKey(account, service)))
      throw new Error(`account ${account} (${service}) is already finished in this snapshot`);
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#failed;
  }
}
