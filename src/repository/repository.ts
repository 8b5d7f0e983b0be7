// The repository: an encrypted, deduplicated, crash-safe snapshot store on any Storage.
//
// Layout (all sealed with the master key except key files):
//   config                 repository id, format version, chunker seed
//   keys/<id>              the master key, wrapped by a key derived from the Secret
//   data/<xx>/<pack id>    pack files of blobs (content chunks and trees)
//   index/<id>             blob → pack locations written by one writer
//   snapshots/<id>         snapshot manifests, written last: a snapshot exists whole or not at all
//   checkpoints/<id>       manifests of unfinished runs, so a killed writer's next attempt resumes
//   locks/<id>             exclusive (prune) and shared (writer) locks with an expiry
import { randomBytes } from 'node:crypto';
import { createBlobEncoder, type BlobEncoder } from './blob-encoder.ts';
import { Chunker } from './chunker.ts';
import { decodeBlob } from './compression.ts';
import { generateMasterKey, idMatches, open, seal, unwrapMasterKey, wrapMasterKey, type KeyFile, type MasterKey } from './crypto.ts';
import { isRepositoryError, RepositoryError } from './errors.ts';
import { decodeIndex, encodeIndex, MasterIndex, newObjectId, type PackEntry } from './index.ts';
import { acquireLock, type HeldLock } from './locks.ts';
import type { ItemEntry, SnapshotManifest } from './model.ts';
import { packIdOfName, packName, parsePackHeader, type PackBuilder, type PackedBlob } from './pack.ts';
import type { Storage } from './storage/storage.ts';
import { SnapshotWriter, type SnapshotWriterOptions, type WriterRepository } from './writer.ts';

export interface RepositoryConfig {
  version: 1;
  id: string;
  created: string;
  chunkerSeed: number;
}

export interface OpenOptions {
  /** The value of the encryption-key Secret. */
  key: string;
  clock?: () => Date;
  /** Object Lock for everything written, when the policy asks for it. */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; periodMs: number };
  /** Worker threads that compress and seal blobs (default: the cores but one, at most 4; 0 = on the main thread). */
  encoderThreads?: number;
}

function parseJson<T>(buffer: Buffer, what: string): T {
  try {
    return JSON.parse(buffer.toString('utf8')) as T;
  } catch {
    throw new RepositoryError('Corrupt', `${what} is damaged: it is not valid JSON`);
  }
}

/** The sealed bytes of every index file not in `known`, fetched at once. */
async function fetchIndexFiles(storage: Storage, known: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  const names: string[] = [];
  for await (const object of storage.list('index/')) if (!known.has(object.name)) names.push(object.name);
  const bodies = await Promise.all(names.map((name) => storage.get(name)));
  return new Map(names.map((name, i) => [name, bodies[i]!]));
}

export class Repository implements WriterRepository {
  readonly storage: Storage;
  readonly config: RepositoryConfig;
  readonly index = new MasterIndex();
  readonly chunker: Chunker;
  readonly clock: () => Date;
  readonly objectLock: OpenOptions['objectLock'];
  readonly #key: MasterKey;
  readonly #encoderThreads: number | undefined;
  #encoder: BlobEncoder | undefined;

  private constructor(storage: Storage, key: MasterKey, config: RepositoryConfig, options: OpenOptions) {
    this.storage = storage;
    this.#key = key;
    this.config = config;
    this.chunker = new Chunker(config.chunkerSeed);
    this.clock = options.clock ?? (() => new Date());
    this.objectLock = options.objectLock;
    this.#encoderThreads = options.encoderThreads;
  }

  /** Compresses and seals blobs for writers; started on first use. */
  get encoder(): BlobEncoder {
    this.#encoder ??= createBlobEncoder(this.#key, this.#encoderThreads);
    return this.#encoder;
  }

  /** Creates a repository; refuses a location that already holds one. */
  static async init(storage: Storage, options: OpenOptions): Promise<Repository> {
    if (await storage.stat('config')) {
      throw new RepositoryError(
        'RepositoryExists',
        `a repository already exists at ${storage.location}; open it instead of initialising it again`,
      );
    }
    const now = (options.clock ?? (() => new Date()))();
    const key = generateMasterKey();
    const keyFile = await wrapMasterKey(key, options.key, now);
    const config: RepositoryConfig = {
      version: 1,
      id: randomBytes(16).toString('hex'),
      created: now.toISOString(),
      chunkerSeed: key.chunkerSeed,
    };
    await storage.put(`keys/${newObjectId()}`, Buffer.from(JSON.stringify(keyFile)));
    await storage.put('config', seal(key.encryption, Buffer.from(JSON.stringify(config))));
    return new Repository(storage, key, config, options);
  }

  /** Opens a repository with the key from the Secret, and loads every index. */
  static async open(storage: Storage, options: OpenOptions): Promise<Repository> {
    const configObject = await storage.get('config').catch((error: unknown) => {
      if (isRepositoryError(error, 'NotFound')) {
        throw new RepositoryError(
          'RepositoryNotFound',
          `there is no repository at ${storage.location}: no config object; check the bucket and prefix, or initialise one`,
        );
      }
      throw error;
    });
    // The index files are fetched while the key is derived (scrypt takes a good tenth of a second).
    const indexFiles = fetchIndexFiles(storage, new Set());
    indexFiles.catch(() => undefined);
    let key: MasterKey | undefined;
    for await (const object of storage.list('keys/')) {
      const file = parseJson<KeyFile>(await storage.get(object.name), object.name);
      key = await unwrapMasterKey(file, options.key);
      if (key) break;
    }
    if (!key) {
      throw new RepositoryError(
        'WrongKey',
        `the key from the encryption-key Secret does not open the repository at ${storage.location}; restore the key the repository was created with`,
      );
    }
    const config = parseJson<RepositoryConfig>(open(key.encryption, configObject, 'config'), 'config');
    const repository = new Repository(storage, key, config, options);
    await repository.#addIndexFiles(await indexFiles);
    return repository;
  }

  /** Index files that could not be read, with why; their packs were re-read from the pack headers. */
  readonly damagedIndexes = new Map<string, string>();

  /**
   * (Re)reads every index file; index files written by other writers since appear. A damaged
   * index file does not make the repository unreadable: the packs no readable index lists are
   * found from their own headers, so every intact blob stays reachable.
   */
  async loadIndex(): Promise<void> {
    await this.#addIndexFiles(await fetchIndexFiles(this.storage, new Set(this.index.files.keys())));
  }

  async #addIndexFiles(fetched: Map<string, Buffer>): Promise<void> {
    // One file decoded at a time: only the blob index (on disk) grows with the repository.
    const superseded = new Set<string>();
    await this.index.addFiles(
      (async function* (key: Buffer, damaged: Map<string, string>) {
        for (const [name, sealed] of fetched) {
          fetched.delete(name);
          try {
            const file = await decodeIndex(key, sealed, name);
            for (const old of file.supersedes) superseded.add(old);
            yield [name, file.packs] as const;
          } catch (error) {
            if (!isRepositoryError(error, 'Corrupt')) throw error;
            damaged.set(name, error.message);
          }
        }
      })(this.#key.encryption, this.damagedIndexes),
    );
    this.index.removeFiles(superseded);
    for (const name of superseded) this.damagedIndexes.delete(name);
    if (this.damagedIndexes.size > 0) await this.indexUnlistedPacks();
  }

  /** Adds to the index every pack in storage that no index lists, from its header. */
  async indexUnlistedPacks(): Promise<{ indexed: string[]; damaged: Map<string, string> }> {
    const indexed: string[] = [];
    const damaged = new Map<string, string>();
    for await (const object of this.storage.list('data/')) {
      const id = packIdOfName(object.name);
      if (this.index.pack(id)) continue;
      try {
        this.index.addPack({ id, size: object.size, blobs: await this.readPackHeader(object.name, object.size) });
        indexed.push(id);
      } catch (error) {
        if (!isRepositoryError(error, 'Corrupt')) throw error;
        damaged.set(object.name, error.message);
      }
    }
    return { indexed, damaged };
  }

  /** The blob list in a pack's header (reads only the end of the pack). */
  async readPackHeader(name: string, size: number): Promise<PackedBlob[]> {
    const tailLength = Math.min(size, 256 * 1024);
    let tail = await this.storage.get(name, { offset: size - tailLength, length: tailLength });
    const headerLength = tail.length >= 4 ? tail.readUInt32LE(tail.length - 4) : 0;
    if (headerLength + 4 > tail.length && headerLength + 4 <= size) {
      tail = await this.storage.get(name, { offset: size - headerLength - 4, length: headerLength + 4 });
    }
    return parsePackHeader(this.#key.encryption, tail, size, name);
  }

  /** Seals and writes a small object (manifests, index files), with Object Lock when configured. */
  async putSealed(name: string, plaintext: Buffer): Promise<void> {
    await this.putObject(name, seal(this.#key.encryption, plaintext));
  }

  async putObject(name: string, bytes: Buffer, sha256?: string): Promise<void> {
    const retention = this.objectLock
      ? { mode: this.objectLock.mode, retainUntil: new Date(this.clock().getTime() + this.objectLock.periodMs) }
      : undefined;
    await this.storage.put(name, bytes, { ...(retention ? { retention } : {}), ...(sha256 ? { sha256 } : {}) });
  }

  /** Finishes a pack: its header sealed with the master key, and its id. */
  sealPack(pack: PackBuilder): { id: string; bytes: Buffer; blobs: PackedBlob[] } {
    return pack.finish(this.#key.encryption);
  }

  /** Writes an index file for uploaded packs (and the index files it replaces, for prune), and adds it to the index. */
  async writeIndex(packs: readonly PackEntry[], supersedes: readonly string[] = []): Promise<string> {
    const name = `index/${newObjectId()}`;
    await this.putObject(name, await encodeIndex(this.#key.encryption, packs, supersedes));
    this.index.addFile(name, packs);
    return name;
  }

  hasBlob(id: string): boolean {
    return this.index.has(id);
  }

  addPack(pack: PackEntry): void {
    this.index.addPack(pack);
  }

  async deleteObject(name: string): Promise<void> {
    await this.storage.delete(name);
  }

  /** A shared lock (writers) or an exclusive one (prune), held until released. */
  lock(holder: string, exclusive: boolean): Promise<HeldLock> {
    return acquireLock(this, holder, exclusive);
  }

  sealBytes(plaintext: Buffer): Buffer {
    return seal(this.#key.encryption, plaintext);
  }

  async getSealed(name: string): Promise<Buffer> {
    return open(this.#key.encryption, await this.storage.get(name), name);
  }

  /** Every committed snapshot (or checkpoint), oldest first. */
  async snapshots(kind: 'snapshots' | 'checkpoints' = 'snapshots'): Promise<SnapshotManifest[]> {
    const names: string[] = [];
    for await (const object of this.storage.list(`${kind}/`)) names.push(object.name);
    const manifests = await Promise.all(names.map(async (name) => parseJson<SnapshotManifest>(await this.getSealed(name), name)));
    return manifests.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
  }

  /** A snapshot by id or unique id prefix. */
  async snapshot(idOrPrefix: string): Promise<SnapshotManifest> {
    // Matched on object names, so only the one manifest is read and decrypted.
    const matches: string[] = [];
    if (/^[0-9a-f]+$/.test(idOrPrefix)) for await (const object of this.storage.list(`snapshots/${idOrPrefix}`)) matches.push(object.name);
    if (matches.length === 0)
      throw new RepositoryError('NotFound', `no snapshot ${idOrPrefix} in the repository at ${this.storage.location}`);
    if (matches.length > 1)
      throw new RepositoryError(
        'NotFound',
        `snapshot id prefix ${idOrPrefix} is ambiguous (${matches.length} snapshots); give more characters`,
      );
    return parseJson<SnapshotManifest>(await this.getSealed(matches[0]!), matches[0]!);
  }

  /** The plaintext of a blob, verified against its id. */
  async readBlob(id: string): Promise<Buffer> {
    const location = this.index.get(id);
    if (!location) throw new RepositoryError('NotFound', `blob ${id} is in no index of the repository`);
    const name = packName(location.packId);
    const sealed = await this.storage.get(name, { offset: location.offset, length: location.length });
    return this.openBlob(sealed, id, `blob ${id} in ${name}`);
  }

  /** Decrypts and decompresses a sealed blob and verifies it against its id; `what` names it in errors. */
  async openBlob(sealed: Buffer, id: string, what: string): Promise<Buffer> {
    const plaintext = await decodeBlob(open(this.#key.encryption, sealed, what), what);
    if (!idMatches(this.#key, plaintext, id)) throw new RepositoryError('Corrupt', `${what} is damaged: its content does not match its id`);
    return plaintext;
  }

  /** The catalog entries of one tree blob. */
  async readTree(id: string): Promise<ItemEntry[]> {
    return (await this.readTreeBlob(id)).items;
  }

  /** A tree blob's entries and the plaintext they were decoded from (the writer copies records from it). */
  async readTreeBlob(id: string): Promise<{ bytes: Buffer; items: ItemEntry[] }> {
    const bytes = await this.readBlob(id);
    return { bytes, items: parseJson<{ items: ItemEntry[] }>(bytes, `tree ${id}`).items };
  }

  /** Every item of a snapshot (optionally one account), with where it belongs; reads trees only. */
  async *items(
    snapshot: SnapshotManifest,
    filter: { account?: string; service?: string } = {},
  ): AsyncGenerator<ItemEntry & { account: string; service: string }> {
    for (const tree of snapshot.accounts) {
      if (filter.account && tree.account !== filter.account) continue;
      if (filter.service && tree.service !== filter.service) continue;
      for (const id of tree.trees)
        for (const item of await this.readTree(id)) yield { ...item, account: tree.account, service: tree.service };
    }
  }

  /** An item's content, reassembled from its blobs. */
  async readContent(item: Pick<ItemEntry, 'content'>): Promise<Buffer> {
    return Buffer.concat(await Promise.all(item.content.map((id) => this.readBlob(id))));
  }

  snapshotWriter(options: SnapshotWriterOptions): Promise<SnapshotWriter> {
    return SnapshotWriter.start(this, options);
  }

  /** Stops the encoder threads; storage clients hold nothing open. */
  async close(): Promise<void> {
    await this.#encoder?.close();
    this.#encoder = undefined;
  }
}
