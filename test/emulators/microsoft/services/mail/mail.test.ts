// Mail contract: the real Graph client pages folders and messages, runs message and folder delta
// rounds across a mutation with exact counts, downloads MIME and attachments, writes what a
// restore writes and reads it back, and sees Graph's errors for faults, missing permissions and
// mailbox-less users.
import { ResponseType } from '@microsoft/microsoft-graph-client';
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { ALL_APPLICATION_PERMISSIONS } from '../../tenant/directory.ts';
import type { User } from '../../tenant/directory.ts';
import { graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';
import { parseMime } from './mime.ts';

let emulator: MicrosoftEmulator;
let client: Client;
let noRetry: Client;
let alice: User;
let bob: User;

interface Page {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface ExportedMailbox {
  account: string;
  folders: { id: string; path: string }[];
  messages: { id: string; folder: string; subject: string; size: number; sha256: string; internetMessageId: string }[];
}

function exported(user: User): ExportedMailbox {
  const all = (emulator.export()['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes;
  const mb = all.find((m) => m.account === user.id);
  if (!mb) throw new Error('mailbox not exported');
  return mb;
}

async function failure(promise: Promise<unknown>): Promise<{ statusCode: number; code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { statusCode: number; code: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/** Follows nextLinks to the end; returns every item, the pages and the deltaLink if any. */
async function readAll(
  url: string,
  maxPageSize?: number,
): Promise<{ items: Record<string, unknown>[]; pages: Page[]; deltaLink?: string }> {
  const items: Record<string, unknown>[] = [];
  const pages: Page[] = [];
  let next: string | undefined = url;
  while (next) {
    let request = client.api(next);
    if (maxPageSize) request = request.header('Prefer', `odata.maxpagesize=${maxPageSize}`);
    const page = (await request.get()) as Page;
    pages.push(page);
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, pages, deltaLink: page['@odata.deltaLink'] };
    next = page['@odata.nextLink'];
  }
  return { items, pages };
}

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: {
      seed: 'mail-contract',
      users: 2,
      unlicensedUsers: 1,
      sharedMailboxes: 1,
      groups: 1,
      sites: 1,
      teams: 0,
      mailFolders: 3,
      items: { mail: 40, events: 1, contacts: 1, files: 1, siteFiles: 1, channelMessages: 1 },
      sizes: { mailMedianBytes: 8 * 1024, sigma: 0.8, maxBytes: 256 * 1024 },
      duplicateAttachmentShare: 0.5,
    },
  });
  client = graphClient(emulator);
  noRetry = graphClientWithoutRetry(emulator);
  const users = [...emulator.directory.users.values()].filter((u) => u.mailboxType === 'user');
  [alice, bob] = users as [User, User];
});

afterAll(async () => {
  await emulator?.close();
});

describe('mail folders', () => {
  it('lists the top-level folders in pages and resolves well-known names', async () => {
    const { items, pages } = await readAll(`/users/${alice.userPrincipalName}/mailFolders`, 3);
    expect(pages.length).toBe(Math.ceil(items.length / 3));
    const names = items.map((f) => f['displayName']);
    expect(names).toEqual(expect.arrayContaining(['Inbox', 'Drafts', 'Sent Items', 'Deleted Items', 'Archive', 'Junk Email', 'Projects']));
    expect(new Set(items.map((f) => f['parentFolderId'])).size).toBe(1);
    const inbox = (await client.api(`/users/${alice.id}/mailFolders/inbox`).get()) as Record<string, unknown>;
    expect(inbox['displayName']).toBe('Inbox');
    expect(inbox['id']).toBe(items.find((f) => f['displayName'] === 'Inbox')?.['id']);
    expect(inbox['totalItemCount']).toBeGreaterThan(0);
    const children = (await client.api(`/users/${alice.id}/mailFolders/inbox/childFolders`).get()) as Page;
    expect(children.value.map((f) => f['displayName'])).toEqual(['Clients']);
    expect(children.value[0]?.['childFolderCount']).toBe(1);
    const selected = (await client.api(`/users/${alice.id}/mailFolders/inbox`).select(['displayName']).get()) as Record<string, unknown>;
    expect(
      Object.keys(selected)
        .filter((k) => !k.startsWith('@'))
        .sort(),
    ).toEqual(['displayName', 'id']);
  });

  it('gives the whole tree flat in a folder delta, with parentFolderId', async () => {
    const { items, deltaLink } = await readAll(`/users/${alice.id}/mailFolders/delta`, 4);
    expect(deltaLink).toContain('?$deltatoken=');
    const byId = new Map(items.map((f) => [f['id'] as string, f]));
    const receipts = items.find((f) => f['displayName'] === 'Receipts');
    const clients = items.find((f) => f['displayName'] === 'Clients');
    expect(receipts?.['parentFolderId']).toBe(clients?.['id']);
    expect(byId.get(clients?.['parentFolderId'] as string)?.['displayName']).toBe('Inbox');
    expect(items.length).toBe(exported(alice).folders.length);
  });
});

describe('messages', () => {
  it('lists a folder with the default page size of 10 and $skip nextLinks, and honours $select', async () => {
    const inbox = (await client.api(`/users/${alice.id}/mailFolders/inbox`).get()) as { totalItemCount: number };
    const first = (await client.api(`/users/${alice.id}/mailFolders/inbox/messages`).get()) as Page;
    expect(first.value.length).toBe(Math.min(10, inbox.totalItemCount));
    if (inbox.totalItemCount > 10) expect(first['@odata.nextLink']).toMatch(/[?&]\$skip=10(&|$)/);
    const all = await readAll(`/users/${alice.id}/mailFolders/inbox/messages?$select=subject,isRead`);
    expect(all.items.length).toBe(inbox.totalItemCount);
    expect(new Set(all.items.map((m) => m['id'])).size).toBe(inbox.totalItemCount);
    for (const m of all.items)
      expect(
        Object.keys(m)
          .filter((k) => !k.startsWith('@'))
          .sort(),
      ).toEqual(['id', 'isRead', 'subject']);
    const received = first.value.map((m) => m['receivedDateTime'] as string);
    expect([...received].sort().reverse()).toEqual(received);
  });

  it('lists the whole mailbox to the end, and gets a message through its folder only', async () => {
    const mb = exported(bob);
    const all = await readAll(`/users/${bob.id}/messages?$select=parentFolderId`, 7);
    expect(all.items.length).toBe(mb.messages.length);
    expect(new Set(all.items.map((m) => m['id'])).size).toBe(mb.messages.length);
    const m = all.items[0] as { id: string; parentFolderId: string };
    const got = (await client.api(`/users/${bob.id}/mailFolders/${m.parentFolderId}/messages/${m.id}`).get()) as Record<string, unknown>;
    expect(got['id']).toBe(m.id);
    const other = all.items.find((x) => x['parentFolderId'] !== m.parentFolderId) as { parentFolderId: string };
    const err = await failure(noRetry.api(`/users/${bob.id}/mailFolders/${other.parentFolderId}/messages/${m.id}`).get());
    expect(err.statusCode).toBe(404);
  });

  it('creates a draft in Drafts from JSON, and reads one attachment without its bytes', async () => {
    const draft = (await client
      .api(`/users/${bob.id}/messages`)
      .post({ subject: 'A draft', body: { contentType: 'text', content: 'Draft body' } })) as Record<string, unknown>;
    const drafts = (await client.api(`/users/${bob.id}/mailFolders/drafts`).get()) as { id: string };
    expect(draft['isDraft']).toBe(true);
    expect(draft['parentFolderId']).toBe(drafts.id);
    expect(draft['bodyPreview']).toBe('Draft body');
    const withAttachment = [...(emulator.services.mail.mailbox(bob.id)?.messages.values() ?? [])].find((m) => m.attachments.length > 0);
    if (!withAttachment) throw new Error('no message with attachments');
    const list = (await client.api(`/users/${bob.id}/messages/${withAttachment.id}/attachments`).select(['name', 'size']).get()) as Page;
    expect(list.value[0]?.['contentBytes']).toBeUndefined();
    const one = (await client
      .api(`/users/${bob.id}/messages/${withAttachment.id}/attachments/${list.value[0]?.['id'] as string}`)
      .get()) as Record<string, unknown>;
    expect(one['name']).toBe(list.value[0]?.['name']);
    expect(Buffer.from(one['contentBytes'] as string, 'base64').length).toBe(one['size']);
  });

  it('gets one message with Graph properties, and its size through the MAPI property', async () => {
    const ex = exported(alice).messages[0];
    if (!ex) throw new Error('no message');
    const m = (await client
      .api(`/users/${alice.userPrincipalName}/messages/${ex.id}`)
      .expand("singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')")
      .get()) as Record<string, unknown>;
    expect(m['subject']).toBe(ex.subject);
    expect(m['internetMessageId']).toBe(ex.internetMessageId);
    expect(m['changeKey']).toEqual(expect.any(String));
    expect(m['@odata.etag']).toBe(`W/"${m['changeKey'] as string}"`);
    expect((m['from'] as { emailAddress: { address: string } }).emailAddress.address).toContain('@');
    expect((m['body'] as { contentType: string }).contentType).toBe('text');
    expect((m['bodyPreview'] as string).length).toBeLessThanOrEqual(255);
    expect(m['singleValueExtendedProperties']).toEqual([{ id: 'Integer 0xe08', value: String(ex.size) }]);
    const err = await failure(client.api(`/users/${alice.id}/messages/${ex.id}`).select(['nosuchproperty']).get());
    expect(err.statusCode).toBe(400);
  });

  it('serves MIME ($value) that parses, with the message headers and its exported size and hash', async () => {
    const mb = exported(alice);
    for (const ex of mb.messages.slice(0, 5)) {
      const raw = (await client.api(`/users/${alice.id}/messages/${ex.id}/$value`).responseType(ResponseType.RAW).get()) as Response;
      expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
      const data = Buffer.from(await raw.arrayBuffer());
      expect(data.length).toBe(ex.size);
      const parsed = parseMime(data);
      expect(parsed.headers.get('subject')).toBe(ex.subject);
      expect(parsed.headers.get('message-id')).toBe(ex.internetMessageId);
      expect(parsed.headers.get('mime-version')).toBe('1.0');
      expect(parsed.text.length).toBeGreaterThan(0);
    }
  });

  it('embeds the same shared attachment bytes in messages of different mailboxes', async () => {
    const owners = new Map<string, { user: User; id: string }[]>();
    for (const user of [alice, bob]) {
      for (const m of emulator.services.mail.mailbox(user.id)?.messages.values() ?? []) {
        for (const a of m.attachments)
          if (a.label.includes('/shared/')) owners.set(a.name, [...(owners.get(a.name) ?? []), { user, id: m.id }]);
      }
    }
    const [name, uses] = [...owners].find(([, list]) => new Set(list.map((u) => u.user.id)).size > 1) ?? [];
    if (!name || !uses) throw new Error('the test tenant has no attachment shared by two mailboxes');
    const first = uses[0] as { user: User; id: string };
    const other = uses.find((u) => u.user.id !== first.user.id) as { user: User; id: string };
    const bytes: string[] = [];
    for (const use of [first, other]) {
      const list = (await client.api(`/users/${use.user.id}/messages/${use.id}/attachments`).get()) as Page;
      const att = list.value.find((a) => a['name'] === name);
      expect(att?.['@odata.type']).toBe('#microsoft.graph.fileAttachment');
      const content = att?.['contentBytes'] as string;
      expect(Buffer.from(content, 'base64').length).toBe(att?.['size']);
      bytes.push(content);
      const value = (await client
        .api(`/users/${use.user.id}/messages/${use.id}/attachments/${att?.['id'] as string}/$value`)
        .responseType(ResponseType.ARRAYBUFFER)
        .get()) as ArrayBuffer;
      expect(Buffer.from(value).toString('base64')).toBe(content);
      const mime = (await client
        .api(`/users/${use.user.id}/messages/${use.id}/$value`)
        .responseType(ResponseType.ARRAYBUFFER)
        .get()) as ArrayBuffer;
      expect(
        parseMime(Buffer.from(mime))
          .attachments.find((a) => a.name === name)
          ?.bytes.toString('base64'),
      ).toBe(content);
    }
    expect(bytes[0]).toBe(bytes[1]);
  });

  it('answers a $batch of message GETs, MIME parts base64-encoded', async () => {
    const ids = exported(bob).messages.slice(0, 3);
    const requests = ids.map((m, i) => ({ id: String(i + 1), method: 'GET', url: `/users/${bob.id}/messages/${m.id}?$select=subject` }));
    requests.push({ id: '4', method: 'GET', url: `/users/${bob.id}/messages/${ids[0]?.id ?? ''}/$value` });
    const result = (await client.api('/$batch').post({ requests })) as { responses: { id: string; status: number; body: unknown }[] };
    const byId = new Map(result.responses.map((r) => [r.id, r]));
    ids.forEach((m, i) => {
      const r = byId.get(String(i + 1));
      expect(r?.status).toBe(200);
      expect((r?.body as { subject: string }).subject).toBe(m.subject);
    });
    expect(Buffer.from(byId.get('4')?.body as string, 'base64').length).toBe(ids[0]?.size);
  });
});

describe('message delta', () => {
  async function folderIds(user: User): Promise<string[]> {
    const { items } = await readAll(`/users/${user.id}/mailFolders/delta`);
    return items.filter((f) => !f['@removed']).map((f) => f['id'] as string);
  }

  it('reports exactly what a mutation did, with $select carried in the tokens', async () => {
    const links = new Map<string, string>();
    const seen = new Set<string>();
    for (const folder of await folderIds(alice)) {
      const round = await readAll(`/users/${alice.id}/mailFolders/${folder}/messages/delta?$select=subject,parentFolderId`, 4);
      expect(round.deltaLink).toMatch(/\?\$deltatoken=/);
      for (const m of round.items) {
        expect(m['@removed']).toBeUndefined();
        expect(m['parentFolderId']).toBe(folder);
        seen.add(m['id'] as string);
      }
      links.set(folder, round.deltaLink as string);
    }
    expect(seen.size).toBe(exported(alice).messages.length);

    const counts = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 1, removeFolders: 0 });
    const mine = counts.find((c) => c.service === 'mail' && c.account === alice.id);
    if (!mine) throw new Error('no mail counts');
    expect(mine.changed + mine.moved + mine.removed + mine.added).toBeGreaterThan(0);
    expect(mine.foldersAdded).toBe(1);

    const present: Record<string, unknown>[] = [];
    const removed: Record<string, unknown>[] = [];
    for (const folder of await folderIds(alice)) {
      const link = links.get(folder);
      const round = await readAll(link ?? `/users/${alice.id}/mailFolders/${folder}/messages/delta?$select=subject,parentFolderId`, 4);
      for (const m of round.items) (m['@removed'] ? removed : present).push(m);
    }
    expect(present.length).toBe(mine.added + mine.changed + mine.moved);
    expect(removed.length).toBe(mine.removed + mine.moved);
    for (const m of present)
      expect(
        Object.keys(m)
          .filter((k) => !k.startsWith('@'))
          .sort(),
      ).toEqual(['id', 'parentFolderId', 'subject']);
    for (const m of removed)
      expect(m).toEqual({ '@odata.type': '#microsoft.graph.message', id: m['id'], '@removed': { reason: 'deleted' } });
    // A moved message keeps its id: removed from one folder, present in another.
    const removedIds = new Set(removed.map((m) => m['id']));
    expect(present.filter((m) => removedIds.has(m['id'])).length).toBe(mine.moved);
  });

  it('answers an expired delta token with 410 SyncStateNotFound', async () => {
    const round = await readAll(`/users/${bob.id}/mailFolders/inbox/messages/delta`);
    // Outlook's default page size without `Prefer: odata.maxpagesize`: 10.
    expect(round.pages[0]?.value.length).toBe(Math.min(10, round.items.length));
    for (const page of round.pages) expect(page.value.length).toBeLessThanOrEqual(10);
    expect(emulator.expireDeltaTokens(bob.userPrincipalName, 'mail', 'inbox')).toBe(1);
    const err = await failure(client.api(round.deltaLink as string).get());
    expect(err.statusCode).toBe(410);
    expect(err.code).toBe('SyncStateNotFound');
    const fresh = await readAll(`/users/${bob.id}/mailFolders/inbox/messages/delta`);
    expect(fresh.items.length).toBeGreaterThan(0);
  });

  it('reports added and removed folders in the folder delta', async () => {
    const { deltaLink } = await readAll(`/users/${bob.id}/mailFolders/delta`);
    const counts = emulator.mutate({ add: 0, change: 0, move: 0, remove: 0, addFolders: 2, removeFolders: 1 });
    const mine = counts.find((c) => c.service === 'mail' && c.account === bob.id);
    if (!mine) throw new Error('no mail counts');
    expect(mine.foldersRemoved).toBeGreaterThan(0);
    const round = await readAll(deltaLink as string);
    expect(round.items.filter((f) => f['@removed']).length).toBe(mine.foldersRemoved);
    expect(round.items.filter((f) => !f['@removed']).length).toBe(mine.foldersAdded);
    expect(exported(bob).folders.every((f) => !['Projects', 'Clients', 'Receipts'].includes(f.path.split('/').pop() ?? ''))).toBe(true);
  });
});

describe('writes (restore)', () => {
  it('creates folders, refusing a duplicate name under the same parent', async () => {
    const folder = (await client.api(`/users/${bob.id}/mailFolders`).post({ displayName: 'Restored' })) as Record<string, unknown>;
    expect(folder['displayName']).toBe('Restored');
    const err = await failure(client.api(`/users/${bob.id}/mailFolders`).post({ displayName: 'restored' }));
    expect(err.statusCode).toBe(409);
    expect(err.code).toBe('ErrorFolderExists');
    const child = (await client
      .api(`/users/${bob.id}/mailFolders/${folder['id'] as string}/childFolders`)
      .post({ displayName: 'Inner' })) as Record<string, unknown>;
    expect(child['parentFolderId']).toBe(folder['id']);
  });

  it('restores a message from MIME byte for byte, and from JSON with its dates, then updates, moves and deletes', async () => {
    const target = (await client.api(`/users/${bob.id}/mailFolders`).post({ displayName: 'From Alice' })) as { id: string };
    const start = await readAll(`/users/${bob.id}/mailFolders/${target.id}/messages/delta`);
    expect(start.items).toEqual([]);
    const source = exported(alice).messages.find((m) => emulator.services.mail.mailbox(alice.id)?.messages.get(m.id)?.attachments.length);
    if (!source) throw new Error('no message with attachments');
    const mime = Buffer.from(
      (await client.api(`/users/${alice.id}/messages/${source.id}/$value`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer,
    );
    const created = (await client
      .api(`/users/${bob.id}/mailFolders/${target.id}/messages`)
      .header('Content-Type', 'text/plain')
      .post(mime.toString('base64'))) as Record<string, unknown>;
    expect(created['subject']).toBe(source.subject);
    expect(created['internetMessageId']).toBe(source.internetMessageId);
    expect(created['hasAttachments']).toBe(true);
    const back = Buffer.from(
      (await client
        .api(`/users/${bob.id}/messages/${created['id'] as string}/$value`)
        .responseType(ResponseType.ARRAYBUFFER)
        .get()) as ArrayBuffer,
    );
    expect(back.equals(mime)).toBe(true);
    const atts = (await client.api(`/users/${bob.id}/messages/${created['id'] as string}/attachments`).get()) as Page;
    expect(atts.value.length).toBe(parseMime(mime).attachments.length);

    const bad = await failure(
      client.api(`/users/${bob.id}/mailFolders/${target.id}/messages`).header('Content-Type', 'text/plain').post('not base64 !!'),
    );
    expect(bad.statusCode).toBe(400);

    const json = (await client.api(`/users/${bob.id}/mailFolders/${target.id}/messages`).post({
      subject: 'Restored from JSON',
      body: { contentType: 'text', content: 'Hello' },
      toRecipients: [{ emailAddress: { name: 'Bob', address: bob.userPrincipalName } }],
      singleValueExtendedProperties: [
        { id: 'SystemTime 0x0E06', value: '2024-03-01T10:00:00Z' },
        { id: 'Integer 0x0E07', value: '1' },
      ],
    })) as Record<string, unknown>;
    expect(json['receivedDateTime']).toBe('2024-03-01T10:00:00Z');
    expect(json['isDraft']).toBe(false);

    const round = await readAll(start.deltaLink as string);
    expect(round.items.map((m) => m['id']).sort()).toEqual([created['id'], json['id']].sort());

    const patched = (await client
      .api(`/users/${bob.id}/messages/${json['id'] as string}`)
      .patch({ isRead: false, categories: ['Restored'] })) as Record<string, unknown>;
    expect(patched['isRead']).toBe(false);
    expect(patched['categories']).toEqual(['Restored']);
    expect(patched['changeKey']).not.toBe(json['changeKey']);

    const moved = (await client.api(`/users/${bob.id}/messages/${json['id'] as string}/move`).post({ destinationId: 'archive' })) as Record<
      string,
      unknown
    >;
    expect(moved['id']).toBe(json['id']);
    const archive = (await client.api(`/users/${bob.id}/mailFolders/archive`).get()) as { id: string };
    expect(moved['parentFolderId']).toBe(archive.id);

    await client.api(`/users/${bob.id}/messages/${created['id'] as string}`).delete();
    const gone = await failure(client.api(`/users/${bob.id}/messages/${created['id'] as string}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ErrorItemNotFound');
    const after = await readAll(round.deltaLink as string);
    expect(
      after.items
        .filter((m) => m['@removed'])
        .map((m) => m['id'])
        .sort(),
    ).toEqual([created['id'], json['id']].sort());
  });
});

describe('errors', () => {
  it('answers a message deleted between list and get with 404, and an always-failing message every time', async () => {
    const [a, b] = exported(alice).messages;
    if (!a || !b) throw new Error('no messages');
    emulator.faults.add({ kind: 'notFound', routeKind: 'mail.get', path: a.id, times: 1 });
    const err = await failure(noRetry.api(`/users/${alice.id}/messages/${a.id}`).get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('ErrorItemNotFound');
    emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.mime',
      path: b.id,
      status: 500,
      code: 'ErrorCorruptData',
      message: 'The item is corrupt.',
    });
    for (let i = 0; i < 2; i++) {
      const e = await failure(noRetry.api(`/users/${alice.id}/messages/${b.id}/$value`).get());
      expect(e.statusCode).toBe(500);
      expect(e.code).toBe('ErrorCorruptData');
    }
    emulator.faults.clear();
  });

  it('retries a transient 503 through the Graph client, and a truncated JSON body fails to parse', async () => {
    const [a] = exported(alice).messages;
    if (!a) throw new Error('no messages');
    emulator.faults.add({ kind: 'status503', routeKind: 'mail.mime', times: 1 });
    const before = emulator.stats.byKind['mail.mime'] ?? 0;
    const data = (await client
      .api(`/users/${alice.id}/messages/${a.id}/$value`)
      .responseType(ResponseType.ARRAYBUFFER)
      .get()) as ArrayBuffer;
    expect(data.byteLength).toBe(a.size);
    expect((emulator.stats.byKind['mail.mime'] ?? 0) - before).toBe(2);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'mail.list', times: 1 });
    await expect(noRetry.api(`/users/${alice.id}/mailFolders/inbox/messages`).get()).rejects.toThrow();
    emulator.faults.clear();
  });

  it('refuses an app without Mail permissions (403), and writes with Mail.Read only', async () => {
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set(ALL_APPLICATION_PERMISSIONS.filter((p) => !p.startsWith('Mail.')));
      const none = graphClientWithoutRetry(emulator, msalClient(emulator));
      const err = await failure(none.api(`/users/${alice.id}/mailFolders/inbox/messages`).get());
      expect(err.statusCode).toBe(403);
      expect(err.code).toBe('ErrorAccessDenied');
      emulator.directory.app.grantedRoles = new Set(['Mail.Read']);
      const readOnly = graphClientWithoutRetry(emulator, msalClient(emulator));
      expect(((await readOnly.api(`/users/${alice.id}/mailFolders/inbox`).get()) as { displayName: string }).displayName).toBe('Inbox');
      const denied = await failure(readOnly.api(`/users/${alice.id}/mailFolders`).post({ displayName: 'Nope' }));
      expect(denied.statusCode).toBe(403);
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
  });

  it('answers a user without a mailbox with MailboxNotEnabledForRESTAPI, and an unknown user with 404', async () => {
    const unlicensed = [...emulator.directory.users.values()].find((u) => u.mailboxType === 'none');
    if (!unlicensed) throw new Error('no unlicensed user');
    const err = await failure(noRetry.api(`/users/${unlicensed.userPrincipalName}/mailFolders/inbox/messages/delta`).get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('MailboxNotEnabledForRESTAPI');
    const unknown = await failure(noRetry.api('/users/nobody@contoso.onmicrosoft.com/messages').get());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.code).toBe('Request_ResourceNotFound');
    const shared = [...emulator.directory.users.values()].find((u) => u.mailboxType === 'shared');
    const page = (await client.api(`/users/${shared?.id ?? ''}/mailFolders/inbox/messages`).get()) as Page;
    expect(Array.isArray(page.value)).toBe(true);
  });
});

describe('generation', () => {
  it('is deterministic from the seed, sizes included', async () => {
    const tenant = {
      seed: 'mail-determinism',
      users: 1,
      unlicensedUsers: 0,
      sharedMailboxes: 0,
      groups: 1,
      sites: 1,
      teams: 0,
      items: { mail: 15, events: 1, contacts: 1, files: 1, siteFiles: 1, channelMessages: 1 },
    };
    const [a, b] = await Promise.all([startEmulator({ tenant }), startEmulator({ tenant })]);
    try {
      const ea = a.export()['mail'] as { mailboxes: ExportedMailbox[] };
      const eb = b.export()['mail'] as { mailboxes: ExportedMailbox[] };
      expect(ea.mailboxes[0]?.messages.length).toBe(15);
      expect(ea).toEqual(eb);
      expect(a.mutate()).toEqual(b.mutate());
      const hashes = (e: MicrosoftEmulator): string[] =>
        (e.export()['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes.flatMap((m) => m.messages.map((x) => `${x.id} ${x.sha256}`));
      expect(hashes(a)).toEqual(hashes(b));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
