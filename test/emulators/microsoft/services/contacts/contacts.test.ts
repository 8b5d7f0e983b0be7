// Contacts contract: the real Graph client lists contact folders and contacts, pages through
// contact delta per folder, follows incremental rounds after the tenant changes (adds, changes,
// moves between folders, removals), restores folders and contacts and reads them back, and meets
// Graph's errors.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { ALL_APPLICATION_PERMISSIONS } from '../../tenant/directory.ts';
import type { User } from '../../tenant/directory.ts';
import { graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';

interface Contact {
  id: string;
  displayName?: string;
  parentFolderId?: string;
  changeKey?: string;
  emailAddresses?: { name: string; address: string }[];
  '@removed'?: { reason: string };
  [key: string]: unknown;
}

interface Folder {
  id: string;
  displayName: string;
  parentFolderId: string;
}

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

let emulator: MicrosoftEmulator;
let client: Client;
let users: User[];

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: { users: 2, unlicensedUsers: 1, sharedMailboxes: 1, groups: 0, sites: 0, teams: 0, items: { contacts: 20 } },
  });
  client = graphClient(emulator);
  users = [...emulator.directory.users.values()].filter((u) => u.mailboxType !== 'none');
});

afterAll(async () => {
  await emulator?.close();
});

async function failure(promise: Promise<unknown>): Promise<{ statusCode: number; code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { statusCode: number; code: string; message: string };
  }
  throw new Error('expected the call to fail');
}

async function listAll<T>(url: string, headers: Record<string, string> = {}): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    let request = client.api(next);
    for (const [k, v] of Object.entries(headers)) request = request.header(k, v);
    const page = (await request.get()) as Page<T>;
    items.push(...page.value);
    pages++;
    next = page['@odata.nextLink'];
  }
  return { items, pages };
}

async function deltaRound(url: string, maxPageSize?: number): Promise<{ items: Contact[]; pages: number; deltaLink: string }> {
  const items: Contact[] = [];
  let next: string | undefined = url;
  let pages = 0;
  for (;;) {
    let request = client.api(next);
    if (maxPageSize) request = request.header('Prefer', `odata.maxpagesize=${maxPageSize}`);
    const page = (await request.get()) as Page<Contact>;
    pages++;
    if (maxPageSize) expect(page.value.length).toBeLessThanOrEqual(maxPageSize);
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, pages, deltaLink: page['@odata.deltaLink'] };
    next = page['@odata.nextLink'];
    if (!next) throw new Error('a delta page without nextLink or deltaLink');
  }
}

/** The default folder (`contacts`) and every folder below it. */
async function allFolders(userId: string): Promise<{ id: string; url: string }[]> {
  const out = [{ id: 'root', url: `/users/${userId}/contacts/delta` }];
  const queue = (await listAll<Folder>(`/users/${userId}/contactFolders`)).items;
  while (queue.length) {
    const f = queue.shift() as Folder;
    out.push({ id: f.id, url: `/users/${userId}/contactFolders/${f.id}/contacts/delta` });
    queue.push(...(await listAll<Folder>(`/users/${userId}/contactFolders/${f.id}/childFolders`)).items);
  }
  return out;
}

function user(i = 0): User {
  const u = users[i];
  if (!u) throw new Error('no user');
  return u;
}

describe('contact folders and contacts', () => {
  it('lists folders under the default folder, child folders, and all contacts across them', async () => {
    const u = user();
    const folders = await allFolders(u.userPrincipalName);
    expect(folders.length).toBeGreaterThan(1);
    let total = 0;
    for (const f of folders) {
      const url = f.id === 'root' ? `/users/${u.id}/contacts` : `/users/${u.id}/contactFolders/${f.id}/contacts`;
      const { items } = await listAll<Contact>(url);
      for (const c of items) if (f.id !== 'root') expect(c.parentFolderId).toBe(f.id);
      total += items.length;
    }
    expect(total).toBe(20);
    const top = (await listAll<Folder>(`/users/${u.id}/contactFolders`)).items[0] as Folder;
    const one = (await client.api(`/users/${u.id}/contactFolders/${top.id}`).get()) as Folder;
    expect(one.displayName).toBe(top.displayName);
  });

  it('pages /contacts with the default page, $top and odata.maxpagesize, and honours $select', async () => {
    const u = user();
    const all = await listAll<Contact>(`/users/${u.id}/contacts`);
    expect(all.pages).toBe(Math.max(1, Math.ceil(all.items.length / 10)));
    const top = await listAll<Contact>(`/users/${u.id}/contacts?$top=3`);
    expect(top.items.map((c) => c.id)).toEqual(all.items.map((c) => c.id));
    expect(top.pages).toBe(Math.ceil(all.items.length / 3));
    const selected = await listAll<Contact>(`/users/${u.id}/contacts?$select=displayName,emailAddresses`, {
      Prefer: 'odata.maxpagesize=2',
    });
    expect(selected.pages).toBe(Math.ceil(all.items.length / 2));
    for (const c of selected.items)
      expect(
        Object.keys(c)
          .filter((k) => !k.startsWith('@'))
          .sort(),
      ).toEqual(['displayName', 'emailAddresses', 'id']);
    const first = all.items[0] as Contact;
    const got = (await client.api(`/users/${u.id}/contacts/${first.id}`).select('displayName').get()) as Contact;
    expect(got.displayName).toBe(first.displayName);
    expect(got.emailAddresses).toBeUndefined();
  });
});

describe('contact delta', () => {
  it('pages a first round to a deltaLink and carries $select in the tokens', async () => {
    const u = user();
    const list = await listAll<Contact>(`/users/${u.id}/contacts?$top=100`);
    const round = await deltaRound(`/users/${u.id}/contacts/delta?$select=displayName`, 3);
    expect(round.deltaLink).toMatch(/\$deltatoken=/);
    expect(round.pages).toBeGreaterThan(1);
    expect(new Set(round.items.map((c) => c.id))).toEqual(new Set(list.items.map((c) => c.id)));
    for (const c of round.items) expect(c['givenName']).toBeUndefined();
    const again = await deltaRound(round.deltaLink);
    expect(again.items).toEqual([]);
  });

  it('reports exactly what mutate() did: added, changed, moved between folders, removed, folders added', async () => {
    const state = new Map<string, { tokens: Map<string, string>; where: Map<string, string>; folders: number }>();
    for (const u of users) {
      const tokens = new Map<string, string>();
      const where = new Map<string, string>();
      const folders = await allFolders(u.id);
      for (const f of folders) {
        const round = await deltaRound(f.url, 4);
        for (const c of round.items) where.set(c.id, f.id);
        tokens.set(f.id, round.deltaLink);
      }
      state.set(u.id, { tokens, where, folders: folders.length });
    }
    const counts = emulator
      .mutate({ add: 0.2, change: 0.15, move: 0.15, remove: 0.1, addFolders: 1 })
      .filter((c) => c.service === 'contacts');
    expect(counts.length).toBe(users.length);
    for (const u of users) {
      const expected = counts.find((c) => c.account === u.id);
      const { tokens, where, folders } = state.get(u.id) as { tokens: Map<string, string>; where: Map<string, string>; folders: number };
      const seen = new Map<string, string>();
      const removedFrom = new Map<string, string>();
      for (const [folder, deltaLink] of tokens) {
        const round = await deltaRound(deltaLink, 4);
        for (const c of round.items) {
          if (c['@removed']) removedFrom.set(c.id, folder);
          else seen.set(c.id, folder);
        }
      }
      let added = 0;
      let changed = 0;
      let moved = 0;
      for (const [id, folder] of seen) {
        const before = where.get(id);
        if (before === undefined) added++;
        else if (before === folder) changed++;
        else if (removedFrom.get(id) === before) moved++;
      }
      const removed = [...removedFrom.keys()].filter((id) => !seen.has(id)).length;
      expect({ added, changed, moved, removed }).toEqual({
        added: expected?.added,
        changed: expected?.changed,
        moved: expected?.moved,
        removed: expected?.removed,
      });
      expect(expected?.added).toBeGreaterThan(0);
      expect(expected?.moved).toBeGreaterThan(0);
      expect((await allFolders(u.id)).length).toBe(folders + (expected?.foldersAdded ?? 0));
    }
  });

  it('removes folders with their child folders and contacts: the counts match what the client had, old delta links answer 404', async () => {
    const before = new Map<string, { links: string[]; contacts: number; folders: number }>();
    for (const u of users) {
      const folders = (await allFolders(u.id)).filter((f) => f.id !== 'root');
      let contacts = 0;
      const links: string[] = [];
      for (const f of folders) {
        const round = await deltaRound(f.url);
        contacts += round.items.length;
        links.push(round.deltaLink);
      }
      before.set(u.id, { links, contacts, folders: folders.length });
    }
    const counts = emulator
      .mutate({ add: 0, change: 0, remove: 0, move: 0, addFolders: 0, removeFolders: 1 })
      .filter((c) => c.service === 'contacts');
    for (const u of users) {
      const was = before.get(u.id) as { links: string[]; contacts: number; folders: number };
      expect(was.folders).toBeGreaterThan(0);
      expect(counts.find((c) => c.account === u.id)).toMatchObject({
        foldersRemoved: was.folders,
        removed: was.contacts,
        added: 0,
        changed: 0,
        moved: 0,
      });
      for (const l of was.links) {
        const err = await failure(client.api(l).get());
        expect(err.statusCode).toBe(404);
        expect(err.code).toBe('ErrorItemNotFound');
      }
      expect((await allFolders(u.id)).length).toBe(1);
    }
  });

  it('answers an expired delta token with 410 SyncStateNotFound', async () => {
    const u = user(1);
    const round = await deltaRound(`/users/${u.id}/contacts/delta`);
    expect(emulator.expireDeltaTokens(u.id, 'contacts')).toBeGreaterThan(0);
    const err = await failure(client.api(round.deltaLink).get());
    expect(err.statusCode).toBe(410);
    expect(err.code).toBe('SyncStateNotFound');
    const fresh = await deltaRound(`/users/${u.id}/contacts/delta`);
    expect(fresh.items.length).toBe(round.items.length);
  });
});

describe('restore', () => {
  it('creates a folder tree and contacts, changes and deletes one, identical in export()', async () => {
    const u = user(1);
    const folder = (await client.api(`/users/${u.userPrincipalName}/contactFolders`).post({ displayName: 'Restored' })) as Folder;
    const child = (await client.api(`/users/${u.id}/contactFolders/${folder.id}/childFolders`).post({ displayName: 'Nested' })) as Folder;
    expect(child.parentFolderId).toBe(folder.id);
    const dup = await failure(client.api(`/users/${u.id}/contactFolders`).post({ displayName: 'Restored' }));
    expect(dup.statusCode).toBe(409);
    const source = (await listAll<Contact>(`/users/${u.id}/contacts?$top=100`)).items[0] as Contact;
    const { id: _id, changeKey: _ck, parentFolderId: _p, createdDateTime: _c, lastModifiedDateTime: _l, ...writable } = source;
    for (const key of Object.keys(writable)) if (key.startsWith('@')) delete writable[key];
    const copy = (await client.api(`/users/${u.id}/contactFolders/${child.id}/contacts`).post(writable)) as Contact;
    expect(copy.parentFolderId).toBe(child.id);
    const exported = emulator.export()['contacts'] as { account: string; contacts: { id: string; folder: string; sha256: string }[] }[];
    const mine = exported.find((b) => b.account === u.id);
    const a = mine?.contacts.find((c) => c.id === source.id);
    const b = mine?.contacts.find((c) => c.id === copy.id);
    expect(b?.folder).toBe('Contacts/Restored/Nested');
    expect(b?.sha256).toBe(a?.sha256);

    const created = (await client
      .api(`/users/${u.id}/contacts`)
      .post({ givenName: 'Ada', surname: 'Lovelace', emailAddresses: [{ address: 'ada@example.com', name: 'Ada' }] })) as Contact;
    expect(created.displayName).toBe('Ada Lovelace');
    const patched = (await client.api(`/users/${u.id}/contacts/${created.id}`).patch({ jobTitle: 'Analyst' })) as Contact;
    expect(patched['jobTitle']).toBe('Analyst');
    expect(patched.changeKey).not.toBe(created.changeKey);
    expect(((await client.api(`/users/${u.id}/contacts/${created.id}`).get()) as Contact)['jobTitle']).toBe('Analyst');
    await client.api(`/users/${u.id}/contacts/${created.id}`).delete();
    const gone = await failure(client.api(`/users/${u.id}/contacts/${created.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ErrorItemNotFound');
  });
});

describe('errors and faults', () => {
  it('answers a user without a mailbox and an unknown user as Graph does', async () => {
    const unlicensed = [...emulator.directory.users.values()].find((u) => u.mailboxType === 'none');
    const err = await failure(client.api(`/users/${unlicensed?.userPrincipalName}/contacts`).get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('MailboxNotEnabledForRESTAPI');
    const unknown = await failure(client.api('/users/00000000-0000-4000-a000-000000000000/contactFolders').get());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.code).toBe('Request_ResourceNotFound');
  });

  it('refuses an app without Contacts permissions, and writes with Contacts.Read only', async () => {
    const saved = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set(ALL_APPLICATION_PERMISSIONS.filter((p) => !p.startsWith('Contacts.')));
      const none = graphClient(emulator, { client: msalClient(emulator) });
      const err = await failure(none.api(`/users/${user().id}/contacts/delta`).get());
      expect(err.statusCode).toBe(403);
      expect(err.code).toBe('ErrorAccessDenied');
      emulator.directory.app.grantedRoles = new Set(['Contacts.Read']);
      const reader = graphClient(emulator, { client: msalClient(emulator) });
      await reader.api(`/users/${user().id}/contacts`).get();
      const write = await failure(reader.api(`/users/${user().id}/contacts`).post({ givenName: 'No' }));
      expect(write.statusCode).toBe(403);
    } finally {
      emulator.directory.app.grantedRoles = saved;
    }
  });

  it('serves the injected faults: deleted between list and get, a contact that always fails, a transient 503, a cut body', async () => {
    const u = user();
    const { items } = await listAll<Contact>(`/users/${u.id}/contacts?$top=100`);
    const [a, b] = items as [Contact, Contact];
    emulator.faults.add({ kind: 'notFound', routeKind: 'contacts.contact', path: a.id, times: 1 });
    const gone = await failure(client.api(`/users/${u.id}/contacts/${a.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ErrorItemNotFound');
    expect(((await client.api(`/users/${u.id}/contacts/${a.id}`).get()) as Contact).id).toBe(a.id);
    emulator.faults.add({ kind: 'error', routeKind: 'contacts.contact', path: b.id, status: 500, code: 'ErrorInternalServerError' });
    for (let i = 0; i < 2; i++)
      expect((await failure(client.api(`/users/${u.id}/contacts/${b.id}`).get())).code).toBe('ErrorInternalServerError');
    emulator.faults.clear();
    emulator.faults.add({ kind: 'status503', routeKind: 'contacts.delta', times: 1 });
    const before = emulator.stats.byKind['contacts.delta'] ?? 0;
    const round = await deltaRound(`/users/${u.id}/contacts/delta`);
    expect(round.items.length).toBe(items.length);
    expect((emulator.stats.byKind['contacts.delta'] ?? 0) - before).toBe(round.pages + 1);
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'contacts.list', times: 1 });
    await expect(graphClientWithoutRetry(emulator).api(`/users/${u.id}/contacts`).get()).rejects.toThrow();
    emulator.faults.clear();
  });
});
