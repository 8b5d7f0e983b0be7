// Storage in a local directory, for development and the demo. An object is a file at its name
// under the root. Writes are atomic: temp file in the same directory, fsync, rename, fsync of the
// directory; a crash leaves at most a `.tmp-*` file, which list() skips and
// removeStaleTempFiles() deletes.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { RepositoryError } from '../errors.ts';
import { checkRange, truncatedError } from './range.ts';
import type { ByteRange } from './range.ts';
import { checkListPrefix, checkObjectName, InvalidObjectNameError } from './names.ts';
import type { ObjectInfo, PutOptions, Storage } from './storage.ts';

const TEMP_PREFIX = '.tmp-';

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export class FileStorage implements Storage {
  readonly location: string;
  /**
   * Always false: a directory cannot enforce retention, so `put` ignores `options.retention`
   * without a warning. Callers that require Object Lock check this flag instead.
   */
  readonly supportsObjectLock = false;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.location = this.#root;
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    const path = this.#pathOf(name);
    if (range !== undefined) checkRange(name, range);
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (err) {
      throw this.#failure(err, 'read', name);
    }
    try {
      if (range === undefined) return await file.readFile();
      const { size } = await file.stat();
      if (range.offset > size) throw truncatedError(name, range, 0);
      const buffer = Buffer.alloc(range.length);
      let got = 0;
      while (got < range.length) {
        const { bytesRead } = await file.read(buffer, got, range.length - got, range.offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < range.length) throw truncatedError(name, range, got);
      return buffer;
    } catch (err) {
      throw this.#failure(err, 'read', name);
    } finally {
      await file.close();
    }
  }

  /** Writes atomically. `options.retention` is ignored: see supportsObjectLock. */
  async put(name: string, data: Buffer, _options?: PutOptions): Promise<void> {
    const path = this.#pathOf(name);
    const dir = dirname(path);
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      const file = await open(temp, 'wx');
      try {
        await file.writeFile(data);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw this.#failure(err, 'write', name);
    }
    // Without this the rename itself may be lost in a crash (the data would then be in the temp
    // file, which cleanup removes): the object would silently not exist.
    await syncDirectory(dir).catch((err: unknown) => {
      throw this.#failure(err, 'write', name);
    });
  }

  async delete(name: string): Promise<void> {
    const path = this.#pathOf(name);
    try {
      await unlink(path);
    } catch (err) {
      const code = errnoCode(err);
      // Nothing there, or a folder of other objects: in S3 terms, no such key.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
      throw this.#failure(err, 'delete', name);
    }
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    const path = this.#pathOf(name);
    try {
      const info = await stat(path);
      return info.isFile() ? { name, size: info.size, lastModified: info.mtime } : undefined;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw this.#failure(err, 'stat', name);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkListPrefix(prefix);
    // Descend only into folders that can hold a match (`data/3f` → `data/`, then `data/3f…/`).
    const files = this.#walkFiles(
      '',
      (name) => name.startsWith(prefix) && !basename(name).startsWith('.'),
      (folder) => !basename(folder.slice(0, -1)).startsWith('.') && (folder.startsWith(prefix) || prefix.startsWith(folder)),
    );
    for await (const file of files) {
      const info = await stat(file.path).catch((err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return undefined; // deleted while we listed
        throw this.#failure(err, 'list', file.name);
      });
      if (info?.isFile()) yield { name: file.name, size: info.size, lastModified: info.mtime };
    }
  }

  /**
   * Removes temp files that a crashed `put` left behind, if last modified before `olderThan`
   * (pass a time well before now, so that a `put` in flight keeps its file). Returns how many.
   */
  async removeStaleTempFiles(olderThan: Date): Promise<number> {
    let removed = 0;
    const temps = this.#walkFiles(
      '',
      (name) => basename(name).startsWith(TEMP_PREFIX),
      () => true,
    );
    for await (const temp of temps) {
      const info = await stat(temp.path).catch(() => undefined);
      if (info !== undefined && info.mtime < olderThan) {
        await unlink(temp.path).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }

  /** The file of an object; refuses names that could leave the root. */
  #pathOf(name: string): string {
    checkObjectName(name);
    const path = join(this.#root, ...name.split('/'));
    // checkObjectName already rules this out; kept so that a future change to the name rules
    // cannot open a way out of the root.
    if (!path.startsWith(this.#root.endsWith(sep) ? this.#root : this.#root + sep)) {
      throw new InvalidObjectNameError(`invalid object name ${JSON.stringify(name)}: resolves outside ${this.#root}`);
    }
    return path;
  }

  /**
   * Regular files (no symlinks) under `folder` ('' or ending in '/') whose names `acceptFile`
   * takes, in the folders `descend` takes; names are relative to the root.
   */
  async *#walkFiles(
    folder: string,
    acceptFile: (name: string) => boolean,
    descend: (folder: string) => boolean,
  ): AsyncGenerator<{ name: string; path: string }> {
    const dir = folder === '' ? this.#root : join(this.#root, ...folder.slice(0, -1).split('/'));
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.#failure(err, 'list', folder);
    }
    for (const entry of entries) {
      const name = `${folder}${entry.name}`;
      if (entry.isDirectory()) {
        if (descend(`${name}/`)) yield* this.#walkFiles(`${name}/`, acceptFile, descend);
      } else if (entry.isFile() && acceptFile(name)) {
        yield { name, path: join(dir, entry.name) };
      }
    }
  }

  #failure(err: unknown, action: 'read' | 'write' | 'delete' | 'stat' | 'list', name: string): Error {
    if (err instanceof RepositoryError) return err;
    const code = errnoCode(err);
    const detail = err instanceof Error ? err.message : String(err);
    if (action === 'read' && (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')) {
      return new RepositoryError('NotFound', `object ${name} does not exist in ${this.#root}`, { cause: err });
    }
    // A directory cannot hold both `a` and `a/b`, which S3 can: say so rather than leave a puzzle.
    const hint = code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST' ? ' (a file or folder of the same name is in the way)' : '';
    return new RepositoryError('Unavailable', `cannot ${action} object ${name} in ${this.#root}: ${detail}${hint}`, { cause: err });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
