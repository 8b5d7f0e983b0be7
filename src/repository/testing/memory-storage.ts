// An in-memory Storage for unit tests: fast, and its objects can be inspected and damaged.
import { RepositoryError } from '../errors.ts';
import type { ObjectInfo, PutOptions, Storage } from '../storage/storage.ts';

export class MemoryStorage implements Storage {
  readonly location = 'memory://test';
  /** Simulates S3 Object Lock: objects put with a retention cannot be deleted before it ends. */
  readonly supportsObjectLock = true;
  readonly objects = new Map<string, { data: Buffer; lastModified: Date; options?: PutOptions }>();
  puts = 0;
  /** When set, every put fails with this error (to test failure handling). */
  failPuts: Error | undefined;

  async get(name: string, range?: { offset: number; length: number }): Promise<Buffer> {
    const object = this.objects.get(name);
    if (!object) throw new RepositoryError('NotFound', `${name} does not exist in ${this.location}`);
    if (!range) return Buffer.from(object.data);
    const slice = object.data.subarray(range.offset, range.offset + range.length);
    if (slice.length !== range.length) {
      throw new RepositoryError(
        'Corrupt',
        `${name} is truncated: expected ${range.length} bytes at offset ${range.offset}, got ${slice.length}`,
      );
    }
    return Buffer.from(slice);
  }

  async put(name: string, data: Buffer, options?: PutOptions): Promise<void> {
    if (this.failPuts) throw this.failPuts;
    this.puts += 1;
    this.objects.set(name, { data: Buffer.from(data), lastModified: new Date(), ...(options ? { options } : {}) });
  }

  async delete(name: string): Promise<void> {
    const retainUntil = this.objects.get(name)?.options?.retention?.retainUntil;
    if (retainUntil && retainUntil.getTime() > Date.now()) {
      throw new RepositoryError('ObjectLocked', `${name} is protected by Object Lock until ${retainUntil.toISOString()}`);
    }
    this.objects.delete(name);
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    const object = this.objects.get(name);
    return object && { name, size: object.data.length, lastModified: object.lastModified };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const [name, object] of [...this.objects]) {
      if (name.startsWith(prefix)) yield { name, size: object.data.length, lastModified: object.lastModified };
    }
  }

  names(prefix: string): string[] {
    return [...this.objects.keys()].filter((name) => name.startsWith(prefix));
  }
}
