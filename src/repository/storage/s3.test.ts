// S3Storage's wait between attempts against a stand-in S3 on 127.0.0.1 (no MinIO): the jitter is
// the injected randomness, and when the run's signal aborts the wait ends at once and the
// operation fails with Unavailable, saying the retries were abandoned because the run stopped.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../runtime/fake-clock.ts';
import { RepositoryError } from '../errors.ts';
import { S3Storage } from './s3.ts';
import type { S3StorageOptions } from './s3.ts';

let server: Server;
let endpoint: string;
let requests = 0;
let respond: (req: IncomingMessage, res: ServerResponse, n: number) => void = () => undefined;

beforeAll(async () => {
  // It does not check signatures.
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

beforeEach(() => {
  requests = 0;
});

const slowDown = (_req: IncomingMessage, res: ServerResponse): void => {
  res
    .writeHead(503, { 'content-type': 'application/xml' })
    .end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
};

/** Ten minutes before the second attempt: a test that passes did not wait it out. */
const BASE_DELAY_MS = 600_000;

function storage(overrides: Partial<S3StorageOptions> = {}): { storage: S3Storage; clock: FakeClock } {
  const clock = new FakeClock();
  const s3 = new S3Storage({
    endpoint,
    bucket: 'backups',
    prefix: 'tenant',
    region: 'us-east-1',
    accessKey: 'test-access',
    secretKey: 'test-secret',
    maxAttempts: 5,
    retryBaseDelayMs: BASE_DELAY_MS,
    timers: clock,
    random: () => 0.5,
    ...overrides,
  });
  return { storage: s3, clock };
}

async function failure(promise: Promise<unknown>): Promise<RepositoryError> {
  const error = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RepositoryError);
  return error as RepositoryError;
}

describe('S3Storage between attempts', () => {
  it('waits the base delay plus the injected jitter before trying again', async () => {
    respond = (req, res, n) => (n === 1 ? slowDown(req, res) : res.writeHead(200, { 'content-length': '5' }).end('hello'));
    const { storage: s3, clock } = storage();
    const read = s3.get('data/ab/x');
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    // 600 s, plus half of the 50% jitter (random 0.5): 750 s.
    await clock.advance(749_999);
    expect(requests).toBe(1);
    await clock.advance(1);
    expect((await read).toString()).toBe('hello');
    expect(requests).toBe(2);
  });

  it('abandons the wait when the signal aborts, failing with Unavailable because the run stopped', async () => {
    respond = slowDown;
    const controller = new AbortController();
    const { storage: s3, clock } = storage({ signal: controller.signal });
    const write = failure(s3.put('data/ab/x', Buffer.from('x')));
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    controller.abort();
    const err = await write;
    expect(err.code).toBe('Unavailable');
    expect(err.reason).toBe('StorageUnavailable');
    expect(err.message).toBe(
      `cannot write object data/ab/x at S3 ${endpoint}: retries abandoned because the run stopped (after 1 attempt; last error: SlowDown: Please reduce your request rate.)`,
    );
    // No time passed on the clock: the ten-minute wait was given up, not served, and no attempt followed.
    expect(clock.pendingTimers).toBe(0);
    expect(requests).toBe(1);
  });

  it('still makes the first attempt once the signal has aborted, and does not try again', async () => {
    const controller = new AbortController();
    controller.abort();
    const { storage: s3 } = storage({ signal: controller.signal });
    respond = (_req, res) => res.writeHead(200, { 'content-length': '2' }).end('ok');
    expect((await s3.get('data/ab/x')).toString()).toBe('ok');
    respond = slowDown;
    const err = await failure(s3.get('data/ab/y'));
    expect(err.message).toContain('retries abandoned because the run stopped (after 1 attempt');
    expect(requests).toBe(2);
  });

  it('abandons the retries of a listing too', async () => {
    respond = slowDown;
    const controller = new AbortController();
    const { storage: s3, clock } = storage({ signal: controller.signal });
    const listing = (async () => {
      for await (const entry of s3.list('data/')) void entry;
    })();
    const err = failure(listing);
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    controller.abort();
    expect((await err).message).toMatch(/^cannot list objects under "data\/" at S3 .*: retries abandoned because the run stopped/);
    expect(requests).toBe(1);
  });

  it('gives up after maxAttempts as before when the signal never aborts', async () => {
    respond = slowDown;
    const { storage: s3, clock } = storage({ maxAttempts: 2, signal: new AbortController().signal });
    const read = failure(s3.get('data/ab/x'));
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    await clock.advance(750_000);
    const err = await read;
    expect(err.message).toContain('SlowDown');
    expect(err.message).toContain('after 2 attempts');
    expect(err.message).not.toContain('abandoned');
    expect(requests).toBe(2);
  });
});
