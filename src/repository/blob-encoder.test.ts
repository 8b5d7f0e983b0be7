import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBlobEncoder, SEAL_EAGERLY_BELOW } from './blob-encoder.ts';
import { decodeBlob } from './compression.ts';
import { blobId, generateMasterKey, open } from './crypto.ts';

describe.each([0, 2])('blob encoder with %i worker threads', (threads) => {
  it('names and seals blobs that open and decode to the plaintext, concurrently and in any size', async () => {
    const key = generateMasterKey();
    // A small ring, so that slots wrap around, wait for space, and one blob is larger than the ring.
    const encoder = createBlobEncoder(key, threads, 4 * 1024 * 1024);
    const plaintexts = [
      Buffer.alloc(0),
      Buffer.from('hello'),
      Buffer.alloc(200_000, 'a'),
      randomBytes(3 * 1024 * 1024),
      randomBytes(1000).subarray(10, 500),
      randomBytes(5 * 1024 * 1024),
      ...Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 7000)),
    ];
    const results = await Promise.all(
      plaintexts.map(async (p) => {
        const blob = await encoder.encode(p, () => true);
        const sealed = Buffer.from(blob.sealed!);
        blob.done();
        return { id: blob.id, sealed };
      }),
    );
    for (const [i, { id, sealed }] of results.entries()) {
      expect(id).toBe(blobId(key, plaintexts[i]!));
      expect((await decodeBlob(open(key.encryption, sealed, 'blob'), 'blob')).equals(plaintexts[i]!)).toBe(true);
    }
    expect(results[2]!.sealed.length).toBeLessThan(10_000);
    await encoder.close();
  });

  it('asks keep with the name before sealing, and seals nothing it does not keep', async () => {
    const key = generateMasterKey();
    const encoder = createBlobEncoder(key, threads, 1024 * 1024);
    for (const size of [100, SEAL_EAGERLY_BELOW - 1, SEAL_EAGERLY_BELOW, 600_000]) {
      const plaintext = randomBytes(size);
      const asked: string[] = [];
      const dropped = await encoder.encode(plaintext, (id) => (asked.push(id), false));
      expect(asked).toEqual([blobId(key, plaintext)]);
      expect(dropped).toMatchObject({ id: blobId(key, plaintext), sealed: undefined });
      dropped.done();
    }
    // Dropped blobs gave their slots back: a blob as large as the ring still fits.
    const big = await encoder.encode(randomBytes(1024 * 1024 - 100), () => true);
    expect(big.sealed).toBeDefined();
    big.done();
    await encoder.close();
  });
});
