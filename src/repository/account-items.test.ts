// What openAccount hands the engine (AccountItems) and the id sets of idSet(): live views of the
// writer's scratch state on disk, in id order, safe to change while iterating.
import { describe, expect, it } from 'vitest';
import type { ItemInput } from './model.ts';
import { Repository } from './repository.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'account items test key';

function mail(id: string, container: string, version = 'v1'): ItemInput {
  const content = Buffer.from(`body of ${id}`);
  return {
    account: 'a@contoso.com',
    service: 'mail',
    id,
    version,
    container,
    path: container,
    name: id,
    size: content.length,
    modified: '2026-11-20T10:00:00Z',
    content: async () => content,
  };
}

const id = (i: number) => `m${String(i).padStart(5, '0')}`;

describe('the items of an open account', () => {
  it('are read live, by id, in id order, by container, and removing while iterating skips and repeats nothing', async () => {
    const repository = await Repository.init(new MemoryStorage(), { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0 });
    const items = await writer.openAccount('a@contoso.com', 'mail');
    expect(items.size).toBe(0);
    // More than one page of ids, added out of order, in two containers.
    const count = 1300;
    const order = Array.from({ length: count }, (_, i) => (i * 7919) % count);
    for (const i of order) await writer.addItem(mail(id(i), i % 2 === 0 ? 'inbox' : 'archive'));
    expect(items.size).toBe(count);
    expect(items.get(id(3))).toEqual({ version: 'v1', container: 'archive', size: `body of ${id(3)}`.length });
    expect(items.get('missing')).toBeUndefined();
    expect([...items.ids()]).toEqual(Array.from({ length: count }, (_, i) => id(i)));
    expect([...items.ids('inbox')]).toEqual(Array.from({ length: count / 2 }, (_, i) => id(2 * i)));
    expect([...items.ids('nowhere')]).toEqual([]);

    // A new version moves an item: the view follows.
    await writer.addItem(mail(id(3), 'inbox', 'v2'));
    expect(items.get(id(3))).toMatchObject({ version: 'v2', container: 'inbox' });
    expect(items.size).toBe(count);

    // Remove every third item while iterating, the current one and one further ahead (on the same page or a later one).
    const victims = (n: number) => [n, n + 300].filter((v) => v < count && v % 3 === 0).map(id);
    const all = Array.from({ length: count }, (_, i) => id(i));
    const model = new Set(all);
    const expected: string[] = [];
    for (const current of all) {
      if (!model.has(current)) continue;
      expected.push(current);
      for (const victim of victims(Number(current.slice(1)))) model.delete(victim);
    }
    const seen: string[] = [];
    const removed = new Set<string>();
    for (const current of items.ids()) {
      seen.push(current);
      for (const victim of victims(Number(current.slice(1)))) {
        if (removed.has(victim)) continue;
        expect(writer.removeItem('a@contoso.com', 'mail', victim)).toBeDefined();
        removed.add(victim);
      }
    }
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    expect(items.size).toBe(count - removed.size);
    expect([...items.ids()]).toEqual(all.filter((x) => model.has(x)));

    await writer.finishAccount('a@contoso.com', 'mail');
    const snapshot = await writer.commit();
    expect(snapshot.accounts[0]!.items).toBe(count - removed.size);
  });

  it('id sets keep what is added until the writer commits', async () => {
    const repository = await Repository.init(new MemoryStorage(), { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0 });
    const named = writer.idSet();
    const other = writer.idSet();
    for (let i = 0; i < 3000; i++) named.add(id(i));
    named.add(id(1));
    expect(named.has(id(2999))).toBe(true);
    expect(named.has(id(3000))).toBe(false);
    expect(other.has(id(1))).toBe(false);
    expect(named.delete(id(1))).toBe(true);
    expect(named.delete(id(1))).toBe(false);
    expect(named.has(id(1))).toBe(false);
    await writer.commit();
    expect(() => named.has(id(2))).toThrow();
  });
});
