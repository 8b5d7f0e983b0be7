// Pack files: many sealed blobs in one object of several MiB (never one object per mail), then a
// sealed header listing them, then the header's length. The header makes a pack self-describing,
// so `check` can compare packs with the indexes and a lost index can be rebuilt from the packs.
import { createHash } from 'node:crypto';
import { open, seal } from './crypto.ts';
import { RepositoryError } from './errors.ts';

export type BlobType = 'data' | 'tree';

export interface PackedBlob {
  id: string;
  type: BlobType;
  offset: number;
  length: number;
}

export const PACK_TARGET_BYTES = 16 * 1024 * 1024;

export class PackBuilder {
  readonly #pieces: Buffer[] = [];
  readonly #blobs: PackedBlob[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get count(): number {
    return this.#blobs.length;
  }

  add(id: string, type: BlobType, sealedBlob: Buffer): void {
    this.#blobs.push({ id, type, offset: this.#size, length: sealedBlob.length });
    this.#pieces.push(sealedBlob);
    this.#size += sealedBlob.length;
  }

  /** The finished pack: its bytes, its id (SHA-256 of the bytes) and what it holds. */
  finish(encryptionKey: Buffer): { id: string; bytes: Buffer; blobs: PackedBlob[] } {
    const header = seal(encryptionKey, Buffer.from(JSON.stringify(this.#blobs.map((b) => [b.id, b.type, b.offset, b.length]))));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const bytes = Buffer.concat([...this.#pieces, header, length]);
    return { id: createHash('sha256').update(bytes).digest('hex'), bytes, blobs: this.#blobs };
  }
}

/** Where a pack lives: `data/<first two hex digits>/<id>`. */
export function packName(id: string): string {
  return `data/${id.slice(0, 2)}/${id}`;
}

export function packIdOfName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** Reads the blob list from a pack's trailing header, given the pack's last bytes (at least the header). */
export function parsePackHeader(encryptionKey: Buffer, tail: Buffer, packSize: number, what: string): PackedBlob[] {
  if (tail.length < 4) throw new RepositoryError('Corrupt', `${what} is damaged: too short for a pack header`);
  const headerLength = tail.readUInt32LE(tail.length - 4);
  if (headerLength + 4 > tail.length || headerLength + 4 > packSize) {
    throw new RepositoryError('Corrupt', `${what} is damaged: its header length ${headerLength} does not fit the pack`);
  }
  const header = open(encryptionKey, tail.subarray(tail.length - 4 - headerLength, tail.length - 4), `${what} header`);
  const entries = JSON.parse(header.toString('utf8')) as [string, BlobType, number, number][];
  return entries.map(([id, type, offset, length]) => ({ id, type, offset, length }));
}

/** Verifies that a pack's bytes hash to its id (detects any flipped byte, sealed or not). */
export function packIdMatches(bytes: Buffer, id: string): boolean {
  return createHash('sha256').update(bytes).digest('hex') === id;
}
