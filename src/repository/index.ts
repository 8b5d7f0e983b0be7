// Index files map blob → pack, offset, length. Each writer writes its own index files (no shared
// object is ever rewritten, so concurrent writers need no lock); the in-memory index is the union.
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { zstdDecompressBody } from './compression.ts';
import { open, seal } from './crypto.ts';
import { RepositoryError } from './errors.ts';
import type { BlobType, PackedBlob } from './pack.ts';

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

/** The union of every index file: where each blob is, and which packs exist. */
export class MasterIndex {
  readonly #blobs = new Map<string, BlobLocation>();
  readonly #packs = new Map<string, PackEntry>();
  /** Index file name → the packs it lists, for prune and check. */
  readonly files = new Map<string, string[]>();

  addPack(pack: PackEntry): void {
    this.#packs.set(pack.id, pack);
    for (const blob of pack.blobs) {
      if (!this.#blobs.has(blob.id))
        this.#blobs.set(blob.id, { packId: pack.id, type: blob.type, offset: blob.offset, length: blob.length });
    }
  }

  addFile(name: string, packs: readonly PackEntry[]): void {
    for (const pack of packs) this.addPack(pack);
    this.files.set(
      name,
      packs.map((p) => p.id),
    );
  }

  clear(): void {
    this.#blobs.clear();
    this.#packs.clear();
    this.files.clear();
  }

  has(blobId: string): boolean {
    return this.#blobs.has(blobId);
  }

  get(blobId: string): BlobLocation | undefined {
    return this.#blobs.get(blobId);
  }

  pack(packId: string): PackEntry | undefined {
    return this.#packs.get(packId);
  }

  get packs(): IterableIterator<PackEntry> {
    return this.#packs.values();
  }

  get blobCount(): number {
    return this.#blobs.size;
  }
}
