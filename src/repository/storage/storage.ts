// The one storage interface the repository writes through: S3-compatible object storage (through
// the `minio` client) or a local directory (development, the demo). Names are relative paths with
// forward slashes, such as `data/3f/3fa9...`; a backend maps them under its own prefix.

export interface ObjectInfo {
  name: string;
  size: number;
  lastModified: Date;
}

export interface ObjectLockRetention {
  mode: 'GOVERNANCE' | 'COMPLIANCE';
  retainUntil: Date;
}

export interface PutOptions {
  /** Write the object with an S3 Object Lock retention (ignored with a warning-free no-op by backends without locking). */
  retention?: ObjectLockRetention;
  /** SHA-256 of `data` in hex, when the caller already has it (a pack's id), so it is not computed again. */
  sha256?: string;
}

export interface Storage {
  /** Where this is, for messages and logs: `s3://bucket/prefix (https://host)` or a path. Never credentials. */
  readonly location: string;
  /** Whether this backend enforces Object Lock (S3 with a lock-enabled bucket). */
  readonly supportsObjectLock: boolean;

  /** Reads a whole object, or `length` bytes from `offset`. Throws RepositoryError NotFound / Unavailable / Corrupt (short read). */
  get(name: string, range?: { offset: number; length: number }): Promise<Buffer>;
  /** Writes an object whole: readers see all of it or nothing (file backend: temp file, fsync, rename). */
  put(name: string, data: Buffer, options?: PutOptions): Promise<void>;
  /** Deletes an object; a missing object is not an error. Throws RepositoryError ObjectLocked while a retention protects it. */
  delete(name: string): Promise<void>;
  /** Size and time of an object, or undefined when it does not exist. */
  stat(name: string): Promise<ObjectInfo | undefined>;
  /** Every object whose name starts with `prefix` (for example `data/`), in any order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Backends that write through temp files remove those a crash left behind, older than `olderThan`. */
  removeStaleTempFiles?(olderThan: Date): Promise<number>;
}
