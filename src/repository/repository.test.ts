import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isRepositoryError } from './errors.ts';
import { TREE_ITEMS, type ItemInput } from './model.ts';
import { Repository } from './repository.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'correct horse battery staple';

function mail(account: string, id: string, body: string | Buffer, version = 'v1'): ItemInput {
  const content = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return {
    account,
    service: 'mail',
    id,
    version,
    path: 'Inbox',
    name: `Subject ${id}`,
    sender: 'alice@contoso.com',
    size: content.length,
    modified: '2026-11-20T10:00:00Z',
    content: async () => content,
  };
}

async function allItems(repository: Repository, snapshotId: string) {
  const snapshot = await repository.snapshot(snapshotId);
  const items = [];
  for await (const item of repository.items(snapshot)) items.push(item);
  return items;
}

describe('repository', () => {
  it('round-trips items with exact content, metadata and delta tokens', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'daily', run: 'daily-202611220600', shard: 0 });
    const big = randomBytes(3 * 1024 * 1024);
    await writer.addItem(mail('alice@contoso.com', 'm1', 'Hello'));
    await writer.addItem(mail('alice@contoso.com', 'm2', big));
    await writer.addItem(mail('bob@contoso.com', 'm1', ''));
    writer.setDeltaToken('alice@contoso.com', 'mail', 'delta-token-1');
    const snapshot = await writer.commit();

    const reopened = await Repository.open(storage, { key: KEY });
    const items = await allItems(reopened, snapshot.id);
    expect(items.map((i) => `${i.account}/${i.id}`)).toEqual(['alice@contoso.com/m1', 'alice@contoso.com/m2', 'bob@contoso.com/m1']);
    expect(items[0]).toMatchObject({ name: 'Subject m1', sender: 'alice@contoso.com', path: 'Inbox', version: 'v1' });
    expect((await reopened.readContent(items[0]!)).toString()).toBe('Hello');
    expect((await reopened.readContent(items[1]!)).equals(big)).toBe(true);
    expect(items[1]!.content.length).toBeGreaterThan(1);
    expect((await reopened.readContent(items[2]!)).length).toBe(0);
    expect(snapshot.accounts.find((a) => a.account === 'alice@contoso.com')?.deltaToken).toBe('delta-token-1');
  });

  it('stores identical content once across accounts, in packs rather than one object per item', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'daily', run: 'r', shard: 0 });
    const attachment = randomBytes(200 * 1024);
    for (let i = 0; i < 50; i++) await writer.addItem(mail(`user${i}@contoso.com`, 'same', attachment));
    const snapshot = await writer.commit();
    expect(snapshot.stats.bytesIn).toBe(50 * attachment.length);
    expect(snapshot.stats.bytesAdded).toBeLessThan(2 * attachment.length);
    expect(storage.names('data/').length).toBe(1);
  });

  it('names blobs with a keyed hash, so stored objects reveal nothing about content', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0 });
    await writer.addItem(mail('a@contoso.com', 'm', 'the quarterly numbers are secret'));
    await writer.commit();
    const everything = Buffer.concat([...storage.objects.values()].map((o) => o.data)).toString('latin1');
    expect(everything).not.toContain('quarterly');
    const { createHash } = await import('node:crypto');
    const plainHash = createHash('sha256').update('the quarterly numbers are secret').digest('hex');
    expect([...repository.index.packs].flatMap((p) => p.blobs.map((b) => b.id))).not.toContain(plainHash);
  });

  it('gives a clear error for a wrong key and for a missing repository', async () => {
    const storage = new MemoryStorage();
    await Repository.init(storage, { key: KEY });
    const wrong = await Repository.open(storage, { key: 'not the key at all' }).catch((e: unknown) => e);
    expect(isRepositoryError(wrong, 'WrongKey')).toBe(true);
    expect((wrong as Error).message).toContain('does not open the repository');
    const missing = await Repository.open(new MemoryStorage(), { key: KEY }).catch((e: unknown) => e);
    expect(isRepositoryError(missing, 'RepositoryNotFound')).toBe(true);
    const again = await Repository.init(storage, { key: KEY }).catch((e: unknown) => e);
    expect(isRepositoryError(again, 'RepositoryExists')).toBe(true);
  });

  it('reads unchanged items from the parent without calling for their content', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const first = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    await first.addItem(mail('a@contoso.com', 'm1', 'one'));
    await first.addItem(mail('a@contoso.com', 'm2', 'two'));
    await first.commit();

    const second = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0, parent: 'latest' });
    let downloads = 0;
    const counted = (item: ItemInput): ItemInput => ({ ...item, content: async () => (downloads++, item.content()) });
    expect(await second.addItem(counted(mail('a@contoso.com', 'm1', 'one')))).toBe('unchanged');
    expect(await second.addItem(counted(mail('a@contoso.com', 'm2', 'two, edited', 'v2')))).toBe('added');
    const snapshot = await second.commit();
    expect(downloads).toBe(1);
    expect(snapshot.stats).toMatchObject({ items: 2, itemsAdded: 1, itemsUnchanged: 1 });
    const items = await allItems(repository, snapshot.id);
    expect((await repository.readContent(items[0]!)).toString()).toBe('one');
    expect((await repository.readContent(items[1]!)).toString()).toBe('two, edited');
  });

  it('resumes from the checkpoint of a writer that died, and removes the checkpoint on commit', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const dying = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0, checkpointEveryBytes: 1 });
    for (let i = 0; i < 5; i++) await dying.addItem(mail('a@contoso.com', `m${i}`, `body ${i}`));
    expect(storage.names('checkpoints/')).toHaveLength(1);
    expect(storage.names('snapshots/')).toHaveLength(0);

    const retry = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    expect(retry.resumedFrom).toHaveLength(1);
    let downloads = 0;
    for (let i = 0; i < 6; i++) {
      const item = mail('a@contoso.com', `m${i}`, `body ${i}`);
      await retry.addItem({ ...item, content: async () => (downloads++, item.content()) });
    }
    const snapshot = await retry.commit();
    expect(downloads).toBe(1);
    expect(snapshot.stats.items).toBe(6);
    expect(storage.names('checkpoints/')).toHaveLength(0);
  });

  it('carries an account from its parent, removes what the source deleted, and finishes accounts early', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const first = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    for (let i = 0; i < 4; i++)
      await first.addItem({ ...mail('a@contoso.com', `m${i}`, `body ${i}`), container: i < 2 ? 'inbox' : 'archive' });
    first.setDeltaToken('a@contoso.com', 'mail', 'token-1');
    await first.finishAccount('a@contoso.com', 'mail');
    await expect(first.addItem(mail('a@contoso.com', 'late', 'x'))).rejects.toThrow(/already finished/);
    await first.addItem(mail('b@contoso.com', 'm0', 'bob'));
    const parent = await first.commit();
    expect(parent.stats.items).toBe(5);

    const second = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0, parent: 'latest' });
    const previous = await second.previousAccount('a@contoso.com', 'mail');
    expect(previous?.deltaToken).toBe('token-1');
    expect(previous?.items).toBe(4);
    const live = await second.openAccount('a@contoso.com', 'mail', previous);
    expect([...live.ids()].sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(second.removeItem('a@contoso.com', 'mail', 'm1')?.container).toBe('inbox');
    let downloads = 0;
    const moved = { ...mail('a@contoso.com', 'm2', 'body 2'), container: 'inbox' };
    expect(await second.addItem({ ...moved, content: async () => (downloads++, moved.content()) })).toBe('unchanged');
    expect(live.get('m2')?.container).toBe('inbox');
    second.setDeltaToken('a@contoso.com', 'mail', 'token-2');
    await second.finishAccount('a@contoso.com', 'mail');
    const snapshot = await second.commit();
    expect(downloads).toBe(0);
    // b@ was not touched: it is not in this snapshot (the worker carries what it did not reach).
    expect(snapshot.accounts.map((a) => [a.account, a.items, a.deltaToken])).toEqual([['a@contoso.com', 3, 'token-2']]);
    const items = await allItems(repository, snapshot.id);
    expect(items.map((i) => `${i.id}:${i.container}`)).toEqual(['m0:inbox', 'm2:inbox', 'm3:archive']);
    expect((await repository.readContent(items[1]!)).toString()).toBe('body 2');

    // An account opened from the parent and left unchanged keeps the parent's trees: no new tree is written.
    const third = await repository.snapshotWriter({ policy: 'p', run: 'r3', shard: 0, parent: 'latest' });
    await third.openAccount('a@contoso.com', 'mail', await third.previousAccount('a@contoso.com', 'mail'));
    third.setDeltaToken('a@contoso.com', 'mail', 'token-3');
    await third.finishAccount('a@contoso.com', 'mail');
    const unchanged = await third.commit();
    expect(unchanged.accounts).toEqual([{ ...snapshot.accounts[0], deltaToken: 'token-3' }]);
    expect(unchanged.stats.blobsAdded).toBe(0);
  });

  it('copies the stored entries of a changed account as they are: a tree without a change is the same tree', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const account = 'big@contoso.com';
    // Three trees' worth; names with the characters a tree's JSON has to escape.
    const count = 2 * TREE_ITEMS + 10;
    const id = (i: number) => `m${String(i).padStart(5, '0')}`;
    const first = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    for (let i = 0; i < count; i++) {
      await first.addItem({
        ...mail(account, id(i), `body ${i % 50}`),
        name: `Re: "quoted" {${i}} \\ ✉️`,
        metadata: { labels: ['a', `b${i}`] },
      });
    }
    const parent = await first.commit();
    const [parentTrees] = parent.accounts.map((a) => a.trees);
    expect(parentTrees).toHaveLength(3);

    const second = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0, parent: 'latest' });
    await second.openAccount(account, 'mail', await second.previousAccount(account, 'mail'));
    // One change in the last tree only: a new version of the last item, and one removal there.
    await second.addItem(mail(account, id(count - 1), 'a new body', 'v2'));
    second.removeItem(account, 'mail', id(count - 2));
    await second.finishAccount(account, 'mail');
    const snapshot = await second.commit();
    const trees = snapshot.accounts[0]!.trees;
    expect(trees.slice(0, 2)).toEqual(parentTrees!.slice(0, 2));
    expect(trees[2]).not.toBe(parentTrees![2]);
    // Only the changed tree and the new content were stored.
    expect(snapshot.stats.blobsAdded).toBe(2);
    const items = await allItems(repository, snapshot.id);
    expect(items).toHaveLength(count - 1);
    const before = await allItems(repository, parent.id);
    expect(items.slice(0, count - 2)).toEqual(before.slice(0, count - 2));
    expect(items.at(-1)).toMatchObject({ id: id(count - 1), version: 'v2', name: `Subject ${id(count - 1)}` });
    expect((await repository.readContent(items.at(-1)!)).toString()).toBe('a new body');
  });

  it('hands a resumed run the accounts its killed attempt had finished, with their cursors', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const dying = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    await dying.addItem(mail('a@contoso.com', 'm0', 'done'));
    dying.setDeltaToken('a@contoso.com', 'mail', 'token-a');
    await dying.finishAccount('a@contoso.com', 'mail');
    await dying.addItem(mail('b@contoso.com', 'm0', 'half'));
    await dying.checkpoint();

    const retry = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    const finished = await retry.resumedAccount('a@contoso.com', 'mail');
    expect(finished).toMatchObject({ deltaToken: 'token-a', items: 1 });
    // An account without a cursor in the checkpoint was not finished: it is listed again (content reused).
    expect(await retry.resumedAccount('b@contoso.com', 'mail')).toBeUndefined();
    expect(await retry.addItem(mail('b@contoso.com', 'm0', 'half'))).toBe('unchanged');
    await retry.abort();
  });

  it('detects a damaged blob instead of returning garbage', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0 });
    await writer.addItem(mail('a@contoso.com', 'm', 'precious'));
    const snapshot = await writer.commit();
    const pack = storage.names('data/')[0]!;
    storage.objects.get(pack)!.data[20]! ^= 0xff;
    const reopened = await Repository.open(storage, { key: KEY });
    const [item] = await allItems(reopened, snapshot.id);
    const error = await reopened.readContent(item!).catch((e: unknown) => e);
    expect(isRepositoryError(error, 'Corrupt')).toBe(true);
    expect((error as Error).message).toContain(pack);
  });
});
