// Checkpoints never shadow a snapshot: concurrent checkpoints leave one, a commit leaves none, a
// writer resumes only a checkpoint written on its own parent after the newest snapshot, and prune
// removes the ones no writer can resume.
import { describe, expect, it } from 'vitest';
import { check } from './check.ts';
import { canResume } from './checkpoints.ts';
import type { ItemInput, SnapshotManifest } from './model.ts';
import { prune } from './prune.ts';
import { Repository } from './repository.ts';
import { MemoryStorage } from './testing/memory-storage.ts';

const KEY = 'checkpoint test key';

function mail(account: string, id: string, body: string, version = 'v1'): ItemInput {
  const content = Buffer.from(body);
  return {
    account,
    service: 'mail',
    id,
    version,
    path: 'Inbox',
    name: id,
    size: content.length,
    modified: '2026-11-20T10:00:00Z',
    content: async () => content,
  };
}

/** A repository whose clock the test sets. */
async function repositoryAt(): Promise<{ storage: MemoryStorage; repository: Repository; at: (iso: string) => void }> {
  const storage = new MemoryStorage();
  let now = new Date('2026-11-20T00:00:00Z');
  const repository = await Repository.init(storage, { key: KEY, clock: () => now });
  return { storage, repository, at: (iso) => (now = new Date(iso)) };
}

/** A snapshot of policy p, shard 0, with one finished account. */
async function commitRun(repository: Repository, run: string, account = 'a@contoso.com'): Promise<SnapshotManifest> {
  const writer = await repository.snapshotWriter({ policy: 'p', run, shard: 0, parent: 'latest' });
  await writer.addItem(mail(account, 'm1', `body of ${run}`, run));
  writer.setDeltaToken(account, 'mail', `token-${run}`);
  await writer.finishAccount(account, 'mail');
  return writer.commit();
}

/** A killed attempt: an account finished and checkpointed, then the writer stops without committing. */
async function killedRun(repository: Repository, run: string, options: { parent?: string } = {}): Promise<SnapshotManifest> {
  const writer = await repository.snapshotWriter({ policy: 'p', run, shard: 0, parent: options.parent ?? 'latest' });
  await writer.addItem(mail('done@contoso.com', 'm1', `finished in ${run}`));
  writer.setDeltaToken('done@contoso.com', 'mail', `token-${run}`);
  await writer.finishAccount('done@contoso.com', 'mail');
  const checkpoint = await writer.checkpoint();
  await writer.abort();
  return checkpoint;
}

describe('checkpoints', () => {
  it('leaves exactly one checkpoint of a writer however many are written at once', async () => {
    const { storage, repository } = await repositoryAt();
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0 });
    for (let i = 0; i < 10; i++) await writer.addItem(mail(`user${i % 3}@contoso.com`, `m${i}`, `body ${i}`));
    const written = await Promise.all([writer.checkpoint(), writer.checkpoint(), writer.checkpoint()]);
    expect(new Set(written.map((c) => c.id)).size).toBe(3);
    expect(storage.names('checkpoints/')).toEqual([`checkpoints/${written.at(-1)!.id}`]);
    await writer.abort();
  });

  it('leaves one when checkpoints fall due while another is being written', async () => {
    const { storage, repository } = await repositoryAt();
    const writer = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0, checkpointEveryBytes: 1 });
    // Every item makes a checkpoint due; explicit ones are asked for at the same time.
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0 ? writer.checkpoint() : writer.addItem(mail('a@contoso.com', `m${i}`, `body ${i}`)),
      ),
    );
    expect(storage.names('checkpoints/')).toHaveLength(1);
    await writer.abort();
  });

  it('commits without leaving a checkpoint of its policy and shard: its own, the resumed one, and a stale one', async () => {
    const { storage, repository, at } = await repositoryAt();
    const before = await commitRun(repository, 'r0');
    at('2026-11-20T01:00:00Z');
    const killed = await killedRun(repository, 'r1');
    // A checkpoint left by a run that committed long ago (its cleanup never ran): on another parent, and older.
    const stale: SnapshotManifest = { ...killed, id: 'f'.repeat(64), time: '2026-11-19T00:00:00Z', parent: 'e'.repeat(64) };
    await repository.putSealed(`checkpoints/${stale.id}`, Buffer.from(JSON.stringify(stale)));
    // Another policy's checkpoint is not this commit's to remove.
    const other: SnapshotManifest = { ...killed, id: 'd'.repeat(64), policy: 'other' };
    await repository.putSealed(`checkpoints/${other.id}`, Buffer.from(JSON.stringify(other)));

    at('2026-11-20T02:00:00Z');
    const retry = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0, parent: 'latest', checkpointEveryBytes: 1 });
    expect(retry.resumedFrom).toEqual([killed.id]);
    await retry.addItem(mail('b@contoso.com', 'm1', 'new'));
    expect(storage.names('checkpoints/')).toHaveLength(4);
    const snapshot = await retry.commit();
    expect(snapshot.parent).toBe(before.id);
    expect(storage.names('checkpoints/')).toEqual([`checkpoints/${other.id}`]);
  });

  it('resumes a checkpoint written on its parent after the newest snapshot, with the finished accounts and their cursors', async () => {
    const { repository, at } = await repositoryAt();
    await commitRun(repository, 'r0');
    at('2026-11-20T01:00:00Z');
    const killed = await killedRun(repository, 'r1');
    at('2026-11-20T02:00:00Z');
    const retry = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0, parent: 'latest' });
    expect(retry.resumedFrom).toEqual([killed.id]);
    expect(await retry.resumedAccount('done@contoso.com', 'mail')).toMatchObject({ deltaToken: 'token-r1', items: 1 });
    await retry.abort();
  });

  it('ignores a checkpoint older than the newest snapshot of its policy and shard', async () => {
    const { storage, repository, at } = await repositoryAt();
    await commitRun(repository, 'r0');
    at('2026-11-20T01:00:00Z');
    const killed = await killedRun(repository, 'r1');
    const object = storage.objects.get(`checkpoints/${killed.id}`)!;
    // The run r2 commits after it; its cleanup did not happen (the process died just after the manifest).
    at('2026-11-20T02:00:00Z');
    await commitRun(repository, 'r2', 'other@contoso.com');
    storage.objects.set(`checkpoints/${killed.id}`, object);

    at('2026-11-20T03:00:00Z');
    const next = await repository.snapshotWriter({ policy: 'p', run: 'r3', shard: 0, parent: 'latest' });
    expect(next.resumedFrom).toEqual([]);
    expect(await next.resumedAccount('done@contoso.com', 'mail')).toBeUndefined();
    let downloads = 0;
    const item = mail('done@contoso.com', 'm1', 'finished in r1');
    expect(await next.addItem({ ...item, content: async () => (downloads++, item.content()) })).toBe('added');
    expect(downloads).toBe(1);
    await next.abort();
  });

  it('ignores a checkpoint newer than the newest snapshot but written on another parent', async () => {
    const { repository, at } = await repositoryAt();
    const first = await commitRun(repository, 'r0');
    at('2026-11-20T01:00:00Z');
    await commitRun(repository, 'r1');
    at('2026-11-20T02:00:00Z');
    // Written after the newest snapshot, but on the one before it.
    const elsewhere = await killedRun(repository, 'r2', { parent: first.id });
    expect(elsewhere.parent).toBe(first.id);
    at('2026-11-20T03:00:00Z');
    const next = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0, parent: 'latest' });
    expect(next.resumedFrom).toEqual([]);
    expect(await next.resumedAccount('done@contoso.com', 'mail')).toBeUndefined();
    await next.abort();
    // A writer on that same parent may resume it.
    const same = await repository.snapshotWriter({ policy: 'p', run: 'r2', shard: 0, parent: first.id });
    expect(same.resumedFrom).toEqual([elsewhere.id]);
    await same.abort();
  });

  it('decides resumption by parent and time', () => {
    const manifest = (id: string, time: string, parent?: string): SnapshotManifest => ({
      version: 1,
      id,
      time,
      policy: 'p',
      run: 'r',
      shard: 0,
      checkpoint: false,
      ...(parent ? { parent } : {}),
      accounts: [],
      stats: { items: 0, itemsAdded: 0, itemsUnchanged: 0, bytesIn: 0, bytesAdded: 0, blobsAdded: 0 },
    });
    const newest = manifest('s2', '2026-11-20T02:00:00.000Z', 's1');
    expect(canResume(manifest('c', '2026-11-20T03:00:00.000Z', 's2'), newest, 's2')).toBe(true);
    expect(canResume(manifest('c', '2026-11-20T03:00:00.000Z', 's1'), newest, 's2')).toBe(false);
    expect(canResume(manifest('c', '2026-11-20T01:00:00.000Z', 's2'), newest, 's2')).toBe(false);
    expect(canResume(manifest('c', '2026-11-20T02:00:00.000Z', 's2'), newest, 's2')).toBe(false);
    expect(canResume(manifest('c', '2026-11-20T01:00:00.000Z'), undefined, undefined)).toBe(true);
    // A writer without a parent resumes a checkpoint without one, when it is newer.
    expect(canResume(manifest('c', '2026-11-20T03:00:00.000Z'), newest, undefined)).toBe(true);
    expect(canResume(manifest('c', '2026-11-20T03:00:00.000Z'), newest, 's2')).toBe(false);
  });

  it('is pruned once no writer can resume it; the one a writer can resume stays, with what it needs', async () => {
    const { storage, repository, at } = await repositoryAt();
    await commitRun(repository, 'r0');
    at('2026-11-20T01:00:00Z');
    const superseded = await killedRun(repository, 'r1');
    at('2026-11-20T01:30:00Z');
    const resumable = await killedRun(repository, 'r1');
    const stale = storage.objects.get(`checkpoints/${superseded.id}`)!;
    expect(storage.names('checkpoints/')).toHaveLength(2);

    const dry = await prune(repository, { dryRun: true });
    expect(dry.checkpointsRemoved).toBe(1);
    expect(storage.names('checkpoints/')).toHaveLength(2);
    const report = await prune(repository, { unindexedGraceMs: 0 });
    expect(report.checkpointsRemoved).toBe(1);
    expect(storage.names('checkpoints/')).toEqual([`checkpoints/${resumable.id}`]);
    const reopened = await Repository.open(storage, { key: KEY });
    expect((await check(reopened, { readData: true })).errors).toEqual([]);

    at('2026-11-20T02:00:00Z');
    const retry = await repository.snapshotWriter({ policy: 'p', run: 'r1', shard: 0, parent: 'latest' });
    expect(retry.resumedFrom).toEqual([resumable.id]);
    await retry.abort();

    // Once a later snapshot is committed, a checkpoint left behind is of no use either.
    await commitRun(repository, 'r1');
    storage.objects.set(`checkpoints/${superseded.id}`, stale);
    expect((await prune(repository, { unindexedGraceMs: 0 })).checkpointsRemoved).toBe(1);
    expect(storage.names('checkpoints/')).toEqual([]);
    expect((await check(await Repository.open(storage, { key: KEY }), { readData: true })).errors).toEqual([]);
  });
});
