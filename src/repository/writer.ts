// Writes one snapshot. Writers never block each other: each only adds new objects with fresh
// random names (packs, index files, its manifest) and holds a shared lock, which only prune's
// exclusive lock waits for. The snapshot manifest is written last. While it runs it writes
// checkpoint manifests, one at a time, each replacing the last; a writer that is killed leaves
// packs and at most a checkpoint. The next writer for the same policy and shard resumes from that
// checkpoint only if it was written on top of the newest committed snapshot (an older one would
// shadow what that snapshot knows), and a commit removes every checkpoint of its policy and shard.
import type { EncodedBlob } from './blob-encoder.ts';
import { Budget } from './budget.ts';
import { encodeIndex, newObjectId, type PackEntry } from './index.ts';
import { TREE_ITEMS, type AccountTree, type ItemEntry, type ItemInput, type SnapshotManifest, type SnapshotStats } from './model.ts';
import { PACK_TARGET_BYTES, PackBuilder, packName, type BlobType } from './pack.ts';
import { acquireLock, type HeldLock } from './locks.ts';
import type { Repository } from './repository.ts';
import { SpillFile, type SpillRef } from './spill.ts';
import { recordSpans } from './tree-records.ts';

export interface SnapshotWriterOptions {
  policy: string;
  run: string;
  shard: number;
  /** Items whose (account, service, id, version) are unchanged are taken from this snapshot without reading content. */
  parent?: 'latest' | string;
  /** Continue from the newest checkpoint of this policy and shard written on top of the newest snapshot (default true). */
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
  /** Where the catalog entries of open accounts are kept while they are written (default: the OS's temporary directory). */
  spillDirectory?: string;
}

/** What the run's decisions need of a stored item; the whole entry is in the spill file. */
export interface EntrySummary {
  version: string;
  container?: string;
  size: number;
}

interface Spilled extends EntrySummary, SpillRef {}

/** A stored version whose content blobs an added item of the same version takes as they are. */
interface Reusable {
  version: string;
  content: string[];
}

interface AccountState {
  account: string;
  service: string;
  /** The account's items in this snapshot, by id. */
  entries: Map<string, Spilled>;
  /** Other stored versions whose content may be reused: the resumed checkpoint's, removed ones, the parent's when not opened from it. */
  reusable: Map<string, Reusable>;
  /** Reads what `reusable` starts with, once. */
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

function summary(entry: ItemEntry, ref: SpillRef): Spilled {
  return {
    version: entry.version,
    ...(entry.container === undefined ? {} : { container: entry.container }),
    size: entry.size,
    at: ref.at,
    length: ref.length,
  };
}

const TREE_OPEN = Buffer.from('{"items":[');
const TREE_CLOSE = Buffer.from(']}');

const accountKey = (account: string, service: string) => `${account}\u0000${service}`;

export class SnapshotWriter {
  readonly #repository: Repository;
  readonly #options: SnapshotWriterOptions;
  readonly #accounts = new Map<string, AccountState>();
  readonly #spill: SpillFile;
  #parent: SnapshotManifest | undefined;
  #resumed: SnapshotManifest | undefined;
  /** Accounts whose trees are written already (finishAccount). */
  readonly #finished = new Map<string, AccountTree>();
  readonly #pending = new Set<string>();
  readonly #uploads = new Set<Promise<void>>();
  /** Packs uploaded whose index has not been written yet. */
  #unindexed: PackEntry[] = [];
  #pack: PackBuilder;
  /** Memory of packs whose upload is done, for the next packs (a pack is built in one buffer). */
  readonly #spareBuffers: Buffer[] = [];
  #parentId: string | undefined;
  #checkpointName: string | undefined;
  #resumedFrom: string[] = [];
  #bytesSinceCheckpoint = 0;
  #lastCheckpoint: number;
  #checkpointing: Promise<void> | undefined;
  /** Checkpoint and commit writes, one after the other: each reads what the one before it left. */
  #persisting: Promise<unknown> = Promise.resolve();
  /** Checkpoints of this policy and shard that cannot be resumed (older than the newest snapshot): the commit removes them. */
  #stale: string[] = [];
  #failed: unknown;
  #committed = false;
  #lock: HeldLock | undefined;
  readonly #encodeBudget: Budget;
  readonly #streamBudget: Budget;
  readonly stats: SnapshotStats = { items: 0, itemsAdded: 0, itemsUnchanged: 0, bytesIn: 0, bytesAdded: 0, blobsAdded: 0 };

  private constructor(repository: Repository, options: SnapshotWriterOptions) {
    this.#repository = repository;
    this.#options = options;
    this.#lastCheckpoint = repository.clock().getTime();
    this.#encodeBudget = new Budget(options.encodeBudgetBytes ?? 24 * 1024 * 1024);
    this.#streamBudget = new Budget(options.streamsAtOnce ?? 4);
    this.#pack = this.#newPack();
    this.#spill = SpillFile.open(options.spillDirectory);
  }

  #newPack(): PackBuilder {
    // Room for a full pack and its header, so that a pack is rarely grown.
    return new PackBuilder(
      this.#spareBuffers.pop() ?? Buffer.allocUnsafeSlow((this.#options.packTargetBytes ?? PACK_TARGET_BYTES) + 1024 * 1024),
    );
  }

  static async start(repository: Repository, options: SnapshotWriterOptions): Promise<SnapshotWriter> {
    const writer = new SnapshotWriter(repository, options);
    try {
      // A shared lock: writers never block each other, only prune waits for them.
      writer.#lock = await acquireLock(repository, `writer ${options.policy}/${options.run}/${options.shard}`, false);
      await writer.#loadReusable();
    } catch (error) {
      writer.#spill.close();
      await writer.#lock?.release();
      throw error;
    }
    return writer;
  }

  get resumedFrom(): readonly string[] {
    return this.#resumedFrom;
  }

  async #loadReusable(): Promise<void> {
    const repository = this.#repository;
    const { policy, shard, parent } = this.#options;
    const sameSource = (s: SnapshotManifest) => s.policy === policy && s.shard === shard;
    const newest = (await repository.snapshots()).filter(sameSource).at(-1);
    if (parent) {
      this.#parent = parent === 'latest' ? newest : await repository.snapshot(parent);
      this.#parentId = this.#parent?.id;
    }
    // Only an attempt that began after the newest commit, on top of it, may be resumed: an older
    // checkpoint holds cursors that snapshot has already moved past, and resuming from it would
    // shadow what that snapshot knows.
    const checkpoints = (await repository.snapshots('checkpoints')).filter(sameSource);
    const resumable = (c: SnapshotManifest) => c.parent === newest?.id && (!newest || c.time >= newest.time);
    const usable = (this.#options.resume ?? true) ? checkpoints.filter(resumable) : [];
    this.#resumed = usable.at(-1);
    this.#resumedFrom = usable.map((c) => c.id);
    this.#stale = checkpoints.filter((c) => !usable.includes(c)).map((c) => c.id);
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
   * (its cursor is set): it can be taken whole (carryAccount) without asking the source.
   */
  async resumedAccount(account: string, service: string): Promise<(StoredAccount & { deltaToken: string }) | undefined> {
    const stored = this.#storedAccount(this.#resumed, account, service);
    return stored?.deltaToken === undefined ? undefined : (stored as StoredAccount & { deltaToken: string });
  }

  /** A stored account's entries, its trees read one at a time. */
  async *#storedEntries(from: StoredAccount): AsyncGenerator<ItemEntry> {
    for (const id of from.trees) yield* await this.#repository.readTree(id);
  }

  #spillEntry(entry: ItemEntry): Spilled {
    return summary(entry, this.#spill.append(JSON.stringify(entry)));
  }

  /**
   * Spills a stored account's entries as its trees have them: each tree's bytes go into the spill
   * file in one piece and each entry points at its record there, so no entry is encoded again.
   * Entries already in `entries` stay.
   */
  async #spillStored(entries: Map<string, Spilled>, from: StoredAccount): Promise<void> {
    for (const id of from.trees) {
      const { bytes, items } = await this.#repository.readTreeBlob(id);
      const spans = recordSpans(bytes);
      if (spans?.starts.length !== items.length) {
        // Not the writer's own layout (or not one it knows): encode the entries one by one.
        for (const entry of items) if (!entries.has(entry.id)) entries.set(entry.id, this.#spillEntry(entry));
        continue;
      }
      const base = this.#spill.appendBytes(bytes);
      items.forEach((entry, i) => {
        if (!entries.has(entry.id)) entries.set(entry.id, summary(entry, { at: base + spans.starts[i]!, length: spans.lengths[i]! }));
      });
    }
  }

  /** The whole entry of a stored item, as its tree will hold it. */
  #entryOf(spilled: Spilled): ItemEntry {
    return JSON.parse(this.#spill.read(spilled)) as ItemEntry;
  }

  /**
   * Starts an account from a stored one (the parent's, for an incremental backup: items the source
   * reports no change for stay as they were). Returns the account's live items by id, which addItem
   * and removeItem change; callers only read it. If nothing changes, finishing the account keeps
   * the stored trees as they are.
   */
  async openAccount(account: string, service: string, from?: StoredAccount): Promise<ReadonlyMap<string, EntrySummary>> {
    this.#throwIfFailed();
    const state = this.#account(account, service);
    if (from) {
      if (state.entries.size > 0 || state.from) state.changed = true;
      else state.from = from;
      await this.#spillStored(state.entries, from);
    }
    return state.entries;
  }

  /** Takes a stored account into this snapshot whole, with its cursor, without reading it. */
  carryAccount(account: string, service: string, from: StoredAccount): void {
    this.#throwIfFailed();
    const key = accountKey(account, service);
    if (this.#finished.has(key) || this.#accounts.has(key)) throw new Error(`account ${account} (${service}) is already in this snapshot`);
    this.#finished.set(key, storedTree(account, service, from, from.deltaToken));
  }

  /** Removes an item from this snapshot (it is gone from the source; older snapshots keep it). */
  removeItem(account: string, service: string, id: string): EntrySummary | undefined {
    const state = this.#account(account, service);
    const entry = state.entries.get(id);
    if (!entry) return undefined;
    state.entries.delete(id);
    // A move may show as a removal before the upsert elsewhere: the content stays reusable.
    state.reusable.set(id, { version: entry.version, content: this.#entryOf(entry).content });
    state.changed = true;
    return entry;
  }

  /** Writes the account's trees now and frees its entries: nothing more can be added to it. */
  async finishAccount(account: string, service: string): Promise<void> {
    const key = accountKey(account, service);
    const state = this.#accounts.get(key);
    if (!state) return;
    this.#accounts.delete(key);
    this.#finished.set(key, await this.#writeAccountTrees(state));
  }

  #account(account: string, service: string): AccountState {
    this.#throwIfFinished(account, service);
    const key = accountKey(account, service);
    let state = this.#accounts.get(key);
    if (!state) {
      state = { account, service, entries: new Map(), reusable: new Map(), changed: false };
      this.#accounts.set(key, state);
    }
    return state;
  }

  /** Reads, once per account, the stored versions an added item may reuse: the checkpoint's, and the parent's unless the account was opened from it. */
  #prepare(state: AccountState): Promise<void> {
    state.prepared ??= (async () => {
      const fromCheckpoint = this.#storedAccount(this.#resumed, state.account, state.service);
      // Only version and content are kept: these entries are not written again as they are.
      const keep = async (from: StoredAccount, replace: boolean): Promise<void> => {
        for await (const entry of this.#storedEntries(from)) {
          if (replace || !state.reusable.has(entry.id)) state.reusable.set(entry.id, { version: entry.version, content: entry.content });
        }
      };
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
    const live = state.entries.get(item.id);
    const reusable = state.reusable.get(item.id);
    const reused =
      live?.version === item.version ? this.#entryOf(live).content : reusable?.version === item.version ? reusable.content : undefined;
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
    state.entries.set(item.id, this.#spillEntry(entry));
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
      if (this.#repository.index.has(id) || this.#pending.has(id)) return false;
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
    try {
      this.#pack.add(blob.id, type, blob.sealed);
    } finally {
      blob.done();
    }
    this.stats.bytesAdded += plaintext.length;
    this.stats.blobsAdded += 1;
    if (this.#pack.size >= (this.#options.packTargetBytes ?? PACK_TARGET_BYTES)) await this.#flushPack();
    return blob.id;
  }

  /** Finishes the current pack and uploads it, with at most `uploads` uploads in flight. */
  async #flushPack(): Promise<void> {
    if (this.#pack.count === 0) return;
    const builder = this.#pack;
    this.#pack = this.#newPack();
    const { id, bytes, blobs } = builder.finish(this.#repository.masterKey.encryption);
    const uploads = this.#options.uploads ?? 2;
    while (this.#uploads.size >= uploads) await Promise.race(this.#uploads);
    const upload = this.#repository.putObject(packName(id), bytes, id).then(
      () => {
        const entry = { id, size: bytes.length, blobs };
        this.#unindexed.push(entry);
        this.#repository.index.addPack(entry);
        for (const blob of blobs) this.#pending.delete(blob.id);
        if (this.#spareBuffers.length < uploads) this.#spareBuffers.push(builder.recycle());
      },
      (error: unknown) => {
        this.#failed ??= error;
      },
    );
    const tracked = upload.finally(() => this.#uploads.delete(tracked));
    this.#uploads.add(tracked);
  }

  async #drain(): Promise<void> {
    await this.#flushPack();
    await Promise.all(this.#uploads);
    this.#throwIfFailed();
  }

  async #writeIndex(): Promise<void> {
    if (this.#unindexed.length === 0) return;
    const packs = this.#unindexed;
    this.#unindexed = [];
    const name = `index/${newObjectId()}`;
    await this.#repository.putObject(name, await encodeIndex(this.#repository.masterKey.encryption, packs));
    this.#repository.index.files.set(
      name,
      packs.map((p) => p.id),
    );
  }

  async #writeAccountTrees(state: AccountState): Promise<AccountTree> {
    const { from } = state;
    if (from && !state.changed && state.entries.size === from.items) {
      // Nothing changed since the stored account: its trees are this snapshot's too.
      return storedTree(state.account, state.service, from, state.deltaToken);
    }
    // The entries and the cursor are taken together, before the first await: a checkpoint may write
    // an open account while its items are still being added, and a cursor read after those awaits
    // would claim items this tree does not hold.
    const deltaToken = state.deltaToken;
    const ids = [...state.entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const all = ids.map((id) => state.entries.get(id)!);
    const trees: string[] = [];
    let bytes = 0;
    for (let i = 0; i < ids.length; i += TREE_ITEMS) {
      // A tree is the entries' own JSON records, copied between its brackets: nothing is parsed or decoded again.
      const records = all.slice(i, i + TREE_ITEMS);
      const tree = Buffer.allocUnsafe(TREE_OPEN.length + records.reduce((n, r) => n + r.length + 1, 0) + TREE_CLOSE.length - 1);
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
    }
    return {
      account: state.account,
      service: state.service,
      trees,
      items: ids.length,
      bytes,
      ...(deltaToken === undefined ? {} : { deltaToken }),
    };
  }

  /** Writes the trees of every open account and returns the manifest entries of all accounts. */
  async #writeTrees(): Promise<AccountTree[]> {
    const result = [...this.#finished.values()];
    for (const state of this.#accounts.values()) result.push(await this.#writeAccountTrees(state));
    return result.sort((a, b) => accountKey(a.account, a.service).localeCompare(accountKey(b.account, b.service)));
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
    if (due && !this.#checkpointing) {
      this.#checkpointing = this.checkpoint()
        .then(() => undefined)
        .finally(() => (this.#checkpointing = undefined));
    }
    await this.#checkpointing;
  }

  /** Writes a checkpoint manifest now and removes this writer's previous one; calls at the same time take turns. */
  checkpoint(): Promise<SnapshotManifest> {
    return this.#inTurn(() => this.#checkpointNow());
  }

  #inTurn<T>(write: () => Promise<T>): Promise<T> {
    const turn = this.#persisting.then(write);
    this.#persisting = turn.catch(() => undefined);
    return turn;
  }

  async #checkpointNow(): Promise<SnapshotManifest> {
    const previous = this.#checkpointName;
    const manifest = await this.#persist('checkpoints', newObjectId());
    this.#checkpointName = `checkpoints/${manifest.id}`;
    this.#bytesSinceCheckpoint = 0;
    this.#lastCheckpoint = this.#repository.clock().getTime();
    if (previous) await this.#deleteQuietly(previous);
    return manifest;
  }

  /** Commits the snapshot and removes every checkpoint of its policy and shard: none can be resumed after it. */
  async commit(): Promise<SnapshotManifest> {
    if (this.#committed) throw new Error('this snapshot was already committed');
    await this.#checkpointing;
    const manifest = await this.#inTurn(() => this.#persist('snapshots', newObjectId()));
    this.#committed = true;
    for (const id of [...this.#resumedFrom, ...this.#stale]) await this.#deleteQuietly(`checkpoints/${id}`);
    if (this.#checkpointName) await this.#deleteQuietly(this.#checkpointName);
    this.#spill.close();
    await this.#lock?.release();
    return manifest;
  }

  /** Gives up without committing: what was uploaded stays for a later attempt (through the checkpoint) or for prune. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#uploads);
    this.#spill.close();
    await this.#lock?.release();
  }

  async #deleteQuietly(name: string): Promise<void> {
    // A checkpoint under Object Lock stays until its retention ends; prune removes it later.
    await this.#repository.storage.delete(name).catch(() => undefined);
  }

  #throwIfFinished(account: string, service: string): void {
    if (this.#finished.has(accountKey(account, service)))
      throw new Error(`account ${account} (${service}) is already finished in this snapshot`);
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#failed;
  }
}
