// The SharePoint service against the emulator's sites, through the worker's real Graph session:
// full and incremental backups of a site's document library compared item by item with what the
// emulator holds, paths prefixed with the library name, permissions, expired delta tokens, and
// how libraries come and go. The emulator gives every site one library; the tests of a site with
// several (one failing, one removed, one renamed) list two of the emulator's real drives as the
// libraries of one site, through a session whose `/sites/{id}/drives` answer the test decides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverTenant } from '../../../src/providers/microsoft365/discovery.ts';
import { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import type { GraphPage } from '../../../src/providers/microsoft365/graph.ts';
import { SharePointService, sharepointService } from '../../../src/providers/microsoft365/services/sharepoint.ts';
import type { Account } from '../../../src/providers/provider.ts';
import { SourceError } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import type { Site } from '../../emulators/microsoft/services/drive/index.ts';
import type { Drive, DriveItem } from '../../emulators/microsoft/services/drive/model.ts';
import {
  applyChanges,
  authFor,
  contentOf,
  drain,
  DRIVES,
  driveHeld,
  FAST_RETRY,
  graphRequests,
  kinds,
  removes,
  sha256,
  startWithSession,
  upserts,
  type DriveHeld,
} from './support.ts';

type Held = DriveHeld;

interface Library {
  id: string;
  name: string;
}

/** The worker's session, except that the libraries of some sites are the test's to say. */
class LibrarySession extends GraphSession {
  readonly libraries = new Map<string, Library[]>();

  override async *pages<T>(path: string, headers: Record<string, string> = {}): AsyncGenerator<GraphPage<T>> {
    const site = /^\/sites\/([^/?]+)\/drives\?/.exec(path)?.[1];
    const listed = site === undefined ? undefined : this.libraries.get(decodeURIComponent(site));
    if (listed) {
      yield { value: listed as T[] };
      return;
    }
    yield* super.pages<T>(path, headers);
  }
}

let emulator: MicrosoftEmulator;
let session: GraphSession;
let service: SharePointService;
/** Two team sites and the root site, as discovery gives them. */
let accounts: Map<string, Account>;
let teamA: Site;
let teamB: Site;
let rootSite: Site;

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: {
      users: 2,
      unlicensedUsers: 0,
      sharedMailboxes: 0,
      groups: 2,
      sites: 2,
      teams: 0,
      mailFolders: 0,
      items: { mail: 0, events: 0, contacts: 0, files: 0, siteFiles: 24, channelMessages: 0 },
      sizes: { fileMedianBytes: 8 * 1024, maxBytes: 128 * 1024 },
    },
  }));
  service = sharepointService(session) as SharePointService;
  const directory = await discoverTenant(session, { sites: true, teams: false });
  accounts = new Map(directory.accounts.filter((a) => a.kind === 'site').map((a) => [a.id, a]));
  [rootSite, teamA, teamB] = emulator.services.drive.sites as [Site, Site, Site];
  expect(accounts.size).toBe(3);
});

afterAll(async () => {
  await emulator?.close();
});

function accountOf(site: Site): Account {
  return accounts.get(site.id) as Account;
}

function versionOf(item: DriveItem): string {
  return item.isFolder ? `"{${item.uid}},${item.version}"` : `"c:{${item.uid}},${item.contentVersion}"`;
}

/** What the emulator holds for a drive, as the snapshot should hold it, paths under `prefix`. */
function expectedOf(drive: Drive, prefix: string): Map<string, Held> {
  const out = new Map<string, Held>();
  for (const item of drive.items.values()) {
    if (item.parentId === undefined) continue;
    const full = drive.path(item);
    const path = [prefix, full.slice(1, full.lastIndexOf('/'))].filter(Boolean).join('/');
    out.set(item.id, {
      container: drive.id,
      path,
      name: item.name,
      version: versionOf(item),
      size: item.isFolder ? 0 : item.size,
      eTag: `"{${item.uid}},${item.version}"`,
    });
  }
  return out;
}

function union(...maps: Map<string, Held>[]): Map<string, Held> {
  return new Map(maps.flatMap((m) => [...m]));
}

function escaped(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function cursorDrives(cursor: string): Record<string, { prefix: string; deltaLink: string }> {
  return (JSON.parse(cursor) as { drives: Record<string, { prefix: string; deltaLink: string }> }).drives;
}

describe('sharepoint service', () => {
  const state = new Map<string, { cursor: string; held: Map<string, Held> }>();

  it('is the sharepoint service for sites', () => {
    expect(service.name).toBe('sharepoint');
    expect(service.accountKinds).toEqual(['site']);
  });

  it("backs up a site's library: every item under the library's name, content byte-exact, permissions in metadata", async () => {
    for (const site of [teamA, teamB]) {
      const expected = expectedOf(site.drive, 'Documents');
      emulator.resetStats();
      const { changes, cursor } = await drain(service, accountOf(site));
      expect(kinds(changes)).toEqual([`containerDone:${site.drive.id}`]);
      expect(removes(changes)).toEqual([]);
      const items = upserts(changes);
      expect(changes.filter((c) => c.type === 'upsert')).toHaveLength(expected.size);
      expect(new Map([...items].map(([id, item]) => [id, driveHeld(item)]))).toEqual(expected);
      // The libraries, one delta page, one permissions request per item.
      expect(graphRequests(emulator)).toEqual({ 'drive.list': 1, 'drive.delta': 1, 'drive.permissions': expected.size });
      for (const item of items.values()) {
        const bytes = await contentOf(item);
        expect(bytes.length).toBe(item.size);
        if (item.metadata?.['kind'] === 'file') expect(sha256(bytes)).toBe(site.drive.sha256(site.drive.get(item.id) as DriveItem));
        // The site's owners group, by its login name.
        expect(item.metadata?.['permissions']).toContain(`owner:siteGroup:${site.displayName} Owners`);
      }
      const granted = [...items.values()].flatMap((i) => i.metadata?.['permissions'] as string[]);
      expect(granted).toContain('read:link:organization:view');
      expect(granted.some((g) => /^write:user:.+@/.test(g))).toBe(true);
      expect(cursorDrives(cursor)[site.drive.id]?.prefix).toBe('Documents');
      const held = new Map<string, Held>();
      applyChanges(held, changes, driveHeld, DRIVES);
      state.set(site.id, { cursor, held });
    }
  });

  it('gives exactly what a mutation did', async () => {
    const drive = teamA.drive;
    const before = expectedOf(drive, 'Documents');
    const counts = emulator
      .mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 2, removeFolders: 0.3 })
      .find((c) => c.service === 'drive' && c.account === teamA.id);
    if (!counts) throw new Error('no mutation counts for the library');
    expect(counts.added * counts.changed * counts.moved * counts.removed).toBeGreaterThan(0);
    const after = expectedOf(drive, 'Documents');
    const { cursor, held } = state.get(teamA.id) as { cursor: string; held: Map<string, Held> };
    const run = await drain(service, accountOf(teamA), cursor);
    expect(kinds(run.changes)).toEqual([`containerDone:${drive.id}`]);
    const touched = [...after]
      .filter(([id, h]) => before.get(id)?.eTag !== h.eTag)
      .map(([id]) => id)
      .sort();
    const items = upserts(run.changes);
    expect([...items.keys()].sort()).toEqual(touched);
    expect(run.changes.filter((c) => c.type === 'upsert')).toHaveLength(touched.length);
    expect(touched).toHaveLength(counts.added + counts.changed + counts.moved + counts.foldersAdded);
    for (const [id, item] of items) expect(driveHeld(item)).toEqual(after.get(id));
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
    state.set(teamA.id, { cursor: run.cursor, held });
  });

  it('costs the library listing and one delta request when nothing changed', async () => {
    const { cursor } = state.get(teamA.id) as { cursor: string };
    emulator.resetStats();
    const run = await drain(service, accountOf(teamA), cursor);
    expect(run.changes).toEqual([{ type: 'containerDone', container: teamA.drive.id }]);
    expect(graphRequests(emulator)).toEqual({ 'drive.list': 1, 'drive.delta': 1 });
    state.set(teamA.id, { ...(state.get(teamA.id) as { held: Map<string, Held> }), cursor: run.cursor });
  });

  it('resyncs only the library whose delta token expired', async () => {
    // Both sites are behind by the mutation; only team A's token expires.
    const a = state.get(teamA.id) as { cursor: string; held: Map<string, Held> };
    const b = state.get(teamB.id) as { cursor: string; held: Map<string, Held> };
    expect(emulator.expireDeltaTokens(teamA.id, 'drive')).toBe(1);
    const runA = await drain(service, accountOf(teamA), a.cursor);
    expect(kinds(runA.changes)).toEqual([`resync:${teamA.drive.id}`, `containerDone:${teamA.drive.id}`]);
    const expectedA = expectedOf(teamA.drive, 'Documents');
    expect(upserts(runA.changes).size).toBe(expectedA.size);
    for (const [id, item] of upserts(runA.changes)) expect(item.version).toBe(a.held.get(id)?.version);
    applyChanges(a.held, runA.changes, driveHeld, DRIVES);
    expect(a.held).toEqual(expectedA);
    const runB = await drain(service, accountOf(teamB), b.cursor);
    expect(kinds(runB.changes)).toEqual([`containerDone:${teamB.drive.id}`]);
    applyChanges(b.held, runB.changes, driveHeld, DRIVES);
    expect(b.held).toEqual(expectedOf(teamB.drive, 'Documents'));
    state.set(teamA.id, { cursor: runA.cursor, held: a.held });
    state.set(teamB.id, { cursor: runB.cursor, held: b.held });
  });

  it('keeps every library as it was when the libraries cannot be listed', async () => {
    const { cursor } = state.get(teamA.id) as { cursor: string };
    emulator.faults.add({ kind: 'error', routeKind: 'drive.list', status: 403, code: 'accessDenied', message: 'Access denied' });
    try {
      const run = await drain(service, accountOf(teamA), cursor);
      expect(run.changes).toEqual([
        { type: 'containerFailed', container: teamA.drive.id, path: 'Documents', issue: expect.objectContaining({ code: 'accessDenied' }) },
      ]);
      expect(JSON.parse(run.cursor)).toEqual(JSON.parse(cursor));
    } finally {
      emulator.faults.clear();
    }
  });

  it('removes every library of a site that is gone', async () => {
    const { cursor } = state.get(teamB.id) as { cursor: string };
    emulator.faults.add({ kind: 'notFound', routeKind: 'drive.list', times: 1 });
    try {
      const run = await drain(service, accountOf(teamB), cursor);
      expect(run.changes).toEqual([{ type: 'containerRemoved', container: teamB.drive.id }]);
      expect(cursorDrives(run.cursor)).toEqual({});
    } finally {
      emulator.faults.clear();
    }
  });

  describe('a site with two libraries', () => {
    let libraries: LibrarySession;
    let twoLibraries: SharePointService;
    let cursor: string;
    const held = new Map<string, Held>();
    const documents = (): Drive => teamB.drive;
    const archive = (): Drive => rootSite.drive;

    beforeAll(() => {
      libraries = new LibrarySession(authFor(emulator), { retry: FAST_RETRY });
      libraries.libraries.set(teamB.id, [
        { id: documents().id, name: 'Documents' },
        { id: archive().id, name: 'Archive' },
      ]);
      twoLibraries = new SharePointService(libraries);
    });

    it('backs up both, each under its own name', async () => {
      const run = await drain(twoLibraries, accountOf(teamB));
      expect(kinds(run.changes)).toEqual([`containerDone:${documents().id}`, `containerDone:${archive().id}`]);
      applyChanges(held, run.changes, driveHeld, DRIVES);
      expect(held).toEqual(union(expectedOf(documents(), 'Documents'), expectedOf(archive(), 'Archive')));
      expect(Object.keys(cursorDrives(run.cursor)).sort()).toEqual([documents().id, archive().id].sort());
      cursor = run.cursor;
    });

    it('reports a failing library as containerFailed while the other advances, and catches up later', async () => {
      const counts = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 1, removeFolders: 0 });
      expect(counts.find((c) => c.service === 'drive' && c.account === rootSite.id)?.added).toBeGreaterThan(0);
      emulator.faults.add({
        kind: 'error',
        routeKind: 'drive.delta',
        path: escaped(archive().id),
        status: 403,
        code: 'accessDenied',
        message: 'Access denied',
      });
      let failedCursor: string;
      try {
        const run = await drain(twoLibraries, accountOf(teamB), cursor);
        expect(kinds(run.changes)).toEqual([`containerDone:${documents().id}`, `containerFailed:${archive().id}`]);
        expect(run.changes.find((c) => c.type === 'containerFailed')).toEqual({
          type: 'containerFailed',
          container: archive().id,
          path: 'Archive',
          issue: expect.objectContaining({ source: 'graph', code: 'accessDenied' }),
        });
        expect(
          run.changes
            .filter((c) => c.type === 'upsert' || c.type === 'remove')
            .every((c) => (c.type === 'upsert' ? c.item.container : c.container) === documents().id),
        ).toBe(true);
        applyChanges(held, run.changes, driveHeld, DRIVES);
        // Documents is up to date; Archive is as it was.
        expect(new Map([...held].filter(([, h]) => h.container === documents().id))).toEqual(expectedOf(documents(), 'Documents'));
        const drives = cursorDrives(run.cursor);
        const old = cursorDrives(cursor);
        expect(drives[archive().id]).toEqual(old[archive().id]);
        expect(drives[documents().id]?.deltaLink).not.toBe(old[documents().id]?.deltaLink);
        failedCursor = run.cursor;
      } finally {
        emulator.faults.clear();
      }
      const next = await drain(twoLibraries, accountOf(teamB), failedCursor);
      expect(kinds(next.changes)).toEqual([`containerDone:${documents().id}`, `containerDone:${archive().id}`]);
      expect(next.changes.filter((c) => c.type === 'upsert').every((c) => c.type === 'upsert' && c.item.container === archive().id)).toBe(
        true,
      );
      applyChanges(held, next.changes, driveHeld, DRIVES);
      expect(held).toEqual(union(expectedOf(documents(), 'Documents'), expectedOf(archive(), 'Archive')));
      cursor = next.cursor;
    });

    it('lists a renamed library again under its new name, with the same versions', async () => {
      libraries.libraries.set(teamB.id, [
        { id: documents().id, name: 'Documents' },
        { id: archive().id, name: 'Records' },
      ]);
      const run = await drain(twoLibraries, accountOf(teamB), cursor);
      expect(kinds(run.changes)).toEqual([`containerDone:${documents().id}`, `resync:${archive().id}`, `containerDone:${archive().id}`]);
      const expected = expectedOf(archive(), 'Records');
      const items = upserts(run.changes);
      expect(items.size).toBe(expected.size);
      for (const [id, item] of items) {
        expect(driveHeld(item)).toEqual(expected.get(id));
        expect(item.version).toBe(held.get(id)?.version);
      }
      expect(run.changes.find((c) => c.type === 'resync')).toMatchObject({ reason: 'ContainerMoved' });
      applyChanges(held, run.changes, driveHeld, DRIVES);
      expect(held).toEqual(union(expectedOf(documents(), 'Documents'), expected));
      expect(cursorDrives(run.cursor)[archive().id]?.prefix).toBe('Records');
      cursor = run.cursor;
    });

    it('gives containerRemoved for a library gone since the previous run', async () => {
      libraries.libraries.set(teamB.id, [{ id: documents().id, name: 'Documents' }]);
      const run = await drain(twoLibraries, accountOf(teamB), cursor);
      expect(run.changes).toEqual([
        { type: 'containerRemoved', container: archive().id },
        { type: 'containerDone', container: documents().id },
      ]);
      applyChanges(held, run.changes, driveHeld, DRIVES);
      expect(held).toEqual(expectedOf(documents(), 'Documents'));
      expect(Object.keys(cursorDrives(run.cursor))).toEqual([documents().id]);
    });
  });

  it('stops with AuthenticationFailed when the credentials are revoked', async () => {
    const { cursor } = state.get(teamA.id) as { cursor: string };
    emulator.revokeCredentials();
    const failure = await drain(service, accountOf(teamA), cursor).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).fatalReason).toBe('AuthenticationFailed');
  });
});
