// The contacts service against the emulator, through the worker's real Graph session: a base
// backup holds every contact of every folder (child folders too) with its folder path, byte for
// byte as Graph serves it; incremental rounds give exactly the contacts added, changed, moved and
// deleted; an expired token, a failing folder and a renamed folder cost a listing of that folder
// only; deleted folders give containerRemoved; revoked credentials stop the run.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverTenant } from '../../../src/providers/microsoft365/discovery.ts';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { ContactsService, contactsService } from '../../../src/providers/microsoft365/services/contacts.ts';
import type { Account, Change, SourceItem } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { graphClient } from '../../emulators/microsoft/testing.ts';
import { applyChanges, contentOf, drain, heldList, ofType, startWithSession, upserts, type HeldItem } from './support.ts';

interface ExportedBook {
  account: string;
  folders: { id: string; path: string; contacts: number }[];
  contacts: { id: string; folder: string; displayName: string }[];
}

/** What the snapshot holds of one item. */
type Held = HeldItem;

let emulator: MicrosoftEmulator;
let session: GraphSession;
let client: Client;
let service: ContactsService;
let accounts: Account[];
const cursors = new Map<string, string>();
const held = new Map<string, Map<string, Held>>();

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: { users: 3, sharedMailboxes: 1, unlicensedUsers: 1, groups: 0, sites: 0, teams: 0, items: { contacts: 15 } },
  }));
  client = graphClient(emulator);
  // Small pages, so that rounds span pages.
  service = new ContactsService(session, { pageSize: 4 });
  const directory = await discoverTenant(session, { sites: false, teams: false });
  accounts = directory.accounts.filter((a) => service.accountKinds.includes(a.kind));
});

afterAll(async () => {
  await emulator?.close();
});

/** Sorted keys at every level, without annotations: what a backed-up contact must equal. */
function canonical(entity: object): string {
  const body = Object.fromEntries(Object.entries(entity).filter(([k]) => !k.startsWith('@')));
  return JSON.stringify(body, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

function mailboxes(): Account[] {
  return accounts.filter((a) => a.licensed);
}

function book(a: Account): ExportedBook {
  const found = (emulator.export()['contacts'] as ExportedBook[]).find((b) => b.account === a.id);
  if (!found) throw new Error(`no contacts for ${a.address}`);
  return found;
}

/**
 * What the account's snapshot should hold: the emulator's own record (folders, paths, contacts),
 * each contact read whole by id (no $select: the backup must have every property Graph has).
 */
async function expected(a: Account): Promise<Map<string, Held & { name: string; json: string }>> {
  const b = book(a);
  const folderId = new Map(b.folders.map((f) => [f.path, f.id]));
  const out = new Map<string, Held & { name: string; json: string }>();
  for (const c of b.contacts) {
    const read = await session.get<{ changeKey: string }>(`/users/${a.id}/contacts/${c.id}`);
    out.set(c.id, {
      version: read.changeKey,
      container: folderId.get(c.folder) as string,
      path: c.folder,
      name: c.displayName,
      json: canonical(read),
    });
  }
  return out;
}

/** Drains from the account's stored cursor; the held items it gives must equal a fresh read. */
async function incremental(
  a: Account,
  check = true,
): Promise<{ changes: Change[]; before: Map<string, Held>; previousCursor: string | undefined }> {
  const before = held.get(a.id) ?? new Map<string, Held>();
  const previousCursor = cursors.get(a.id);
  const { changes, cursor } = await drain(service, a, previousCursor);
  const after = applyChanges(new Map(before), changes);
  if (check) expect(heldList(after)).toEqual(heldList(await expected(a)));
  cursors.set(a.id, cursor);
  held.set(a.id, after);
  return { changes, before, previousCursor };
}

/** Folder ids in the order the service reads them: the default folder, then level by level. */
function folderOrder(b: ExportedBook): string[] {
  const depth = (path: string) => path.split('/').length;
  return [...b.folders].sort((x, y) => depth(x.path) - depth(y.path)).map((f) => f.id);
}

/** A folder below the default one with contacts in it. */
function busiestFolder(a: Account): { id: string; path: string } {
  const b = book(a);
  const found = b.folders.filter((f) => f.path.includes('/')).sort((x, y) => y.contacts - x.contacts)[0];
  if (!found || found.contacts === 0) throw new Error(`${a.address} has no folder with contacts below the default one`);
  return found;
}

function itemsIn(changes: readonly Change[], container: string): SourceItem[] {
  return ofType(changes, 'upsert')
    .map((c) => c.item)
    .filter((i) => i.container === container);
}

describe('contacts backup', () => {
  it('is the contacts service of users and shared mailboxes', () => {
    const made = contactsService(session);
    expect({ name: made.name, kinds: made.accountKinds }).toEqual({ name: 'contacts', kinds: ['user', 'sharedMailbox'] });
  });

  it('backs up every contact of every folder, child folders too, byte for byte, each folder ending with containerDone', async () => {
    expect(
      mailboxes()
        .map((a) => a.kind)
        .sort(),
    ).toEqual(['sharedMailbox', 'user', 'user', 'user']);
    let nested = 0;
    for (const a of mailboxes()) {
      const { changes, cursor } = await drain(service, a);
      const items = upserts(changes);
      const want = await expected(a);
      expect(ofType(changes, 'upsert').length).toBe(items.size);
      expect(changes.filter((c) => c.type !== 'upsert' && c.type !== 'containerDone')).toEqual([]);
      expect([...items.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [id, item] of items) {
        const w = want.get(id) as Held & { name: string; json: string };
        expect({ version: item.version, container: item.container, path: item.path, name: item.name, size: item.size }).toEqual({
          version: w.version,
          container: w.container,
          path: w.path,
          name: w.name,
          size: Buffer.byteLength(w.json),
        });
        expect((await contentOf(item)).toString('utf8')).toBe(w.json);
      }
      const b = book(a);
      expect(b.folders[0]?.path).toBe('Contacts');
      nested += b.folders.filter((f) => f.path.split('/').length > 2).length;
      expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(folderOrder(b));
      for (const [i, c] of changes.entries()) {
        if (c.type !== 'upsert') continue;
        expect(changes.findIndex((d) => d.type === 'containerDone' && d.container === c.item.container)).toBeGreaterThan(i);
      }
      cursors.set(a.id, cursor);
      held.set(a.id, applyChanges(new Map(), changes));
    }
    // The generated tenant (fixed seed) has folders two levels down.
    expect(nested).toBeGreaterThan(0);
  });

  it('gives exactly the contacts added, changed, moved and deleted, and lists a new folder from scratch', async () => {
    const counts = emulator
      .mutate({ add: 0.2, change: 0.2, move: 0.2, remove: 0.15, addFolders: 1, removeFolders: 0 })
      .filter((c) => c.service === 'contacts');
    expect(counts.reduce((n, c) => Math.min(n, c.added, c.changed, c.moved, c.removed), Infinity)).toBeGreaterThan(0);
    for (const a of mailboxes()) {
      const mine = counts.find((c) => c.account === a.id);
      const { changes, before, previousCursor } = await incremental(a);
      // One upsert per contact added, changed or moved; one remove per contact deleted or moved away.
      expect({ upserts: ofType(changes, 'upsert').length, removes: ofType(changes, 'remove').length }).toEqual({
        upserts: (mine?.added ?? 0) + (mine?.changed ?? 0) + (mine?.moved ?? 0),
        removes: (mine?.removed ?? 0) + (mine?.moved ?? 0),
      });
      // Nothing untouched comes again.
      for (const item of upserts(changes).values()) expect(before.get(item.id)?.version).not.toBe(item.version);
      // A moved contact keeps its id: upserted in its new folder, removed from the old one.
      const moved = [...upserts(changes).values()].filter((i) => before.has(i.id));
      expect(moved.filter((i) => before.get(i.id)?.container !== i.container).length).toBe(mine?.moved);
      for (const i of moved.filter((m) => before.get(m.id)?.container !== m.container)) {
        expect(ofType(changes, 'remove')).toContainEqual({ type: 'remove', id: i.id, container: before.get(i.id)?.container });
      }
      const known = Object.keys((JSON.parse(previousCursor as string) as { containers: object }).containers);
      const fresh = book(a).folders.filter((f) => !known.includes(f.id));
      expect(fresh.length).toBe(1);
      expect(ofType(changes, 'resync')).toEqual(fresh.map((f) => ({ type: 'resync', container: f.id, reason: 'NoDeltaLink' })));
      expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(folderOrder(book(a)));
    }
  });

  it('costs the folder tree and one delta request per folder when nothing changed, and gives only containerDone', async () => {
    emulator.resetStats();
    const runs: { a: Account; changes: Change[] }[] = [];
    for (const a of mailboxes()) {
      const { changes, cursor } = await drain(service, a, cursors.get(a.id));
      runs.push({ a, changes });
      cursors.set(a.id, cursor);
    }
    const folders = mailboxes().reduce((n, a) => n + book(a).folders.length, 0);
    // Per mailbox: the default folder, its children, one childFolders listing per other folder;
    // and one delta request per folder.
    expect({ ...emulator.stats.byKind, 'identity.token': undefined }).toEqual({
      'contacts.folder': mailboxes().length,
      'contacts.folders': folders,
      'contacts.delta': folders,
      'identity.token': undefined,
    });
    for (const { a, changes } of runs)
      expect(changes).toEqual(folderOrder(book(a)).map((container) => ({ type: 'containerDone', container })));
  });

  it('lists only the folder whose delta token expired again, with the same versions; the others resume', async () => {
    const a = mailboxes()[0] as Account;
    const target = busiestFolder(a);
    expect(emulator.expireDeltaTokens(a.id, 'contacts', target.id)).toBe(1);
    const { changes, before } = await incremental(a);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: target.id, reason: 'SyncStateNotFound' }]);
    const listed = itemsIn(changes, target.id);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.map((i) => [i.id, i.version]).sort()).toEqual(
      [...before]
        .filter(([, h]) => h.container === target.id)
        .map(([id, h]) => [id, h.version])
        .sort(),
    );
    expect(ofType(changes, 'upsert').length).toBe(listed.length);
    expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(folderOrder(book(a)));
    const again = await incremental(a);
    expect(again.changes.every((c) => c.type === 'containerDone')).toBe(true);
  });

  it('reports a folder that fails as containerFailed, keeps its cursor entry, and catches up once it answers again', async () => {
    const a = mailboxes()[1] as Account;
    const target = busiestFolder(a);
    const entryOf = (cursor: string | undefined) =>
      (JSON.parse(cursor as string) as { containers: Record<string, unknown> }).containers[target.id];
    const old = entryOf(cursors.get(a.id));
    const created = (await client.api(`/users/${a.id}/contactFolders/${target.id}/contacts`).post({
      givenName: 'Ada',
      surname: 'Lovelace',
      emailAddresses: [{ name: 'Ada Lovelace', address: 'ada@example.com' }],
    })) as { id: string };
    emulator.faults.add({
      kind: 'error',
      routeKind: 'contacts.delta',
      path: target.id,
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access is denied. Check credentials and try again.',
    });
    try {
      const failed = await incremental(a, false);
      expect(ofType(failed.changes, 'containerFailed')).toEqual([
        { type: 'containerFailed', container: target.id, path: target.path, issue: expect.objectContaining({ code: 'ErrorAccessDenied' }) },
      ]);
      expect(ofType(failed.changes, 'upsert')).toEqual([]);
      expect(ofType(failed.changes, 'containerDone').map((c) => c.container)).toEqual(
        folderOrder(book(a)).filter((id) => id !== target.id),
      );
      expect(entryOf(cursors.get(a.id))).toEqual(old);
    } finally {
      emulator.faults.clear();
    }
    const caught = await incremental(a);
    const items = upserts(caught.changes);
    expect([...items.keys()]).toEqual([created.id]);
    expect({ name: items.get(created.id)?.name, path: items.get(created.id)?.path }).toEqual({ name: 'Ada Lovelace', path: target.path });
  });

  it('lists a renamed folder again so its contacts take the new path, at unchanged versions', async () => {
    const a = mailboxes()[2] as Account;
    const target = busiestFolder(a);
    // As if the folder had another name at the last run.
    const stored = JSON.parse(cursors.get(a.id) as string) as { containers: Record<string, { link: string; path: string }> };
    (stored.containers[target.id] as { path: string }).path = 'Contacts/Old name';
    cursors.set(a.id, JSON.stringify(stored));
    const before = held.get(a.id) as Map<string, Held>;
    for (const [id, h] of before) if (h.container === target.id) before.set(id, { ...h, path: 'Contacts/Old name' });
    const { changes } = await incremental(a);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: target.id, reason: 'ContainerMoved' }]);
    const listed = itemsIn(changes, target.id);
    expect(listed.length).toBeGreaterThan(0);
    expect(ofType(changes, 'upsert').length).toBe(listed.length);
    for (const item of listed)
      expect({ path: item.path, version: item.version }).toEqual({ path: target.path, version: before.get(item.id)?.version });
  });

  it('removes deleted folders, child folders included, with containerRemoved', async () => {
    const counts = emulator
      .mutate({ add: 0, change: 0, move: 0, remove: 0, addFolders: 0, removeFolders: 1 })
      .filter((c) => c.service === 'contacts');
    for (const a of mailboxes()) {
      const previous = Object.keys((JSON.parse(cursors.get(a.id) as string) as { containers: object }).containers);
      const { changes } = await incremental(a);
      const left = book(a).folders.map((f) => f.id);
      expect(left.length).toBe(1);
      const removed = ofType(changes, 'containerRemoved').map((c) => c.container);
      expect(removed.sort()).toEqual(previous.filter((id) => !left.includes(id)).sort());
      expect(removed.length).toBe(counts.find((c) => c.account === a.id)?.foldersRemoved);
      expect(changes.filter((c) => c.type !== 'containerRemoved')).toEqual([{ type: 'containerDone', container: left[0] }]);
    }
  });

  it('fails the account when the folder tree cannot be listed, and keeps the cursor as it was', async () => {
    const a = mailboxes()[0] as Account;
    const before = cursors.get(a.id);
    emulator.faults.add({
      kind: 'error',
      routeKind: 'contacts.folders',
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access is denied.',
    });
    try {
      const { changes, cursor } = await drain(service, a, before);
      expect(changes).toEqual([
        { type: 'containerFailed', container: 'contactFolders', path: '', issue: expect.objectContaining({ code: 'ErrorAccessDenied' }) },
      ]);
      expect(cursor).toBe(before);
    } finally {
      emulator.faults.clear();
    }
  });

  it('fails the account, not the run, for a user without a mailbox', async () => {
    const unlicensed = accounts.find((a) => !a.licensed);
    expect(unlicensed).toBeDefined();
    const { changes } = await drain(service, unlicensed as Account);
    expect(changes).toEqual([
      {
        type: 'containerFailed',
        container: 'contactFolders',
        path: '',
        issue: expect.objectContaining({ code: 'MailboxNotEnabledForRESTAPI' }),
      },
    ]);
  });

  it('stops with AuthenticationFailed when the credentials are revoked', async () => {
    const a = mailboxes()[0] as Account;
    emulator.revokeCredentials();
    await expect(drain(service, a, cursors.get(a.id))).rejects.toMatchObject({ name: 'SourceError', fatalReason: 'AuthenticationFailed' });
  });
});
