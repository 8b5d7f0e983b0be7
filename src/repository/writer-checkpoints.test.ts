// The writer's checkpoint rules: checkpoints written at the same moment leave exactly one, a commit
// leaves none of its policy and shard, and a writer resumes only from an attempt that began on top
// of the newest committed snapshot.
import { describe, expect, it } from 'vitest';
import type { ItemInput } from './model.ts';
import { Repository } from './repository.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'checkpoint test key';

function mail(id: string, version = 'v1'): ItemInput {
  const content = Buffer.from(`message ${id} ${version}`);
  return {
    account: 'a',
    service: 'mail',
    id,
    version,
    path: 'Inbox',
    name: id,
    size: content.length,
    modified: '2026-12-01T00:00:00Z',
    content: async () => content,
  };
}

async function names(storage: MemoryStorage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const object of storage.list(prefix)) out.push(object.name);
  return out;
}

describe('checkpoints', () => {
  it('leaves exactly one checkpoint when several are written at once, and none after the commit', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY, encoderThreads: 0 });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'p-1', shard: 0 });
    await writer.addItem(mail('m1'));
    await Promise.all([writer.checkpoint(), writer.checkpoint(), writer.checkpoint()]);
    expect(await names(storage, 'checkpoints/')).toHaveLength(1);
    await writer.commit();
    expect(await names(storage, 'checkpoints/')).toEqual([]);
    await repository.close();
  });

  it('resumes from an attempt on top of the newest snapshot, and ignores (then removes) a checkpoint older than it', async () => {
    const storage = new MemoryStorage();
    let now = Date.parse('2026-12-01T00:00:00Z');
    const clock = () => new Date((now += 1000));
    const repository = await Repository.init(storage, { key: KEY, encoderThreads: 0, clock });
    // Run 1 checkpoints, and its checkpoint survives its commit (a delete that failed).
    const first = await repository.snapshotWriter({ policy: 'p', run: 'p-1', shard: 0, parent: 'latest' });
    await first.addItem(mail('m1'));
    const stale = await first.checkpoint();
    const staleBytes = await storage.get(`checkpoints/${stale.id}`);
    await first.commit();
    await storage.put(`checkpoints/${stale.id}`, staleBytes);

    // Run 2 must not resume from it: it is older than snapshot 1.
    const second = await repository.snapshotWriter({ policy: 'p', run: 'p-2', shard: 0, parent: 'latest' });
    expect(second.resumedFrom).toEqual([]);
    expect(await second.resumedAccount('a', 'mail')).toBeUndefined();
    await second.openAccount('a', 'mail', await second.previousAccount('a', 'mail'));
    second.setDeltaToken('a', 'mail', 'cursor-2');
    await second.finishAccount('a', 'mail');
    const interrupted = await second.checkpoint();
    await second.abort();

    // Run 3 resumes from run 2's checkpoint (on top of snapshot 1), and its commit removes both.
    const third = await repository.snapshotWriter({ policy: 'p', run: 'p-2', shard: 0, parent: 'latest' });
    expect(third.resumedFrom).toEqual([interrupted.id]);
    expect((await third.resumedAccount('a', 'mail'))?.deltaToken).toBe('cursor-2');
    await third.commit();
    expect(await names(storage, 'checkpoints/')).toEqual([]);
    await repository.close();
  });

  it('never writes a cursor into a checkpoint beside fewer items than the cursor covers', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY, encoderThreads: 0 });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'p-1', shard: 0 });
    await writer.openAccount('a', 'mail');
    await writer.addItem(mail('m1'));
    // The checkpoint's tree of the open account is held in the encoder until the account's last
    // item is stored and its cursor set, as when another account's checkpoint overlaps its end.
    const encoder = repository.encoder;
    const encode = encoder.encode.bind(encoder);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let treeHeld!: () => void;
    const held = new Promise<void>((resolve) => (treeHeld = resolve));
    let first = true;
    encoder.encode = async (plaintext, keep) => {
      if (first && plaintext.subarray(0, 10).toString() === '{"items":[') {
        first = false;
        treeHeld();
        await gate;
      }
      return encode(plaintext, keep);
    };
    const checkpoint = writer.checkpoint();
    await held;
    await writer.addItem(mail('m2'));
    writer.setDeltaToken('a', 'mail', 'covers-m1-and-m2');
    release();
    await writer.finishAccount('a', 'mail');
    const account = (await checkpoint).accounts.find((a) => a.account === 'a')!;
    expect(account).toMatchObject({ items: 1 });
    expect(account.deltaToken).toBeUndefined();
    const committed = await writer.commit();
    expect(committed.accounts.find((a) => a.account === 'a')).toMatchObject({ items: 2, deltaToken: 'covers-m1-and-m2' });
    await repository.close();
  });
});
