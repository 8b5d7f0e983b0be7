// The Storage contract, run against FileStorage (a temp dir) and S3Storage (the shared MinIO, whose
// bucket has versioning and Object Lock), followed by what only one backend has: Object Lock and
// S3's failure modes (unreachable, wrong secret, missing bucket, transient errors), and the file
// backend's truncated reads and crash leftovers.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRepositoryError } from '../../src/repository/errors.ts';
import type { RepositoryErrorCode } from '../../src/repository/errors.ts';
import { FileStorage } from '../../src/repository/storage/file.ts';
import { InvalidObjectNameError } from '../../src/repository/storage/names.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import type { S3StorageOptions } from '../../src/repository/storage/s3.ts';
import type { ObjectInfo, Storage } from '../../src/repository/storage/storage.ts';
import { sharedMinio, sharedMinioClient } from '../envtest/context.ts';

const minio = sharedMinio();
const bucket = minio.bucket;
const s3Client = sharedMinioClient();
/** Every S3 key this file writes is under this prefix. */
const FILE_PREFIX = `storage-test-${randomBytes(4).toString('hex')}`;
const tempRoot = mkdtempSync(join(tmpdir(), 'saasbackup-storage-test-'));
let counter = 0;

const unique = (label: string) => `${label}-${++counter}-${randomBytes(3).toString('hex')}`;

function s3Options(overrides: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    endpoint: minio.endpoint,
    bucket,
    prefix: `${FILE_PREFIX}/${unique('s3')}`,
    region: minio.region,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    ...overrides,
  };
}

interface Backend {
  label: string;
  /** A fresh, empty storage; `neighbour` is another one whose location starts with the same characters. */
  make(): { storage: Storage; neighbour: Storage };
}

const backends: Backend[] = [
  {
    label: 'FileStorage',
    make: () => {
      const root = join(tempRoot, unique('file'));
      return { storage: new FileStorage(root), neighbour: new FileStorage(`${root}-b`) };
    },
  },
  {
    label: 'S3Storage',
    make: () => {
      const options = s3Options();
      return { storage: new S3Storage(options), neighbour: new S3Storage({ ...options, prefix: `${options.prefix}-b` }) };
    },
  },
];

async function collect(objects: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const all: ObjectInfo[] = [];
  for await (const object of objects) all.push(object);
  return all.sort((a, b) => a.name.localeCompare(b.name));
}

/** The rejection of `promise`, which must be a RepositoryError with `code`. */
async function repositoryError(promise: Promise<unknown>, code: RepositoryErrorCode): Promise<Error> {
  const err: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!isRepositoryError(err, code)) throw new Error(`expected RepositoryError ${code}, got ${inspect(err)}`);
  return err;
}

/** All versions and delete markers of a key in the shared bucket. */
async function versionsOf(key: string): Promise<{ name: string; versionId: string; isDeleteMarker: boolean }[]> {
  const all: { name: string; versionId: string; isDeleteMarker: boolean }[] = [];
  const entries = s3Client.listObjects(bucket, key, true, { IncludeVersion: true }) as AsyncIterable<{
    name: string;
    versionId: string;
    isDeleteMarker: boolean;
  }>;
  for await (const entry of entries) if (entry.name === key) all.push(entry);
  return all;
}

const HOSTILE_NAMES = [
  '',
  '.',
  '..',
  '../escape',
  '/etc/passwd',
  'a/../../escape',
  'a/./b',
  'a//b',
  'a/',
  'a\\..\\..\\escape',
  'nul\u0000byte',
  'line\nbreak',
  'data/.hidden',
];
const HOSTILE_PREFIXES = ['../', '/abs', 'a/../', '..', 'a\\b'];

afterAll(async () => {
  rmSync(tempRoot, { recursive: true, force: true });
  // COMPLIANCE versions stay until their date; everything else goes.
  const entries = s3Client.listObjects(bucket, `${FILE_PREFIX}/`, true, { IncludeVersion: true }) as AsyncIterable<{
    name: string;
    versionId: string;
  }>;
  for await (const entry of entries) {
    await s3Client.removeObject(bucket, entry.name, { versionId: entry.versionId, governanceBypass: true }).catch(() => undefined);
  }
});

describe.each(backends)('Storage contract: $label', (backend) => {
  it('reads back what it wrote: 0 bytes, small, 20 MiB', async () => {
    const { storage } = backend.make();
    const large = randomBytes(20 * 1024 * 1024);
    await storage.put('empty', Buffer.alloc(0));
    await storage.put('data/ab/small', Buffer.from('hello, repository'));
    await storage.put('data/cd/large', large);

    expect(await storage.get('empty')).toEqual(Buffer.alloc(0));
    expect((await storage.get('data/ab/small')).toString()).toBe('hello, repository');
    expect((await storage.get('data/cd/large')).equals(large)).toBe(true);
    expect(await storage.stat('empty')).toMatchObject({ name: 'empty', size: 0 });
    expect(await storage.stat('data/cd/large')).toMatchObject({ name: 'data/cd/large', size: large.length });
    expect((await storage.stat('data/ab/small'))?.lastModified).toBeInstanceOf(Date);
  });

  it('reports a missing object: get → NotFound, stat → undefined', async () => {
    const { storage } = backend.make();
    const err = await repositoryError(storage.get('data/00/missing'), 'NotFound');
    expect(err.message).toContain('data/00/missing');
    await repositoryError(storage.get('data/00/missing', { offset: 0, length: 4 }), 'NotFound');
    expect(await storage.stat('data/00/missing')).toBeUndefined();
    // A "folder" of other objects is not an object either.
    await storage.put('data/11/x', Buffer.from('x'));
    expect(await storage.stat('data/11')).toBeUndefined();
    await repositoryError(storage.get('data/11'), 'NotFound');
  });

  it('reads byte ranges', async () => {
    const { storage } = backend.make();
    const data = randomBytes(1000);
    await storage.put('pack', data);
    expect(await storage.get('pack', { offset: 0, length: 10 })).toEqual(data.subarray(0, 10));
    expect(await storage.get('pack', { offset: 500, length: 123 })).toEqual(data.subarray(500, 623));
    expect(await storage.get('pack', { offset: 999, length: 1 })).toEqual(data.subarray(999));
    expect(await storage.get('pack', { offset: 0, length: 1000 })).toEqual(data);
    expect(await storage.get('pack', { offset: 1000, length: 0 })).toEqual(Buffer.alloc(0));
    expect(await storage.get('pack', { offset: 10, length: 0 })).toEqual(Buffer.alloc(0));
    await expect(storage.get('pack', { offset: -1, length: 1 })).rejects.toThrow(RangeError);
  });

  it('reports a range beyond the end as Corrupt (truncated)', async () => {
    const { storage } = backend.make();
    await storage.put('data/ab/short', randomBytes(100));
    const partly = await repositoryError(storage.get('data/ab/short', { offset: 90, length: 20 }), 'Corrupt');
    expect(partly.message).toBe('object data/ab/short is truncated: expected 20 bytes at offset 90, got 10');
    const beyond = await repositoryError(storage.get('data/ab/short', { offset: 200, length: 5 }), 'Corrupt');
    expect(beyond.message).toBe('object data/ab/short is truncated: expected 5 bytes at offset 200, got 0');
  });

  it('lists by prefix with names relative to the repository and right sizes', async () => {
    const { storage, neighbour } = backend.make();
    await storage.put('config', Buffer.from('c'));
    await storage.put('data/aa/1', Buffer.alloc(11));
    await storage.put('data/aa/2', Buffer.alloc(22));
    await storage.put('data/ab/3', Buffer.alloc(33));
    await storage.put('index/x', Buffer.alloc(44));
    await neighbour.put('data/aa/neighbour', Buffer.alloc(1));

    const sizes = async (prefix: string) => (await collect(storage.list(prefix))).map((o) => [o.name, o.size]);
    expect(await sizes('data/')).toEqual([
      ['data/aa/1', 11],
      ['data/aa/2', 22],
      ['data/ab/3', 33],
    ]);
    expect(await sizes('data/aa')).toEqual([
      ['data/aa/1', 11],
      ['data/aa/2', 22],
    ]);
    expect(await sizes('data/a')).toHaveLength(3);
    expect(await sizes('')).toEqual([
      ['config', 1],
      ['data/aa/1', 11],
      ['data/aa/2', 22],
      ['data/ab/3', 33],
      ['index/x', 44],
    ]);
    expect(await sizes('conf')).toEqual([['config', 1]]);
    expect(await sizes('nothing/')).toEqual([]);
    expect((await collect(storage.list('')))[0]?.lastModified).toBeInstanceOf(Date);
    expect(await collect(neighbour.list(''))).toHaveLength(1);
  });

  it('overwrites an object whole', async () => {
    const { storage } = backend.make();
    await storage.put('index/0', Buffer.from('first version, longer'));
    await storage.put('index/0', Buffer.from('second'));
    expect((await storage.get('index/0')).toString()).toBe('second');
    expect((await storage.stat('index/0'))?.size).toBe(6);
    expect((await collect(storage.list('index/'))).map((o) => o.name)).toEqual(['index/0']);
  });

  it('deletes idempotently', async () => {
    const { storage } = backend.make();
    await storage.put('locks/a', Buffer.from('a'));
    await storage.put('locks/b', Buffer.from('b'));
    await storage.delete('locks/a');
    await storage.delete('locks/a');
    await storage.delete('locks/never-existed');
    await storage.delete('no/such/folder/either');
    await storage.delete('locks'); // a "folder" holding locks/b is no object
    expect((await storage.get('locks/b')).toString()).toBe('b');
    expect(await storage.stat('locks/a')).toBeUndefined();
    await repositoryError(storage.get('locks/a'), 'NotFound');
    expect((await collect(storage.list(''))).map((o) => o.name)).toEqual(['locks/b']);
  });

  it('takes names with spaces, unicode and characters special in URLs', async () => {
    const { storage } = backend.make();
    const names = ['odd/a b+c%20d&e=f?g#h:i;j,k@l$m!n~o*p(q)r[s]t', 'odd/ünïcødé-€-名前', 'odd/\'quotes"'];
    for (const name of names) await storage.put(name, Buffer.from(name));
    for (const name of names) {
      expect((await storage.get(name)).toString(), name).toBe(name);
      expect((await storage.stat(name))?.size, name).toBe(Buffer.byteLength(name));
    }
    expect((await collect(storage.list('odd/'))).map((o) => o.name)).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    for (const name of names) await storage.delete(name);
    expect(await collect(storage.list('odd/'))).toEqual([]);
  });

  it('refuses hostile names and prefixes, and writes nothing for them', async () => {
    const { storage } = backend.make();
    for (const name of HOSTILE_NAMES) {
      await expect(storage.put(name, Buffer.from('x')), JSON.stringify(name)).rejects.toThrow(InvalidObjectNameError);
      await expect(storage.get(name), JSON.stringify(name)).rejects.toThrow(InvalidObjectNameError);
      await expect(storage.get(name, { offset: 0, length: 1 })).rejects.toThrow(InvalidObjectNameError);
      await expect(storage.stat(name), JSON.stringify(name)).rejects.toThrow(InvalidObjectNameError);
      await expect(storage.delete(name), JSON.stringify(name)).rejects.toThrow(InvalidObjectNameError);
    }
    for (const prefix of HOSTILE_PREFIXES) {
      await expect(collect(storage.list(prefix)), JSON.stringify(prefix)).rejects.toThrow(InvalidObjectNameError);
    }
    await expect(storage.put('../escape', Buffer.from('x'))).rejects.toThrow('invalid object name "../escape"');
    expect(await collect(storage.list(''))).toEqual([]);
  });
});

describe('FileStorage', () => {
  it('keeps objects inside its root whatever the name', async () => {
    const parent = join(tempRoot, unique('jail'));
    const storage = new FileStorage(join(parent, 'repo'));
    for (const name of HOSTILE_NAMES) await storage.put(name, Buffer.from('x')).catch(() => undefined);
    await storage.put('ok', Buffer.from('x'));
    expect(readdirSync(parent)).toEqual(['repo']);
    expect(readdirSync(join(parent, 'repo'))).toEqual(['ok']);
    expect(storage.location).toBe(join(parent, 'repo'));
  });

  it('reports a short read of a truncated file as Corrupt', async () => {
    const root = join(tempRoot, unique('trunc'));
    const storage = new FileStorage(root);
    await storage.put('data/ab/abcdef', randomBytes(100));
    truncateSync(join(root, 'data', 'ab', 'abcdef'), 50);
    const err = await repositoryError(storage.get('data/ab/abcdef', { offset: 40, length: 30 }), 'Corrupt');
    expect(err.message).toBe('object data/ab/abcdef is truncated: expected 30 bytes at offset 40, got 10');
  });

  it('leaves no temp file after a put, skips crash leftovers in list and removes stale ones', async () => {
    const root = join(tempRoot, unique('temp'));
    const storage = new FileStorage(root);
    await storage.put('data/ab/1', Buffer.from('one'));
    expect(readdirSync(join(root, 'data', 'ab'))).toEqual(['1']);

    // What a put killed between write and rename leaves behind.
    const stale = join(root, 'data', 'ab', '.tmp-0123456789abcdef');
    const fresh = join(root, 'data', '.tmp-fedcba9876543210');
    writeFileSync(stale, 'partial');
    writeFileSync(fresh, 'in flight');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(stale, hourAgo, hourAgo);

    expect((await collect(storage.list(''))).map((o) => o.name)).toEqual(['data/ab/1']);
    expect(await storage.removeStaleTempFiles(new Date(Date.now() - 600_000))).toBe(1);
    expect(readdirSync(join(root, 'data', 'ab'))).toEqual(['1']);
    expect(readdirSync(join(root, 'data')).sort()).toEqual(['.tmp-fedcba9876543210', 'ab']);
  });

  it('never shows a reader a partly written object', async () => {
    const storage = new FileStorage(join(tempRoot, unique('atomic')));
    const a = Buffer.alloc(4 * 1024 * 1024, 'a');
    const b = Buffer.alloc(4 * 1024 * 1024, 'b');
    await storage.put('index/hot', a);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await storage.put('index/hot', i % 2 === 0 ? b : a);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const got = await storage.get('index/hot');
      expect(got.equals(a) || got.equals(b)).toBe(true);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });

  it('has no Object Lock and ignores a retention', async () => {
    const storage = new FileStorage(join(tempRoot, unique('lock')));
    expect(storage.supportsObjectLock).toBe(false);
    await storage.put('data/ab/x', Buffer.from('x'), {
      retention: { mode: 'COMPLIANCE', retainUntil: new Date(Date.now() + 86_400_000) },
    });
    await storage.delete('data/ab/x');
    expect(await storage.stat('data/ab/x')).toBeUndefined();
  });

  it('says so when a folder is in the way of an object', async () => {
    const root = join(tempRoot, unique('way'));
    const storage = new FileStorage(root);
    await mkdir(join(root, 'data', 'ab', 'abc'), { recursive: true });
    const err = await repositoryError(storage.put('data/ab/abc', Buffer.from('x')), 'Unavailable');
    expect(err.message).toContain('data/ab/abc');
    expect(err.message).toContain('in the way');
  });
});

describe('S3Storage and Object Lock', () => {
  const tomorrow = () => new Date(Date.now() + 86_400_000);

  it.each(['GOVERNANCE', 'COMPLIANCE'] as const)('cannot delete an object put with a %s retention', async (mode) => {
    const options = s3Options();
    const storage = new S3Storage(options);
    const retainUntil = tomorrow();
    const name = `data/ab/${mode.toLowerCase()}`;
    const key = `${options.prefix}/${name}`;
    await storage.put(name, Buffer.from('locked'), { retention: { mode, retainUntil } });

    // The retention came with the PUT, as real headers, not as user metadata.
    const retention = await s3Client.getObjectRetention(bucket, key);
    expect(retention?.mode).toBe(mode);
    const until = new Date(retention?.retainUntilDate ?? 0);
    expect(until.getTime()).toBeGreaterThanOrEqual(retainUntil.getTime());
    expect(until.getTime()).toBeLessThan(retainUntil.getTime() + 2_000);
    const stat = await s3Client.statObject(bucket, key);
    expect(Object.keys(stat.metaData).filter((k) => k.includes('lock'))).toEqual([]);

    const err = await repositoryError(storage.delete(name), 'ObjectLocked');
    expect(err.message).toContain(name);
    expect(err.message).toContain(mode);
    expect(err.message).toContain(until.toISOString());
    expect((await storage.get(name)).toString()).toBe('locked');
    expect(await storage.stat(name)).toMatchObject({ size: 6 });
    expect(await versionsOf(key)).toHaveLength(1);
  });

  it('removes every version of an object without retention, leaving nothing', async () => {
    const options = s3Options();
    const storage = new S3Storage(options);
    const key = `${options.prefix}/data/cd/plain`;
    await storage.put('data/cd/plain', Buffer.from('v1'));
    await storage.put('data/cd/plain', Buffer.from('v2'));
    await storage.put('data/cd/plainer', Buffer.from('a longer name that shares the prefix'));
    expect(await versionsOf(key)).toHaveLength(2);

    await storage.delete('data/cd/plain');
    expect(await versionsOf(key)).toEqual([]);
    expect(await storage.stat('data/cd/plain')).toBeUndefined();
    expect((await storage.get('data/cd/plainer')).toString()).toContain('longer');
  });

  it('also removes the versions behind a delete marker someone else left', async () => {
    const options = s3Options();
    const storage = new S3Storage(options);
    const key = `${options.prefix}/config`;
    await storage.put('config', Buffer.from('c'));
    await s3Client.removeObject(bucket, key); // a delete marker, not a delete
    expect((await versionsOf(key)).map((v) => v.isDeleteMarker).sort()).toEqual([false, true]);
    await storage.delete('config');
    expect(await versionsOf(key)).toEqual([]);
  });

  it('keeps the current version when an older one is locked', async () => {
    const options = s3Options();
    const storage = new S3Storage(options);
    await storage.put('index/mixed', Buffer.from('old, locked'), { retention: { mode: 'GOVERNANCE', retainUntil: tomorrow() } });
    await storage.put('index/mixed', Buffer.from('current'));
    await repositoryError(storage.delete('index/mixed'), 'ObjectLocked');
    expect((await storage.get('index/mixed')).toString()).toBe('current');
  });

  it('tells whether the bucket has Object Lock, and what a put with retention needs', async () => {
    expect(new S3Storage(s3Options()).supportsObjectLock).toBe(true);
    expect(await new S3Storage(s3Options()).bucketHasObjectLock()).toBe(true);

    const plainBucket = `storage-plain-${randomBytes(4).toString('hex')}`;
    await s3Client.makeBucket(plainBucket, minio.region);
    try {
      const storage = new S3Storage(s3Options({ bucket: plainBucket, prefix: 'repo' }));
      expect(await storage.bucketHasObjectLock()).toBe(false);
      const err = await repositoryError(
        storage.put('data/ab/x', Buffer.from('x'), { retention: { mode: 'GOVERNANCE', retainUntil: tomorrow() } }),
        'Unavailable',
      );
      expect(err.message).toContain(`bucket ${plainBucket}`);
      expect(err.message).toContain('no Object Lock configuration');
      // An unversioned bucket: delete is a plain delete.
      await storage.put('data/ab/y', Buffer.from('y'));
      await storage.delete('data/ab/y');
      expect(await storage.stat('data/ab/y')).toBeUndefined();
    } finally {
      await s3Client.removeBucket(plainBucket);
    }
  });

  it('names bucket, prefix and endpoint in its location, never the credentials', () => {
    const storage = new S3Storage(s3Options({ prefix: '/tenant-a/m365/' }));
    expect(storage.location).toBe(`s3://${bucket}/tenant-a/m365 (${minio.endpoint})`);
    expect(storage.location).not.toContain(minio.secretKey);
    expect(storage.location).not.toContain(minio.accessKey);
  });
});

describe('S3Storage failures', () => {
  /** Every operation, each of which must fail the same way. */
  const everyOperation = (storage: Storage): [string, () => Promise<unknown>][] => [
    ['get', () => storage.get('data/ab/x')],
    ['range get', () => storage.get('data/ab/x', { offset: 1, length: 2 })],
    ['put', () => storage.put('data/ab/x', Buffer.from('x'))],
    ['stat', () => storage.stat('data/ab/x')],
    ['delete', () => storage.delete('data/ab/x')],
    ['list', () => collect(storage.list('data/'))],
  ];

  it('reports an unreachable endpoint as Unavailable, naming the endpoint', async () => {
    const storage = new S3Storage(s3Options({ endpoint: 'http://127.0.0.1:1' }));
    for (const [operation, run] of everyOperation(storage)) {
      const err = await repositoryError(run(), 'Unavailable');
      expect(err.message, operation).toContain('cannot reach S3 at http://127.0.0.1:1: connect ECONNREFUSED');
      expect(err.message, operation).toContain('spec.storage.s3.endpoint');
    }
  });

  it('reports a wrong secret key as refused credentials without revealing it', async () => {
    const secretKey = `wrong-${randomBytes(12).toString('hex')}`;
    for (const region of [minio.region, undefined]) {
      const storage = new S3Storage(s3Options({ secretKey, ...(region === undefined ? { region: undefined } : {}) }));
      for (const [operation, run] of everyOperation(storage)) {
        const err = await repositoryError(run(), 'Unavailable');
        expect(err.message, operation).toContain('refused the credentials');
        expect(err.message, operation).toContain('spec.storage.s3.credentialsSecretRef');
        expect(inspect(err, { depth: 10 }), operation).not.toContain(secretKey);
      }
    }
  });

  it('reports a missing bucket as Unavailable, naming the bucket', async () => {
    const missing = `no-such-bucket-${randomBytes(4).toString('hex')}`;
    const storage = new S3Storage(s3Options({ bucket: missing }));
    for (const [operation, run] of everyOperation(storage)) {
      const err = await repositoryError(run(), 'Unavailable');
      expect(err.message, operation).toContain(`bucket ${missing} does not exist at ${minio.endpoint}`);
    }
  });

  it('refuses endpoints that are no S3 root URL, without echoing credentials', () => {
    expect(() => new S3Storage(s3Options({ endpoint: 'minio:9000' }))).toThrow(/must start with https:\/\/ or http:\/\//);
    expect(() => new S3Storage(s3Options({ endpoint: 'http://minio:9000/bucket' }))).toThrow(/without a path/);
    expect(() => new S3Storage(s3Options({ endpoint: 'http://user:hunter2@minio:9000' }))).toThrow(/must not contain credentials/);
    expect(() => new S3Storage(s3Options({ endpoint: 'not a url' }))).toThrow(/is not a URL/);
    expect(() => new S3Storage(s3Options({ bucket: 'Bad_Bucket' }))).toThrow(/not a valid S3 bucket name/);
    expect(() => new S3Storage(s3Options({ prefix: 'a/../b' }))).toThrow(/spec\.storage\.s3\.prefix/);
    try {
      new S3Storage(s3Options({ endpoint: 'http://user:hunter2@minio:9000' }));
    } catch (err) {
      expect(String(err)).not.toContain('hunter2');
    }
  });
});

describe('S3Storage retries and timeouts', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  let respond: (req: IncomingMessage, res: ServerResponse, n: number) => void = () => undefined;

  beforeAll(async () => {
    // A stand-in S3 that answers as each test tells it; it does not check signatures.
    server = createServer((req, res) => {
      requests++;
      req.resume();
      respond(req, res, requests);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const fake = (overrides: Partial<S3StorageOptions> = {}) =>
    new S3Storage(s3Options({ endpoint, region: 'us-east-1', retryBaseDelayMs: 10, ...overrides }));
  const s3ErrorXml = (code: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} from the test server</Message></Error>`;

  it('retries 5xx answers, throttling and dropped connections, then succeeds', async () => {
    requests = 0;
    respond = (_req, res, n) => {
      if (n === 1) res.writeHead(503, { 'content-type': 'application/xml' }).end(s3ErrorXml('SlowDown'));
      else if (n === 2) res.socket?.destroy();
      else if (n === 3)
        res.writeHead(502).end(); // a proxy's answer: no S3 error body
      else if (n === 4) res.writeHead(500, { 'content-type': 'application/xml' }).end(s3ErrorXml('InternalError'));
      else res.writeHead(200, { 'content-length': '5' }).end('hello');
    };
    expect((await fake({ maxAttempts: 5 }).get('data/ab/x')).toString()).toBe('hello');
    expect(requests).toBe(5);
  });

  it('gives up after maxAttempts with Unavailable', async () => {
    requests = 0;
    respond = (_req, res) => res.writeHead(500, { 'content-type': 'application/xml' }).end(s3ErrorXml('InternalError'));
    const err = await repositoryError(fake({ maxAttempts: 3 }).put('data/ab/x', Buffer.from('x')), 'Unavailable');
    expect(err.message).toContain('InternalError');
    expect(err.message).toContain('after 3 attempts');
    expect(requests).toBe(3);
  });

  it('does not retry what another attempt cannot fix', async () => {
    requests = 0;
    respond = (_req, res) => res.writeHead(403, { 'content-type': 'application/xml' }).end(s3ErrorXml('InvalidAccessKeyId'));
    await repositoryError(fake().get('data/ab/x'), 'Unavailable');
    expect(requests).toBe(1);
  });

  it('abandons a request that makes no progress', async () => {
    requests = 0;
    respond = () => undefined; // never answers
    const started = Date.now();
    const err = await repositoryError(fake({ requestTimeoutMs: 200, maxAttempts: 2 }).get('data/ab/x'), 'Unavailable');
    expect(err.message).toContain(`cannot reach S3 at ${endpoint}: no progress from S3 for 200 ms (after 2 attempts)`);
    expect(requests).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
