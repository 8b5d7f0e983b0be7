// The calendar workload: calendars and events of every mailbox under /v1.0/users/{id | upn},
// calendarView delta (instances in a window, as Graph expands them), event reads, and the writes
// a restore needs (create calendars and events, recurring ones included, change and delete them,
// turn an occurrence into an exception).
import { createHash } from 'node:crypto';
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { person, TextGen } from '../../../../../bench/corpus/text.ts';
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link, pageSize, project, selectedFields } from '../../http/odata.ts';
import type { Router } from '../../http/router.ts';
import { GraphError, parseJson } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import { ChangeLog, ExpiredDeltaToken } from '../../tenant/changelog.ts';
import type { Change, DeltaCursor, Sequence } from '../../tenant/changelog.ts';
import type { Directory, User } from '../../tenant/directory.ts';
import type { MutationCounts } from '../../tenant/spec.ts';
import type { GenerateInput, MutateInput, Service } from '../service.ts';
import {
  cancelledInstances,
  canonicalEvent,
  instancesOf,
  newId,
  NO_CANCELLED,
  NO_CATEGORIES,
  NO_EXCEPTIONS,
  overlaps,
  parseOccurrenceId,
  renderCalendar,
  renderEvent,
  renderInstance,
  seriesState,
} from './model.ts';
import type { Attendee, CalendarRecord, EmailAddress, EventBody, EventRecord, Instance, Mailbox } from './model.ts';
import { dateKey, normaliseRecurrence, occurrenceStarts, parseDateTime } from './recurrence.ts';

const READ = ['Calendars.Read', 'Calendars.ReadWrite'] as const;
const WRITE = ['Calendars.ReadWrite'] as const;
const U = '/v1.0/users/:user';
const DAY = 86_400_000;
/** Generated events fall in 2026 (fixed, so a tenant is the same whatever day it is built). */
const BASE = Date.UTC(2026, 0, 5);
const CREATED = Date.UTC(2025, 11, 1);
/** Outlook's default page for lists and delta, and the largest it honours. */
const DEFAULT_PAGE = 10;
const MAX_PAGE = 1000;
const COLORS: readonly (readonly [string, string])[] = [
  ['lightBlue', '#a6d1f5'],
  ['lightGreen', '#87d28e'],
  ['lightOrange', '#fcab73'],
  ['lightGray', '#c0c0c0'],
  ['lightYellow', '#f4d07a'],
  ['lightTeal', '#7ee3e8'],
];

interface DeltaToken {
  /** Where the round stands in the calendar's change log. */
  k: DeltaCursor;
  /** Instances of the next change already returned (a series spans several instances). */
  o: number;
  /** The window, carried in the token as Graph does (startDateTime/endDateTime are not repeated). */
  a: number;
  b: number;
  /** The page size of the round (`Prefer: odata.maxpagesize` of its first request). */
  n?: number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function bump(previous: number): number {
  return Math.max(Date.now(), previous + 1000);
}

export class CalendarService implements Service {
  readonly name = 'calendar';
  private readonly mailboxes = new Map<string, Mailbox>();
  private sequence!: Sequence;
  private directory!: Directory;
  private bodyMedian = 1536;
  private bodySigma = 1;
  private maxBytes = 4 * 1024 * 1024;
  /** Mailbox owners, who attend each other's meetings. */
  private people: User[] = [];

  generate(input: GenerateInput): void {
    this.sequence = input.sequence;
    this.directory = input.directory;
    this.bodyMedian = Math.max(256, Math.round(input.spec.sizes.mailMedianBytes / 16));
    this.bodySigma = input.spec.sizes.sigma;
    this.maxBytes = input.spec.sizes.maxBytes;
    this.people = input.directory.mailboxes().filter((u) => u.mail);
    for (const user of input.directory.mailboxes()) {
      const rng = input.rng(`mailbox/${user.id}`);
      const mailbox = this.createMailbox(user, rng);
      if (rng.chance(0.5)) this.addCalendar(mailbox, rng.pick(['Team events', 'Project plan', 'Holidays', 'On call']), rng);
      const calendars = [...mailbox.calendars.values()];
      for (let i = 0; i < input.spec.items.events; i++) {
        const calendar = calendars.length > 1 && rng.chance(0.25) ? (calendars[1] as CalendarRecord) : mailbox.defaultCalendar;
        const event = this.generateEvent(mailbox, calendar, rng, CREATED + i * 60_000, rng.chance(0.25));
        this.store(mailbox, event);
      }
    }
  }

  private createMailbox(user: User, rng: Prng): Mailbox {
    const calendar: CalendarRecord = {
      id: newId('G', rng),
      name: 'Calendar',
      color: 'auto',
      hexColor: '',
      isDefault: true,
      version: 1,
      log: new ChangeLog<EventRecord>(this.sequence),
    };
    const mailbox: Mailbox = {
      user,
      owner: { name: user.displayName, address: user.mail ?? user.userPrincipalName },
      calendars: new Map([[calendar.id, calendar]]),
      defaultCalendar: calendar,
      events: new Map(),
      graves: new Map(),
    };
    this.mailboxes.set(user.id, mailbox);
    return mailbox;
  }

  private addCalendar(mailbox: Mailbox, name: string, rng?: Prng): CalendarRecord {
    const [color, hexColor] = COLORS[mailbox.calendars.size % COLORS.length] as readonly [string, string];
    const calendar: CalendarRecord = {
      id: newId('G', rng),
      name,
      color,
      hexColor,
      isDefault: false,
      version: 1,
      log: new ChangeLog<EventRecord>(this.sequence),
    };
    mailbox.calendars.set(calendar.id, calendar);
    return calendar;
  }

  private bodySize(rng: Prng): number {
    return Math.max(64, Math.min(this.maxBytes, Math.round(rng.logNormal(this.bodyMedian, this.bodySigma))));
  }

  private generateEvent(mailbox: Mailbox, calendar: CalendarRecord, rng: Prng, created: number, recurring: boolean): EventRecord {
    const text = new TextGen(rng);
    const id = newId('E', rng);
    const allDay = !recurring && rng.chance(0.05);
    const day = BASE + rng.int(300) * DAY;
    const start = allDay ? day : day + rng.between(8, 17) * 3_600_000 + rng.pick([0, 30]) * 60_000;
    const end = allDay ? start + DAY : start + rng.pick([30, 60, 60, 90]) * 60_000;
    const attendees: Attendee[] = [];
    const people = this.people;
    for (let n = rng.int(4); n > 0; n--) {
      const internal = people.length > 1 && rng.chance(0.6);
      let p = internal ? rng.pick(people) : undefined;
      if (p?.id === mailbox.user.id) p = undefined;
      const ext = person(rng);
      attendees.push({
        type: rng.chance(0.8) ? 'required' : 'optional',
        emailAddress: p ? { name: p.displayName, address: p.mail as string } : { name: ext.display, address: ext.email },
      });
    }
    const event: EventRecord = {
      id,
      calendarId: calendar.id,
      iCalUId: `040000008200E00074C5B7101A82E008000000000${rng.hex(16).toUpperCase()}`,
      created,
      modified: created,
      version: 1,
      subject: text.title(),
      body: { contentType: 'html', recipe: { size: this.bodySize(rng), v: 1 } },
      start,
      end,
      isAllDay: allDay,
      location: rng.chance(0.6) ? rng.pick(['Room 101', 'Room 204', 'Teams', 'Cafeteria', 'Main office', 'Board room']) : '',
      organizer: mailbox.owner,
      attendees,
      showAs: allDay ? 'free' : 'busy',
      importance: rng.chance(0.1) ? 'high' : 'normal',
      sensitivity: 'normal',
      categories: rng.chance(0.2) ? [rng.pick(['Blue category', 'Green category', 'Red category'])] : NO_CATEGORIES,
      exceptions: NO_EXCEPTIONS,
      cancelled: NO_CANCELLED,
    };
    if (recurring) {
      const weekly = rng.chance(0.7);
      event.recurrence = normaliseRecurrence(
        {
          pattern: weekly
            ? {
                type: 'weekly',
                interval: rng.pick([1, 1, 2]),
                daysOfWeek: [['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][new Date(start).getUTCDay()]],
                firstDayOfWeek: 'sunday',
              }
            : { type: 'daily', interval: 1 },
          range: {
            type: 'numbered',
            startDate: new Date(start).toISOString().slice(0, 10),
            numberOfOccurrences: weekly ? rng.between(4, 12) : rng.between(3, 10),
          },
        },
        start,
      );
      const starts = occurrenceStarts(event.recurrence, start);
      if (starts.length > 2 && rng.chance(0.5))
        this.makeException(event, starts[1 + rng.int(starts.length - 1)] as number, text.title(), 3_600_000, created);
      if (starts.length > 3 && rng.chance(0.3)) {
        const key = dateKey(starts[starts.length - 1] as number);
        if (!event.exceptions.has(key)) seriesState(event).cancelled.add(key);
      }
    }
    return event;
  }

  private makeException(event: EventRecord, original: number, subject: string, shift: number, modified: number): void {
    const duration = event.end - event.start;
    const key = dateKey(original);
    const old = event.exceptions.get(key);
    seriesState(event).exceptions.set(key, {
      subject,
      start: original + shift,
      end: original + shift + duration,
      location: event.location,
      modified,
      version: (old?.version ?? event.version) + 1,
    });
  }

  private store(mailbox: Mailbox, event: EventRecord): void {
    mailbox.events.set(event.id, event);
    this.calendarOf(mailbox, event).log.put(event.id, event);
  }

  private calendarOf(mailbox: Mailbox, event: EventRecord): CalendarRecord {
    const calendar = mailbox.calendars.get(event.calendarId);
    if (!calendar) throw new Error(`event ${event.id} in an unknown calendar`);
    return calendar;
  }

  private touch(mailbox: Mailbox, event: EventRecord): void {
    event.version++;
    event.modified = bump(event.modified);
    this.calendarOf(mailbox, event).log.put(event.id, event);
  }

  private remove(mailbox: Mailbox, event: EventRecord): void {
    mailbox.events.delete(event.id);
    mailbox.graves.set(event.id, event);
    this.calendarOf(mailbox, event).log.remove(event.id);
  }

  // ---- mutation -------------------------------------------------------------------------------

  mutate(input: MutateInput): MutationCounts[] {
    const out: MutationCounts[] = [];
    const { mutation } = input;
    for (const mailbox of this.mailboxes.values()) {
      const rng = input.rng(`mailbox/${mailbox.user.id}`);
      const text = new TextGen(rng);
      const counts: MutationCounts = {
        account: mailbox.user.id,
        service: this.name,
        added: 0,
        changed: 0,
        moved: 0,
        removed: 0,
        foldersAdded: 0,
        foldersRemoved: 0,
      };
      // Calendars removed first: their events count as removed.
      const removable = [...mailbox.calendars.values()].filter((c) => !c.isDefault);
      for (let k = removable.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [removable[k], removable[j]] = [removable[j] as CalendarRecord, removable[k] as CalendarRecord];
      }
      for (const calendar of removable.slice(0, Math.round(removable.length * mutation.removeFolders))) {
        for (const event of [...calendar.log.values()]) {
          this.remove(mailbox, event);
          counts.removed++;
        }
        mailbox.calendars.delete(calendar.id);
        counts.foldersRemoved++;
      }
      const live = [...mailbox.events.values()];
      for (let i = live.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [live[i], live[j]] = [live[j] as EventRecord, live[i] as EventRecord];
      }
      const n = live.length;
      const nRemove = Math.min(n, Math.round(n * mutation.remove));
      const nChange = Math.min(n - nRemove, Math.round(n * mutation.change));
      const nAdd = Math.round(n * mutation.add);
      for (const event of live.slice(0, nRemove)) {
        this.remove(mailbox, event);
        counts.removed++;
      }
      for (const event of live.slice(nRemove, nRemove + nChange)) {
        this.changeEvent(event, rng, text);
        this.touch(mailbox, event);
        counts.changed++;
      }
      const calendars = [...mailbox.calendars.values()];
      for (let i = 0; i < nAdd; i++) {
        const calendar = rng.chance(0.75) ? mailbox.defaultCalendar : rng.pick(calendars);
        this.store(mailbox, this.generateEvent(mailbox, calendar, rng, bump(CREATED), rng.chance(0.2)));
        counts.added++;
      }
      for (let i = 0; i < mutation.addFolders; i++) {
        let name = `${text.title()} ${mailbox.calendars.size}`;
        while ([...mailbox.calendars.values()].some((c) => c.name === name)) name += '+';
        this.addCalendar(mailbox, name, rng);
        counts.foldersAdded++;
      }
      out.push(counts);
    }
    return out;
  }

  /** A change to one event: a new subject and body, or, for a series, an exception or a deleted occurrence. */
  private changeEvent(event: EventRecord, rng: Prng, text: TextGen): void {
    const now = bump(event.modified);
    if (event.recurrence) {
      const open = occurrenceStarts(event.recurrence, event.start).filter(
        (s) => !event.cancelled.has(dateKey(s)) && !event.exceptions.has(dateKey(s)),
      );
      const choice = rng.int(3);
      if (choice === 0 && open.length > 0) {
        // An exception: one occurrence moved by an hour and renamed (the master changes with it).
        this.makeException(event, rng.pick(open), `${text.title()} (moved)`, 3_600_000, now);
        return;
      }
      if (choice === 1 && open.length > 2) {
        seriesState(event).cancelled.add(dateKey(rng.pick(open.slice(1))));
        return;
      }
    }
    event.subject = text.title();
    event.body = { contentType: event.body.contentType, recipe: { size: this.bodySize(rng), v: event.version + 1 } };
  }

  // ---- export and delta expiry ----------------------------------------------------------------

  export(): unknown {
    return [...this.mailboxes.values()].map((mailbox) => ({
      account: mailbox.user.id,
      userPrincipalName: mailbox.user.userPrincipalName,
      calendars: [...mailbox.calendars.values()].map((c) => ({ id: c.id, name: c.name, isDefault: c.isDefault, events: c.log.size })),
      events: [...mailbox.events.values()].map((event) => {
        const canonical = canonicalEvent(event);
        return {
          id: event.id,
          calendar: mailbox.calendars.get(event.calendarId)?.name,
          type: event.recurrence ? 'seriesMaster' : 'singleInstance',
          subject: event.subject,
          start: iso(event.start),
          end: iso(event.end),
          recurrence: event.recurrence ?? null,
          exceptions: event.exceptions.size,
          cancelledOccurrences: event.cancelled.size,
          sha256: createHash('sha256').update(JSON.stringify(canonical)).digest('hex'),
        };
      }),
    }));
  }

  expireDeltaTokens(account: string, container?: string): number {
    const mailbox = this.mailboxes.get(account);
    if (!mailbox) return 0;
    let n = 0;
    for (const calendar of mailbox.calendars.values()) {
      if (container && calendar.id !== container && calendar.name !== container) continue;
      calendar.log.expire();
      n++;
    }
    return n;
  }

  // ---- routes ---------------------------------------------------------------------------------

  routes(router: Router, _ctx: EmulatorContext): void {
    const read = (kind: string) => ({
      kind: `calendar.${kind}`,
      auth: 'graph' as const,
      permissions: READ,
      mailbox: (p: Record<string, string>) => p['user'],
    });
    const write = (kind: string) => ({
      kind: `calendar.${kind}`,
      auth: 'graph' as const,
      permissions: WRITE,
      mailbox: (p: Record<string, string>) => p['user'],
    });

    router.get(`${U}/calendars`, read('calendars'), (req) => {
      const mailbox = this.mailbox(req);
      const owner = mailbox.owner;
      return this.page(req, [...mailbox.calendars.values()], (c) => renderCalendar(c, owner), `users('${mailbox.user.id}')/calendars`);
    });
    router.post(`${U}/calendars`, write('createCalendar'), (req) => {
      const mailbox = this.mailbox(req);
      const body = parseJson<{ name?: unknown; color?: unknown }>(req);
      if (typeof body.name !== 'string' || !body.name.trim()) throw new GraphError(400, 'ErrorInvalidRequest', 'A calendar needs a name.');
      const name = body.name;
      if ([...mailbox.calendars.values()].some((c) => c.name.toLowerCase() === name.toLowerCase())) {
        throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
      }
      const calendar = this.addCalendar(mailbox, name);
      return {
        status: 201,
        body: {
          '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/calendars/$entity`),
          ...renderCalendar(calendar, mailbox.owner),
        },
      };
    });

    // Delta before the parameterised routes.
    router.get(`${U}/calendarView/delta`, read('delta'), (req) => this.delta(req, this.mailbox(req).defaultCalendar));
    router.get(`${U}/calendar/calendarView/delta`, read('delta'), (req) => this.delta(req, this.mailbox(req).defaultCalendar));
    router.get(`${U}/calendars/:calendar/calendarView/delta`, read('delta'), (req) => this.delta(req, this.calendar(req)));
    router.get(`${U}/calendarView`, read('view'), (req) => this.view(req, this.mailbox(req).defaultCalendar));
    router.get(`${U}/calendar/calendarView`, read('view'), (req) => this.view(req, this.mailbox(req).defaultCalendar));
    router.get(`${U}/calendars/:calendar/calendarView`, read('view'), (req) => this.view(req, this.calendar(req)));

    router.get(`${U}/calendar`, read('calendar'), (req) => {
      const mailbox = this.mailbox(req);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/calendars/$entity`),
          ...project(renderCalendar(mailbox.defaultCalendar, mailbox.owner), selectedFields(req.query)),
        },
      };
    });
    router.get(`${U}/calendars/:calendar`, read('calendar'), (req) => {
      const mailbox = this.mailbox(req);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/calendars/$entity`),
          ...project(renderCalendar(this.calendar(req), mailbox.owner), selectedFields(req.query)),
        },
      };
    });

    router.get(`${U}/events`, read('events'), (req) => this.events(req));
    router.get(`${U}/calendar/events`, read('events'), (req) => this.events(req, this.mailbox(req).defaultCalendar));
    router.get(`${U}/calendars/:calendar/events`, read('events'), (req) => this.events(req, this.calendar(req)));
    router.post(`${U}/events`, write('createEvent'), (req) => this.create(req, this.mailbox(req).defaultCalendar));
    router.post(`${U}/calendar/events`, write('createEvent'), (req) => this.create(req, this.mailbox(req).defaultCalendar));
    router.post(`${U}/calendars/:calendar/events`, write('createEvent'), (req) => this.create(req, this.calendar(req)));

    router.get(`${U}/events/:id/instances`, read('instances'), (req) => {
      const mailbox = this.mailbox(req);
      const event = this.stored(mailbox, req.params['id'] ?? '');
      const [a, b] = this.window(req);
      const instances = event.recurrence ? instancesOf(event).filter((i) => overlaps(i.start, i.end, a, b)) : [];
      return this.page(req, instances, (i) => renderInstance(i, req.origin), `Collection(event)`);
    });
    router.get(`${U}/events/:id`, read('event'), (req) => {
      const mailbox = this.mailbox(req);
      const id = req.params['id'] ?? '';
      const stored = mailbox.events.get(id);
      const body = stored ? renderEvent(stored, req.origin) : renderInstance(this.instance(mailbox, id), req.origin);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/events/$entity`),
          ...project(body, selectedFields(req.query)),
        },
      };
    });
    router.patch(`${U}/events/:id`, write('updateEvent'), (req) => this.update(req));
    router.delete(`${U}/events/:id`, write('deleteEvent'), (req) => {
      const mailbox = this.mailbox(req);
      const id = req.params['id'] ?? '';
      const stored = mailbox.events.get(id);
      if (stored) {
        this.remove(mailbox, stored);
      } else {
        // Deleting an occurrence (or an exception) takes it out of its series.
        const instance = this.instance(mailbox, id);
        const key = dateKey(instance.originalStart ?? instance.start);
        const series = seriesState(instance.event);
        series.exceptions.delete(key);
        series.cancelled.add(key);
        this.touch(mailbox, instance.event);
      }
      return { status: 204 };
    });
  }

  // ---- handlers -------------------------------------------------------------------------------

  private mailbox(req: EmulatorRequest): Mailbox {
    const key = req.params['user'] ?? '';
    const user = this.directory.user(key);
    if (!user) {
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    const mailbox = this.mailboxes.get(user.id);
    if (!mailbox) {
      // A user without an Exchange Online mailbox (no license): Graph's Outlook endpoints answer so.
      throw new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    }
    return mailbox;
  }

  private calendar(req: EmulatorRequest): CalendarRecord {
    const mailbox = this.mailbox(req);
    const calendar = mailbox.calendars.get(req.params['calendar'] ?? '');
    if (!calendar) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return calendar;
  }

  private stored(mailbox: Mailbox, id: string): EventRecord {
    const event = mailbox.events.get(id);
    if (!event) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return event;
  }

  /** An occurrence or exception of a live series, by its id. */
  private instance(mailbox: Mailbox, id: string): Instance {
    const parsed = parseOccurrenceId(id);
    const master = parsed ? mailbox.events.get(parsed.masterId) : undefined;
    const found = parsed && master?.recurrence ? instancesOf(master).find((i) => i.id === id) : undefined;
    if (!found) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return found;
  }

  private window(req: EmulatorRequest): [number, number] {
    // Graph reads these parameters case-insensitively (its own samples write `startdatetime`).
    let a: string | undefined;
    let b: string | undefined;
    for (const [k, v] of req.query) {
      if (k.toLowerCase() === 'startdatetime') a = v;
      else if (k.toLowerCase() === 'enddatetime') b = v;
    }
    if (!a || !b) {
      throw new GraphError(
        400,
        'ErrorInvalidParameter',
        'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.',
      );
    }
    return [parseDateTime(a, 'startDateTime'), parseDateTime(b, 'endDateTime')];
  }

  /**
   * Outlook's list paging: `$top` (or `Prefer: odata.maxpagesize`) sets the page, and the next
   * link repeats the query with `$skip` (Outlook lists page with `$skip`, not a skip token).
   */
  private page<T>(
    req: EmulatorRequest,
    items: readonly T[],
    render: (item: T) => Record<string, unknown>,
    context: string,
  ): EmulatorResponse {
    const ps = pageSize(req, DEFAULT_PAGE, MAX_PAGE);
    const skipRaw = req.query.get('$skip');
    const skip = skipRaw === null ? 0 : Number(skipRaw);
    if (!Number.isInteger(skip) || skip < 0) throw new GraphError(400, 'BadRequest', `Invalid value '${skipRaw}' for $skip query option.`);
    const fields = selectedFields(req.query);
    const value = items.slice(skip, skip + ps.size).map((item) => project(render(item), fields));
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, context), value };
    if (skip + ps.size < items.length) {
      const query: Record<string, string> = {};
      for (const [k, v] of req.query) if (k !== '$skip' && k !== '$top') query[k] = v;
      query['$top'] = String(ps.size);
      query['$skip'] = String(skip + ps.size);
      body['@odata.nextLink'] = link(req, req.path, query);
    }
    return { status: 200, headers: ps.applied ? { 'Preference-Applied': ps.applied } : {}, body };
  }

  private events(req: EmulatorRequest, calendar?: CalendarRecord): EmulatorResponse {
    const mailbox = this.mailbox(req);
    // /events lists single events and series masters (occurrences come from /instances or a view).
    const events = calendar ? [...calendar.log.values()] : [...mailbox.events.values()];
    return this.page(req, events, (e) => renderEvent(e, req.origin), `users('${mailbox.user.id}')/events`);
  }

  private view(req: EmulatorRequest, calendar: CalendarRecord): EmulatorResponse {
    const mailbox = this.mailbox(req);
    const [a, b] = this.window(req);
    const instances: Instance[] = [];
    for (const event of calendar.log.values()) for (const i of instancesOf(event)) if (overlaps(i.start, i.end, a, b)) instances.push(i);
    instances.sort((x, y) => x.start - y.start || x.id.localeCompare(y.id));
    return this.page(req, instances, (i) => renderInstance(i, req.origin), `users('${mailbox.user.id}')/calendarView`);
  }

  /**
   * calendarView delta: the round walks the calendar's change log; each changed event expands into
   * its instances in the window (single instances, occurrences and exceptions, never the series
   * master, as Graph returns them). A deleted event or occurrence comes as `@removed`.
   */
  private delta(req: EmulatorRequest, calendar: CalendarRecord): EmulatorResponse {
    const graves = this.mailbox(req).graves;
    const skip = req.query.get('$skiptoken');
    const deltaToken = req.query.get('$deltatoken');
    let token: DeltaToken;
    try {
      if (skip) {
        token = decodeToken<DeltaToken>(skip);
        calendar.log.check(token.k);
      } else if (deltaToken) {
        const t = decodeToken<DeltaToken>(deltaToken, 'delta token');
        token = { ...t, k: calendar.log.resume(t.k), o: 0 };
      } else {
        // The window goes into the token. `$select` is not supported by calendarView delta (the
        // delta query docs say so): it is ignored and whole events come back.
        const [a, b] = this.window(req);
        token = { k: calendar.log.start(), o: 0, a, b };
      }
    } catch (err) {
      if (err instanceof ExpiredDeltaToken) throw this.expired(calendar);
      throw err;
    }
    const ps = pageSize(req, token.n ?? DEFAULT_PAGE, MAX_PAGE);
    const size = ps.size;
    const initial = token.k.s === 0;
    const value: Record<string, unknown>[] = [];
    let cursor = token.k;
    let offset = token.o;
    const carry = { a: token.a, b: token.b, n: size };
    const respond = (extra: Record<string, string>): EmulatorResponse => ({
      status: 200,
      headers: ps.applied ? { 'Preference-Applied': ps.applied } : {},
      body: { '@odata.context': contextUrl(req, 'Collection(event)'), ...extra, value },
    });
    for (;;) {
      let read;
      try {
        read = calendar.log.read(cursor, 1);
      } catch (err) {
        if (err instanceof ExpiredDeltaToken) throw this.expired(calendar);
        throw err;
      }
      const change = read.changes[0];
      if (change) {
        const entries = this.expand(change, graves, token.a, token.b, initial, req.origin);
        const room = size - value.length;
        value.push(...entries.slice(offset, offset + room));
        if (offset + room < entries.length) {
          const next: DeltaToken = { k: cursor, o: offset + room, ...carry };
          return respond({ '@odata.nextLink': link(req, req.path, { $skiptoken: encodeToken(next) }) });
        }
        offset = 0;
      }
      if (read.delta) {
        const next: DeltaToken = { k: read.delta, o: 0, ...carry };
        return respond({ '@odata.deltaLink': link(req, req.path, { $deltatoken: encodeToken(next) }) });
      }
      cursor = read.next as DeltaCursor;
      if (value.length >= size) {
        const next: DeltaToken = { k: cursor, o: 0, ...carry };
        return respond({ '@odata.nextLink': link(req, req.path, { $skiptoken: encodeToken(next) }) });
      }
    }
  }

  /** What one change of the log looks like in a delta page. */
  private expand(
    change: Change<EventRecord>,
    graves: Map<string, EventRecord>,
    a: number,
    b: number,
    initial: boolean,
    origin: string,
  ): Record<string, unknown>[] {
    const removed = (id: string): Record<string, unknown> => ({
      '@odata.type': '#microsoft.graph.event',
      id,
      '@removed': { reason: 'deleted' },
    });
    const event = change.item;
    if (!event) {
      const grave = graves.get(change.id);
      if (!grave) return [removed(change.id)];
      return instancesOf(grave)
        .filter((i) => overlaps(i.start, i.end, a, b))
        .map((i) => removed(i.id));
    }
    const out: Record<string, unknown>[] = [];
    for (const i of instancesOf(event)) {
      if (overlaps(i.start, i.end, a, b)) out.push({ '@odata.type': '#microsoft.graph.event', ...renderInstance(i, origin) });
      // Graph quirk (documented in microsoft-graph-docs#6599): in a later round an event changed or
      // created outside the window comes as `@removed`.
      else if (!initial && !event.recurrence) out.push(removed(i.id));
    }
    if (!initial) for (const c of cancelledInstances(event)) if (overlaps(c.start, c.end, a, b)) out.push(removed(c.id));
    return out;
  }

  private expired(calendar: CalendarRecord): GraphError {
    // Exchange's answer to a sync state it no longer has (seen on calendarView delta in the wild).
    return new GraphError(
      410,
      'SyncStateNotFound',
      `The sync state generation is not found; generation=${calendar.log.epoch - 1};[highest=${calendar.log.epoch}].`,
    );
  }

  private create(req: EmulatorRequest, calendar: CalendarRecord): EmulatorResponse {
    const mailbox = this.mailbox(req);
    const body = parseJson<Record<string, unknown>>(req);
    const start = parseDateTime(body['start'], 'start');
    const end = parseDateTime(body['end'], 'end');
    if (end < start) throw new GraphError(400, 'ErrorInvalidRequest', 'The end time of an event cannot be before its start time.');
    const now = Date.now();
    const id = newId('E');
    const event: EventRecord = {
      id,
      calendarId: calendar.id,
      iCalUId: `040000008200E00074C5B7101A82E008000000000${createHash('sha256').update(id).digest('hex').slice(0, 32).toUpperCase()}`,
      created: now,
      modified: now,
      version: 1,
      subject: '',
      body: { contentType: 'text', content: '' },
      start,
      end,
      isAllDay: false,
      location: '',
      organizer: mailbox.owner,
      attendees: [],
      showAs: 'busy',
      importance: 'normal',
      sensitivity: 'normal',
      categories: NO_CATEGORIES,
      exceptions: NO_EXCEPTIONS,
      cancelled: NO_CANCELLED,
    };
    this.apply(event, body);
    this.store(mailbox, event);
    return {
      status: 201,
      body: { '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/events/$entity`), ...renderEvent(event, req.origin) },
    };
  }

  /** Copies the writable properties a client sent onto a stored event. */
  private apply(event: EventRecord, body: Record<string, unknown>): void {
    if (typeof body['subject'] === 'string') event.subject = body['subject'];
    if (body['body'] !== undefined) event.body = this.body(body['body']);
    if (body['start'] !== undefined) event.start = parseDateTime(body['start'], 'start');
    if (body['end'] !== undefined) event.end = parseDateTime(body['end'], 'end');
    if (typeof body['isAllDay'] === 'boolean') event.isAllDay = body['isAllDay'];
    if (body['location'] !== undefined) event.location = String((body['location'] as { displayName?: unknown } | null)?.displayName ?? '');
    if (Array.isArray(body['attendees'])) {
      event.attendees = (body['attendees'] as { type?: string; emailAddress?: Partial<EmailAddress> }[]).map((a) => ({
        type: a.type === 'optional' || a.type === 'resource' ? a.type : 'required',
        emailAddress: {
          name: String(a.emailAddress?.name ?? a.emailAddress?.address ?? ''),
          address: String(a.emailAddress?.address ?? ''),
        },
      }));
    }
    for (const key of ['showAs', 'importance', 'sensitivity'] as const) if (typeof body[key] === 'string') event[key] = body[key];
    if (Array.isArray(body['categories'])) event.categories = (body['categories'] as unknown[]).map(String);
    if (body['recurrence'] === null) {
      delete event.recurrence;
      event.exceptions = NO_EXCEPTIONS;
      event.cancelled = NO_CANCELLED;
    } else if (body['recurrence'] !== undefined) {
      event.recurrence = normaliseRecurrence(body['recurrence'], event.start);
      event.exceptions = NO_EXCEPTIONS;
      event.cancelled = NO_CANCELLED;
    }
  }

  private body(raw: unknown): EventBody {
    const b = raw as { contentType?: unknown; content?: unknown } | null;
    return {
      contentType: String(b?.contentType ?? 'text').toLowerCase() === 'html' ? 'html' : 'text',
      content: typeof b?.content === 'string' ? b.content : '',
    };
  }

  private update(req: EmulatorRequest): EmulatorResponse {
    const mailbox = this.mailbox(req);
    const id = req.params['id'] ?? '';
    const body = parseJson<Record<string, unknown>>(req);
    const context = { '@odata.context': contextUrl(req, `users('${mailbox.user.id}')/events/$entity`) };
    const stored = mailbox.events.get(id);
    if (stored) {
      this.apply(stored, body);
      if (stored.end < stored.start)
        throw new GraphError(400, 'ErrorInvalidRequest', 'The end time of an event cannot be before its start time.');
      this.touch(mailbox, stored);
      return { status: 200, body: { ...context, ...renderEvent(stored, req.origin) } };
    }
    // Updating an occurrence makes it an exception of its series.
    const instance = this.instance(mailbox, id);
    const master = instance.event;
    const original = instance.originalStart ?? instance.start;
    const key = dateKey(original);
    const old = master.exceptions.get(key);
    const exception = {
      subject: typeof body['subject'] === 'string' ? body['subject'] : (old?.subject ?? master.subject),
      start: body['start'] !== undefined ? parseDateTime(body['start'], 'start') : instance.start,
      end: body['end'] !== undefined ? parseDateTime(body['end'], 'end') : instance.end,
      location:
        body['location'] !== undefined
          ? String((body['location'] as { displayName?: unknown } | null)?.displayName ?? '')
          : (old?.location ?? master.location),
      modified: bump(old?.modified ?? master.modified),
      version: (old?.version ?? master.version) + 1,
      ...(body['body'] !== undefined ? { body: this.body(body['body']) } : old?.body ? { body: old.body } : {}),
    };
    seriesState(master).exceptions.set(key, exception);
    this.touch(mailbox, master);
    const updated = instancesOf(master).find((i) => i.id === id) as Instance;
    return { status: 200, body: { ...context, ...renderInstance(updated, req.origin) } };
  }
}
