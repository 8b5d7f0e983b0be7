import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlobEncoder } from './blob-encoder.ts';
import { decodeBlob } from './compression.ts';
import { open } from './crypto.ts';

describe.each([0, 2])('blob encoder with %i worker threads', (threads) => {
  it('seals blobs that open and decode to the plaintext, concurrently and in any size', async () => {
    const key = randomBytes(32);
    const encoder = createBlobEncoder(key, threads);
    const plaintexts = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(200_000, 'a'), randomBytes(3 * 1024 * 1024), randomBytes(1000).subarray(10, 500)];
    const sealed = await Promise.all(plaintexts.map((p) => encoder.encode(p)));
    for (const [i, s] of sealed.entries()) expect((await decodeBlob(open(key, s, 'blob'), 'blob')).equals(plaintexts[i]!)).toBe(true);
    expect(sealed[2]!.length).toBeLessThan(10_000);
    await encoder.close();
  });
});
