// The mail service against the emulator, through the worker's own Graph session: a base backup
// names every message with its folder path and the MIME bytes Exchange holds; an incremental run
// after adds, changes, moves and deletes gives exactly those; an idle run costs one request per
// folder; an expired sync state, a failing folder and revoked credentials each do what the
// engine's contract says.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, Change } from '../../../src/providers/provider.ts';
import { SourceError } from '../../../src/providers/provider.ts';
import { discoverTenant } from '../../../src/providers/microsoft365/discovery.ts';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { folderPaths, MailService } from '../../../src/providers/microsoft365/services/mail.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { applyChanges, contentOf, drain, pathPattern, sessionFor, startWithSession, upserts } from './support.ts';
import type { HeldItem } from './support.ts';

interface ExportedMailbox {
  account: string;
  folders: { id: string; path: string }[];
  messages: { id: string; folder: string; changeKey: string; size: number; sha256: string }[];
}

let emulator: MicrosoftEmulator;
let session: GraphSession;
let service: MailService;
let accounts: Account[];

function exported(account: Account): ExportedMailbox {
  const mb = (emulator.export()['mail'] as { mailboxes: ExportedMailbox[] }).mailboxes.find((m) => m.account === account.id);
  if (!mb) throw new Error(`no mailbox for ${account.address}`);
  return mb;
}

/** The source as the snapshot should hold it: id → folder path and changeKey. */
function expected(account: Account): Map<string, { path: string; version: string }> {
  return new Map(exported(account).messages.map((m) => [m.id, { path: m.folder, version: m.changeKey }]));
}

function held(model: Map<string, HeldItem>): Map<string, { path: string; version: string }> {
  return new Map([...model].map(([id, h]) => [id, { path: h.path, version: h.version }]));
}

const count = (changes: Change[], type: Change['type']): number => changes.filter((c) => c.type === type).length;

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: {
      seed: 'mail-service',
      users: 3,
      sharedMailboxes: 1,
      unlicensedUsers: 1,
      groups: 0,
      sites: 0,
      teams: 0,
      mailFolders: 3,
      items: { mail: 60 },
    },
  }));
  service = new MailService(session);
  accounts = (await discoverTenant(session, { sites: false, teams: false })).accounts.filter((a) => a.licensed);
});

afterAll(async () => {
  await emulator?.close();
});

describe('mail service', () => {
  it('computes folder paths from a flat listing, escaping a slash in a name', () => {
    const paths = folderPaths([
      { id: 'in', displayName: 'Inbox', parentFolderId: 'root' },
      { id: 'p', displayName: 'Projects', parentFolderId: 'in' },
      { id: 'q', displayName: 'Q1/Q2', parentFolderId: 'p' },
    ]);
    expect([...paths.values()]).toEqual(['Inbox', 'Inbox/Projects', 'Inbox/Projects/Q1%2FQ2']);
  });

  it('backs up every message of a user and of a shared mailbox with its folder path, changeKey, size and exact MIME', async () => {
    expect(accounts.map((a) => a.kind).sort()).toEqual(['sharedMailbox', 'user', 'user', 'user']);
    for (const account of accounts) {
      const { changes } = await drain(service, account);
      const model = applyChanges(new Map(), changes);
      expect(held(model)).toEqual(expected(account));
      const source = exported(account);
      // Every listed folder ends its round; nothing failed.
      expect(count(changes, 'containerDone')).toBe(source.folders.length);
      expect(count(changes, 'containerFailed')).toBe(0);
      const items = upserts(changes);
      for (const m of source.messages.slice(0, 15)) {
        const item = items.get(m.id);
        expect(item?.size).toBe(m.size);
        const bytes = await contentOf(item!);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(m.sha256);
        expect(bytes.toString('latin1')).toMatch(/^[\s\S]*Subject: /m);
      }
    }
  });

  it('gives exactly the added, changed, moved and deleted messages in an incremental run, and nothing in an idle one', async () => {
    const account = accounts[0]!;
    const base = await drain(service, account);
    const model = applyChanges(new Map(), base.changes);
    const before = expected(account);
    const counts = emulator
      .mutate({ seed: 'mail-incremental', add: 0.1, change: 0.05, move: 0.05, remove: 0.05, addFolders: 1, removeFolders: 0 })
      .find((c) => c.account === account.id && c.service === 'mail')!;
    expect(counts.added + counts.changed + counts.moved + counts.removed).toBeGreaterThan(0);

    const incremental = await drain(service, account, base.cursor);
    applyChanges(model, incremental.changes);
    expect(held(model)).toEqual(expected(account));
    // Upserts are exactly the new, changed and moved messages: untouched ones are not listed.
    const after = expected(account);
    const touched = [...after].filter(([id, m]) => before.get(id)?.version !== m.version || before.get(id)?.path !== m.path);
    expect(upserts(incremental.changes).size).toBe(counts.added + counts.changed + counts.moved);
    expect(new Set(upserts(incremental.changes).keys())).toEqual(new Set(touched.map(([id]) => id)));
    expect(count(incremental.changes, 'remove')).toBe(counts.removed + counts.moved);
    expect(count(incremental.changes, 'resync')).toBe(1); // the new folder, listed from scratch

    emulator.resetStats();
    const idle = await drain(service, account, incremental.cursor);
    expect(idle.changes.every((c) => c.type === 'containerDone')).toBe(true);
    const folders = exported(account).folders.length;
    expect(idle.changes).toHaveLength(folders);
    // One folder listing and one delta request per folder.
    expect(emulator.stats.byKind['mail.folderDelta']).toBe(1);
    expect(emulator.stats.byKind['mail.delta']).toBe(folders);
    expect(emulator.stats.byKind['mail.mime'] ?? 0).toBe(0);
  });

  it('lists again only the folder whose sync state expired, and drops what it no longer holds', async () => {
    const account = accounts[1]!;
    const base = await drain(service, account);
    const model = applyChanges(new Map(), base.changes);
    const inbox = exported(account).folders.find((f) => f.path === 'Inbox')!;
    emulator.mutate({ seed: 'mail-expired', add: 0, change: 0, move: 0, remove: 0.1, addFolders: 0, removeFolders: 0 });
    emulator.expireDeltaTokens(account.id, 'mail', inbox.id);
    const next = await drain(service, account, base.cursor);
    expect(next.changes.filter((c) => c.type === 'resync').map((c) => (c as { container: string }).container)).toEqual([inbox.id]);
    expect(next.changes.find((c) => c.type === 'resync')).toMatchObject({ reason: 'SyncStateNotFound' });
    applyChanges(model, next.changes);
    expect(held(model)).toEqual(expected(account));
    // Only the inbox was listed whole: the other folders' upserts are none.
    expect([...upserts(next.changes).values()].every((i) => i.container === inbox.id)).toBe(true);
  });

  it('reports a folder that cannot be read as failed, keeps its old delta link, and catches up once it can', async () => {
    const account = accounts[2]!;
    const base = await drain(service, account);
    const model = applyChanges(new Map(), base.changes);
    const inbox = exported(account).folders.find((f) => f.path === 'Inbox')!;
    emulator.mutate({ seed: 'mail-failing', add: 0.2, change: 0, move: 0, remove: 0, addFolders: 0, removeFolders: 0 });
    const rule = emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.delta',
      path: pathPattern(inbox.id),
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access is denied.',
    });
    let failing;
    try {
      failing = await drain(service, account, base.cursor);
      expect(emulator.faults.fired[rule]).toBeGreaterThan(0);
    } finally {
      emulator.faults.clear();
    }
    expect(failing.changes.filter((c) => c.type === 'containerFailed')).toEqual([
      {
        type: 'containerFailed',
        container: inbox.id,
        path: 'Inbox',
        issue: { source: 'graph', code: 'ErrorAccessDenied', message: 'Access is denied.' },
      },
    ]);
    applyChanges(model, failing.changes);
    const cursor = JSON.parse(failing.cursor) as { containers: Record<string, { link: string }> };
    const old = JSON.parse(base.cursor) as { containers: Record<string, { link: string }> };
    expect(cursor.containers[inbox.id]).toEqual(old.containers[inbox.id]);
    const healed = await drain(service, account, failing.cursor);
    applyChanges(model, healed.changes);
    expect(held(model)).toEqual(expected(account));
  });

  it('fails the mailbox, not the run, when its folders cannot be listed, and keeps the previous cursor', async () => {
    const account = accounts[0]!;
    const base = await drain(service, account);
    emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.folderDelta',
      path: account.id,
      status: 404,
      code: 'MailboxNotEnabledForRESTAPI',
      message: 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    });
    try {
      const gone = await drain(service, account, base.cursor);
      expect(gone.changes).toEqual([
        {
          type: 'containerFailed',
          container: 'mailFolders',
          path: '',
          issue: expect.objectContaining({ code: 'MailboxNotEnabledForRESTAPI' }),
        },
      ]);
      expect(gone.cursor).toBe(base.cursor);
    } finally {
      emulator.faults.clear();
    }
  });

  it('stops with AuthenticationFailed when the credentials are revoked', async () => {
    const own = await startWithSession({
      tenant: { seed: 'mail-revoked', users: 1, sharedMailboxes: 0, unlicensedUsers: 0, groups: 0, sites: 0, teams: 0, items: { mail: 5 } },
    });
    try {
      const mail = new MailService(own.session);
      const [account] = (await discoverTenant(own.session, { sites: false, teams: false })).accounts;
      own.emulator.revokeCredentials();
      const fresh = new MailService(sessionFor(own.emulator));
      for (const s of [mail, fresh]) {
        const error = await drain(s, account!).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(SourceError);
        expect((error as SourceError).fatalReason).toBe('AuthenticationFailed');
        expect((error as SourceError).message).not.toContain(own.emulator.connection.clientSecret);
      }
    } finally {
      await own.emulator.close();
    }
  });
});
