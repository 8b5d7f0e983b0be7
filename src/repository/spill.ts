// Where a snapshot writer keeps the catalog entries of the accounts it has open, so that memory
// does not grow with the size of a mailbox: each entry is appended as one JSON record to a local
// file, and only what the run's decisions need (version, container, size, where the record is)
// stays in memory. Trees are assembled from the records when an account is finished.
//
// The file is unlinked as soon as it is opened: it is gone when the writer closes it or the
// process dies, whatever the reason. Appends go through a buffer, so most records cost no system
// call; reading a record that is still in the buffer reads the buffer.
import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUFFER_BYTES = 1024 * 1024;

/** Where a record is in the spill file. */
export interface SpillRef {
  at: number;
  length: number;
}

export class SpillFile {
  #fd: number | undefined;
  readonly #buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
  /** File offset of the buffer's first byte. */
  #bufferAt = 0;
  #used = 0;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** A new, already unlinked spill file in `directory` (default: the OS's temporary directory). */
  static open(directory = tmpdir()): SpillFile {
    try {
      const folder = mkdtempSync(join(directory, 'saasbackup-spill-'));
      const path = join(folder, 'entries');
      const fd = openSync(path, 'w+', 0o600);
      unlinkSync(path);
      rmdirSync(folder);
      return new SpillFile(fd);
    } catch (error) {
      throw new Error(
        `cannot create the snapshot writer's spill file in ${directory} (${(error as Error).message}); ` +
          'give the worker a writable temporary directory (an emptyDir at /tmp, or TMPDIR)',
        { cause: error },
      );
    }
  }

  append(text: string): SpillRef {
    const fd = this.#open();
    // A UTF-8 character of one UTF-16 unit takes at most 3 bytes.
    if (this.#used + text.length * 3 > BUFFER_BYTES) this.#flush(fd);
    if (text.length * 3 > BUFFER_BYTES) {
      const bytes = Buffer.from(text);
      return { at: this.appendBytes(bytes), length: bytes.length };
    }
    const length = this.#buffer.write(text, this.#used);
    const at = this.#bufferAt + this.#used;
    this.#used += length;
    return { at, length };
  }

  /** Appends bytes as they are (several records at once, for instance); returns where they start. */
  appendBytes(bytes: Uint8Array): number {
    const fd = this.#open();
    if (this.#used + bytes.length > BUFFER_BYTES) this.#flush(fd);
    const at = this.#bufferAt + this.#used;
    if (bytes.length > BUFFER_BYTES) {
      writeAll(fd, bytes, at);
      this.#bufferAt += bytes.length;
    } else {
      this.#buffer.set(bytes, this.#used);
      this.#used += bytes.length;
    }
    return at;
  }

  /** Copies a record's bytes into `target` at `offset`, without decoding them. */
  copyTo(ref: SpillRef, target: Buffer, offset: number): void {
    const fd = this.#open();
    if (ref.at >= this.#bufferAt) {
      const start = ref.at - this.#bufferAt;
      this.#buffer.copy(target, offset, start, start + ref.length);
      return;
    }
    // From the file, up to where the buffer starts (a range may continue in the buffer).
    const fromFile = Math.min(ref.length, this.#bufferAt - ref.at);
    let done = 0;
    while (done < fromFile) {
      const n = readSync(fd, target, offset + done, fromFile - done, ref.at + done);
      if (n === 0) throw new Error(`spill file ends before the record at ${ref.at} (${ref.length} bytes)`);
      done += n;
    }
    if (fromFile < ref.length) this.#buffer.copy(target, offset + fromFile, 0, ref.length - fromFile);
  }

  read(ref: SpillRef): string {
    const bytes = Buffer.allocUnsafe(ref.length);
    this.copyTo(ref, bytes, 0);
    return bytes.toString('utf8');
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #flush(fd: number): void {
    if (this.#used === 0) return;
    writeAll(fd, this.#buffer.subarray(0, this.#used), this.#bufferAt);
    this.#bufferAt += this.#used;
    this.#used = 0;
  }

  #open(): number {
    if (this.#fd === undefined) throw new Error('the spill file is closed');
    return this.#fd;
  }
}

function writeAll(fd: number, bytes: Uint8Array, at: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, at + done);
}
