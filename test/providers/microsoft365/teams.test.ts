// The Teams service against the emulator, through the worker's own Graph session: a full backup
// holds every live root message of every channel with its replies, byte for byte; incremental runs
// give exactly what a mutation or a new reply changed; an unchanged team costs one request per
// channel; an expired token, a renamed channel, a failing channel, a removed channel and a failing
// channel list each touch only what they should; revoked credentials stop the run.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverTenant } from '../../../src/providers/microsoft365/discovery.ts';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { bodyText, teamsService } from '../../../src/providers/microsoft365/services/teams.ts';
import type { GraphChatMessage } from '../../../src/providers/microsoft365/services/teams.ts';
import type { Account, BackupService, Change, SourceItem } from '../../../src/providers/provider.ts';
import { SourceError } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { contentOf, drain, ofType, sessionFor, startWithSession, upserts } from './support.ts';

interface ExportedMessage {
  id: string;
  replyToId: string | null;
  etag: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  deletedDateTime: string | null;
  from: string;
  subject: string | null;
  size: number;
  sha256: string;
}

interface ExportedChannel {
  id: string;
  displayName: string;
  messages: ExportedMessage[];
}

/** A live root message with its live replies (oldest first), as the emulator holds it. */
interface Conversation {
  channel: ExportedChannel;
  root: ExportedMessage;
  replies: ExportedMessage[];
}

/** The stored conversation document. */
type Document = GraphChatMessage & { replies: GraphChatMessage[] };

let emulator: MicrosoftEmulator;
let session: GraphSession;
/** Posts messages as an app may (Teamwork.Migrate.All); the backup's session only reads. */
let poster: GraphSession;
let service: BackupService;
let team: Account;
/** What the backup holds after the last drain: the cursor and every item's version. */
let cursor: string;
const versions = new Map<string, string>();

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

function channels(): ExportedChannel[] {
  const teams = (emulator.export()['teams'] as { teams: { id: string; channels: ExportedChannel[] }[] }).teams;
  const found = teams.find((t) => t.id === team.id);
  if (!found) throw new Error('team not exported');
  return found.channels;
}

function channel(name: string): ExportedChannel {
  const found = channels().find((c) => c.displayName === name);
  if (!found) throw new Error(`no channel ${name}`);
  return found;
}

/** A conversation's item id: message ids are unique within a channel only. */
const key = (c: Conversation): string => `${c.channel.id}/${c.root.id}`;

/** Every live conversation of the team, by item id. */
function conversations(): Map<string, Conversation> {
  const out = new Map<string, Conversation>();
  for (const c of channels()) {
    const live = c.messages.filter((m) => m.deletedDateTime === null);
    for (const root of live.filter((m) => m.replyToId === null)) {
      const replies = live.filter((m) => m.replyToId === root.id).sort((a, b) => Number(a.id) - Number(b.id));
      const conversation = { channel: c, root, replies };
      out.set(key(conversation), conversation);
    }
  }
  return out;
}

/** Item ids of deleted roots, for telling removes apart from never-seen messages. */
function deletedRoots(): Set<string> {
  return new Set(
    channels().flatMap((c) => c.messages.filter((m) => m.replyToId === null && m.deletedDateTime !== null).map((m) => `${c.id}/${m.id}`)),
  );
}

function removedIds(changes: readonly Change[]): string[] {
  return ofType(changes, 'remove')
    .map((c) => c.id)
    .sort();
}

/** Applies a drain to what the backup holds, as the engine would (versions only). */
function backup(changes: readonly Change[], next: string): void {
  for (const c of changes) {
    if (c.type === 'upsert') versions.set(c.item.id, c.item.version);
    if (c.type === 'remove') versions.delete(c.id);
  }
  cursor = next;
}

function cursorLinks(value: string): Record<string, string> {
  const parsed = JSON.parse(value) as { containers: Record<string, { link: string }> };
  return Object.fromEntries(Object.entries(parsed.containers).map(([id, s]) => [id, s.link]));
}

function teamsRequests(): Record<string, number> {
  return Object.fromEntries(Object.entries(emulator.stats.byKind).filter(([kind]) => kind.startsWith('teams.')));
}

/** The item is the conversation as the emulator holds it: identity, path, names, and every byte of every body. */
async function expectConversation(item: SourceItem, expected: Conversation): Promise<Document> {
  const { root, replies } = expected;
  expect(item.id).toBe(key(expected));
  expect(item.container).toBe(expected.channel.id);
  expect(item.path).toBe(expected.channel.displayName);
  expect(item.version.startsWith(`${root.etag}.`)).toBe(true);
  expect(item.created).toBe(root.createdDateTime);
  expect(item.modified).toBe(
    [root, ...replies]
      .map((m) => m.lastModifiedDateTime)
      .sort()
      .at(-1),
  );
  expect(item.sender).toBe(emulator.directory.users.get(root.from)?.displayName);
  const bytes = await contentOf(item);
  expect(item.size).toBe(bytes.length);
  const doc = JSON.parse(bytes.toString('utf8')) as Document;
  // Stable key order: the same conversation always gives the same bytes.
  expect(Object.keys(doc)).toEqual(Object.keys(doc).sort());
  expect(doc.id).toBe(root.id);
  expect(doc.etag).toBe(root.etag);
  expect(sha256(doc.body?.content ?? '')).toBe(root.sha256);
  expect(doc.replies.map((r) => r.id)).toEqual(replies.map((r) => r.id));
  expect(doc.replies.map((r) => sha256(r.body?.content ?? ''))).toEqual(replies.map((r) => r.sha256));
  expect(doc.replies.map((r) => r.etag)).toEqual(replies.map((r) => r.etag));
  if (root.subject) expect(item.name).toBe(root.subject);
  else {
    expect(item.name.length).toBeGreaterThan(0);
    expect(bodyText(doc).startsWith(item.name)).toBe(true);
  }
  expect(item.metadata?.['replies']).toBe(replies.length);
  return doc;
}

/** The changes are exactly the conversations whose root etag moved (or that are new), and the roots deleted since `before`. */
async function expectDiff(
  changes: readonly Change[],
  before: Map<string, Conversation>,
  channelInScope: (id: string) => boolean = () => true,
): Promise<void> {
  const now = conversations();
  const inScope = (c: Conversation): boolean => channelInScope(c.channel.id);
  const changed = [...now.values()].filter((c) => inScope(c) && before.get(key(c))?.root.etag !== c.root.etag);
  const gone = [...before.values()].filter((c) => inScope(c) && !now.has(key(c))).map(key);
  const up = upserts(changes);
  expect([...up.keys()].sort()).toEqual(changed.map(key).sort());
  // Every root deleted since `before` is removed; a root deleted earlier comes again (as a remove
  // the engine ignores) when a full round names it or one of its replies changed.
  const removed = removedIds(changes);
  expect(removed.filter((id) => before.has(id))).toEqual(gone.sort());
  const deleted = deletedRoots();
  for (const id of removed.filter((id) => !before.has(id))) expect(deleted.has(id) && !versions.has(id)).toBe(true);
  for (const c of changed) {
    const item = up.get(key(c)) as SourceItem;
    await expectConversation(item, c);
    expect(item.version).not.toBe(versions.get(key(c)));
  }
}

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: {
      users: 3,
      unlicensedUsers: 0,
      sharedMailboxes: 0,
      groups: 1,
      sites: 0,
      teams: 1,
      mailFolders: 0,
      // More than one delta page (50) per channel.
      items: { mail: 0, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 52 },
    },
  }));
  service = teamsService(session);
  emulator.directory.app.grantedRoles = new Set([...emulator.directory.app.grantedRoles, 'Teamwork.Migrate.All']);
  poster = sessionFor(emulator);
  const directory = await discoverTenant(session, { sites: false, teams: true });
  const found = directory.accounts.find((a) => a.kind === 'team');
  if (!found) throw new Error('no team discovered');
  team = found;
});

afterAll(async () => {
  await emulator?.close();
});

describe('Teams service', () => {
  it('is the teams service for team accounts', () => {
    expect(service.name).toBe('teams');
    expect(service.accountKinds).toEqual(['team']);
  });

  it('backs up every live conversation of every channel, byte for byte', async () => {
    emulator.resetStats();
    const { changes, cursor: next } = await drain(service, team);
    const expected = conversations();
    expect(expected.size).toBe(3 * 52);
    const up = upserts(changes);
    expect(ofType(changes, 'upsert')).toHaveLength(expected.size);
    expect([...up.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, conversation] of expected) await expectConversation(up.get(id) as SourceItem, conversation);
    // A conversation with replies has them, and at least one has some.
    expect([...expected.values()].some((c) => c.replies.length > 0)).toBe(true);
    expect(changes.filter((c) => c.type !== 'upsert')).toEqual(channels().map((c) => ({ type: 'containerDone', container: c.id })));
    // The cost: the channel list, two delta pages per channel, one replies listing per conversation.
    expect(teamsRequests()).toEqual({ 'teams.channels': 1, 'teams.delta': 6, 'teams.replies': expected.size });
    backup(changes, next);
  });

  it('gives nothing but containerDone when nothing changed, for one request per channel', async () => {
    emulator.resetStats();
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    expect(changes).toEqual(channels().map((c) => ({ type: 'containerDone', container: c.id })));
    expect(teamsRequests()).toEqual({ 'teams.channels': 1, 'teams.delta': 3 });
    backup(changes, next);
  });

  it('gives exactly the added, edited and deleted conversations after a mutation', async () => {
    const before = conversations();
    const counts = emulator.mutate({ add: 0.1, change: 0.1, remove: 0.1, move: 0 }).filter((c) => c.service === 'teams');
    expect(counts.reduce((n, c) => n + c.added + c.changed + c.removed, 0)).toBeGreaterThan(0);
    emulator.resetStats();
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    await expectDiff(changes, before);
    // Some of each, and every remove names the channel the conversation is in.
    expect(upserts(changes).size).toBeGreaterThan(0);
    expect(removedIds(changes).length).toBeGreaterThan(0);
    for (const c of ofType(changes, 'remove')) expect(c.id.startsWith(`${c.container}/`)).toBe(true);
    // The cost: replies are listed for the changed conversations only.
    expect(teamsRequests()).toEqual({ 'teams.channels': 1, 'teams.delta': 3, 'teams.replies': upserts(changes).size });
    expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(channels().map((c) => c.id));
    expect(ofType(changes, 'resync')).toHaveLength(0);
    backup(changes, next);
  });

  it('backs up a new reply on an old conversation incrementally', async () => {
    const general = channel('General');
    const oldest = [...conversations().values()]
      .filter((c) => c.channel.id === general.id)
      .sort((a, b) => Number(a.root.id) - Number(b.root.id))[0] as Conversation;
    const path = `/teams/${team.id}/channels/${encodeURIComponent(general.id)}/messages/${oldest.root.id}/replies`;
    const posted = await poster.post<{ id: string }>(path, { body: { contentType: 'text', content: 'A late answer to an old thread.' } });
    emulator.resetStats();
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    expect(ofType(changes, 'upsert').map((c) => c.item.id)).toEqual([key(oldest)]);
    expect(ofType(changes, 'remove')).toHaveLength(0);
    const now = conversations().get(key(oldest)) as Conversation;
    const item = upserts(changes).get(key(oldest)) as SourceItem;
    expect(item.version).not.toBe(versions.get(key(oldest)));
    const doc = await expectConversation(item, now);
    expect(doc.replies.at(-1)?.id).toBe(posted.id);
    expect(doc.replies.at(-1)?.body?.content).toBe('A late answer to an old thread.');
    expect(doc.replies).toHaveLength(oldest.replies.length + 1);
    // Only the changed conversation's replies are listed.
    expect(teamsRequests()).toEqual({ 'teams.channels': 1, 'teams.delta': 3, 'teams.replies': 1 });
    backup(changes, next);
  });

  it('keeps every reply of a conversation longer than one replies page', async () => {
    const random = channels()[2] as ExportedChannel;
    const target = [...conversations().values()].find((c) => c.channel.id === random.id) as Conversation;
    const path = `/teams/${team.id}/channels/${encodeURIComponent(random.id)}/messages/${target.root.id}/replies`;
    for (let i = 0; i < 55; i++) await poster.post(path, { body: { contentType: 'text', content: `reply number ${i}` } });
    emulator.resetStats();
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    const now = conversations().get(key(target)) as Conversation;
    expect(now.replies.length).toBe(target.replies.length + 55);
    expect(ofType(changes, 'upsert').map((c) => c.item.id)).toEqual([key(target)]);
    await expectConversation(upserts(changes).get(key(target)) as SourceItem, now);
    expect(teamsRequests()['teams.replies']).toBe(Math.ceil(now.replies.length / 50));
    backup(changes, next);
  });

  it('lists only the channel whose delta token expired again, with unchanged versions', async () => {
    const projects = channels()[1] as ExportedChannel;
    expect(emulator.expireDeltaTokens(team.id, 'teams', projects.id)).toBe(1);
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: projects.id, reason: 'SyncStateNotFound' }]);
    const expected = [...conversations().values()].filter((c) => c.channel.id === projects.id);
    const up = upserts(changes);
    expect([...up.keys()].sort()).toEqual(expected.map(key).sort());
    // Nothing changed in it: same versions, so the engine downloads nothing.
    for (const c of expected) expect(up.get(key(c))?.version).toBe(versions.get(key(c)));
    // The deleted roots the full round names again are removes the engine ignores.
    expect(removedIds(changes).every((id) => deletedRoots().has(id) && !versions.has(id))).toBe(true);
    expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(channels().map((c) => c.id));
    backup(changes, next);
    // The next run is incremental again.
    const again = await drain(service, team, cursor, versions);
    expect(again.changes).toEqual(channels().map((c) => ({ type: 'containerDone', container: c.id })));
  });

  it('reports a failing channel, keeps its cursor, and catches it up once it answers', async () => {
    const failing = channels()[0] as ExportedChannel;
    const before = conversations();
    emulator.mutate({ add: 0.1, change: 0.1, remove: 0.05, move: 0 });
    // Channel ids are `19:<hex>@thread.tacv2`; the hex alone singles the channel out.
    const hex = /^19:([0-9a-f]+)@/.exec(failing.id)?.[1] as string;
    emulator.faults.add({
      kind: 'error',
      routeKind: 'teams.delta',
      path: hex,
      status: 403,
      code: 'Forbidden',
      message: 'Access to this channel is denied.',
    });
    try {
      const { changes, cursor: next } = await drain(service, team, cursor, versions);
      expect(ofType(changes, 'containerFailed')).toEqual([
        {
          type: 'containerFailed',
          container: failing.id,
          path: failing.displayName,
          issue: expect.objectContaining({ code: 'Forbidden' }) as unknown,
        },
      ]);
      expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(
        channels()
          .slice(1)
          .map((c) => c.id),
      );
      await expectDiff(changes, before, (id) => id !== failing.id);
      expect(cursorLinks(next)[failing.id]).toBe(cursorLinks(cursor)[failing.id]);
      backup(changes, next);
    } finally {
      emulator.faults.clear();
    }
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    await expectDiff(changes, before, (id) => id === failing.id);
    expect(upserts(changes).size).toBeGreaterThan(0);
    expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(channels().map((c) => c.id));
    backup(changes, next);
  });

  it('lists a renamed channel again under its new name, with unchanged versions', async () => {
    const live = emulator.services.teams.team(team.id)?.channels[1];
    if (!live) throw new Error('no channel');
    live.displayName = 'Renamed';
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: live.id, reason: 'ContainerMoved' }]);
    const expected = [...conversations().values()].filter((c) => c.channel.id === live.id);
    const up = upserts(changes);
    expect([...up.keys()].sort()).toEqual(expected.map(key).sort());
    for (const c of expected) {
      expect(up.get(key(c))?.path).toBe('Renamed');
      expect(up.get(key(c))?.version).toBe(versions.get(key(c)));
    }
    backup(changes, next);
  });

  it('reports a channel that is gone as removed and drops it from the cursor', async () => {
    const live = emulator.services.teams.team(team.id);
    const gone = live?.channels[2];
    if (!live || !gone) throw new Error('no channel');
    live.channels.splice(2, 1);
    live.channelById.delete(gone.id);
    const { changes, cursor: next } = await drain(service, team, cursor, versions);
    expect(changes).toEqual([
      { type: 'containerRemoved', container: gone.id },
      ...live.channels.map((c) => ({ type: 'containerDone', container: c.id })),
    ]);
    expect(Object.keys(cursorLinks(next)).sort()).toEqual(live.channels.map((c) => c.id).sort());
    backup(changes, next);
  });

  it('keeps everything when the channel list fails', async () => {
    emulator.faults.add({
      kind: 'error',
      routeKind: 'teams.channels',
      status: 403,
      code: 'Forbidden',
      message: 'Missing role permissions.',
    });
    try {
      const { changes, cursor: next } = await drain(service, team, cursor, versions);
      expect(changes).toEqual([
        {
          type: 'containerFailed',
          container: team.id,
          path: team.displayName,
          issue: expect.objectContaining({ code: 'Forbidden' }) as unknown,
        },
      ]);
      expect(cursorLinks(next)).toEqual(cursorLinks(cursor));
    } finally {
      emulator.faults.clear();
    }
  });

  it('stops with AuthenticationFailed once the credentials are revoked', async () => {
    emulator.revokeCredentials();
    const failure = await drain(service, team, cursor, versions).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SourceError);
    expect((failure as SourceError).fatalReason).toBe('AuthenticationFailed');
  });
});
