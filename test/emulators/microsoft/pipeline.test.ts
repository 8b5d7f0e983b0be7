// Contract of the emulator's shared pipeline, through the real msal-node and Graph client: JSON
// batching ($batch limits, dependsOn, 424, per-part statuses, base64 binary parts), throttling
// over HTTP (per-mailbox window and concurrency, the Graph client's RetryHandler honouring
// Retry-After, off by default), injected faults (reset, slow, cut JSON, transient 5xx, permanent
// errors, latency, a 429 with any Retry-After on demand), sources going away (revoked
// credentials, a deleted tenant), the request counters and export(), and next and delta links as
// Graph writes them (`$skiptoken=`, `$deltatoken=` with a literal `$`). Raw fetch only where a library cannot show the wire (Entra's metadata
// error behind msal's endpoints_resolution_error, the control API).
// Not here because the service tests cover them: the OneDrive/SharePoint resource-unit budget and
// expireDownloadUrls() (services/drive/drive.test.ts).
import { ResponseType } from '@microsoft/microsoft-graph-client';
import type { Client } from '@microsoft/microsoft-graph-client';
import type { ConfidentialClientApplication } from '@azure/msal-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCertificate } from '../shared/tls.ts';
import type { MicrosoftEmulator, MicrosoftEmulatorOptions } from './index.ts';
import type { User } from './tenant/directory.ts';
import { MICROSOFT_LIMITS, NO_LIMITS } from './throttle.ts';
import { accessToken, GRAPH_SCOPE, graphClient, graphClientWithoutRetry, msalClient, startEmulator } from './testing.ts';

/** Timers may fire up to a millisecond or two early against performance.now(). */
const CLOCK_SLACK_MS = 5;

const TENANT: MicrosoftEmulatorOptions['tenant'] = {
  seed: 'pipeline-contract',
  users: 3,
  unlicensedUsers: 0,
  sharedMailboxes: 0,
  groups: 1,
  sites: 1,
  teams: 0,
  mailFolders: 1,
  items: { mail: 6, events: 1, contacts: 1, files: 2, siteFiles: 1, channelMessages: 1 },
  sizes: { mailMedianBytes: 4 * 1024, sigma: 0.5, maxBytes: 64 * 1024 },
  duplicateAttachmentShare: 0,
};

interface PartResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

interface BatchResponse {
  responses: PartResponse[];
}

interface GraphErrorBody {
  error: { code: string; message: string; innerError: { date: string; 'request-id': string; 'client-request-id': string } };
}

interface GraphFailure {
  statusCode: number;
  code: string;
  message: string;
  requestId?: string | null;
  headers?: Headers;
}

interface MsalFailure {
  errorCode?: string;
  errorMessage?: string;
  message: string;
}

interface ExportedMailbox {
  account: string;
  folders: { id: string; path: string }[];
  messages: { id: string; subject: string; size: number; sha256: string }[];
}

let emulator: MicrosoftEmulator;
let client: Client;
let noRetry: Client;
let alice: User;
let bob: User;
let carol: User;
let initialExport: Record<string, unknown>;

async function failure<T = GraphFailure>(promise: Promise<unknown>): Promise<T> {
  try {
    await promise;
  } catch (err) {
    return err as T;
  }
  throw new Error('expected the call to fail');
}

function mailbox(em: MicrosoftEmulator, user: User): ExportedMailbox {
  const all = (em.export()['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes;
  const mb = all.find((m) => m.account === user.id);
  if (!mb) throw new Error('mailbox not exported');
  return mb;
}

type ExportedMessage = ExportedMailbox['messages'][number];

function messages(em: MicrosoftEmulator, user: User): [ExportedMessage, ExportedMessage, ExportedMessage, ...ExportedMessage[]] {
  const list = mailbox(em, user).messages;
  if (list.length < 3) throw new Error('too few messages');
  return list as [ExportedMessage, ExportedMessage, ExportedMessage, ...ExportedMessage[]];
}

function mailUsers(em: MicrosoftEmulator): [User, User, User] {
  const users = [...em.directory.users.values()].filter((u) => u.mailboxType === 'user');
  if (users.length < 3) throw new Error('expected three mailbox users');
  return users as [User, User, User];
}

async function batch(c: Client, requests: Record<string, unknown>[]): Promise<Map<string, PartResponse>> {
  const result = (await c.api('/$batch').post({ requests })) as BatchResponse;
  expect(result.responses).toHaveLength(requests.length);
  return new Map(result.responses.map((r) => [r.id, r]));
}

function part(parts: Map<string, PartResponse>, id: string): PartResponse {
  const r = parts.get(id);
  if (!r) throw new Error(`no response for part ${id}`);
  return r;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

function retryAfter(headers: Headers | Record<string, string> | undefined): number {
  const raw =
    headers instanceof Headers
      ? headers.get('retry-after')
      : Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  return Number(raw);
}

beforeAll(async () => {
  emulator = await startEmulator({ tenant: TENANT });
  initialExport = emulator.export();
  client = graphClient(emulator);
  noRetry = graphClientWithoutRetry(emulator);
  [alice, bob, carol] = mailUsers(emulator);
  // Tokens first, so that no test counts msal's discovery and token requests.
  await client.api('/organization').get();
  await noRetry.api('/organization').get();
});

afterAll(async () => {
  await emulator?.close();
});

describe('JSON batching ($batch)', () => {
  it('answers 20 requests, each with its id, status, headers and the body a direct request gets', async () => {
    const urls: string[] = [];
    for (const u of [alice, bob, carol]) {
      urls.push(
        `/users/${u.id}`,
        `/users/${u.userPrincipalName}/mailFolders/inbox`,
        `/users/${u.id}/messages?$top=3&$select=subject,receivedDateTime`,
        `/users/${u.id}/mailFolders?$top=20`,
        `/users/${u.id}/calendars`,
        `/users/${u.id}/contactFolders`,
      );
    }
    urls.push('/organization', '/users?$top=2');
    expect(urls).toHaveLength(20);
    const ids = urls.map((_, i) => `Step-${i}`);
    const parts = await batch(
      client,
      urls.map((url, i) => ({ id: ids[i], method: 'GET', url })),
    );
    expect([...parts.keys()].sort()).toEqual([...ids].sort());
    for (const [i, url] of urls.entries()) {
      const r = part(parts, ids[i] as string);
      expect(r.status, url).toBe(200);
      expect(r.headers['Content-Type'], url).toMatch(/^application\/json/);
      expect(r.body, url).toEqual(await client.api(url).get());
    }
  });

  it('refuses a batch of 21 requests, an empty one, duplicate ids (case-insensitive) and unknown or cyclic dependsOn with 400, running none of the parts', async () => {
    const get = (id: string, dependsOn?: string[]): Record<string, unknown> => ({
      id,
      method: 'GET',
      url: `/users/${alice.id}/mailFolders/inbox`,
      ...(dependsOn ? { dependsOn } : {}),
    });
    const before = { parts: emulator.stats.batchParts, folders: emulator.stats.byKind['mail.folders'] ?? 0 };
    const twenty = Array.from({ length: 20 }, (_, i) => get(String(i + 1)));
    const bad: Record<string, unknown>[][] = [
      [...twenty, get('21')],
      [],
      [get('a'), get('A')],
      [get('1'), get('2', ['3'])],
      [get('1', ['2']), get('2', ['1'])],
      [get('1', ['1'])],
    ];
    for (const requests of bad) {
      const err = await failure(noRetry.api('/$batch').post({ requests }));
      expect(err.statusCode, JSON.stringify(requests.map((r) => r['id']))).toBe(400);
      expect(err.code).toBe('BadRequest');
    }
    const tooMany = await failure(noRetry.api('/$batch').post({ requests: [...twenty, get('21')] }));
    expect(tooMany.message).toMatch(/20/);
    expect(emulator.stats.batchParts).toBe(before.parts);
    expect(emulator.stats.byKind['mail.folders'] ?? 0).toBe(before.folders);
    // Ids differing only in case resolve in dependsOn too.
    const parts = await batch(client, [get('first'), get('second', ['FIRST'])]);
    expect(part(parts, 'second').status).toBe(200);
  });

  it('runs dependsOn in order and answers 424 to every request depending on a failed one', async () => {
    const folders = `/users/${alice.id}/mailFolders`;
    const json = { 'Content-Type': 'application/json' };
    const slowCreate = (): number =>
      emulator.faults.add({
        kind: 'slow',
        routeKind: 'mail.write',
        method: 'POST',
        path: `${alice.id}/mailFolders$`,
        times: 1,
        delayMs: 200,
      });
    const names = async (): Promise<string[]> =>
      ((await client.api(`${folders}?$top=100`).get()) as { value: { displayName: string }[] }).value.map((f) => f.displayName);

    // Without dependsOn the parts run in parallel: the listing does not wait for the slow create.
    slowCreate();
    const parallel = await batch(client, [
      { id: 'create', method: 'POST', url: folders, headers: json, body: { displayName: 'Batch parallel' } },
      { id: 'list', method: 'GET', url: `${folders}?$top=100` },
    ]);
    expect(part(parallel, 'create').status).toBe(201);
    expect((part(parallel, 'list').body as { value: { displayName: string }[] }).value.map((f) => f.displayName)).not.toContain(
      'Batch parallel',
    );
    expect(await names()).toContain('Batch parallel');

    // With dependsOn each waits for the one before it.
    slowCreate();
    const chain = await batch(client, [
      { id: '1', method: 'POST', url: folders, headers: json, body: { displayName: 'Batch sequence' } },
      { id: '2', dependsOn: ['1'], method: 'GET', url: `${folders}?$top=100` },
      { id: '3', dependsOn: ['2'], method: 'POST', url: folders, headers: json, body: { displayName: 'Batch sequence' } },
      { id: '4', dependsOn: ['3'], method: 'GET', url: `${folders}/inbox` },
      { id: '5', dependsOn: ['4'], method: 'GET', url: `${folders}/drafts` },
    ]);
    const created = part(chain, '1');
    expect(created.status).toBe(201);
    const listed = (part(chain, '2').body as { value: { id: string; displayName: string }[] }).value;
    expect(listed.find((f) => f.displayName === 'Batch sequence')?.id).toBe((created.body as { id: string }).id);
    const duplicate = part(chain, '3');
    expect(duplicate.status).toBe(409);
    expect((duplicate.body as GraphErrorBody).error.code).toBe('ErrorFolderExists');
    for (const id of ['4', '5']) {
      const r = part(chain, id);
      expect(r.status, id).toBe(424);
      expect((r.body as GraphErrorBody).error.message).toBeTruthy();
    }
    expect((await names()).filter((n) => n === 'Batch sequence')).toHaveLength(1);
  });

  it('gives each part its own status: injected faults, a 404, an unknown user and segment, while the others succeed', async () => {
    const [a1, a2] = messages(emulator, alice);
    const [b1, b2] = messages(emulator, bob);
    emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.get',
      path: a1.id,
      status: 500,
      code: 'ErrorCorruptData',
      message: 'The item is corrupt.',
    });
    emulator.faults.add({ kind: 'status503', routeKind: 'mail.get', path: b1.id, times: 1 });
    emulator.faults.add({ kind: 'reset', routeKind: 'mail.folders', path: `${bob.id}/mailFolders/inbox$`, times: 1 });
    const faultedBefore = emulator.stats.faulted;
    try {
      const parts = await batch(client, [
        { id: 'corrupt', method: 'GET', url: `/users/${alice.id}/messages/${a1.id}` },
        { id: 'ok-a', method: 'GET', url: `/users/${alice.id}/messages/${a2.id}?$select=subject` },
        { id: 'transient', method: 'GET', url: `/users/${bob.id}/messages/${b1.id}` },
        { id: 'reset', method: 'GET', url: `/users/${bob.id}/mailFolders/inbox` },
        { id: 'ok-b', method: 'GET', url: `/users/${bob.id}/messages/${b2.id}?$select=subject` },
        { id: 'missing', method: 'GET', url: `/users/${alice.id}/messages/AAMkNoSuchMessage` },
        { id: 'nouser', method: 'GET', url: '/users/00000000-0000-4000-a000-000000000000/mailFolders' },
        { id: 'segment', method: 'GET', url: '/nosuchthing' },
      ]);
      const corrupt = part(parts, 'corrupt');
      expect(corrupt.status).toBe(500);
      expect((corrupt.body as GraphErrorBody).error).toMatchObject({ code: 'ErrorCorruptData', message: 'The item is corrupt.' });
      const transient = part(parts, 'transient');
      expect(transient.status).toBe(503);
      expect(retryAfter(transient.headers)).toBeGreaterThan(0);
      expect(part(parts, 'reset').status).toBeGreaterThanOrEqual(500);
      const missing = part(parts, 'missing');
      expect(missing.status).toBe(404);
      expect((missing.body as GraphErrorBody).error.code).toBe('ErrorItemNotFound');
      expect(part(parts, 'nouser').status).toBe(404);
      const segment = part(parts, 'segment');
      expect(segment.status).toBe(400);
      expect((segment.body as GraphErrorBody).error.code).toBe('BadRequest');
      expect(part(parts, 'ok-a')).toMatchObject({ status: 200, body: { subject: a2.subject } });
      expect(part(parts, 'ok-b')).toMatchObject({ status: 200, body: { subject: b2.subject } });
      expect(emulator.stats.faulted - faultedBefore).toBe(3);
      // The transient fault is spent: the same part now succeeds.
      const again = await batch(client, [{ id: 'x', method: 'GET', url: `/users/${bob.id}/messages/${b1.id}?$select=subject` }]);
      expect(part(again, 'x')).toMatchObject({ status: 200, body: { subject: b1.subject } });
    } finally {
      emulator.faults.clear();
    }
  });

  it('returns binary ($value) parts base64-encoded, byte for byte what a direct download gets, and JSON parts inline', async () => {
    const [m1, m2] = messages(emulator, carol);
    const parts = await batch(client, [
      { id: 'mime1', method: 'GET', url: `/users/${carol.id}/messages/${m1.id}/$value` },
      { id: 'mime2', method: 'GET', url: `/users/${carol.id}/messages/${m2.id}/$value` },
      { id: 'meta', method: 'GET', url: `/users/${carol.id}/messages/${m1.id}?$select=subject` },
    ]);
    for (const [id, m] of [
      ['mime1', m1],
      ['mime2', m2],
    ] as const) {
      const r = part(parts, id);
      expect(r.status).toBe(200);
      expect(typeof r.body).toBe('string');
      const bytes = Buffer.from(r.body as string, 'base64');
      expect(bytes.toString('base64')).toBe(r.body); // plain base64, nothing else in the string
      const direct = Buffer.from(
        (await client.api(`/users/${carol.id}/messages/${m.id}/$value`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer,
      );
      expect(bytes.equals(direct)).toBe(true);
      expect(bytes.length).toBe(m.size);
      expect(bytes.toString('latin1')).toMatch(/^[\s\S]*Subject: /m);
    }
    expect(part(parts, 'meta').body).toMatchObject({ subject: m1.subject });
  });
});

describe('throttling over HTTP', () => {
  it('is off by default: concurrent requests and a 20-part batch to one mailbox all succeed', async () => {
    expect(emulator.throttle.options).toEqual(NO_LIMITS);
    const throttledBefore = emulator.stats.throttled;
    const results = await Promise.all(
      Array.from({ length: 30 }, () => noRetry.api(`/users/${alice.id}/mailFolders/inbox`).get() as Promise<{ displayName: string }>),
    );
    expect(results.every((r) => r.displayName === 'Inbox')).toBe(true);
    const parts = await batch(
      noRetry,
      Array.from({ length: 20 }, (_, i) => ({ id: String(i), method: 'GET', url: `/users/${alice.id}/mailFolders/inbox` })),
    );
    expect([...parts.values()].map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(emulator.stats.throttled).toBe(throttledBefore);
    expect(emulator.throttle.stats).toMatchObject({ rejectedRate: 0, rejectedConcurrency: 0, rejectedResourceUnits: 0 });
  });

  describe('per-mailbox request window', () => {
    let limited: MicrosoftEmulator;
    let bare: Client;
    let retrying: Client;
    let users: [User, User, User];

    beforeAll(async () => {
      limited = await startEmulator({ tenant: TENANT, throttle: { mailboxRequests: 3, mailboxWindowMs: 60_000 } });
      const msal = msalClient(limited);
      bare = graphClientWithoutRetry(limited, msal);
      retrying = graphClient(limited, { client: msal });
      users = mailUsers(limited);
      await bare.api('/users').get(); // the token, and a request without a mailbox
    });

    afterAll(async () => {
      await limited?.close();
    });

    it('answers the request over the window with 429 ApplicationThrottled and Retry-After; other mailboxes go on', async () => {
      expect(limited.throttle.options).toEqual({ ...NO_LIMITS, mailboxRequests: 3, mailboxWindowMs: 60_000 });
      const [a, b] = users;
      for (let i = 0; i < 3; i++) await bare.api(`/users/${a.id}/mailFolders/inbox`).get();
      const err = await failure(bare.api(`/users/${a.id}/mailFolders/drafts`).get());
      expect(err.statusCode).toBe(429);
      expect(err.code).toBe('ApplicationThrottled');
      expect(err.requestId).toBeTruthy();
      const wait = retryAfter(err.headers);
      expect(Number.isInteger(wait)).toBe(true);
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(60);
      // The same mailbox by its UPN shares the window; another mailbox has its own.
      expect((await failure(bare.api(`/users/${a.userPrincipalName}/messages`).get())).statusCode).toBe(429);
      expect(((await bare.api(`/users/${b.id}/mailFolders/inbox`).get()) as { displayName: string }).displayName).toBe('Inbox');
      expect(limited.stats.throttled).toBe(2);
      expect(limited.throttle.stats.rejectedRate).toBe(2);
      expect(limited.stats.byMailbox[a.id]).toBe(5);
    });

    it('evaluates the parts of a batch one by one: the parts over the window get 429 with Retry-After', async () => {
      const [, b] = users; // one request used in the test above
      const parts = await batch(
        bare,
        Array.from({ length: 4 }, (_, i) => ({
          id: `p${i}`,
          dependsOn: i ? [`p${i - 1}`] : undefined,
          method: 'GET',
          url: `/users/${b.id}/mailFolders/inbox`,
        })),
      );
      expect(['p0', 'p1'].map((id) => part(parts, id).status)).toEqual([200, 200]);
      const refused = part(parts, 'p2');
      expect(refused.status).toBe(429);
      expect((refused.body as GraphErrorBody).error.code).toBe('ApplicationThrottled');
      expect(retryAfter(refused.headers)).toBeGreaterThanOrEqual(1);
      expect(part(parts, 'p3').status).toBe(424);
    });

    it("lets the Graph client's default RetryHandler wait Retry-After and then succeed", async () => {
      const [, , c] = users;
      limited.throttle.options = { ...NO_LIMITS, mailboxRequests: 2, mailboxWindowMs: 1_000 };
      const before = { throttled: limited.stats.throttled, mailbox: limited.stats.byMailbox[c.id] ?? 0 };
      await bare.api(`/users/${c.id}/mailFolders/inbox`).get();
      await bare.api(`/users/${c.id}/mailFolders/inbox`).get();
      const refused = await failure(bare.api(`/users/${c.id}/mailFolders/inbox`).get());
      expect(refused.statusCode).toBe(429);
      const wait = retryAfter(refused.headers);
      expect(wait).toBe(1);
      const { value, ms } = await timed(() => retrying.api(`/users/${c.id}/mailFolders/inbox`).get() as Promise<{ displayName: string }>);
      expect(value.displayName).toBe('Inbox');
      const throttled = limited.stats.throttled - before.throttled;
      expect(throttled).toBeGreaterThanOrEqual(2); // the bare refusal and at least one the handler retried
      expect((limited.stats.byMailbox[c.id] ?? 0) - before.mailbox).toBe(3 + throttled);
      expect(ms).toBeGreaterThanOrEqual(wait * 1000 - CLOCK_SLACK_MS);
    });
  });

  describe("Microsoft's limits", () => {
    let ms: MicrosoftEmulator;
    let bare: Client;

    beforeAll(async () => {
      ms = await startEmulator({ tenant: TENANT, throttle: 'microsoft' });
      bare = graphClientWithoutRetry(ms);
      await bare.api('/organization').get();
    });

    afterAll(async () => {
      await ms?.close();
    });

    it('refuses a 5th concurrent request to one mailbox with 429 (MailboxConcurrency) and Retry-After; other mailboxes are not held up', async () => {
      expect(ms.throttle.options).toEqual(MICROSOFT_LIMITS);
      const [a, b] = mailUsers(ms);
      const rule = ms.faults.add({ kind: 'slow', routeKind: 'mail.folders', path: `${a.id}/mailFolders/inbox$`, times: 4, delayMs: 1_000 });
      const inFlight = Array.from(
        { length: 4 },
        () => bare.api(`/users/${a.id}/mailFolders/inbox`).get() as Promise<{ displayName: string }>,
      );
      await until(() => ms.faults.fired[rule] === 4, 'four requests in flight');
      const [fifth, other] = await Promise.all([
        failure(bare.api(`/users/${a.id}/mailFolders/drafts`).get()),
        bare.api(`/users/${b.id}/mailFolders/inbox`).get() as Promise<{ displayName: string }>,
      ]);
      expect(fifth.statusCode).toBe(429);
      expect(fifth.code).toBe('ApplicationThrottled');
      expect(fifth.message).toMatch(/MailboxConcurrency/);
      expect(retryAfter(fifth.headers)).toBeGreaterThanOrEqual(1);
      expect(other.displayName).toBe('Inbox');
      expect((await Promise.all(inFlight)).map((f) => f.displayName)).toEqual(['Inbox', 'Inbox', 'Inbox', 'Inbox']);
      // The slots are free again once the responses are sent.
      expect(((await bare.api(`/users/${a.id}/mailFolders/drafts`).get()) as { displayName: string }).displayName).toBe('Drafts');
      expect(ms.throttle.stats.rejectedConcurrency).toBe(1);
      expect(ms.stats.throttled).toBe(1);
    });
  });
});

describe('faults through the pipeline', () => {
  it('reset destroys the connection: the client gets a network error, not an HTTP answer; the next request succeeds', async () => {
    const rule = emulator.faults.add({ kind: 'reset', routeKind: 'mail.folders', path: `${alice.id}/mailFolders/inbox$`, times: 1 });
    try {
      const err = await failure<GraphFailure & Error>(noRetry.api(`/users/${alice.id}/mailFolders/inbox`).get());
      expect(err.statusCode >= 100).toBe(false);
      expect(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`).toMatch(/fetch failed|socket|ECONNRESET|closed/i);
      expect(emulator.faults.fired[rule]).toBe(1);
      expect(((await noRetry.api(`/users/${alice.id}/mailFolders/inbox`).get()) as { displayName: string }).displayName).toBe('Inbox');
    } finally {
      emulator.faults.clear();
    }
  });

  it('slow delays the response by at least delayMs, then serves it normally', async () => {
    const delayMs = 300;
    emulator.faults.add({ kind: 'slow', routeKind: 'mail.folders', path: `${bob.id}/mailFolders/inbox$`, times: 1, delayMs });
    try {
      const { value, ms } = await timed(() => noRetry.api(`/users/${bob.id}/mailFolders/inbox`).get() as Promise<{ displayName: string }>);
      expect(value.displayName).toBe('Inbox');
      expect(ms).toBeGreaterThanOrEqual(delayMs - CLOCK_SLACK_MS);
    } finally {
      emulator.faults.clear();
    }
  });

  it('malformedJson answers 200 with the JSON cut in the middle: the client fails to parse it', async () => {
    const url = `/users/${carol.id}/mailFolders?$top=20`;
    const full = (await noRetry.api(url).responseType(ResponseType.TEXT).get()) as string;
    try {
      emulator.faults.add({ kind: 'malformedJson', routeKind: 'mail.folders', times: 1 });
      const cut = (await noRetry.api(url).responseType(ResponseType.TEXT).get()) as string;
      expect(cut.length).toBeGreaterThan(0);
      expect(cut.length).toBeLessThan(full.length);
      expect(full.startsWith(cut)).toBe(true);
      expect(() => JSON.parse(cut) as unknown).toThrow(SyntaxError);
      emulator.faults.add({ kind: 'malformedJson', routeKind: 'mail.folders', times: 1 });
      await expect(noRetry.api(url).get()).rejects.toThrow();
      expect(await noRetry.api(url).get()).toEqual(JSON.parse(full));
    } finally {
      emulator.faults.clear();
    }
  });

  it("status500, status503 and status504 with times: 1 fail once with Graph's error body, then the request succeeds", async () => {
    const [m] = messages(emulator, alice);
    const cases = [
      { kind: 'status500', status: 500, code: 'generalException' },
      { kind: 'status503', status: 503, code: 'serviceNotAvailable' },
      { kind: 'status504', status: 504, code: 'UnknownError' },
    ] as const;
    try {
      for (const c of cases) {
        const rule = emulator.faults.add({ kind: c.kind, routeKind: 'mail.get', path: m.id, times: 1 });
        const err = await failure(noRetry.api(`/users/${alice.id}/messages/${m.id}`).get());
        expect(err.statusCode, c.kind).toBe(c.status);
        expect(err.code, c.kind).toBe(c.code);
        expect(err.message, c.kind).toBeTruthy();
        expect(err.requestId, c.kind).toMatch(/^[0-9a-f-]{36}$/);
        if (c.kind === 'status503') expect(retryAfter(err.headers)).toBeGreaterThanOrEqual(1);
        const ok = (await noRetry.api(`/users/${alice.id}/messages/${m.id}?$select=subject`).get()) as { subject: string };
        expect(ok.subject, c.kind).toBe(m.subject);
        expect(emulator.faults.fired[rule], c.kind).toBe(1);
      }
    } finally {
      emulator.faults.clear();
    }
  });

  it('throttled answers 429 ApplicationThrottled with the Retry-After asked for, only to the mailbox its path names', async () => {
    try {
      const rule = emulator.faults.add({ kind: 'throttled', path: `/users/${alice.id}/`, retryAfterSeconds: 300 });
      const err = await failure(noRetry.api(`/users/${alice.id}/mailFolders`).get());
      expect(err.statusCode).toBe(429);
      expect(err.code).toBe('ApplicationThrottled');
      expect(retryAfter(err.headers)).toBe(300);
      // Without retryAfterSeconds: 1 s, as the throttle's concurrency refusal.
      emulator.faults.add({ kind: 'throttled', path: `/users/${carol.id}/`, times: 1 });
      expect(retryAfter((await failure(noRetry.api(`/users/${carol.id}/mailFolders`).get())).headers)).toBe(1);
      const other = (await noRetry.api(`/users/${bob.id}/mailFolders`).get()) as { value: unknown[] };
      expect(other.value.length).toBeGreaterThan(0);
      expect(emulator.faults.fired[rule]).toBe(1);
    } finally {
      emulator.faults.clear();
    }
  });

  it('error with a custom status and code fails every time until cleared, and only where its method, path and probability say', async () => {
    const [m, other] = messages(emulator, bob);
    const always = emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.get',
      path: m.id,
      status: 422,
      code: 'ErrorUnsupportedItem',
      message: 'This item cannot be read.',
    });
    const postOnly = emulator.faults.add({ kind: 'error', method: 'POST', path: `${bob.id}/mailFolders`, status: 500 });
    const never = emulator.faults.add({ kind: 'error', routeKind: 'mail.get', path: other.id, probability: 0, status: 500 });
    try {
      for (let i = 0; i < 3; i++) {
        const err = await failure(noRetry.api(`/users/${bob.id}/messages/${m.id}`).get());
        expect(err.statusCode).toBe(422);
        expect(err.code).toBe('ErrorUnsupportedItem');
        expect(err.message).toBe('This item cannot be read.');
      }
      expect(((await noRetry.api(`/users/${bob.id}/messages/${other.id}?$select=subject`).get()) as { subject: string }).subject).toBe(
        other.subject,
      );
      expect(((await noRetry.api(`/users/${bob.id}/mailFolders?$top=20`).get()) as { value: unknown[] }).value.length).toBeGreaterThan(0);
      expect([emulator.faults.fired[always], emulator.faults.fired[postOnly], emulator.faults.fired[never]]).toEqual([3, 0, 0]);
      expect((await failure(noRetry.api(`/users/${bob.id}/mailFolders`).post({ displayName: 'Never made' }))).statusCode).toBe(500);
      emulator.faults.clear();
      expect(((await noRetry.api(`/users/${bob.id}/messages/${m.id}?$select=subject`).get()) as { subject: string }).subject).toBe(
        m.subject,
      );
    } finally {
      emulator.faults.clear();
    }
  });

  it('latencyMs adds at least that much to every request, the token endpoint included', async () => {
    const latencyMs = 200;
    const slow = await startEmulator({ tenant: TENANT, latencyMs });
    try {
      const msal = msalClient(slow);
      await accessToken(msal); // metadata and first token
      const token = await timed(() => msal.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true }));
      expect(token.value?.accessToken).toBeTruthy();
      expect(token.ms).toBeGreaterThanOrEqual(latencyMs - CLOCK_SLACK_MS);
      const bare = graphClientWithoutRetry(slow, msal);
      const users = await timed(() => bare.api('/users').get() as Promise<{ value: unknown[] }>);
      expect(users.value.value.length).toBeGreaterThan(0);
      expect(users.ms).toBeGreaterThanOrEqual(latencyMs - CLOCK_SLACK_MS);
    } finally {
      await slow.close();
    }
  });
});

describe('links as Graph writes them', () => {
  interface LinkPage {
    value: { id: string }[];
    '@odata.nextLink'?: string;
    '@odata.deltaLink'?: string;
  }

  /** The link carries the OData option with its `$` as Graph sends it, never `%24`. */
  function expectLiteral(link: string | undefined, option: 'skiptoken' | 'deltatoken'): string {
    expect(link).toBeDefined();
    expect(link).toMatch(new RegExp(`^${emulator.connection.graphBaseUrl}/v1\\.0/[^?]+\\?(?:[^#]*&)?\\$${option}=[^&]+`));
    expect(link).not.toContain('%24');
    return link as string;
  }

  /** A round through the real Graph client: every nextLink and the deltaLink, each followed as given. */
  async function round(url: string, maxPageSize = 1): Promise<{ ids: string[]; nextLinks: string[]; deltaLink: string }> {
    const ids: string[] = [];
    const nextLinks: string[] = [];
    let next = url;
    for (;;) {
      const page = (await client.api(next).header('Prefer', `odata.maxpagesize=${maxPageSize}`).get()) as LinkPage;
      ids.push(...page.value.map((v) => v.id));
      if (page['@odata.deltaLink']) return { ids, nextLinks, deltaLink: expectLiteral(page['@odata.deltaLink'], 'deltatoken') };
      next = expectLiteral(page['@odata.nextLink'], 'skiptoken');
      nextLinks.push(next);
    }
  }

  it('writes $skiptoken= and $deltatoken= literally in every service, and the Graph client follows them to the same items', async () => {
    const users = (await client.api('/users?$top=1').get()) as LinkPage;
    const second = (await client.api(expectLiteral(users['@odata.nextLink'], 'skiptoken')).get()) as LinkPage;
    expect(second.value[0]?.id).toBeDefined();
    expect(second.value[0]?.id).not.toBe(users.value[0]?.id);

    const folders = await round(`/users/${alice.id}/mailFolders/delta`);
    expect(folders.nextLinks.length).toBeGreaterThan(0);
    expect(new Set(folders.ids)).toEqual(new Set(mailbox(emulator, alice).folders.map((f) => f.id)));
    const inbox = mailbox(emulator, alice).folders.find((f) => f.path === 'Inbox');
    const mail = await round(`/users/${alice.id}/mailFolders/${inbox?.id ?? 'inbox'}/messages/delta?$select=subject`);
    expect(mail.ids.length).toBeGreaterThan(1);
    // The delta link of a round gives nothing new when nothing changed, and a delta link again.
    expect((await round(mail.deltaLink)).ids).toEqual([]);

    const calendar = await round(
      `/users/${alice.id}/calendar/calendarView/delta?startDateTime=2025-06-01T00:00:00Z&endDateTime=2028-01-01T00:00:00Z`,
    );
    expect(calendar.ids.length).toBeGreaterThan(0);
    const contactFolders = (await client.api(`/users/${alice.id}/contactFolders`).get()) as LinkPage;
    for (const folder of contactFolders.value) await round(`/users/${alice.id}/contactFolders/${folder.id}/contacts/delta`);
  });

  it('still accepts links whose $ is percent-encoded, answering as for the literal form', async () => {
    const first = (await client.api(`/users/${alice.id}/mailFolders/delta`).header('Prefer', 'odata.maxpagesize=1').get()) as LinkPage;
    const literal = expectLiteral(first['@odata.nextLink'], 'skiptoken');
    const encoded = literal.replace('$skiptoken=', '%24skiptoken=');
    const token = (await accessToken(msalClient(emulator))) as string;
    const [a, b] = await Promise.all(
      [literal, encoded].map(async (url) => {
        const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, prefer: 'odata.maxpagesize=1' } });
        expect(response.status).toBe(200);
        return ((await response.json()) as LinkPage).value.map((v) => v.id);
      }),
    );
    expect(b).toEqual(a);
    expect(a).toHaveLength(1);
  });
});

describe('sources going away', () => {
  let fragile: MicrosoftEmulator;
  let msal: ConfidentialClientApplication;
  let bare: Client;

  beforeAll(async () => {
    fragile = await startEmulator({ tenant: TENANT });
    msal = msalClient(fragile);
    bare = graphClientWithoutRetry(fragile, msal);
    await bare.api('/users').get();
  });

  afterAll(async () => {
    await fragile?.close();
  });

  it('setTenantGone(true): Entra answers AADSTS90002 and Graph 401 InvalidAuthenticationToken; setTenantGone(false) brings the tenant back', async () => {
    fragile.setTenantGone(true);
    try {
      const refresh = await failure<MsalFailure>(msal.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true }));
      expect(refresh.errorCode).toBe('invalid_tenant');
      expect(refresh.errorMessage).toMatch(/AADSTS90002: Tenant '[^']+' not found/);
      // A new client fails in authority discovery; msal hides Entra's answer, the wire shows it.
      await expect(accessToken(msalClient(fragile))).rejects.toThrow();
      const { authorityHost, tenantId } = fragile.connection;
      const metadata = await fetch(`${authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`);
      expect(metadata.status).toBe(400);
      const body = (await metadata.json()) as { error: string; error_codes: number[]; error_description: string };
      expect(body.error).toBe('invalid_tenant');
      expect(body.error_codes).toEqual([90002]);
      expect(body.error_description).toMatch(/^AADSTS90002: /);
      const graph = await failure(bare.api('/users').get());
      expect(graph.statusCode).toBe(401);
      expect(graph.code).toBe('InvalidAuthenticationToken');
    } finally {
      fragile.setTenantGone(false);
    }
    expect(((await bare.api('/users').get()) as { value: unknown[] }).value.length).toBeGreaterThan(0);
  });

  it('revokeCredentials(): an issued token gets 401 InvalidAuthenticationToken, a new token request AADSTS7000215; a new credential works', async () => {
    const [a] = mailUsers(fragile);
    await bare.api(`/users/${a.id}/mailFolders/inbox`).get();
    fragile.revokeCredentials();
    const graph = await failure(bare.api(`/users/${a.id}/mailFolders/inbox`).get());
    expect(graph.statusCode).toBe(401);
    expect(graph.code).toBe('InvalidAuthenticationToken');
    const refresh = await failure<MsalFailure>(msal.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], skipCache: true }));
    expect(refresh.errorCode).toBe('invalid_client');
    expect(refresh.errorMessage).toMatch(/AADSTS7000215/);
    const fresh = await failure<MsalFailure>(accessToken(msalClient(fragile)));
    expect(fresh.errorMessage).toMatch(/AADSTS7000215/);
    // A credential registered after the revocation gets tokens Graph accepts.
    const cert = createClientCertificate('rotated');
    fragile.addCertificate(cert.certPem, cert.thumbprintSha256);
    const rotated = graphClientWithoutRetry(
      fragile,
      msalClient(fragile, { clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.keyPem } }),
    );
    expect(((await rotated.api(`/users/${a.id}/mailFolders/inbox`).get()) as { displayName: string }).displayName).toBe('Inbox');
  });
});

describe('stats and export()', () => {
  it('counts requests by kind and mailbox, batch parts, throttled and faulted; resetStats() starts over', async () => {
    const [b1, b2, b3] = messages(emulator, bob);
    emulator.resetStats();
    expect(emulator.stats).toEqual({ total: 0, byKind: {}, byMailbox: {}, throttled: 0, faulted: 0, batchParts: 0 });
    await noRetry.api(`/users/${alice.id}/mailFolders/inbox`).get();
    await noRetry.api(`/users/${alice.id}/mailFolders/drafts`).get();
    await noRetry.api(`/users/${alice.userPrincipalName}/mailFolders/inbox`).get();
    await noRetry.api('/users').get();
    await batch(
      noRetry,
      [b1, b2].map((m, i) => ({ id: String(i), method: 'GET', url: `/users/${bob.id}/messages/${m.id}` })),
    );
    emulator.faults.add({ kind: 'status500', routeKind: 'mail.get', path: b3.id, times: 1 });
    await failure(noRetry.api(`/users/${bob.id}/messages/${b3.id}`).get());
    emulator.throttle.options = { ...NO_LIMITS, mailboxRequests: 1, mailboxWindowMs: 60_000 };
    try {
      await noRetry.api(`/users/${carol.id}/mailFolders/inbox`).get();
      await failure(noRetry.api(`/users/${carol.id}/mailFolders/inbox`).get());
    } finally {
      emulator.throttle.options = NO_LIMITS;
      emulator.faults.clear();
    }
    expect(emulator.stats).toEqual({
      total: 10,
      byKind: { 'mail.folders': 5, 'directory.users': 1, batch: 1, 'mail.get': 3 },
      byMailbox: { [alice.id]: 3, [bob.id]: 3, [carol.id]: 2 },
      throttled: 1,
      faulted: 1,
      batchParts: 2,
    });
    // The same counters over the control API, for a client in another process.
    const remote = (await (await fetch(`${emulator.connection.graphBaseUrl}/_emulator/stats`)).json()) as Record<string, unknown>;
    expect(remote).toMatchObject({ ...emulator.stats, total: 11, byKind: { ...emulator.stats.byKind, control: 1 } });
    expect(remote['throttle']).toEqual(emulator.throttle.stats);
    emulator.resetStats();
    expect(emulator.stats).toEqual({ total: 0, byKind: {}, byMailbox: {}, throttled: 0, faulted: 0, batchParts: 0 });
  });

  it('export() is the whole tenant as plain JSON, the same for the same seed, and shows what clients wrote', async () => {
    expect(Object.keys(initialExport).sort()).toEqual(['calendar', 'contacts', 'directory', 'drive', 'mail', 'teams']);
    expect(JSON.parse(JSON.stringify(initialExport))).toEqual(initialExport);
    const twin = await startEmulator({ tenant: TENANT });
    try {
      expect(twin.export()).toEqual(initialExport);
    } finally {
      await twin.close();
    }
    const made = (await client.api(`/users/${carol.id}/mailFolders`).post({ displayName: 'Exported folder' })) as { id: string };
    expect(mailbox(emulator, carol).folders).toContainEqual({ id: made.id, path: 'Exported folder' });
    expect(mailbox(emulator, carol).folders).not.toEqual(
      (initialExport['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes.find((m) => m.account === carol.id)?.folders,
    );
  });
});
