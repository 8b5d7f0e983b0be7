// Worker thread of the blob encoder: compresses and seals blob plaintext off the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { encodeBlob } from './compression.ts';
import { seal } from './crypto.ts';

const encryptionKey = Buffer.from(workerData.encryptionKey as Uint8Array);

parentPort!.on('message', async (task: { id: number; plaintext: Uint8Array }) => {
  const plaintext = Buffer.from(task.plaintext.buffer, task.plaintext.byteOffset, task.plaintext.byteLength);
  const sealed = seal(encryptionKey, await encodeBlob(plaintext));
  // Copied, not transferred: small Buffers live in Node's shared pool, which cannot be transferred.
  parentPort!.postMessage({ id: task.id, sealed });
});
