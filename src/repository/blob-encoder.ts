// Compresses and seals blobs, on worker threads when the node has cores to spare. Naming a blob
// (HMAC) stays on the main thread, so deduplication is decided before any of this work is done.
// Measured on the mail benchmark, the main thread was the bottleneck; this spreads the
// compression and encryption over the other cores.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { encodeBlob } from './compression.ts';
import { seal } from './crypto.ts';

export interface BlobEncoder {
  encode(plaintext: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export function defaultEncoderThreads(): number {
  return Math.min(4, availableParallelism() - 1);
}

export function createBlobEncoder(encryptionKey: Buffer, threads = defaultEncoderThreads()): BlobEncoder {
  if (threads < 1) {
    return { encode: async (plaintext) => seal(encryptionKey, await encodeBlob(plaintext)), close: async () => undefined };
  }
  // Under Node's type stripping this module is .ts; compiled into dist/ it is .js.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const script = new URL(`./blob-encoder-worker${extension}`, import.meta.url);
  const pending = new Map<number, { resolve: (sealed: Buffer) => void; reject: (error: Error) => void }>();
  const load = new Map<Worker, number>();
  let nextId = 0;
  const workers = Array.from({ length: threads }, () => {
    // The workers hold only the blobs in flight: small heaps keep the process's memory down.
    const worker = new Worker(script, { workerData: { encryptionKey }, resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 } });
    worker.unref();
    load.set(worker, 0);
    worker.on('message', ({ id, sealed }: { id: number; sealed: Uint8Array }) => {
      load.set(worker, load.get(worker)! - 1);
      pending.get(id)?.resolve(Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength));
      pending.delete(id);
    });
    worker.on('error', (error) => {
      for (const task of pending.values()) task.reject(error);
      pending.clear();
    });
    return worker;
  });
  return {
    encode(plaintext) {
      const worker = workers.reduce((best, w) => (load.get(w)! < load.get(best)! ? w : best));
      load.set(worker, load.get(worker)! + 1);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // The plaintext is copied to the worker: it may be a view into a larger buffer still in use.
        worker.postMessage({ id, plaintext });
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
