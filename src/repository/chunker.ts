// Content-defined chunking (FastCDC with normalized chunking) for large items: a cut depends only
// on the bytes around it, so an insertion early in a file moves one boundary, not all of them,
// and the unchanged chunks deduplicate. The gear table comes from the repository's secret seed.

export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

/** restic's sizes: chunks of 512 KiB to 8 MiB, about 1 MiB on average. */
export const DEFAULT_CHUNKER: ChunkerParams = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

/** A deterministic table of 256 random 32-bit values from `seed` (mulberry32). */
export function gearTable(seed: number): Uint32Array {
  const table = new Uint32Array(256);
  let state = seed >>> 0;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    table[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return table;
}

function topBits(count: number): number {
  return (((1 << count) - 1) << (32 - count)) >>> 0;
}

export class Chunker {
  readonly params: ChunkerParams;
  readonly #gear: Uint32Array;
  readonly #maskSmall: number;
  readonly #maskLarge: number;

  constructor(seed: number, params: ChunkerParams = DEFAULT_CHUNKER) {
    if (!(params.min > 0 && params.min < params.avg && params.avg < params.max)) {
      throw new Error(`chunker sizes must satisfy 0 < min < avg < max, got ${JSON.stringify(params)}`);
    }
    this.params = params;
    this.#gear = gearTable(seed);
    const bits = Math.round(Math.log2(params.avg));
    // Normalized chunking: harder to cut before the average size, easier after it.
    this.#maskSmall = topBits(bits + 2);
    this.#maskLarge = topBits(bits - 2);
  }

  /** Length of the chunk that starts at `start`; `final` says no more data follows `end`. */
  cut(data: Uint8Array, start: number, end: number): number {
    const { min, avg, max } = this.params;
    const available = end - start;
    if (available <= min) return available;
    const gear = this.#gear;
    let hash = 0;
    let i = start + min;
    const normal = Math.min(start + avg, end);
    for (; i < normal; i++) {
      hash = ((hash << 1) + gear[data[i]!]!) >>> 0;
      if ((hash & this.#maskSmall) === 0) return i + 1 - start;
    }
    const limit = Math.min(start + max, end);
    for (; i < limit; i++) {
      hash = ((hash << 1) + gear[data[i]!]!) >>> 0;
      if ((hash & this.#maskLarge) === 0) return i + 1 - start;
    }
    return limit - start;
  }

  /** Splits a whole buffer. */
  *split(data: Buffer): Generator<Buffer> {
    let start = 0;
    while (start < data.length) {
      const length = this.cut(data, start, data.length);
      yield data.subarray(start, start + length);
      start += length;
    }
  }

  /** Splits a stream, holding at most about `max` bytes plus one incoming piece in memory. */
  async *splitStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    // Pieces are joined only once enough has built up to cut: joining on every piece would copy
    // the pending bytes again for each small piece (quadratic on 64 KiB network reads).
    let pieces: Uint8Array[] = [];
    let buffered = 0;
    for await (const piece of source) {
      pieces.push(piece);
      buffered += piece.length;
      if (buffered < this.params.max) continue;
      const pending = Buffer.concat(pieces, buffered);
      let start = 0;
      // Cut only where the decision cannot change with more data: at least `max` bytes ahead.
      while (pending.length - start >= this.params.max) {
        const length = this.cut(pending, start, pending.length);
        yield pending.subarray(start, start + length);
        start += length;
      }
      pieces = [pending.subarray(start)];
      buffered = pending.length - start;
    }
    yield* this.split(Buffer.concat(pieces, buffered));
  }
}
