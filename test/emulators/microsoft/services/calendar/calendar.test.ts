// Calendar contract: the real Graph client lists calendars and events, pages through calendarView
// delta (instances of recurring series with their exceptions), follows incremental rounds after
// the tenant changes, restores an event series and reads it back, and meets Graph's errors.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { ALL_APPLICATION_PERMISSIONS } from '../../tenant/directory.ts';
import type { User } from '../../tenant/directory.ts';
import { graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';

interface Event {
  id: string;
  type?: string;
  subject?: string;
  seriesMasterId?: string | null;
  originalStart?: string;
  start?: { dateTime: string; timeZone: string };
  end?: { dateTime: string; timeZone: string };
  recurrence?: unknown;
  '@removed'?: { reason: string };
  [key: string]: unknown;
}

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

const WINDOW = 'startDateTime=2025-06-01T00:00:00Z&endDateTime=2028-01-01T00:00:00Z';

let emulator: MicrosoftEmulator;
let client: Client;
let users: User[];

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: { users: 2, unlicensedUsers: 1, sharedMailboxes: 0, groups: 0, sites: 0, teams: 0, items: { events: 12 } },
  });
  client = graphClient(emulator);
  users = [...emulator.directory.users.values()].filter((u) => u.mailboxType === 'user');
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

/** Follows a delta round to its end. */
async function deltaRound(
  url: string,
  maxPageSize?: number,
): Promise<{ items: Event[]; pages: number; deltaLink: string; links: string[] }> {
  const items: Event[] = [];
  const links: string[] = [];
  let next: string | undefined = url;
  let pages = 0;
  for (;;) {
    let request = client.api(next);
    if (maxPageSize) request = request.header('Prefer', `odata.maxpagesize=${maxPageSize}`);
    const page = (await request.get()) as Page<Event>;
    pages++;
    if (maxPageSize) expect(page.value.length).toBeLessThanOrEqual(maxPageSize);
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, pages, deltaLink: page['@odata.deltaLink'], links };
    next = page['@odata.nextLink'];
    if (!next) throw new Error('a delta page without nextLink or deltaLink');
    links.push(next);
  }
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

function user(i = 0): User {
  const u = users[i];
  if (!u) throw new Error('no user');
  return u;
}

describe('calendars', () => {
  it('lists the calendars, the default one first, and reads one by id and as /calendar', async () => {
    const u = user();
    const { items } = await listAll<{ id: string; name: string; isDefaultCalendar: boolean }>(`/users/${u.userPrincipalName}/calendars`);
    expect(items[0]?.isDefaultCalendar).toBe(true);
    expect(items[0]?.name).toBe('Calendar');
    const byDefault = (await client.api(`/users/${u.id}/calendar`).get()) as { id: string };
    expect(byDefault.id).toBe(items[0]?.id);
    const one = (await client.api(`/users/${u.id}/calendars/${items[0]?.id}`).select('name').get()) as Record<string, unknown>;
    expect(one['name']).toBe('Calendar');
    expect(one['isDefaultCalendar']).toBeUndefined();
  });
});

describe('events', () => {
  it('pages /events to the end with the default page, $top and odata.maxpagesize, and honours $select', async () => {
    const u = user();
    const all = await listAll<Event>(`/users/${u.id}/events`);
    expect(all.items.length).toBe(12);
    expect(all.pages).toBe(2); // Outlook's default page is 10
    expect(new Set(all.items.map((e) => e.type))).toEqual(
      new Set(['singleInstance', 'seriesMaster'].filter((t) => all.items.some((e) => e.type === t))),
    );
    const small = await listAll<Event>(`/users/${u.id}/events?$top=5`);
    expect(small.pages).toBe(3);
    expect(small.items.map((e) => e.id)).toEqual(all.items.map((e) => e.id));
    const preferred = await listAll<Event>(`/users/${u.id}/events?$select=subject,start`, { Prefer: 'odata.maxpagesize=4' });
    expect(preferred.pages).toBe(3);
    for (const e of preferred.items) {
      expect(
        Object.keys(e)
          .filter((k) => !k.startsWith('@'))
          .sort(),
      ).toEqual(['id', 'start', 'subject']);
    }
  });

  it('reads an event, its instances, and an occurrence by id', async () => {
    const u = user();
    const { items } = await listAll<Event>(`/users/${u.id}/events?$top=100`);
    const master = items.find((e) => e.type === 'seriesMaster');
    expect(master, 'the generated tenant has a recurring series').toBeDefined();
    if (!master) return;
    const got = (await client.api(`/users/${u.id}/events/${master.id}`).get()) as Event;
    expect(got.recurrence).toMatchObject({ pattern: { type: expect.any(String) }, range: { type: 'numbered' } });
    const instances = await listAll<Event>(`/users/${u.id}/events/${master.id}/instances?${WINDOW}`);
    expect(instances.items.length).toBeGreaterThan(1);
    for (const i of instances.items) {
      expect(['occurrence', 'exception']).toContain(i.type);
      expect(i.seriesMasterId).toBe(master.id);
    }
    const first = instances.items[0] as Event;
    const occurrence = (await client.api(`/users/${u.id}/events/${first.id}`).get()) as Event;
    expect(occurrence.seriesMasterId).toBe(master.id);
    expect(occurrence.start).toEqual(first.start);
    const err = await failure(client.api(`/users/${u.id}/events/${master.id}/instances`).get());
    expect(err.statusCode).toBe(400);
  });
});

describe('calendarView delta', () => {
  it('returns instances in the window (never series masters), with exceptions and without deleted occurrences', async () => {
    let sawException = false;
    for (const u of users)
      for (const calendar of (await listAll<{ id: string }>(`/users/${u.id}/calendars`)).items) {
        const round = await deltaRound(`/users/${u.id}/calendars/${calendar.id}/calendarView/delta?${WINDOW}`, 4);
        // The window travels in the token: later links do not repeat it.
        for (const l of round.links) expect(l).not.toMatch(/startDateTime/i);
        expect(round.deltaLink).toMatch(/\$deltatoken=/);
        expect(round.items.every((e) => e.type !== 'seriesMaster')).toBe(true);
        const view = await listAll<Event>(`/users/${u.id}/calendars/${calendar.id}/calendarView?${WINDOW}&$top=50`);
        expect(new Set(round.items.map((e) => e.id))).toEqual(new Set(view.items.map((e) => e.id)));
        for (const e of round.items.filter((x) => x.type === 'exception' || x.type === 'occurrence')) {
          const instances = await listAll<Event>(`/users/${u.id}/events/${e.seriesMasterId}/instances?${WINDOW}`);
          expect(instances.items.map((i) => i.id)).toContain(e.id);
          if (e.type === 'exception') {
            sawException = true;
            expect(e.start?.dateTime).not.toBe(e.originalStart?.replace('Z', '.0000000'));
          }
        }
      }
    // The generated tenant (fixed seed) has series with exceptions.
    expect(sawException).toBe(true);
  });

  it('reads the window parameters case-insensitively and ignores $select, which calendarView delta does not support', async () => {
    const u = user();
    const page = (await client
      .api(`/users/${u.id}/calendarView/delta?startdatetime=2025-06-01T00:00:00Z&enddatetime=2028-01-01T00:00:00Z&$select=subject`)
      .get()) as Page<Event>;
    expect(page.value.length).toBeGreaterThan(0);
    expect(page.value[0]?.start).toBeDefined();
    expect(page.value[0]?.['@odata.type']).toBe('#microsoft.graph.event');
  });

  it('rejects a first request without a window', async () => {
    const err = await failure(client.api(`/users/${user().id}/calendarView/delta`).get());
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('ErrorInvalidParameter');
  });

  it('reports exactly what mutate() did in the next round, and new calendars', async () => {
    const baseOf = new Map<string, string>();
    const tokens = new Map<string, string>();
    const calendarsBefore = new Map<string, number>();
    for (const u of users) {
      const calendars = (await listAll<{ id: string }>(`/users/${u.id}/calendars`)).items;
      calendarsBefore.set(u.id, calendars.length);
      for (const c of calendars) {
        const round = await deltaRound(`/users/${u.id}/calendars/${c.id}/calendarView/delta?${WINDOW}`, 5);
        for (const e of round.items) baseOf.set(e.id, e.seriesMasterId ?? e.id);
        tokens.set(`${u.id}/${c.id}`, round.deltaLink);
      }
    }
    const counts = emulator
      .mutate({ add: 0.25, change: 0.25, remove: 0.25, move: 0, addFolders: 1 })
      .filter((c) => c.service === 'calendar');
    expect(counts.length).toBe(users.length);
    for (const u of users) {
      const expected = counts.find((c) => c.account === u.id);
      expect(expected?.added).toBe(3);
      const known = new Set(baseOf.values());
      const added = new Set<string>();
      const changed = new Set<string>();
      const removed = new Set<string>();
      for (const [key, deltaLink] of tokens) {
        if (!key.startsWith(`${u.id}/`)) continue;
        const round = await deltaRound(deltaLink, 3);
        for (const e of round.items) {
          if (e['@removed']) {
            const base = baseOf.get(e.id);
            if (base) removed.add(base);
          } else {
            const base = e.seriesMasterId ?? e.id;
            (known.has(base) ? changed : added).add(base);
          }
        }
      }
      for (const base of changed) removed.delete(base);
      expect({ added: added.size, changed: changed.size, removed: removed.size }).toEqual({
        added: expected?.added,
        changed: expected?.changed,
        removed: expected?.removed,
      });
      const calendars = (await listAll<{ id: string }>(`/users/${u.id}/calendars`)).items;
      expect(calendars.length).toBe((calendarsBefore.get(u.id) ?? 0) + (expected?.foldersAdded ?? 0));
    }
  });

  it('removes calendars with their events: the counts match what the client had, and the old delta links answer 404', async () => {
    const before = new Map<string, { links: string[]; bases: Set<string>; calendars: number }>();
    for (const u of users) {
      const calendars = (await listAll<{ id: string; isDefaultCalendar: boolean }>(`/users/${u.id}/calendars`)).items.filter(
        (c) => !c.isDefaultCalendar,
      );
      const bases = new Set<string>();
      const links: string[] = [];
      for (const c of calendars) {
        const round = await deltaRound(`/users/${u.id}/calendars/${c.id}/calendarView/delta?${WINDOW}`);
        for (const e of round.items) bases.add(e.seriesMasterId ?? e.id);
        links.push(round.deltaLink);
      }
      expect(calendars.length).toBeGreaterThan(0);
      before.set(u.id, { links, bases, calendars: calendars.length });
    }
    const counts = emulator
      .mutate({ add: 0, change: 0, remove: 0, move: 0, addFolders: 0, removeFolders: 1 })
      .filter((c) => c.service === 'calendar');
    for (const u of users) {
      const was = before.get(u.id) as { links: string[]; bases: Set<string>; calendars: number };
      const mine = counts.find((c) => c.account === u.id);
      expect(mine).toMatchObject({ foldersRemoved: was.calendars, removed: was.bases.size, added: 0, changed: 0 });
      for (const l of was.links) {
        const err = await failure(client.api(l).get());
        expect(err.statusCode).toBe(404);
        expect(err.code).toBe('ErrorItemNotFound');
      }
      const left = (await listAll<{ id: string }>(`/users/${u.id}/calendars`)).items;
      expect(left.length).toBe(1);
    }
  });

  it('answers an expired delta token with 410 SyncStateNotFound, and a new round starts cleanly', async () => {
    const u = user(1);
    const round = await deltaRound(`/users/${u.id}/calendarView/delta?${WINDOW}`);
    expect(emulator.expireDeltaTokens(u.id, 'calendar')).toBeGreaterThan(0);
    const err = await failure(client.api(round.deltaLink).get());
    expect(err.statusCode).toBe(410);
    expect(err.code).toBe('SyncStateNotFound');
    const again = await deltaRound(`/users/${u.id}/calendarView/delta?${WINDOW}`);
    expect(again.items.length).toBe(round.items.length);
  });
});

describe('series changes in delta', () => {
  it('shows an occurrence turned into an exception, and a deleted occurrence as @removed, in the next round', async () => {
    const u = user(1);
    const series = (await client.api(`/users/${u.id}/events`).post({
      subject: 'Weekly sync',
      start: { dateTime: '2026-09-07T09:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-09-07T09:30:00', timeZone: 'UTC' },
      recurrence: {
        pattern: { type: 'weekly', interval: 1, daysOfWeek: ['monday'] },
        range: { type: 'numbered', startDate: '2026-09-07', numberOfOccurrences: 4 },
      },
    })) as Event;
    const mailboxBefore = emulator.stats.byMailbox[u.id] ?? 0;
    const first = await deltaRound(`/users/${u.id}/calendarView/delta?${WINDOW}`);
    expect(emulator.stats.byMailbox[u.id] ?? 0).toBe(mailboxBefore + first.pages);
    const mine = first.items.filter((e) => e.seriesMasterId === series.id);
    expect(mine.map((e) => e.type)).toEqual(['occurrence', 'occurrence', 'occurrence', 'occurrence']);
    const [, moved, deleted] = mine as [Event, Event, Event];
    await client.api(`/users/${u.id}/events/${moved.id}`).patch({
      subject: 'Weekly sync (moved)',
      start: { dateTime: '2026-09-15T10:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-09-15T10:30:00', timeZone: 'UTC' },
    });
    await client.api(`/users/${u.id}/events/${deleted.id}`).delete();
    const next = await deltaRound(first.deltaLink);
    const exception = next.items.find((e) => e.id === moved.id);
    expect(exception).toMatchObject({
      type: 'exception',
      subject: 'Weekly sync (moved)',
      seriesMasterId: series.id,
      start: { dateTime: '2026-09-15T10:00:00.0000000', timeZone: 'UTC' },
    });
    expect(next.items.find((e) => e.id === deleted.id)).toEqual({
      '@odata.type': '#microsoft.graph.event',
      id: deleted.id,
      '@removed': { reason: 'deleted' },
    });
    expect(next.items.every((e) => e.type !== 'seriesMaster')).toBe(true);
    const instances = (await listAll<Event>(`/users/${u.id}/events/${series.id}/instances?${WINDOW}`)).items;
    expect(instances.map((i) => i.type)).toEqual(['occurrence', 'exception', 'occurrence']);
  });
});

describe('restore', () => {
  it('recreates a series with its exceptions and deleted occurrences in a new calendar, identical in export()', async () => {
    const u = user();
    const masters = (await listAll<Event>(`/users/${u.id}/events?$top=100`)).items.filter((e) => e.type === 'seriesMaster');
    expect(masters.length).toBeGreaterThan(0);
    const calendar = (await client.api(`/users/${u.id}/calendars`).post({ name: 'Restored' })) as {
      id: string;
      isDefaultCalendar: boolean;
    };
    expect(calendar.isDefaultCalendar).toBe(false);
    const dup = await failure(client.api(`/users/${u.id}/calendars`).post({ name: 'Restored' }));
    expect(dup.statusCode).toBe(409);
    const restored = new Map<string, string>();
    for (const source of masters) {
      const full = (await client.api(`/users/${u.id}/events/${source.id}`).get()) as Event;
      const created = (await client.api(`/users/${u.id}/calendars/${calendar.id}/events`).post({
        subject: full.subject,
        body: full['body'],
        start: full.start,
        end: full.end,
        isAllDay: full['isAllDay'],
        location: full['location'],
        attendees: full['attendees'],
        recurrence: full.recurrence,
      })) as Event;
      expect(created.type).toBe('seriesMaster');
      restored.set(source.id, created.id);
      const original = (await listAll<Event>(`/users/${u.id}/events/${source.id}/instances?${WINDOW}&$top=100`)).items;
      const copy = (await listAll<Event>(`/users/${u.id}/events/${created.id}/instances?${WINDOW}&$top=100`)).items;
      const byOriginal = new Map(original.map((i) => [i.originalStart, i]));
      for (const instance of copy) {
        const was = byOriginal.get(instance.originalStart);
        if (!was) {
          await client.api(`/users/${u.id}/events/${instance.id}`).delete();
        } else if (was.type === 'exception') {
          const updated = (await client
            .api(`/users/${u.id}/events/${instance.id}`)
            .patch({ subject: was.subject, start: was.start, end: was.end })) as Event;
          expect(updated.type).toBe('exception');
        }
      }
    }
    const exported = emulator.export()['calendar'] as { account: string; events: { id: string; sha256: string; calendar: string }[] }[];
    const mine = exported.find((m) => m.account === u.id);
    for (const [from, to] of restored) {
      const a = mine?.events.find((e) => e.id === from);
      const b = mine?.events.find((e) => e.id === to);
      expect(b?.calendar).toBe('Restored');
      expect(b?.sha256).toBe(a?.sha256);
    }
    // The restored calendar's delta shows the same instances as the originals'.
    const round = await deltaRound(`/users/${u.id}/calendars/${calendar.id}/calendarView/delta?${WINDOW}`);
    expect(round.items.every((e) => e.seriesMasterId && [...restored.values()].includes(e.seriesMasterId))).toBe(true);
  });

  it('creates, changes and deletes a single event', async () => {
    const u = user(1);
    const created = (await client.api(`/users/${u.userPrincipalName}/events`).post({
      subject: 'Restore check',
      body: { contentType: 'text', content: 'hello' },
      start: { dateTime: '2026-05-04T10:00:00', timeZone: 'UTC' },
      end: { dateTime: '2026-05-04T11:00:00', timeZone: 'UTC' },
    })) as Event;
    expect(created.type).toBe('singleInstance');
    expect(created.start).toEqual({ dateTime: '2026-05-04T10:00:00.0000000', timeZone: 'UTC' });
    const patched = (await client.api(`/users/${u.id}/events/${created.id}`).patch({ subject: 'Renamed' })) as Event;
    expect(patched.subject).toBe('Renamed');
    expect(patched['changeKey']).not.toBe(created['changeKey']);
    const read = (await client.api(`/users/${u.id}/events/${created.id}`).get()) as Event;
    expect(read.subject).toBe('Renamed');
    expect((read['body'] as { content: string }).content).toBe('hello');
    await client.api(`/users/${u.id}/events/${created.id}`).delete();
    const gone = await failure(client.api(`/users/${u.id}/events/${created.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ErrorItemNotFound');
  });
});

describe('errors and faults', () => {
  it('answers a user without a mailbox and an unknown user as Graph does', async () => {
    const unlicensed = [...emulator.directory.users.values()].find((u) => u.mailboxType === 'none');
    const err = await failure(client.api(`/users/${unlicensed?.id}/calendars`).get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('MailboxNotEnabledForRESTAPI');
    const unknown = await failure(client.api('/users/nobody@contoso.onmicrosoft.com/events').get());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.code).toBe('Request_ResourceNotFound');
  });

  it('refuses an app without Calendars permissions, and writes with Calendars.Read only', async () => {
    const saved = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set(ALL_APPLICATION_PERMISSIONS.filter((p) => !p.startsWith('Calendars.')));
      const none = graphClient(emulator, { client: msalClient(emulator) });
      const err = await failure(none.api(`/users/${user().id}/calendars`).get());
      expect(err.statusCode).toBe(403);
      expect(err.code).toBe('ErrorAccessDenied');
      emulator.directory.app.grantedRoles = new Set(['Calendars.Read']);
      const reader = graphClient(emulator, { client: msalClient(emulator) });
      await reader.api(`/users/${user().id}/calendars`).get();
      const write = await failure(reader.api(`/users/${user().id}/calendars`).post({ name: 'Nope' }));
      expect(write.statusCode).toBe(403);
    } finally {
      emulator.directory.app.grantedRoles = saved;
    }
  });

  it('serves the injected faults: deleted between list and get, an event that always fails, a transient 503, a cut body', async () => {
    const u = user();
    const { items } = await listAll<Event>(`/users/${u.id}/events?$top=3`);
    const [a, b] = items as [Event, Event];
    emulator.faults.add({ kind: 'notFound', routeKind: 'calendar.event', path: a.id, times: 1 });
    const gone = await failure(client.api(`/users/${u.id}/events/${a.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('ErrorItemNotFound');
    emulator.faults.add({ kind: 'error', routeKind: 'calendar.event', path: b.id, status: 500, code: 'ErrorInternalServerError' });
    for (let i = 0; i < 2; i++) expect((await failure(client.api(`/users/${u.id}/events/${b.id}`).get())).statusCode).toBe(500);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'status503', routeKind: 'calendar.delta', times: 1 });
    const before = emulator.stats.byKind['calendar.delta'] ?? 0;
    const round = await deltaRound(`/users/${u.id}/calendarView/delta?${WINDOW}`);
    expect(round.items.length).toBeGreaterThan(0);
    expect((emulator.stats.byKind['calendar.delta'] ?? 0) - before).toBe(round.pages + 1);
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'calendar.events', times: 1 });
    await expect(graphClientWithoutRetry(emulator).api(`/users/${u.id}/events`).get()).rejects.toThrow();
    emulator.faults.clear();
  });
});
