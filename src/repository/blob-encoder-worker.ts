// Worker thread of the blob encoder: names, compresses and seals blobs in slots of the shared ring
// (see blob-encoder.ts), off the main thread. It keeps no state between tasks.
import { createHmac, createSecretKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { BLOB_OVERHEAD, sealBlobInto, type EncoderReply, type EncoderTask } from './blob-encoder.ts';

const data = workerData as { encryptionKey: Uint8Array; idKey: Uint8Array; ring: SharedArrayBuffer };
const encryptionKey = Buffer.from(data.encryptionKey);
const idKey = createSecretKey(Buffer.from(data.idKey));
const ring = Buffer.from(data.ring);

async function run(task: EncoderTask): Promise<EncoderReply> {
  const reply: EncoderReply = { seq: task.seq };
  try {
    const slot = task.own ? Buffer.from(task.own) : ring.subarray(task.offset, task.offset + task.length + BLOB_OVERHEAD);
    const plaintext = slot.subarray(0, task.length);
    if (task.op === 'name') reply.id = createHmac('sha256', idKey).update(plaintext).digest('hex');
    if (task.seal) reply.sealedLength = await sealBlobInto(encryptionKey, plaintext, slot);
  } catch (error) {
    reply.error = error instanceof Error ? error.message : String(error);
  }
  return reply;
}

// Tasks come in batches and replies go back in batches: a message between threads costs far more
// than naming a small blob, so one message carries everything ready in one turn of the loop.
let outbox: EncoderReply[] = [];
const flush = (): void => {
  const replies = outbox;
  outbox = [];
  parentPort!.postMessage(replies);
};

parentPort!.on('message', (tasks: EncoderTask[]) => {
  for (const task of tasks) {
    void run(task).then((reply) => {
      if (outbox.length === 0) setImmediate(flush);
      outbox.push(reply);
    });
  }
});
