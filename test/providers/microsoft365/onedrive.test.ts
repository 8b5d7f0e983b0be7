// The OneDrive service against the emulator's drives, through the worker's real Graph session:
// full and incremental backups compared item by item with what the emulator holds, folder renames
// (new paths, same versions), permissions, downloads (expired pre-authenticated URLs, a large file
// streamed byte-exact), expired delta tokens, a failing drive, a user without a drive, and revoked
// credentials.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { onedriveService } from '../../../src/providers/microsoft365/services/onedrive.ts';
import type { OneDriveService } from '../../../src/providers/microsoft365/services/onedrive.ts';
import type { Account, SourceItem } from '../../../src/providers/provider.ts';
import { SourceError } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import type { Drive, DriveItem, IdentitySet } from '../../emulators/microsoft/services/drive/model.ts';
import { randomContent } from '../../emulators/microsoft/tenant/content.ts';
import type { User } from '../../emulators/microsoft/tenant/directory.ts';
import {
  applyChanges,
  contentOf,
  drain,
  DRIVES,
  driveHeld,
  graphRequests,
  kinds,
  removes,
  sha256,
  startWithSession,
  upserts,
  type DriveHeld,
} from './support.ts';

/** An item as the snapshot would hold it after the changes are applied. */
type Held = DriveHeld;

let emulator: MicrosoftEmulator;
let session: GraphSession;
let service: OneDriveService;
let alice: User;
let bob: User;
let nobody: User;
const by: IdentitySet = { user: { displayName: 'Test Author' } };

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: {
      users: 2,
      unlicensedUsers: 1,
      sharedMailboxes: 0,
      groups: 1,
      sites: 0,
      teams: 0,
      mailFolders: 0,
      items: { mail: 0, events: 0, contacts: 0, files: 30, siteFiles: 0, channelMessages: 0 },
      sizes: { fileMedianBytes: 8 * 1024, maxBytes: 128 * 1024 },
    },
  }));
  service = onedriveService(session) as OneDriveService;
  const users = [...emulator.directory.users.values()];
  [alice, bob] = users.filter((u) => u.hasDrive) as [User, User];
  nobody = users.find((u) => !u.hasDrive) as User;
  addQuarterly(driveOf(alice), 'Quarterly');
});

/** A folder with a subfolder, both holding files. */
function addQuarterly(drive: Drive, name: string): DriveItem {
  const reports = drive.addFolder(drive.root, name, by, '2024-03-01T00:00:00Z');
  const inner = drive.addFolder(reports, 'Q1', by, '2024-03-01T00:00:00Z');
  drive.addFile(reports, 'summary.txt', randomContent(`${name} summary`, 3000), by, '2024-03-01T00:00:00Z');
  drive.addFile(inner, 'january.csv', randomContent(`${name} january`, 5000), by, '2024-03-01T00:00:00Z');
  drive.addFile(inner, 'february.csv', randomContent(`${name} february`, 7000), by, '2024-03-01T00:00:00Z');
  return reports;
}

afterAll(async () => {
  await emulator?.close();
});

function driveOf(user: User): Drive {
  return emulator.services.drive.userDrives.get(user.id) as Drive;
}

function accountOf(user: User): Account {
  return { id: user.id, address: user.userPrincipalName, displayName: user.displayName, kind: 'user', licensed: user.hasDrive, groups: [] };
}

function versionOf(item: DriveItem): string {
  return item.isFolder ? `"{${item.uid}},${item.version}"` : `"c:{${item.uid}},${item.contentVersion}"`;
}

/** What the emulator holds for a drive, as the snapshot should hold it. */
function expectedOf(drive: Drive): Map<string, Held> {
  const out = new Map<string, Held>();
  for (const item of drive.items.values()) {
    if (item.parentId === undefined) continue;
    const full = drive.path(item);
    out.set(item.id, {
      container: drive.id,
      path: full.slice(1, full.lastIndexOf('/')),
      name: item.name,
      version: versionOf(item),
      size: item.isFolder ? 0 : item.size,
      eTag: `"{${item.uid}},${item.version}"`,
    });
  }
  return out;
}

describe('onedrive service', () => {
  const state = new Map<string, { cursor: string; held: Map<string, Held> }>();

  it('is the onedrive service for users', () => {
    expect(service.name).toBe('onedrive');
    expect(service.accountKinds).toEqual(['user']);
  });

  it('backs up a whole drive: every item with its path, version and size, content byte-exact, permissions in metadata', async () => {
    const drive = driveOf(alice);
    const expected = expectedOf(drive);
    emulator.resetStats();
    const { changes, cursor } = await drain(service, accountOf(alice));
    expect(kinds(changes)).toEqual([`containerDone:${drive.id}`]);
    expect(removes(changes)).toEqual([]);
    const items = upserts(changes);
    expect(changes.filter((c) => c.type === 'upsert')).toHaveLength(expected.size);
    expect(new Map([...items].map(([id, item]) => [id, driveHeld(item)]))).toEqual(expected);
    // One lookup of the user's drive, one delta page, one permissions request per item.
    expect(graphRequests(emulator)).toEqual({ 'drive.get': 1, 'drive.delta': 1, 'drive.permissions': expected.size });

    const exported = new Map(
      (
        (emulator.export()['drive'] as { driveId: string; items: { id: string; sha256?: string }[] }[]).find((d) => d.driveId === drive.id)
          ?.items ?? []
      ).map((i) => [i.id, i]),
    );
    emulator.resetStats();
    for (const item of items.values()) {
      const bytes = await contentOf(item);
      if (item.metadata?.['kind'] === 'folder') expect(bytes.length).toBe(0);
      else expect(sha256(bytes)).toBe(exported.get(item.id)?.sha256);
      expect(bytes.length).toBe(item.size);
    }
    // Downloads use the listing's pre-authenticated URLs: no Graph request at all.
    expect(graphRequests(emulator)).toEqual({
      'drive.download': [...items.values()].filter((i) => i.metadata?.['kind'] === 'file').length,
    });

    // Permissions: what Graph says about each item, one flat label per grant.
    const owner = `owner:user:${alice.mail ?? alice.userPrincipalName}`;
    let links = 0;
    for (const item of items.values()) {
      const granted = await session.all<{
        roles: string[];
        link?: { scope: string; type: string };
        grantedToV2?: { user?: { email?: string } };
      }>(`/drives/${drive.id}/items/${item.id}/permissions`);
      const labels = granted
        .map((p) =>
          p.link ? `${p.roles.join('+')}:link:${p.link.scope}:${p.link.type}` : `${p.roles.join('+')}:user:${p.grantedToV2?.user?.email}`,
        )
        .sort();
      expect(item.metadata?.['permissions']).toEqual(labels);
      expect(labels).toContain(owner);
      if (labels.includes('read:link:organization:view')) links++;
    }
    expect(links).toBeGreaterThan(0);
    expect(item(items, 'summary.txt').metadata).toMatchObject({ kind: 'file', mimeType: 'text/plain', modifiedBy: 'Test Author' });

    const held = new Map<string, Held>();
    applyChanges(held, changes, driveHeld, DRIVES);
    state.set(alice.id, { cursor, held });
  });

  it('gives exactly what a mutation did: adds, content changes, moves and deletes of files and folders', async () => {
    const drive = driveOf(alice);
    const before = expectedOf(drive);
    const counts = emulator
      .mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 2, removeFolders: 0.3 })
      .find((c) => c.service === 'drive' && c.account === alice.id);
    if (!counts) throw new Error('no mutation counts for the drive');
    expect(counts.added * counts.changed * counts.moved * counts.removed * counts.foldersRemoved).toBeGreaterThan(0);
    const after = expectedOf(drive);
    const { cursor, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    const run = await drain(service, accountOf(alice), cursor);

    expect(kinds(run.changes)).toEqual([`containerDone:${drive.id}`]);
    const touched = [...after].filter(([id, h]) => before.get(id)?.eTag !== h.eTag).map(([id]) => id);
    const items = upserts(run.changes);
    expect([...items.keys()].sort()).toEqual(touched.sort());
    expect(run.changes.filter((c) => c.type === 'upsert')).toHaveLength(touched.length);
    expect(touched).toHaveLength(counts.added + counts.changed + counts.moved + counts.foldersAdded);
    for (const [id, item] of items) expect(driveHeld(item)).toEqual(after.get(id));
    // Moved files keep their version: the engine reuses the stored content.
    const moved = [...items.values()].filter(
      (i) => before.has(i.id) && `${before.get(i.id)?.path}/${before.get(i.id)?.name}` !== `${i.path}/${i.name}`,
    );
    expect(moved).toHaveLength(counts.moved);
    for (const item of moved) expect(item.version).toBe(before.get(item.id)?.version);
    const gone = [...before.keys()].filter((id) => !after.has(id)).sort();
    expect(gone).toHaveLength(counts.removed + counts.foldersRemoved);
    expect(removes(run.changes)).toEqual(gone);

    applyChanges(held, run.changes, driveHeld, DRIVES);
    expect(held).toEqual(after);
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('costs one request and gives only containerDone when nothing changed', async () => {
    const drive = driveOf(alice);
    const { cursor } = state.get(alice.id) as { cursor: string };
    emulator.resetStats();
    const run = await drain(service, accountOf(alice), cursor);
    expect(run.changes).toEqual([{ type: 'containerDone', container: drive.id }]);
    expect(graphRequests(emulator)).toEqual({ 'drive.delta': 1 });
    state.set(alice.id, { ...(state.get(alice.id) as { held: Map<string, Held> }), cursor: run.cursor });
  });

  it('gives the files below a renamed folder their new path with the same version, listing only that folder', async () => {
    const drive = driveOf(alice);
    const folder = addQuarterly(drive, 'Annual');
    const { cursor: start, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    const added = await drain(service, accountOf(alice), start);
    expect(upserts(added.changes).size).toBe(5);
    applyChanges(held, added.changes, driveHeld, DRIVES);
    const before = expectedOf(drive);
    expect(held).toEqual(before);
    drive.move(folder, drive.root, 'Quarterly reports', by, '2024-04-01T00:00:00Z');
    const after = expectedOf(drive);
    emulator.resetStats();
    const run = await drain(service, accountOf(alice), added.cursor);
    const items = upserts(run.changes);
    expect([...items.values()].map((i) => `${i.path}/${i.name}`).sort()).toEqual([
      '/Quarterly reports',
      'Quarterly reports/Q1',
      'Quarterly reports/Q1/february.csv',
      'Quarterly reports/Q1/january.csv',
      'Quarterly reports/summary.txt',
    ]);
    expect(run.changes.filter((c) => c.type === 'upsert')).toHaveLength(5);
    for (const item of items.values()) {
      expect(driveHeld(item)).toEqual(after.get(item.id));
      // Only the renamed folder has a new version: what is below it keeps its own, so no content
      // is read again.
      if (item.id === folder.id) expect(item.version).not.toBe(before.get(item.id)?.version);
      else expect(item.version).toBe(before.get(item.id)?.version);
    }
    expect(removes(run.changes)).toEqual([]);
    // The delta, the children of the renamed folder and of its subfolder, and the permissions of
    // the five items.
    expect(graphRequests(emulator)).toEqual({ 'drive.delta': 1, 'drive.children': 2, 'drive.permissions': 5 });
    applyChanges(held, run.changes, driveHeld, DRIVES);
    expect(held).toEqual(after);
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('does not list again a folder Graph reports unchanged (as it does for the parents of a changed file)', async () => {
    const drive = driveOf(alice);
    const folder = [...drive.items.values()].find((i) => i.name === 'Quarterly reports') as DriveItem;
    drive.log.put(folder.id, folder);
    const { cursor, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    emulator.resetStats();
    const run = await drain(service, accountOf(alice), cursor);
    expect([...upserts(run.changes).keys()]).toEqual([folder.id]);
    expect(graphRequests(emulator)).toEqual({ 'drive.delta': 1, 'drive.permissions': 1 });
    applyChanges(held, run.changes, driveHeld, DRIVES);
    expect(held).toEqual(expectedOf(drive));
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('streams a large file byte-exact', async () => {
    const drive = driveOf(alice);
    const big = drive.addFile(
      drive.root,
      'Recording.mp4',
      randomContent('large recording', 24 * 1024 * 1024 + 17),
      by,
      '2024-05-01T00:00:00Z',
    );
    const { cursor, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    const run = await drain(service, accountOf(alice), cursor);
    const item = upserts(run.changes).get(big.id) as SourceItem;
    expect(driveHeld(item)).toEqual(expectedOf(drive).get(big.id));
    const content = await item.content();
    expect(Buffer.isBuffer(content)).toBe(false);
    const hash = createHash('sha256');
    let pieces = 0;
    let bytes = 0;
    for await (const piece of content as AsyncIterable<Uint8Array>) {
      hash.update(piece);
      pieces++;
      bytes += piece.length;
    }
    expect(bytes).toBe(big.size);
    expect(pieces).toBeGreaterThan(1);
    expect(hash.digest('hex')).toBe(drive.sha256(big));
    applyChanges(held, run.changes, driveHeld, DRIVES);
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('downloads through /content when the listed download URL expired', async () => {
    const drive = driveOf(alice);
    const { cursor } = state.get(alice.id) as { cursor: string };
    const changed = [...drive.files()].filter((f) => f.size < 1024 * 1024).slice(0, 3);
    for (const file of changed) drive.setContent(file, randomContent(`rewritten ${file.id}`, 2000 + file.size), by, '2024-06-01T00:00:00Z');
    const run = await drain(service, accountOf(alice), cursor);
    const items = upserts(run.changes);
    expect([...items.keys()].sort()).toEqual(changed.map((f) => f.id).sort());
    emulator.expireDownloadUrls();
    emulator.resetStats();
    for (const file of changed) {
      const bytes = await contentOf(items.get(file.id) as SourceItem);
      expect(sha256(bytes)).toBe(drive.sha256(file));
    }
    // One /content request per file (its redirect leads to a fresh URL); no failure left over.
    expect(emulator.stats.byKind['drive.content']).toBe(changed.length);
    const held = (state.get(alice.id) as { held: Map<string, Held> }).held;
    applyChanges(held, run.changes, driveHeld, DRIVES);
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('resyncs only the drive whose delta token expired', async () => {
    const bobFirst = await drain(service, accountOf(bob));
    const bobHeld = new Map<string, Held>();
    applyChanges(bobHeld, bobFirst.changes, driveHeld, DRIVES);
    expect(bobHeld).toEqual(expectedOf(driveOf(bob)));
    const drive = driveOf(alice);
    expect(emulator.expireDeltaTokens(alice.id, 'drive', drive.id)).toBe(1);
    const { cursor, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    const run = await drain(service, accountOf(alice), cursor);
    expect(kinds(run.changes)).toEqual([`resync:${drive.id}`, `containerDone:${drive.id}`]);
    const expected = expectedOf(drive);
    expect(upserts(run.changes).size).toBe(expected.size);
    // Versions did not change: a resync costs listings and permissions, not downloads.
    for (const [id, item] of upserts(run.changes)) expect(item.version).toBe(held.get(id)?.version);
    applyChanges(held, run.changes, driveHeld, DRIVES);
    expect(held).toEqual(expected);
    state.set(alice.id, { cursor: run.cursor, held });
    // The other user's drive is incremental as before.
    const bobNext = await drain(service, accountOf(bob), bobFirst.cursor);
    expect(bobNext.changes).toEqual([{ type: 'containerDone', container: driveOf(bob).id }]);
    state.set(bob.id, { cursor: bobNext.cursor, held: bobHeld });
  });

  it('reports a failing drive as containerFailed, keeps its cursor, and catches up once it answers again', async () => {
    const drive = driveOf(alice);
    const { cursor, held } = state.get(alice.id) as { cursor: string; held: Map<string, Held> };
    const counts = emulator.mutate({ add: 0.1, change: 0.1, move: 0.1, remove: 0.1, addFolders: 1, removeFolders: 0 });
    expect(counts.find((c) => c.service === 'drive' && c.account === alice.id)?.added).toBeGreaterThan(0);
    emulator.faults.add({
      kind: 'error',
      routeKind: 'drive.delta',
      path: drive.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      status: 403,
      code: 'accessDenied',
      message: 'Access denied',
    });
    try {
      const failed = await drain(service, accountOf(alice), cursor);
      expect(failed.changes).toEqual([
        {
          type: 'containerFailed',
          container: drive.id,
          path: 'OneDrive',
          issue: expect.objectContaining({ source: 'graph', code: 'accessDenied' }),
        },
      ]);
      expect(JSON.parse(failed.cursor)).toEqual(JSON.parse(cursor));
      // The other user's drive is read as usual meanwhile.
      const bobState = state.get(bob.id) as { cursor: string; held: Map<string, Held> };
      const bobRun = await drain(service, accountOf(bob), bobState.cursor);
      expect(kinds(bobRun.changes)).toEqual([`containerDone:${driveOf(bob).id}`]);
      applyChanges(bobState.held, bobRun.changes, driveHeld, DRIVES);
      expect(bobState.held).toEqual(expectedOf(driveOf(bob)));
    } finally {
      emulator.faults.clear();
    }
    const run = await drain(service, accountOf(alice), cursor);
    expect(kinds(run.changes)).toEqual([`containerDone:${drive.id}`]);
    applyChanges(held, run.changes, driveHeld, DRIVES);
    expect(held).toEqual(expectedOf(drive));
    state.set(alice.id, { cursor: run.cursor, held });
  });

  it('gives nothing, and no failure, for a user without a drive', async () => {
    emulator.resetStats();
    const run = await drain(service, accountOf(nobody));
    expect(run.changes).toEqual([]);
    expect(JSON.parse(run.cursor)).toEqual({ v: 1, drives: {} });
    expect(graphRequests(emulator)).toEqual({ 'drive.get': 1 });
    const again = await drain(service, accountOf(nobody), run.cursor);
    expect(again.changes).toEqual([]);
  });

  it('resyncs a drive whose cursor cannot be read', async () => {
    const drive = driveOf(bob);
    const run = await drain(service, accountOf(bob), 'not json');
    expect(kinds(run.changes)).toEqual([`resync:${drive.id}`, `containerDone:${drive.id}`]);
    expect(upserts(run.changes).size).toBe(expectedOf(drive).size);
  });

  it('stops with AuthenticationFailed when the credentials are revoked', async () => {
    const { cursor } = state.get(alice.id) as { cursor: string };
    emulator.revokeCredentials();
    const failure = await drain(service, accountOf(alice), cursor).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).fatalReason).toBe('AuthenticationFailed');
  });
});

function item(items: Map<string, SourceItem>, name: string): SourceItem {
  const found = [...items.values()].find((i) => i.name === name);
  if (!found) throw new Error(`no item ${name}`);
  return found;
}
