// Names, compresses and seals blobs, on worker threads when the node has cores to spare.
//
// A blob's plaintext is copied once, into a slot of a shared ring (see shared-ring.ts); a worker
// names it (HMAC) there and, once the caller has decided it is new, compresses and seals it into
// the same slot, from which the caller copies it into its pack. The main thread thus never hashes,
// compresses or encrypts, and neither thread allocates a buffer per blob for the hand-over.
// Deduplication is still decided before the expensive work for large blobs: they are named first
// and sealed only when `keep` says so. Small blobs (most mail) are named and sealed in one round
// trip, since a second message costs more than sealing 15 KiB; a duplicate's seal is wasted.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { compressBody, encodeBlob, RAW, ZSTD } from './compression.ts';
import { blobId, seal, SEAL_OVERHEAD, sealInto, type MasterKey } from './crypto.ts';
import { SharedRing, type RingSlot } from './shared-ring.ts';

/** A sealed blob is at most this much longer than its plaintext: codec byte, nonce, tag. */
export const BLOB_OVERHEAD = 1 + SEAL_OVERHEAD;
/** Blobs smaller than this are sealed together with naming, before `keep` is asked. */
export const SEAL_EAGERLY_BELOW = 128 * 1024;
/** Shared memory for plaintext in flight to the workers. */
export const DEFAULT_RING_BYTES = 16 * 1024 * 1024;

export interface EncodedBlob {
  id: string;
  /** The sealed blob when `keep` returned true: valid only until done() is called. */
  sealed: Buffer | undefined;
  /** Gives the sealed bytes' memory back; call it as soon as they are copied. */
  done(): void;
}

export interface BlobEncoder {
  /**
   * Names a blob, asks `keep(id)` (synchronously, on the calling thread) whether it is to be stored,
   * and if so compresses and seals it. `plaintext` is not referenced after the promise settles.
   */
  encode(plaintext: Buffer, keep: (id: string) => boolean): Promise<EncodedBlob>;
  close(): Promise<void>;
}

export function defaultEncoderThreads(): number {
  return Math.min(4, availableParallelism() - 1);
}

const CODEC_BYTES = { [RAW]: Buffer.of(RAW), [ZSTD]: Buffer.of(ZSTD) };

/**
 * Compresses and seals `plaintext` into `target` (at least plaintext + BLOB_OVERHEAD bytes; it may
 * hold the plaintext itself at its start) and returns the sealed length. The same bytes as
 * seal(key, encodeBlob(plaintext)).
 */
export async function sealBlobInto(encryptionKey: Buffer, plaintext: Buffer, target: Buffer): Promise<number> {
  const { codec, body } = await compressBody(plaintext);
  return sealInto(encryptionKey, CODEC_BYTES[codec], body, target);
}

/** A request to a worker: name the plaintext at slot start (and seal it, or only seal it). */
export interface EncoderTask {
  seq: number;
  /** 'name': HMAC, plus seal when `seal`; 'seal': seal only. */
  op: 'name' | 'seal';
  seal: boolean;
  offset: number;
  length: number;
  /** The slot's own buffer when it is not in the ring. */
  own: SharedArrayBuffer | undefined;
}

export interface EncoderReply {
  seq: number;
  id?: string;
  sealedLength?: number;
  error?: string;
}

const noop = (): void => undefined;

export function createBlobEncoder(key: MasterKey, threads = defaultEncoderThreads(), ringBytes = DEFAULT_RING_BYTES): BlobEncoder {
  if (threads < 1) {
    return {
      async encode(plaintext, keep) {
        const id = blobId(key, plaintext);
        if (!keep(id)) return { id, sealed: undefined, done: noop };
        return { id, sealed: seal(key.encryption, await encodeBlob(plaintext)), done: noop };
      },
      close: async () => undefined,
    };
  }
  // Under Node's type stripping this module is .ts; compiled into dist/ it is .js.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const script = new URL(`./blob-encoder-worker${extension}`, import.meta.url);
  const ring = new SharedRing(ringBytes);
  const pending = new Map<number, { resolve: (reply: EncoderReply) => void; reject: (error: Error) => void }>();
  const load = new Map<Worker, number>();
  const outboxes = new Map<Worker, EncoderTask[]>();
  let nextSeq = 0;
  let broken: Error | undefined;
  const workers = Array.from({ length: threads }, () => {
    // The workers hold no blobs (they work in the shared ring): small heaps keep the process's memory down.
    const worker = new Worker(script, {
      workerData: { encryptionKey: key.encryption, idKey: key.id, ring: ring.buffer },
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 },
    });
    load.set(worker, 0);
    outboxes.set(worker, []);
    worker.on('message', (replies: EncoderReply[]) => {
      const left = load.get(worker)! - replies.length;
      load.set(worker, left);
      if (left === 0) worker.unref();
      for (const reply of replies) {
        const task = pending.get(reply.seq);
        pending.delete(reply.seq);
        if (reply.error !== undefined) task?.reject(new Error(`blob encoder thread: ${reply.error}`));
        else task?.resolve(reply);
      }
    });
    worker.on('error', (error) => {
      broken = error;
      for (const task of pending.values()) task.reject(error);
      pending.clear();
    });
    // An idle encoder must not keep the process alive (a writer that is never closed), but one
    // with tasks in flight must: a promise that only a worker can settle holds no handle by itself.
    // unref() after the listeners, since adding a 'message' listener refs the worker again.
    worker.unref();
    return worker;
  });

  const request = (slot: RingSlot, op: EncoderTask['op'], sealIt: boolean, length: number): Promise<EncoderReply> => {
    if (broken) return Promise.reject(broken);
    let worker = workers[0]!;
    for (const w of workers) if (load.get(w)! < load.get(worker)!) worker = w;
    const busy = load.get(worker)!;
    if (busy === 0) worker.ref();
    load.set(worker, busy + 1);
    const seq = nextSeq++;
    return new Promise((resolve, reject) => {
      pending.set(seq, { resolve, reject });
      const task: EncoderTask = { seq, op, seal: sealIt, offset: slot.offset, length, own: slot.own };
      // Posted with the other tasks of this turn of the loop: one message instead of many.
      const box = outboxes.get(worker)!;
      if (box.length === 0) setImmediate(() => worker.postMessage(box.splice(0)));
      box.push(task);
    });
  };

  return {
    async encode(plaintext, keep) {
      const slot = await ring.take(plaintext.length + BLOB_OVERHEAD);
      let handedOver = false;
      try {
        // fill() copies with memcpy; copy() and set() into shared memory go byte by byte (15x slower).
        if (plaintext.length > 0) slot.bytes.fill(plaintext, 0, plaintext.length);
        const eager = plaintext.length < SEAL_EAGERLY_BELOW;
        const named = await request(slot, 'name', eager, plaintext.length);
        const id = named.id!;
        if (!keep(id)) return { id, sealed: undefined, done: noop };
        const sealedLength = eager ? named.sealedLength! : (await request(slot, 'seal', true, plaintext.length)).sealedLength!;
        handedOver = true;
        return { id, sealed: slot.bytes.subarray(0, sealedLength), done: () => ring.give(slot) };
      } finally {
        if (!handedOver) ring.give(slot);
      }
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
      for (const task of pending.values()) task.reject(new Error('the blob encoder was closed'));
      pending.clear();
    },
  };
}
