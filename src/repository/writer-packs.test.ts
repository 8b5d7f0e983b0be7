// Packs under load: many items in flight, small packs, uploads that take time. A pack's bytes must
// not change while it uploads (S3 checks them against their SHA-256), and at most `uploads` are in
// flight.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { check } from './check.ts';
import type { ItemInput } from './model.ts';
import { Repository } from './repository.ts';
import type { PutOptions } from './storage/storage.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'pack test key';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Reads what it stores a moment after it is handed over, as a streaming upload does, and checks it. */
class StreamingStorage extends MemoryStorage {
  inFlight = 0;
  mostInFlight = 0;

  override async put(name: string, data: Buffer, options?: PutOptions): Promise<void> {
    this.inFlight += 1;
    this.mostInFlight = Math.max(this.mostInFlight, name.startsWith('data/') ? this.inFlight : 0);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (options?.sha256 !== undefined && sha256(data) !== options.sha256) throw new Error(`${name} changed while it was uploaded`);
      await super.put(name, data, options);
    } finally {
      this.inFlight -= 1;
    }
  }
}

function item(n: number): ItemInput {
  const content = randomBytes(3000 + (n % 7) * 1000);
  return {
    account: `user${n % 5}@contoso.com`,
    service: 'mail',
    id: `m${n}`,
    version: 'v1',
    path: 'Inbox',
    name: `m${n}`,
    size: content.length,
    modified: '2026-11-20T10:00:00Z',
    content: async () => content,
  };
}

describe('packs', () => {
  it('keep their bytes while they upload, with many items in flight and small packs', async () => {
    const storage = new StreamingStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0, packTargetBytes: 16 * 1024, uploads: 2 });
    const inFlight = new Set<Promise<unknown>>();
    for (let n = 0; n < 400; n++) {
      const added = writer.addItem(item(n)).finally(() => inFlight.delete(added));
      inFlight.add(added);
      if (inFlight.size >= 32) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const snapshot = await writer.commit();
    expect(snapshot.stats.items).toBe(400);
    expect(storage.names('data/').length).toBeGreaterThan(50);
    expect(storage.mostInFlight).toBeLessThanOrEqual(2);
    expect((await check(await Repository.open(storage, { key: KEY }), { readData: true })).errors).toEqual([]);
  });
});
