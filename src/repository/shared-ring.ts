// A ring of shared memory for handing blobs to the encoder threads without copying them twice or
// allocating per blob. postMessage of a Buffer copies its whole backing ArrayBuffer (for a chunk
// cut from an 8 MiB stream buffer: all 8 MiB), and every Buffer a thread allocates counts as
// external memory, which makes V8 run a full mark-compact every few dozen MiB; measured on the mail
// benchmark, that marking cost a quarter of the process's CPU. Slots are taken in order from one
// SharedArrayBuffer allocated once and given back in any order; space behind the oldest slot
// still taken is reused once it is given back.

export interface RingSlot {
  /** The slot's bytes: a view into the shared buffer (or, for a slot larger than the ring, its own). */
  readonly bytes: Buffer;
  /** Offset of the slot in `ring.buffer`; -1 for a slot with its own buffer. */
  readonly offset: number;
  /** The slot's own SharedArrayBuffer when it does not fit the ring. */
  readonly own: SharedArrayBuffer | undefined;
}

interface Entry extends RingSlot {
  end: number;
  given: boolean;
}

export class SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly #bytes: Buffer;
  /** Slots taken from the ring, oldest first (those given back are dropped from the front). */
  #taken: Entry[] = [];
  #first = 0;
  /** Where the next slot starts. */
  #head = 0;
  #waiters: (() => void)[] = [];

  constructor(capacity: number) {
    this.buffer = new SharedArrayBuffer(capacity);
    this.#bytes = Buffer.from(this.buffer);
  }

  get capacity(): number {
    return this.buffer.byteLength;
  }

  /** A slot of `length` bytes (> 0); waits while the ring is too full. A slot larger than the ring gets its own buffer. */
  async take(length: number): Promise<RingSlot> {
    if (length > this.capacity) {
      const own = new SharedArrayBuffer(length);
      return { bytes: Buffer.from(own), offset: -1, own };
    }
    for (;;) {
      const offset = this.#fit(length);
      if (offset >= 0) {
        const entry: Entry = {
          bytes: this.#bytes.subarray(offset, offset + length),
          offset,
          own: undefined,
          end: offset + length,
          given: false,
        };
        this.#taken.push(entry);
        this.#head = entry.end;
        return entry;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Gives a slot back; its bytes must no longer be used. */
  give(slot: RingSlot): void {
    if (slot.own) return;
    const entry = slot as Entry;
    if (entry.given) return;
    entry.given = true;
    while (this.#first < this.#taken.length && this.#taken[this.#first]!.given) this.#first++;
    if (this.#first === this.#taken.length) {
      this.#taken = [];
      this.#first = 0;
      this.#head = 0;
    } else if (this.#first > 1024 && this.#first * 2 > this.#taken.length) {
      this.#taken = this.#taken.slice(this.#first);
      this.#first = 0;
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Where a slot of `length` bytes fits now, or -1. */
  #fit(length: number): number {
    if (this.#first === this.#taken.length) return 0;
    const tail = this.#taken[this.#first]!.offset;
    if (this.#head > tail) {
      // Taken: [tail, head). Free: [head, capacity), then [0, tail).
      if (this.capacity - this.#head >= length) return this.#head;
      return tail >= length ? 0 : -1;
    }
    // Wrapped: taken [tail, capacity) and [0, head). Free: [head, tail).
    return tail - this.#head >= length ? this.#head : -1;
  }
}
