// MIME downloads through JSON batching, against the emulator: downloads asked for together go as
// batches of up to 20 parts, byte for byte what a direct download gives; a part that fails
// transiently, or is throttled under Microsoft's limits, is fetched again alone and arrives; a
// message deleted since it was listed fails as not found; the governor keeps a batch within the
// mailbox's four concurrent requests.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchDownloader } from '../../../src/providers/microsoft365/batch.ts';
import { pacingOfRequest } from '../../../src/providers/microsoft365/graph-http.ts';
import { SourceError } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { MICROSOFT_LIMITS, NO_LIMITS } from '../../emulators/microsoft/throttle.ts';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { pathPattern, startWithSession } from './support.ts';

interface ExportedMailbox {
  account: string;
  messages: { id: string; sha256: string }[];
}

let emulator: MicrosoftEmulator;
let session: GraphSession;
let mailbox: ExportedMailbox;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const mimePath = (id: string): string => `/users/${mailbox.account}/messages/${encodeURIComponent(id)}/$value`;

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: { seed: 'batch', users: 1, sharedMailboxes: 0, unlicensedUsers: 0, groups: 0, sites: 0, teams: 0, items: { mail: 45 } },
  }));
  mailbox = (emulator.export()['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes[0]!;
});

afterAll(async () => {
  await emulator?.close();
});

describe('batched downloads', () => {
  it('sends downloads asked for together as batches of at most 20, each part byte-exact', async () => {
    const downloads = new BatchDownloader(session);
    emulator.resetStats();
    const bodies = await Promise.all(mailbox.messages.map((m) => downloads.bytes(mailbox.account, mimePath(m.id))));
    expect(bodies.map(sha256)).toEqual(mailbox.messages.map((m) => m.sha256));
    // 45 downloads: batches of 20, 20 and 5, no part fetched again.
    expect(downloads.stats).toEqual({ batches: 3, parts: 45, fallbacks: 0 });
    expect(emulator.stats.batchParts).toBe(45);
    expect(emulator.stats.byKind['mail.mime']).toBe(45);
  });

  it('fetches a part that failed transiently again alone, and reports a deleted message as not found', async () => {
    const downloads = new BatchDownloader(session);
    const [flaky, gone, ...rest] = mailbox.messages.slice(0, 10);
    emulator.faults.add({ kind: 'status503', routeKind: 'mail.mime', path: pathPattern(flaky!.id), times: 1 });
    emulator.faults.add({ kind: 'notFound', routeKind: 'mail.mime', path: pathPattern(gone!.id) });
    try {
      const results = await Promise.allSettled([flaky!, gone!, ...rest].map((m) => downloads.bytes(mailbox.account, mimePath(m.id))));
      expect(results[0]).toEqual({ status: 'fulfilled', value: expect.any(Buffer) });
      expect(sha256((results[0] as PromiseFulfilledResult<Buffer>).value)).toBe(flaky!.sha256);
      const missing = (results[1] as PromiseRejectedResult).reason as SourceError;
      expect(missing).toBeInstanceOf(SourceError);
      expect(missing.notFound).toBe(true);
      for (const [i, m] of rest.entries()) expect(sha256((results[i + 2] as PromiseFulfilledResult<Buffer>).value)).toBe(m.sha256);
      // The 503 part and the parts of its chain behind it (424) were fetched alone.
      expect(downloads.stats.fallbacks).toBeGreaterThanOrEqual(1);
    } finally {
      emulator.faults.clear();
    }
  });

  it("finishes every download under Microsoft's limits, the throttled parts fetched again", async () => {
    const downloads = new BatchDownloader(session);
    emulator.throttle.options = { ...MICROSOFT_LIMITS, mailboxRequests: 30, mailboxWindowMs: 1_000 };
    try {
      emulator.resetStats();
      const bodies = await Promise.all(mailbox.messages.map((m) => downloads.bytes(mailbox.account, mimePath(m.id))));
      expect(bodies.map(sha256)).toEqual(mailbox.messages.map((m) => m.sha256));
      expect(emulator.stats.throttled).toBeGreaterThan(0);
      expect(downloads.stats.fallbacks).toBeGreaterThan(0);
    } finally {
      emulator.throttle.options = NO_LIMITS;
    }
  });

  it('paces a batch by its parts: budget per part, one slot per chain', () => {
    const body = JSON.stringify({
      requests: [
        { id: '1', method: 'GET', url: '/users/A/messages/1/$value' },
        { id: '2', method: 'GET', url: '/users/A/messages/2/$value' },
        { id: '3', method: 'GET', url: '/users/A/messages/3/$value', dependsOn: ['1'] },
        { id: '4', method: 'GET', url: '/users/b/messages/4/$value' },
        { id: '5', method: 'GET', url: '/drives/d/items/x/content' },
      ],
    });
    expect(pacingOfRequest('https://graph.microsoft.com/v1.0/$batch', body)).toEqual({
      mailboxes: [
        { mailbox: 'a', cost: 3, slots: 2 },
        { mailbox: 'b', cost: 1, slots: 1 },
      ],
      resourceUnits: 1,
    });
    expect(pacingOfRequest('https://graph.microsoft.com/v1.0/users/A/messages', undefined)).toEqual({
      mailboxes: [{ mailbox: 'a', cost: 1, slots: 1 }],
      resourceUnits: 0,
    });
  });
});
