// A stopped run, seen from the services: through the real Graph client, a request whose wait
// (Retry-After, a paused mailbox) or flight is cut short by the run's signal rejects with the
// signal's reason itself, never as a SourceError, and so does every download of a $batch.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../runtime/fake-clock.ts';
import { SourceError } from '../provider.ts';
import type { MicrosoftAuth } from './auth.ts';
import { BatchDownloader } from './batch.ts';
import { GraphSession } from './graph.ts';

let server: Server;
let origin: string;
let requests: string[] = [];
let respond: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    respond(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
});

const throttle = (_req: IncomingMessage, res: ServerResponse): void => {
  res
    .writeHead(429, { 'content-type': 'application/json', 'retry-after': '300' })
    .end(JSON.stringify({ error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxRequests limit.' } }));
};

/** Only what GraphSession asks of MicrosoftAuth: the Graph root and a token. */
function auth(): MicrosoftAuth {
  return {
    endpoints: { graphBaseUrl: origin, authorityHost: origin },
    token: () => Promise.resolve({ token: 'token', expiresOn: null, roles: [] }),
  } as unknown as MicrosoftAuth;
}

function session(signal?: AbortSignal): { session: GraphSession; clock: FakeClock } {
  const clock = new FakeClock();
  return { session: new GraphSession(auth(), { clock, timers: clock, ...(signal ? { signal } : {}) }), clock };
}

const failureOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('resolved'),
    (error: unknown) => error,
  );

describe('GraphSession with the run signal', () => {
  it('rejects with the signal reason when the run stops during a Retry-After of 300 s, and sends nothing more', async () => {
    respond = throttle;
    const controller = new AbortController();
    const { session: graph, clock } = session(controller.signal);
    const failure = failureOf(graph.get('/users/ann/mailFolders'));
    await vi.waitFor(() => expect(graph.governor.stats.waitingToRetry).toBe(1));
    controller.abort();
    const error = await failure;
    expect(error).toBe(controller.signal.reason);
    expect(error).not.toBeInstanceOf(SourceError);
    expect((error as Error).name).toBe('AbortError');
    await clock.advance(600_000);
    expect(requests).toHaveLength(1);
    // Later requests of the stopped run are not sent at all.
    await expect(graph.get('/users/bob/mailFolders')).rejects.toBe(controller.signal.reason);
    expect(requests).toHaveLength(1);
  });

  it('aborts a request in flight with the reason the caller gave', async () => {
    respond = () => undefined; // never answers
    const controller = new AbortController();
    const { session: graph } = session(controller.signal);
    const failure = failureOf(graph.bytes('/users/ann/messages/m1/$value'));
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    const reason = new DOMException('The run passed its deadline.', 'TimeoutError');
    controller.abort(reason);
    expect(await failure).toBe(reason);
  });

  it('rejects every download of a $batch with the signal reason while the batch waits out its Retry-After', async () => {
    respond = throttle;
    const controller = new AbortController();
    const { session: graph } = session(controller.signal);
    const downloads = new BatchDownloader(graph);
    const failures = ['m1', 'm2', 'm3'].map((id) => failureOf(downloads.bytes('ann', `/users/ann/messages/${id}/$value`)));
    await vi.waitFor(() => expect(graph.governor.stats.waitingToRetry).toBe(1));
    expect(requests).toEqual(['POST /v1.0/$batch']);
    controller.abort();
    for (const error of await Promise.all(failures)) expect(error).toBe(controller.signal.reason);
    expect(requests).toEqual(['POST /v1.0/$batch']);
  });

  it('still reports what the source answered as a SourceError while the signal has not aborted', async () => {
    respond = (_req, res) =>
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.' } }));
    const controller = new AbortController();
    const { session: graph } = session(controller.signal);
    const error = await failureOf(graph.get('/users/ann/messages/gone'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ status: 404, issue: { source: 'graph', code: 'ErrorItemNotFound' } });
  });
});
