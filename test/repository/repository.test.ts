// The repository on real storage: a directory and the real MinIO (with versioning and Object
// Lock). Round trip of 10,000 items with exact content, deduplication across accounts, damage
// found and contained, Object Lock honoured by prune, and the errors an operator sees.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../src/repository/check.ts';
import { isRepositoryError } from '../../src/repository/errors.ts';
import { forget } from '../../src/repository/forget.ts';
import type { ItemInput } from '../../src/repository/model.ts';
import { prune } from '../../src/repository/prune.ts';
import { Repository } from '../../src/repository/repository.ts';
import { FileStorage } from '../../src/repository/storage/file.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import type { Storage } from '../../src/repository/storage/storage.ts';
import { sharedMinio } from '../envtest/context.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'integration-test-repository-key';
const minio = sharedMinio();
const dirs: string[] = [];
let prefixes = 0;

afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-repo-'));
  dirs.push(dir);
  return dir;
}

function s3(prefix = `repo-test-${process.pid}-${++prefixes}-${Date.now().toString(36)}`): S3Storage {
  return new S3Storage({
    endpoint: minio.endpoint,
    bucket: minio.bucket,
    prefix,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    region: minio.region,
  });
}

const backends: [string, () => Storage][] = [
  ['a directory', () => new FileStorage(tempDir())],
  ['MinIO', () => s3()],
];

/**
 * Deterministic content of item n: mail-like text, and every 50th item one of 5 attachments that
 * many mailboxes share (Graph returns attachments as items of their own, so they deduplicate whole).
 */
const attachments = Array.from({ length: 5 }, () => randomBytes(64 * 1024));
function content(n: number): Buffer {
  if (n % 50 === 0) return attachments[n % 5]!;
  return Buffer.from(`From: user${n % 37}@contoso.com\r\nSubject: message ${n}\r\n\r\n${'lorem ipsum dolor '.repeat(20 + (n % 200))}${n}`);
}
function item(n: number, account = `user${n % 20}@contoso.com`): ItemInput {
  const body = content(n);
  return {
    account,
    service: 'mail',
    id: `msg-${n}`,
    version: 'v1',
    path: `Inbox/${n % 7}`,
    name: `message ${n}`,
    size: body.length,
    modified: '2026-11-01T00:00:00Z',
    content: async () => body,
  };
}

async function writeSnapshot(repository: Repository, items: ItemInput[], runName = 'r1') {
  const writer = await repository.snapshotWriter({ policy: 'daily', run: runName, shard: 0, parent: 'latest' });
  const inFlight = new Set<Promise<unknown>>();
  for (const i of items) {
    const p = writer.addItem(i).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 16) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return writer.commit();
}

describe.each(backends)('the repository on %s', (_, makeStorage) => {
  it('round-trips 10,000 items with exact content and metadata, and stores shared content once', async () => {
    const storage = makeStorage();
    const items = Array.from({ length: 10_000 }, (_, n) => item(n));
    const snapshot = await writeSnapshot(await Repository.init(storage, { key: KEY }), items);
    expect(snapshot.stats.items).toBe(10_000);

    const repository = await Repository.open(storage, { key: KEY });
    let seen = 0;
    for await (const entry of repository.items(await repository.snapshot(snapshot.id))) {
      const n = Number(entry.id.slice(4));
      expect(entry).toMatchObject({ account: `user${n % 20}@contoso.com`, path: `Inbox/${n % 7}`, name: `message ${n}`, version: 'v1' });
      expect((await repository.readContent(entry)).equals(content(n)), entry.id).toBe(true);
      seen += 1;
    }
    expect(seen).toBe(10_000);
    // 200 items are attachments, but only 5 distinct ones are stored.
    const attachmentBytes = 200 * 64 * 1024;
    const catalogAllowance = 10_000 * 400;
    expect(snapshot.stats.bytesAdded).toBeLessThan(snapshot.stats.bytesIn - attachmentBytes + 5 * 64 * 1024 + catalogAllowance);
    let objects = 0;
    for await (const object of storage.list('data/')) objects += object.size > 0 ? 1 : 0;
    expect(objects).toBeLessThan(20);
    expect((await check(repository, { readData: true })).errors).toEqual([]);
  }, 300_000);

  it('stores identical content in different accounts once', async () => {
    const storage = makeStorage();
    const repository = await Repository.init(storage, { key: KEY });
    const shared = randomBytes(1024 * 1024);
    const snapshot = await writeSnapshot(
      repository,
      Array.from({ length: 30 }, (_, n) => ({ ...item(n, `user${n}@contoso.com`), size: shared.length, content: async () => shared })),
    );
    expect(snapshot.stats.bytesIn).toBe(30 * shared.length);
    expect(snapshot.stats.bytesAdded).toBeLessThan(1.1 * shared.length);
  });

  it('gives clear errors for a wrong key and a missing repository', async () => {
    const storage = makeStorage();
    await Repository.init(storage, { key: KEY });
    const wrong = await Repository.open(storage, { key: 'some-other-key' }).catch((e: unknown) => e);
    expect(isRepositoryError(wrong, 'WrongKey') && wrong.message).toContain(storage.location);
    const missing = await Repository.open(makeStorage(), { key: KEY }).catch((e: unknown) => e);
    expect(isRepositoryError(missing, 'RepositoryNotFound') && missing.message).toContain('there is no repository');
  });
});

describe('damage on a real directory', () => {
  it('check --read-data names the damaged items of a flipped pack and of a truncated pack; all others restore', async () => {
    const dir = tempDir();
    const storage = new FileStorage(dir);
    await writeSnapshot(
      await Repository.init(storage, { key: KEY }),
      Array.from({ length: 400 }, (_, n) => item(n)),
    );
    const packs: string[] = [];
    for await (const object of storage.list('data/')) packs.push(object.name);
    const flipped = path.join(dir, packs[0]!);
    const bytes = Buffer.from(await storage.get(packs[0]!));
    bytes[Math.floor(bytes.length / 3)]! ^= 0x40;
    writeFileSync(flipped, bytes);

    const repository = await Repository.open(storage, { key: KEY });
    const report = await check(repository, { readData: true });
    expect(report.errors.some((e) => e.includes(packs[0]!))).toBe(true);
    expect(report.affected.length).toBeGreaterThan(0);
    const damaged = new Set(report.affected.map((a) => a.itemId));
    let restored = 0;
    for await (const entry of repository.items((await repository.snapshots())[0]!)) {
      if (damaged.has(entry.id)) continue;
      expect((await repository.readContent(entry)).equals(content(Number(entry.id.slice(4))))).toBe(true);
      restored += 1;
    }
    expect(restored).toBe(400 - damaged.size);

    // The CLI says the same to an operator, with a non-zero exit code.
    const cli = await run(
      path.join(ROOT, 'node_modules/.bin/node'),
      [path.join(ROOT, 'src/cli/main.ts'), 'repo', '--repo', dir, 'check', '--read-data'],
      {
        env: { ...process.env, SAASBACKUP_REPOSITORY_KEY: KEY },
      },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((cli as { code: number }).code).toBe(1);
    expect((cli as { stdout: string }).stdout).toContain('items affected:');
    expect((cli as { stdout: string }).stdout).toContain([...damaged][0]);

    const truncated = path.join(dir, packs[packs.length - 1]!);
    truncateSync(truncated, statSync(truncated).size - 100);
    const afterTruncation = await check(await Repository.open(storage, { key: KEY }));
    expect(afterTruncation.errors.join('\n')).toMatch(/truncated|bytes in storage but/);
  }, 120_000);

  it('keeps every item readable when an index file is damaged', async () => {
    const dir = tempDir();
    const storage = new FileStorage(dir);
    await writeSnapshot(
      await Repository.init(storage, { key: KEY }),
      Array.from({ length: 200 }, (_, n) => item(n)),
    );
    const indexFile = path.join(dir, 'index', readdirSync(path.join(dir, 'index'))[0]!);
    writeFileSync(indexFile, Buffer.from('not an index at all'));
    const repository = await Repository.open(storage, { key: KEY });
    const report = await check(repository, { readData: true });
    expect(report.errors.join()).toContain('index/');
    expect(report.affected).toEqual([]);
    for await (const entry of repository.items((await repository.snapshots())[0]!)) {
      expect((await repository.readContent(entry)).equals(content(Number(entry.id.slice(4))))).toBe(true);
    }
  });
});

describe('S3 Object Lock', () => {
  it('writes locked objects that MinIO refuses to delete, and prune reports what it cannot free yet', async () => {
    const storage = s3();
    await Repository.init(storage, { key: KEY });
    const repository = await Repository.open(storage, { key: KEY, objectLock: { mode: 'GOVERNANCE', periodMs: 86_400_000 } });
    await writeSnapshot(
      repository,
      Array.from({ length: 50 }, (_, n) => item(n)),
      'r1',
    );
    await writeSnapshot(repository, [item(1000)], 'r2');
    const packs: string[] = [];
    for await (const object of storage.list('data/')) packs.push(object.name);
    const refused = await storage.delete(packs[0]!).catch((e: unknown) => e);
    expect(isRepositoryError(refused, 'ObjectLocked')).toBe(true);

    const forgotten = await forget(repository, { keepLast: 1 });
    expect(forgotten.locked).toHaveLength(1);
    const report = await prune(repository, { unindexedGraceMs: 0 });
    expect(report.bytesFreed).toBe(0);
    expect(report.lockedUntil).toBeTruthy();
    const reopened = await Repository.open(storage, { key: KEY });
    expect((await check(reopened, { readData: true })).errors).toEqual([]);
    expect(await reopened.snapshots()).toHaveLength(2);
  }, 120_000);

  it('names an unreachable endpoint, and never shows the secret key', async () => {
    const storage = new S3Storage({
      endpoint: 'http://127.0.0.1:1',
      bucket: 'backups',
      prefix: 'p',
      accessKey: 'AKIA',
      secretKey: 'super-secret-value',
      maxAttempts: 1,
    });
    const error = await Repository.open(storage, { key: KEY }).catch((e: unknown) => e);
    expect(isRepositoryError(error, 'Unavailable')).toBe(true);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect(JSON.stringify(error) + String(error)).not.toContain('super-secret-value');
  });
});
