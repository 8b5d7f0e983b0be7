// check, forget and prune on an in-memory repository.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { check } from './check.ts';
import { isRepositoryError } from './errors.ts';
import { forget } from './forget.ts';
import { acquireLock } from './locks.ts';
import type { ItemInput } from './model.ts';
import { prune } from './prune.ts';
import { Repository } from './repository.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'maintenance test key';

function item(account: string, id: string, content: Buffer, version = 'v1'): ItemInput {
  return {
    account,
    service: 'mail',
    id,
    version,
    path: 'Inbox',
    name: id,
    size: content.length,
    modified: '2026-11-01T00:00:00Z',
    content: async () => content,
  };
}

async function backup(repository: Repository, run: string, items: ItemInput[], time: string) {
  const clockRepository = repository as { clock: () => Date };
  const original = clockRepository.clock;
  Object.assign(repository, { clock: () => new Date(time) });
  const writer = await repository.snapshotWriter({ policy: 'daily', run, shard: 0, packTargetBytes: 64 * 1024 });
  for (const i of items) await writer.addItem(i);
  const snapshot = await writer.commit();
  Object.assign(repository, { clock: original });
  return snapshot;
}

async function restoreAll(repository: Repository) {
  const contents = new Map<string, Buffer>();
  for (const snapshot of await repository.snapshots()) {
    for await (const entry of repository.items(snapshot))
      contents.set(`${snapshot.id}/${entry.account}/${entry.id}`, await repository.readContent(entry));
  }
  return contents;
}

describe('check', () => {
  it('is clean on a healthy repository, with and without reading data', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    await backup(repository, 'r1', [item('a', 'm1', randomBytes(100_000)), item('b', 'm1', randomBytes(100_000))], '2026-11-01T00:00:00Z');
    for (const readData of [false, true]) {
      const report = await check(await Repository.open(storage, { key: KEY }), { readData });
      expect(report.errors).toEqual([]);
      expect(report.affected).toEqual([]);
    }
  });

  it('names exactly the items a damaged pack affects, and every other item still restores', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const items = Array.from({ length: 20 }, (_, n) => item(`user${n % 4}`, `m${n}`, randomBytes(30_000)));
    await backup(repository, 'r1', items, '2026-11-01T00:00:00Z');
    const packs = storage.names('data/');
    expect(packs.length).toBeGreaterThan(3);
    const victim = packs[0]!;
    storage.objects.get(victim)!.data[100]! ^= 0x01;

    const opened = await Repository.open(storage, { key: KEY });
    const structure = await check(opened);
    expect(structure.affected).toEqual([]);
    const report = await check(opened, { readData: true });
    expect(report.errors.some((e) => e.includes(victim))).toBe(true);
    expect(report.affected).toHaveLength(1);
    const damaged = report.affected[0]!;

    let restored = 0;
    for (const snapshot of await opened.snapshots()) {
      for await (const entry of opened.items(snapshot)) {
        if (entry.id === damaged.itemId && entry.account === damaged.account) {
          await expect(opened.readContent(entry)).rejects.toThrow(/damaged/);
        } else {
          const original = items.find((i) => i.id === entry.id && i.account === entry.account)!;
          expect((await opened.readContent(entry)).equals(await (original.content() as Promise<Buffer>))).toBe(true);
          restored += 1;
        }
      }
    }
    expect(restored).toBe(19);
  });

  it('survives a damaged index: the packs are found from their headers, and check reports it', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const content = randomBytes(50_000);
    await backup(repository, 'r1', [item('a', 'm1', content)], '2026-11-01T00:00:00Z');
    const [indexFile] = storage.names('index/');
    storage.objects.get(indexFile!)!.data[30]! ^= 0xff;

    const opened = await Repository.open(storage, { key: KEY });
    const report = await check(opened, { readData: true });
    expect(report.errors.join('\n')).toContain(indexFile!);
    expect(report.affected).toEqual([]);
    const [snapshot] = await opened.snapshots();
    for await (const entry of opened.items(snapshot!)) expect((await opened.readContent(entry)).equals(content)).toBe(true);

    await prune(opened, { unindexedGraceMs: 0 });
    expect((await check(await Repository.open(storage, { key: KEY }), { readData: true })).errors).toEqual([]);
  });
});

describe('forget and prune', () => {
  it('removes what only forgotten snapshots needed, keeps everything the kept ones need', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const shared = randomBytes(60_000);
    const old = randomBytes(200_000);
    await backup(repository, 'r1', [item('a', 'shared', shared), item('a', 'old', old)], '2026-11-01T00:00:00Z');
    const latest = await backup(repository, 'r2', [item('a', 'shared', shared)], '2026-11-02T00:00:00Z');
    const before = [...storage.objects.values()].reduce((n, o) => n + o.data.length, 0);

    const forgotten = await forget(repository, { keepLast: 1 });
    expect(forgotten.removed.map((s) => s.run)).toEqual(['r1']);
    expect(forgotten.kept.map((k) => k.snapshot.id)).toEqual([latest.id]);

    const report = await prune(repository, { unindexedGraceMs: 0 });
    const after = [...storage.objects.values()].reduce((n, o) => n + o.data.length, 0);
    expect(report.bytesFreed).toBeGreaterThan(150_000);
    expect(after).toBeLessThan(before - 150_000);
    const reopened = await Repository.open(storage, { key: KEY });
    expect((await check(reopened, { readData: true })).errors).toEqual([]);
    const restored = await restoreAll(reopened);
    expect([...restored.values()].map((b) => b.equals(shared))).toEqual([true]);
  });

  it('repacks mostly-empty packs without decrypting, and nothing is lost', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const keepers = Array.from({ length: 3 }, (_, n) => item('a', `keep${n}`, randomBytes(5_000)));
    const goners = Array.from({ length: 3 }, (_, n) => item('a', `gone${n}`, randomBytes(50_000)));
    await backup(repository, 'r1', [...keepers, ...goners], '2026-11-01T00:00:00Z');
    await backup(repository, 'r2', keepers, '2026-11-02T00:00:00Z');
    await forget(repository, { keepLast: 1 });
    const report = await prune(repository, { unindexedGraceMs: 0 });
    expect(report.packsRepacked).toBeGreaterThan(0);
    expect(report.packsWritten).toBeGreaterThan(0);
    const reopened = await Repository.open(storage, { key: KEY });
    expect((await check(reopened, { readData: true })).errors).toEqual([]);
    expect((await restoreAll(reopened)).size).toBe(3);
  });

  it('removes packs a dead writer never indexed, once they are older than the grace period', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    await backup(repository, 'r1', [item('a', 'm', randomBytes(10_000))], '2026-11-01T00:00:00Z');
    await storage.put('data/ff/ff' + '0'.repeat(62), randomBytes(1000));
    expect((await check(repository)).warnings.join()).toContain('in no index');
    expect((await prune(repository)).unindexedDeleted).toBe(0);
    expect((await prune(repository, { unindexedGraceMs: 0 })).unindexedDeleted).toBe(1);
  });

  it('never forces an Object Lock: locked space is reported as not freed yet', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.open((await Repository.init(storage, { key: KEY }), storage), {
      key: KEY,
      objectLock: { mode: 'GOVERNANCE', periodMs: 365 * 86_400_000 },
    });
    await backup(repository, 'r1', [item('a', 'old', randomBytes(100_000))], '2026-11-01T00:00:00Z');
    await backup(repository, 'r2', [item('a', 'new', randomBytes(1_000))], '2026-11-02T00:00:00Z');
    const forgotten = await forget(repository, { keepLast: 1 });
    expect(forgotten.locked).toHaveLength(1);
    expect(forgotten.removed).toHaveLength(0);
    storage.objects.delete(`snapshots/${forgotten.locked[0]!.id}`);
    const report = await prune(repository, { unindexedGraceMs: 0 });
    expect(report.bytesLocked).toBeGreaterThan(100_000);
    expect(report.lockedUntil).toBeTruthy();
    expect((await check(await Repository.open(storage, { key: KEY }))).errors).toEqual([]);
  });

  it('waits for writers: prune is refused while a writer holds its shared lock, and vice versa', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r', shard: 0 });
    const refused = await prune(repository).catch((e: unknown) => e);
    expect(isRepositoryError(refused, 'Locked')).toBe(true);
    expect((refused as Error).message).toContain('writer p/r/0');
    await writer.commit();
    const exclusive = await acquireLock(repository, 'prune', true);
    const blocked = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0 }).catch((e: unknown) => e);
    expect(isRepositoryError(blocked, 'Locked')).toBe(true);
    await exclusive.release();
    expect(await prune(repository)).toMatchObject({ packsDeleted: 0 });
  });
});

describe('writers and locks', () => {
  it('lets several writers write at once without locking each other, and everything they commit is whole', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const shared = randomBytes(40_000);
    const writers = await Promise.all(
      [0, 1, 2].map((shard) => repository.snapshotWriter({ policy: 'daily', run: 'r', shard, packTargetBytes: 32 * 1024 })),
    );
    await Promise.all(
      writers.map(async (writer, shard) => {
        for (let n = 0; n < 30; n++)
          await writer.addItem(item(`shard${shard}-user${n % 3}`, `m${n}`, n % 10 === 0 ? shared : randomBytes(5_000)));
      }),
    );
    const snapshots = await Promise.all(writers.map((writer) => writer.commit()));
    expect(snapshots.map((s) => s.stats.items)).toEqual([30, 30, 30]);
    const reopened = await Repository.open(storage, { key: KEY });
    expect((await check(reopened, { readData: true })).errors).toEqual([]);
    expect((await restoreAll(reopened)).size).toBe(90);
  });

  it('lets a lock whose holder died expire, so prune can run again', async () => {
    const storage = new MemoryStorage();
    const repository = await Repository.init(storage, { key: KEY });
    await acquireLock(repository, 'prune on a node that died', true);
    expect(isRepositoryError(await prune(repository).catch((e: unknown) => e), 'Locked')).toBe(true);
    const later = await Repository.open(storage, { key: KEY, clock: () => new Date(Date.now() + 6 * 60_000) });
    await expect(prune(later)).resolves.toMatchObject({ packsDeleted: 0 });
  });
});
