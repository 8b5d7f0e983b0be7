// The calendar service against the emulator, through the worker's real Graph session: a base
// backup holds exactly the calendar views of the window (single events, occurrences, exceptions)
// plus the series masters, byte for byte as Graph serves them; incremental rounds give exactly
// what changed (series edited, occurrences turned into exceptions or deleted, whole series and
// calendars deleted); an expired token, a failing calendar, a renamed calendar and a window that
// is a year old cost a listing of that calendar only; revoked credentials stop the run.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverTenant } from '../../../src/providers/microsoft365/discovery.ts';
import type { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import { calendarService, calendarWindow, CalendarService, utcDay } from '../../../src/providers/microsoft365/services/calendar.ts';
import type { Account, Change, SourceItem } from '../../../src/providers/provider.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { graphClient } from '../../emulators/microsoft/testing.ts';
import { applyChanges, contentOf, drain, heldList, ofType, startWithSession, upserts, type HeldItem } from './support.ts';

interface GraphEvent {
  id: string;
  type: string;
  subject: string;
  changeKey: string;
  seriesMasterId: string | null;
  recurrence?: unknown;
  [key: string]: unknown;
}

interface ExportedEvent {
  id: string;
  calendar: string;
  type: string;
  subject: string;
}

/** What the snapshot holds of one item. */
type Held = HeldItem;

interface Expected extends Held {
  name: string;
  type: string;
  json: string;
}

const START = new Date('2026-06-15T08:30:00Z');
let now = START;
let emulator: MicrosoftEmulator;
let session: GraphSession;
let client: Client;
let service: CalendarService;
let accounts: Account[];
/** The cursor and the held items of each account after its last drain. */
const cursors = new Map<string, string>();
const held = new Map<string, Map<string, Held>>();
/** The Graph event type of every item seen (singleInstance, seriesMaster, occurrence, exception). */
const types = new Map<string, string>();

beforeAll(async () => {
  ({ emulator, session } = await startWithSession({
    tenant: { users: 2, sharedMailboxes: 1, unlicensedUsers: 1, groups: 0, sites: 0, teams: 0, items: { events: 12 } },
  }));
  client = graphClient(emulator);
  // Small pages, so that series and their masters span pages.
  service = new CalendarService(session, { now: () => now, pageSize: 4 });
  const directory = await discoverTenant(session, { sites: false, teams: false });
  accounts = directory.accounts.filter((a) => service.accountKinds.includes(a.kind));
});

afterAll(async () => {
  await emulator?.close();
});

/** Sorted keys at every level, without annotations: what a backed-up event must equal. */
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

function user(i = 0): Account {
  const a = mailboxes().filter((x) => x.kind === 'user')[i];
  if (!a) throw new Error('no such account');
  return a;
}

async function calendars(a: Account): Promise<{ id: string; name: string }[]> {
  return session.all(`/users/${a.id}/calendars?$top=100`);
}

/** The calendar of the account with the most backed-up items (the account has others too). */
async function busiestCalendar(a: Account): Promise<{ id: string; name: string }> {
  const all = await calendars(a);
  expect(all.length).toBeGreaterThan(1);
  const count = (id: string) => [...(held.get(a.id)?.values() ?? [])].filter((h) => h.container === id).length;
  const found = [...all].sort((x, y) => count(y.id) - count(x.id))[0] as { id: string; name: string };
  expect(count(found.id)).toBeGreaterThan(0);
  return found;
}

/**
 * What the account's snapshot should hold, read another way than the service reads it: each
 * calendar's calendarView over the window (not its delta), and each series master by id.
 */
async function expected(a: Account): Promise<Map<string, Expected>> {
  const window = calendarWindow(utcDay(now));
  const out = new Map<string, Expected>();
  for (const calendar of await calendars(a)) {
    const view = await session.all<GraphEvent>(
      `/users/${a.id}/calendars/${calendar.id}/calendarView?startDateTime=${window.start}&endDateTime=${window.end}&$top=1000`,
    );
    const masters = new Set<string>();
    for (const e of view) {
      out.set(e.id, {
        version: e.changeKey,
        container: calendar.id,
        path: calendar.name,
        name: e.subject,
        type: e.type,
        json: canonical(e),
      });
      if (e.seriesMasterId) masters.add(e.seriesMasterId);
    }
    for (const id of masters) {
      const m = await session.get<GraphEvent>(`/users/${a.id}/events/${id}`);
      out.set(id, { version: m.changeKey, container: calendar.id, path: calendar.name, name: m.subject, type: m.type, json: canonical(m) });
    }
  }
  return out;
}

interface Round {
  changes: Change[];
  before: Map<string, Held>;
  previousCursor: string | undefined;
}

/** Drains from the account's stored cursor; the held items it gives must equal a fresh read. */
async function incremental(a: Account, check = true): Promise<Round> {
  const before = held.get(a.id) ?? new Map<string, Held>();
  const previousCursor = cursors.get(a.id);
  const { changes, cursor } = await drain(service, a, previousCursor);
  const after = applyChanges(new Map(before), changes);
  for (const item of upserts(changes).values()) types.set(item.id, item.metadata?.['type'] as string);
  if (check) expect(heldList(after)).toEqual(heldList(await expected(a)));
  cursors.set(a.id, cursor);
  held.set(a.id, after);
  return { changes, before, previousCursor };
}

function itemsOf(changes: readonly Change[], container: string): SourceItem[] {
  return ofType(changes, 'upsert')
    .map((c) => c.item)
    .filter((i) => i.container === container);
}

describe('calendar backup', () => {
  it('is the calendar service of users and shared mailboxes', () => {
    const made = calendarService(session);
    expect({ name: made.name, kinds: made.accountKinds }).toEqual({ name: 'calendar', kinds: ['user', 'sharedMailbox'] });
  });

  it('backs up every event of the window and every series master, byte for byte, each calendar ending with containerDone', async () => {
    expect(
      mailboxes()
        .map((a) => a.kind)
        .sort(),
    ).toEqual(['sharedMailbox', 'user', 'user']);
    const exported = emulator.export()['calendar'] as { account: string; events: ExportedEvent[] }[];
    let exceptions = 0;
    for (const a of mailboxes()) {
      const { changes, cursor } = await drain(service, a);
      const items = upserts(changes);
      const want = await expected(a);
      // Each item once, nothing removed, nothing failed.
      expect(ofType(changes, 'upsert').length).toBe(items.size);
      expect(changes.filter((c) => c.type !== 'upsert' && c.type !== 'containerDone')).toEqual([]);
      expect([...items.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [id, item] of items) {
        const w = want.get(id) as Expected;
        expect({
          version: item.version,
          container: item.container,
          path: item.path,
          name: item.name,
          size: item.size,
          type: item.metadata?.['type'],
        }).toEqual({
          version: w.version,
          container: w.container,
          path: w.path,
          name: w.name,
          size: Buffer.byteLength(w.json),
          type: w.type,
        });
        expect((await contentOf(item)).toString('utf8')).toBe(w.json);
        if (w.type === 'exception') exceptions++;
      }
      // The emulator's own record: every single event and series master is there, in its calendar.
      const mine = exported.find((m) => m.account === a.id)?.events ?? [];
      const stored = [...items.values()].filter(
        (i) => i.metadata?.['type'] === 'singleInstance' || i.metadata?.['type'] === 'seriesMaster',
      );
      expect(stored.map((i) => [i.id, i.path, i.metadata?.['type'], i.name]).sort()).toEqual(
        mine.map((e) => [e.id, e.calendar, e.type, e.subject]).sort(),
      );
      // Every calendar is done, after its own items.
      expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual((await calendars(a)).map((c) => c.id));
      for (const [i, c] of changes.entries()) {
        if (c.type !== 'upsert') continue;
        expect(changes.findIndex((d) => d.type === 'containerDone' && d.container === c.item.container)).toBeGreaterThan(i);
      }
      cursors.set(a.id, cursor);
      held.set(a.id, applyChanges(new Map(), changes));
      for (const item of items.values()) types.set(item.id, item.metadata?.['type'] as string);
    }
    // The generated tenant (fixed seed) has series with exceptions.
    expect(exceptions).toBeGreaterThan(0);
  });

  it('backs up a series with an exception and a deleted occurrence, follows its changes, and removes it with its master', async () => {
    const a = user(0);
    const master = (await client.api(`/users/${a.id}/events`).post({
      subject: 'Weekly sync',
      body: { contentType: 'text', content: 'Agenda in the channel.' },
      start: { dateTime: '2026-09-07T09:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-09-07T09:30:00', timeZone: 'UTC' },
      recurrence: {
        pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] },
        range: { type: 'numbered', startDate: '2026-09-07', numberOfOccurrences: 4 },
      },
    })) as GraphEvent;
    const created = await incremental(a);
    const added = upserts(created.changes);
    expect(added.size).toBe(5);
    const series = ofType(created.changes, 'upsert').map((c) => c.item);
    expect(series.map((i) => [i.metadata?.['type'], i.metadata?.['seriesMasterId'] ?? null])).toEqual([
      ['seriesMaster', null],
      ['occurrence', master.id],
      ['occurrence', master.id],
      ['occurrence', master.id],
      ['occurrence', master.id],
    ]);
    const masterJson = JSON.parse((await contentOf(added.get(master.id) as SourceItem)).toString()) as GraphEvent;
    expect(masterJson.recurrence).toMatchObject({
      pattern: { type: 'weekly', daysOfWeek: ['monday'] },
      range: { type: 'numbered', numberOfOccurrences: 4 },
    });
    const [, first, second, third, fourth] = series as [SourceItem, SourceItem, SourceItem, SourceItem, SourceItem];

    // One occurrence becomes an exception (moved and renamed), another is deleted.
    const patched = (await client.api(`/users/${a.id}/events/${second.id}`).patch({
      subject: 'Weekly sync (moved)',
      start: { dateTime: '2026-09-15T10:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-09-15T10:30:00', timeZone: 'UTC' },
    })) as GraphEvent;
    expect(patched.type).toBe('exception');
    await client.api(`/users/${a.id}/events/${third.id}`).delete();
    const edited = await incremental(a);
    const changed = upserts(edited.changes);
    // Only the series comes: its master (a new changeKey) and its three instances; the deleted one is removed.
    expect([...changed.keys()].sort()).toEqual([master.id, first.id, second.id, fourth.id].sort());
    expect(changed.get(master.id)?.version).not.toBe(added.get(master.id)?.version);
    expect(ofType(edited.changes, 'remove')).toEqual([{ type: 'remove', id: third.id, container: third.container }]);
    const exception = changed.get(second.id) as SourceItem;
    expect({
      type: exception.metadata?.['type'],
      name: exception.name,
      originalStart: exception.metadata?.['originalStart'],
      start: exception.metadata?.['start'],
    }).toEqual({
      type: 'exception',
      name: 'Weekly sync (moved)',
      originalStart: '2026-09-14T09:00:00Z',
      start: '2026-09-15T10:00:00.0000000',
    });
    expect((await contentOf(exception)).toString()).toBe(canonical(await session.get<GraphEvent>(`/users/${a.id}/events/${second.id}`)));

    // The whole series goes: its instances come as removals, and its master goes with them.
    emulator.resetStats();
    await client.api(`/users/${a.id}/events/${master.id}`).delete();
    const deleted = await incremental(a, false);
    // Finding out which series went cost one listing of the calendar's event ids.
    expect(emulator.stats.byKind['calendar.events']).toBe(1);
    expect(ofType(deleted.changes, 'upsert')).toEqual([]);
    expect(
      ofType(deleted.changes, 'remove')
        .map((r) => r.id)
        .sort(),
    ).toEqual([master.id, first.id, second.id, fourth.id].sort());
    expect(heldList(held.get(a.id) as Map<string, Held>)).toEqual(heldList(await expected(a)));
  });

  it('gives exactly the changes after the tenant changed: new, changed and deleted events, a new calendar listed from scratch', async () => {
    const counts = emulator
      .mutate({ add: 0.25, change: 0.25, remove: 0.2, move: 0, addFolders: 1, removeFolders: 0 })
      .filter((c) => c.service === 'calendar');
    expect(counts.reduce((n, c) => Math.min(n, c.added, c.changed, c.removed), Infinity)).toBeGreaterThan(0);
    for (const a of mailboxes()) {
      const mine = counts.find((c) => c.account === a.id);
      const { changes, before, previousCursor } = await incremental(a);
      const items = upserts(changes);
      // Nothing untouched comes again: every upsert is new or has a new version.
      for (const item of items.values()) expect(before.get(item.id)?.version).not.toBe(item.version);
      // Counted by event (a single event or a whole series), as the emulator counts its mutation.
      const events = new Set([...items.values()].map((i) => (i.metadata?.['seriesMasterId'] as string | undefined) ?? i.id));
      const removedEvents = ofType(changes, 'remove').filter((r) => ['singleInstance', 'seriesMaster'].includes(types.get(r.id) ?? ''));
      expect({
        added: [...events].filter((id) => !before.has(id)).length,
        changed: [...events].filter((id) => before.has(id)).length,
        removed: removedEvents.length,
      }).toEqual({ added: mine?.added, changed: mine?.changed, removed: mine?.removed });
      // The new calendar is listed from scratch; the others resume from their links.
      const all = await calendars(a);
      const known = Object.keys((JSON.parse(previousCursor as string) as { containers: object }).containers);
      const fresh = all.filter((c) => !known.includes(c.id));
      expect(fresh.length).toBe(1);
      expect(ofType(changes, 'resync')).toEqual(fresh.map((c) => ({ type: 'resync', container: c.id, reason: 'NoDeltaLink' })));
      expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual(all.map((c) => c.id));
    }
  });

  it('costs one calendar listing and one delta request per calendar when nothing changed, and gives only containerDone', async () => {
    const runs: { a: Account; changes: Change[]; calendars: number }[] = [];
    emulator.resetStats();
    for (const a of mailboxes()) {
      const before = cursors.get(a.id);
      const { changes, cursor } = await drain(service, a, before);
      runs.push({ a, changes, calendars: Object.keys((JSON.parse(cursor) as { containers: object }).containers).length });
      cursors.set(a.id, cursor);
    }
    const calendarsTotal = runs.reduce((n, r) => n + r.calendars, 0);
    expect({ ...emulator.stats.byKind, 'identity.token': undefined }).toEqual({
      'calendar.calendars': mailboxes().length,
      'calendar.delta': calendarsTotal,
      'identity.token': undefined,
    });
    for (const { a, changes } of runs)
      expect(changes).toEqual((await calendars(a)).map((c) => ({ type: 'containerDone', container: c.id })));
  });

  it('lists only the calendar whose delta token expired again, with the same versions; the others resume', async () => {
    const a = user(1);
    const target = await busiestCalendar(a);
    expect(emulator.expireDeltaTokens(a.id, 'calendar', target.id)).toBe(1);
    const { changes, before } = await incremental(a);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: target.id, reason: 'SyncStateNotFound' }]);
    const listed = itemsOf(changes, target.id);
    const heldThere = [...before].filter(([, h]) => h.container === target.id);
    expect(listed.map((i) => [i.id, i.version]).sort()).toEqual(heldThere.map(([id, h]) => [id, h.version]).sort());
    expect(listed.length).toBeGreaterThan(0);
    expect(ofType(changes, 'upsert').length).toBe(listed.length);
    expect(ofType(changes, 'containerDone').map((c) => c.container)).toEqual((await calendars(a)).map((c) => c.id));
    // The next run resumes from the new link.
    const again = await incremental(a);
    expect(again.changes.every((c) => c.type === 'containerDone')).toBe(true);
  });

  it('reports a calendar that fails as containerFailed, keeps its cursor entry, and catches up once it answers again', async () => {
    const a = user(0);
    const target = await busiestCalendar(a);
    const entryOf = (cursor: string | undefined) => {
      const parsed = JSON.parse(cursor as string) as { containers: Record<string, unknown>; calendars: Record<string, unknown> };
      return { link: parsed.containers[target.id], notes: parsed.calendars[target.id] };
    };
    const old = entryOf(cursors.get(a.id));
    const created = (await client.api(`/users/${a.id}/calendars/${target.id}/events`).post({
      subject: 'Budget review',
      start: { dateTime: '2026-10-01T13:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-10-01T14:00:00', timeZone: 'UTC' },
    })) as GraphEvent;
    emulator.faults.add({
      kind: 'error',
      routeKind: 'calendar.delta',
      path: target.id,
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access is denied. Check credentials and try again.',
    });
    try {
      const failed = await incremental(a, false);
      expect(ofType(failed.changes, 'containerFailed')).toEqual([
        { type: 'containerFailed', container: target.id, path: target.name, issue: expect.objectContaining({ code: 'ErrorAccessDenied' }) },
      ]);
      expect(ofType(failed.changes, 'upsert')).toEqual([]);
      expect(ofType(failed.changes, 'containerDone').map((c) => c.container)).toEqual(
        (await calendars(a)).map((c) => c.id).filter((id) => id !== target.id),
      );
      expect(entryOf(cursors.get(a.id))).toEqual(old);
    } finally {
      emulator.faults.clear();
    }
    const caught = await incremental(a);
    expect([...upserts(caught.changes).keys()]).toEqual([created.id]);
    expect(ofType(caught.changes, 'containerDone').map((c) => c.container)).toContain(target.id);
  });

  it('lists a renamed calendar again so its items take the new path, at unchanged versions', async () => {
    const a = user(0);
    const target = await busiestCalendar(a);
    // As if the calendar had another name at the last run.
    const stored = JSON.parse(cursors.get(a.id) as string) as { containers: Record<string, { link: string; path: string }> };
    (stored.containers[target.id] as { path: string }).path = 'Old name';
    cursors.set(a.id, JSON.stringify(stored));
    const before = held.get(a.id) as Map<string, Held>;
    for (const [id, h] of before) if (h.container === target.id) before.set(id, { ...h, path: 'Old name' });
    const { changes } = await incremental(a);
    expect(ofType(changes, 'resync')).toEqual([{ type: 'resync', container: target.id, reason: 'ContainerMoved' }]);
    const listed = itemsOf(changes, target.id);
    expect(listed.length).toBeGreaterThan(0);
    for (const item of listed)
      expect({ path: item.path, version: item.version }).toEqual({ path: target.name, version: before.get(item.id)?.version });
  });

  it('opens a new window once the old one is a year old, listing each calendar again at unchanged versions', async () => {
    const a = user(1);
    const before = new Map(held.get(a.id));
    now = new Date(START.getTime() + 400 * 86_400_000);
    try {
      const { changes } = await incremental(a);
      const ids = (await calendars(a)).map((c) => c.id);
      expect(ofType(changes, 'resync')).toEqual(ids.map((container) => ({ type: 'resync', container, reason: 'CalendarWindowMoved' })));
      for (const item of upserts(changes).values()) expect(item.version).toBe(before.get(item.id)?.version);
      const notes = (JSON.parse(cursors.get(a.id) as string) as { calendars: Record<string, { opened: string }> }).calendars;
      expect(Object.values(notes).map((n) => n.opened)).toEqual(ids.map(() => '2027-07-20T00:00:00.000Z'));
      // The new window holds from the new cursor on.
      const again = await incremental(a);
      expect(again.changes.every((c) => c.type === 'containerDone')).toBe(true);
    } finally {
      now = START;
    }
  });

  it('removes deleted calendars with containerRemoved', async () => {
    const counts = emulator
      .mutate({ add: 0, change: 0, remove: 0, move: 0, addFolders: 0, removeFolders: 1 })
      .filter((c) => c.service === 'calendar');
    for (const a of mailboxes()) {
      const previous = Object.keys((JSON.parse(cursors.get(a.id) as string) as { containers: object }).containers);
      const { changes } = await incremental(a);
      const left = (await calendars(a)).map((c) => c.id);
      expect(left.length).toBe(1);
      expect(
        ofType(changes, 'containerRemoved')
          .map((c) => c.container)
          .sort(),
      ).toEqual(previous.filter((id) => !left.includes(id)).sort());
      expect(ofType(changes, 'containerRemoved').length).toBe(counts.find((c) => c.account === a.id)?.foldersRemoved);
      expect(ofType(changes, 'upsert')).toEqual([]);
    }
  });

  it('fails the account, not the run, for a user without a mailbox', async () => {
    const unlicensed = accounts.find((a) => !a.licensed);
    expect(unlicensed).toBeDefined();
    const { changes, cursor } = await drain(service, unlicensed as Account);
    expect(changes).toEqual([
      {
        type: 'containerFailed',
        container: 'calendars',
        path: '',
        issue: expect.objectContaining({ code: 'MailboxNotEnabledForRESTAPI' }),
      },
    ]);
    expect(JSON.parse(cursor)).toEqual({ v: 1, containers: {}, calendars: {} });
  });

  it('stops with AuthenticationFailed when the credentials are revoked', async () => {
    emulator.revokeCredentials();
    await expect(drain(service, user(0), cursors.get(user(0).id))).rejects.toMatchObject({
      name: 'SourceError',
      fatalReason: 'AuthenticationFailed',
    });
  });
});
