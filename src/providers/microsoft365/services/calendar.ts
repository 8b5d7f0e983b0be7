// Exchange calendars: every calendar of a mailbox, each one container read with calendarView
// delta. An item is an event as Graph returns it (canonical JSON): single events, the occurrences
// and exceptions of recurring series as the delta gives them, and the series masters, which the
// delta never gives but a restore needs (it creates the master with its recurrence, then deletes
// the occurrences the backup does not have and patches the exceptions, matched by originalStart).
//
// The window. calendarView delta only answers for a time window (startDateTime/endDateTime), and
// expands series into their instances inside it. The window is ten years back and five years
// ahead of the day it is opened: ten years covers the retention people ask of past meetings, five
// covers what anyone plans. Graph keeps the window in the delta token, so it does not slide by
// itself: once a year the calendar is listed again with a new window (a `resync`, reason
// CalendarWindowMoved), so the reach ahead never drops below four years. What falls outside:
//  - events that ended before the window's start (after a reopening, those that fell out of the
//    back end leave the new snapshots; older snapshots keep them);
//  - events that start after the window's end, until the next reopening;
//  - occurrences of a series outside the window (the master's recurrence describes them), and a
//    series with no instance inside the window at all (its master is not read either).
//
// Series masters. A round that gives instances of a series reads its master once
// (GET /events/{seriesMasterId}); its changeKey decides whether the engine stores a new version.
// When a series is deleted the delta names only its instances, as `@removed` without a series id,
// so the cursor keeps each calendar's series ids, and a round with removals lists the calendar's
// events (ids only) to remove the series that are gone.
//
// Cost per run: one calendar listing, one delta request per calendar without changes; a changed
// calendar adds its delta pages, one GET per changed series and, when something was deleted, a
// listing of its event ids (1000 a page). Content comes with the delta: nothing is downloaded.
//
// Size: every occurrence is an item of its own (with the series' body), so a daily series without
// an end gives one item per day of the window it falls in; the engine stores a new version of
// each only when its changeKey changes.
//
// Known gaps: attachments, extensions and extended properties are not read; a calendar that
// another mailbox shares and Graph lists among this mailbox's calendars is backed up with them.
import type { Account, AccountKind, BackupService, Change, ChangeContext, ItemMetadata, ServiceRun, SourceItem } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import { mapLimit } from '../../../concurrency/map-limit.ts';
import { calendarCursor } from './calendar-cursor.ts';
import type { CalendarCursor, CalendarNotes, PreviousCalendars } from './calendar-cursor.ts';
import type { ContainerState } from './container-cursor.ts';
import { containerRound, removedContainers } from './delta.ts';
import { graphEntityJson } from './graph-json.ts';
import type { ServiceFactory } from './service-factory.ts';

interface GraphCalendar {
  id: string;
  name?: string;
}

interface DateTimeZone {
  dateTime?: string;
  timeZone?: string;
}

/** An event as calendarView delta and GET /events/{id} give it (whole: the delta ignores $select). */
export interface GraphEvent {
  id: string;
  type?: string;
  seriesMasterId?: string | null;
  changeKey?: string;
  subject?: string | null;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  iCalUId?: string;
  originalStart?: string;
  isAllDay?: boolean;
  isCancelled?: boolean;
  start?: DateTimeZone;
  end?: DateTimeZone;
  organizer?: { emailAddress?: { name?: string; address?: string } };
  '@removed'?: { reason?: string };
}

export interface CalendarServiceOptions {
  /** The clock the window is opened by. */
  now?: () => Date;
  /** Events per delta page. */
  pageSize?: number;
}

const YEARS_BACK = 10;
const YEARS_AHEAD = 5;
/** A window older than this is opened again, so the reach ahead stays above four years. */
const REOPEN_AFTER_DAYS = 365;
const DAY_MS = 86_400_000;
/** Delta entries are whole events with their bodies: moderate pages. */
const DEFAULT_PAGE_SIZE = 200;
const LIST_HEADERS = { Prefer: 'odata.maxpagesize=1000' };
/** Series masters read at once for one delta page. */
const MASTER_CONCURRENCY = 4;

/** The day `now` falls on, at 00:00 UTC. */
export function utcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** The window opened on `day`: ten years back, five years ahead, as Graph's query wants it. */
export function calendarWindow(day: Date): { start: string; end: string } {
  const start = new Date(day);
  start.setUTCFullYear(day.getUTCFullYear() - YEARS_BACK);
  const end = new Date(day);
  end.setUTCFullYear(day.getUTCFullYear() + YEARS_AHEAD);
  const graphTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { start: graphTime(start), end: graphTime(end) };
}

/** A calendar name as a path: a '/' in it would read as a separator, so it is escaped. */
function calendarPath(calendar: GraphCalendar): string {
  return (calendar.name ?? calendar.id).replaceAll('/', '%2F');
}

/** The series of one calendar during a round: what the previous cursor knew and what the round saw. */
class SeriesLedger {
  /** The round lists the calendar from scratch: the previous series do not carry over. */
  full: boolean;
  /** The round named deleted instances: a series may be gone. */
  sawRemoval = false;
  readonly #known: Set<string>;
  /** Masters read this round: the event, or 'gone'. */
  readonly read = new Map<string, GraphEvent | 'gone'>();
  /** Ids that came as single events (a series that lost its recurrence is one). */
  readonly #singles = new Set<string>();
  readonly #vanished = new Set<string>();

  constructor(previous: readonly string[] | undefined) {
    this.full = previous === undefined;
    this.#known = new Set(previous ?? []);
  }

  /** A full round starts over (an expired token). */
  restart(): void {
    this.full = true;
    this.sawRemoval = false;
    this.#known.clear();
    this.read.clear();
    this.#singles.clear();
    this.#vanished.clear();
  }

  single(id: string): void {
    this.#singles.add(id);
  }

  /** Series of the previous cursor this round said nothing about. */
  unconfirmed(): string[] {
    return [...this.#known].filter((id) => !this.read.has(id) && !this.#singles.has(id));
  }

  gone(ids: Iterable<string>): void {
    for (const id of ids) this.#vanished.add(id);
  }

  /** The series the snapshot holds after the round. */
  series(): string[] {
    const live = [...this.read].filter(([, m]) => m !== 'gone').map(([id]) => id);
    const all = this.full ? live : [...new Set([...this.#known, ...live])];
    return all.filter((id) => this.read.get(id) !== 'gone' && !this.#singles.has(id) && !this.#vanished.has(id)).sort();
  }
}

interface CalendarRef {
  id: string;
  path: string;
  /** The mailbox's id, encoded for a URL. */
  user: string;
  /** `/users/{id}/calendars/{id}`, encoded. */
  url: string;
}

export class CalendarService implements BackupService {
  readonly name = 'calendar';
  readonly accountKinds: readonly AccountKind[] = ['user', 'sharedMailbox'];
  readonly movesBetweenContainers = true;
  readonly #session: GraphSession;
  readonly #now: () => Date;
  readonly #pageSize: number;

  constructor(session: GraphSession, options: CalendarServiceOptions = {}) {
    this.#session = session;
    this.#now = options.now ?? (() => new Date());
    this.#pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  changes(account: Account, cursor: string | undefined, _context: ChangeContext): ServiceRun {
    const previous = calendarCursor.parse(cursor);
    const outcome: { next?: CalendarCursor } = {};
    return {
      changes: this.#stream(encodeURIComponent(account.id), previous, utcDay(this.#now()), outcome),
      // Until the calendars could be listed, the previous cursor stands.
      cursor: (held) => calendarCursor.serialise(calendarCursor.holdBack(outcome.next ?? previous, previous, held)),
    };
  }

  /** The account's changes; `outcome.next` is set once every calendar had its round. */
  async *#stream(user: string, previous: PreviousCalendars, today: Date, outcome: { next?: CalendarCursor }): AsyncGenerator<Change> {
    let calendars: GraphCalendar[];
    try {
      calendars = await this.#session.all<GraphCalendar>(`/users/${user}/calendars?$select=id,name`, LIST_HEADERS);
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      // The mailbox cannot be listed: the account fails, its stored events stay.
      yield { type: 'containerFailed', container: 'calendars', path: '', issue: error.issue };
      return;
    }
    const next: CalendarCursor = { containers: new Map(), notes: new Map() };
    yield* removedContainers(previous, new Set(calendars.map((c) => c.id)));
    for (const calendar of calendars) {
      const ref: CalendarRef = {
        id: calendar.id,
        path: calendarPath(calendar),
        user,
        url: `/users/${user}/calendars/${encodeURIComponent(calendar.id)}`,
      };
      const after = yield* this.#calendarRound(ref, previous, today);
      if (after) {
        next.containers.set(calendar.id, after.state);
        next.notes.set(calendar.id, after.notes);
      }
    }
    outcome.next = next;
  }

  /** One calendar's round; returns what the cursor keeps for it (nothing when it is gone). */
  async *#calendarRound(
    calendar: CalendarRef,
    previous: PreviousCalendars,
    today: Date,
  ): AsyncGenerator<Change, { state: ContainerState; notes: CalendarNotes } | undefined> {
    const before = previous.containers.get(calendar.id);
    const notes = previous.notes.get(calendar.id);
    const kept = before && notes ? { state: before, notes } : undefined;
    // An unreadable opening day counts as stale too.
    const stale = before !== undefined && !(notes && today.getTime() - Date.parse(notes.opened) < REOPEN_AFTER_DAYS * DAY_MS);
    const resume = stale ? undefined : before;
    if (stale && previous.known)
      yield { type: 'resync', container: calendar.id, reason: notes ? 'CalendarWindowMoved' : 'CalendarWindowUnknown' };
    const ledger = new SeriesLedger(resume ? notes?.series : undefined);
    const window = calendarWindow(today);
    const round = containerRound<GraphEvent>(
      this.#session,
      {
        container: calendar.id,
        path: calendar.path,
        firstUrl: `${calendar.url}/calendarView/delta?startDateTime=${window.start}&endDateTime=${window.end}`,
        headers: { Prefer: `odata.maxpagesize=${this.#pageSize}` },
        changes: (entries) => this.#pageChanges(calendar, entries, ledger),
      },
      resume,
      previous.known && !stale,
    );
    for (;;) {
      const step = await round.next();
      if (step.done) {
        if (!step.value) return undefined;
        return {
          state: step.value,
          notes: { opened: ledger.full ? today.toISOString() : (notes?.opened ?? today.toISOString()), series: ledger.series() },
        };
      }
      const change = step.value;
      if (change.type === 'resync') ledger.restart();
      if (change.type === 'containerFailed') {
        yield change;
        await round.return(undefined);
        return kept;
      }
      if (change.type === 'containerDone' && !ledger.full && ledger.sawRemoval) {
        const check = yield* this.#removeVanishedSeries(calendar, ledger);
        if (check !== 'done') {
          await round.return(undefined);
          return check === 'gone' ? undefined : kept;
        }
      }
      yield change;
    }
  }

  /**
   * Removes the series of the previous cursor that are no longer in the calendar. On a failure the
   * calendar counts as failed (its old link stays, so the next run replays the removals).
   */
  async *#removeVanishedSeries(calendar: CalendarRef, ledger: SeriesLedger): AsyncGenerator<Change, 'done' | 'gone' | 'failed'> {
    const candidates = ledger.unconfirmed();
    if (candidates.length === 0) return 'done';
    let present: Set<string>;
    try {
      // /events lists single events and series masters, never occurrences. It is not filtered by
      // type: a filter Graph might refuse would block every round with removals, and ids are small.
      const masters = await this.#session.all<{ id: string }>(`${calendar.url}/events?$select=id`, LIST_HEADERS);
      present = new Set(masters.map((m) => m.id));
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      if (error.status === 404) {
        yield { type: 'containerRemoved', container: calendar.id };
        return 'gone';
      }
      yield { type: 'containerFailed', container: calendar.id, path: calendar.path, issue: error.issue };
      return 'failed';
    }
    const gone = candidates.filter((id) => !present.has(id));
    ledger.gone(gone);
    for (const id of gone) yield { type: 'remove', id, container: calendar.id };
    return 'done';
  }

  /** One delta page as changes, with the masters of the series it names read first. */
  async #pageChanges(calendar: CalendarRef, entries: GraphEvent[], ledger: SeriesLedger): Promise<Change[]> {
    const wanted = [...new Set(entries.filter((e) => !e['@removed'] && e.seriesMasterId).map((e) => e.seriesMasterId as string))].filter(
      (id) => !ledger.read.has(id),
    );
    const masters = await mapLimit(wanted, MASTER_CONCURRENCY, (id) => this.#master(calendar.user, id));
    wanted.forEach((id, i) => ledger.read.set(id, masters[i] as GraphEvent | 'gone'));
    const fresh = new Set(wanted);
    const out: Change[] = [];
    for (const e of entries) {
      if (e['@removed']) {
        ledger.sawRemoval = true;
        out.push({ type: 'remove', id: e.id, container: calendar.id });
        continue;
      }
      const masterId = e.seriesMasterId;
      if (masterId) {
        // Every master the page names was read above.
        const master = ledger.read.get(masterId) as GraphEvent | 'gone';
        if (fresh.delete(masterId)) {
          // The master comes right before the first of its instances in the round.
          out.push(
            master === 'gone'
              ? { type: 'remove', id: masterId, container: calendar.id }
              : { type: 'upsert', item: this.#item(calendar, master) },
          );
        }
        if (master === 'gone') {
          // Deleted since the delta page was served: its instances go too.
          out.push({ type: 'remove', id: e.id, container: calendar.id });
          continue;
        }
      } else if (e.type === 'seriesMaster') {
        // calendarView does not give masters; should one come, it is taken as read.
        ledger.read.set(e.id, e);
      } else {
        ledger.single(e.id);
      }
      out.push({ type: 'upsert', item: this.#item(calendar, e) });
    }
    return out;
  }

  async #master(user: string, id: string): Promise<GraphEvent | 'gone'> {
    try {
      return await this.#session.get<GraphEvent>(`/users/${user}/events/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof SourceError && !error.fatalReason && error.notFound) return 'gone';
      throw error;
    }
  }

  #item(calendar: CalendarRef, e: GraphEvent): SourceItem {
    const content = graphEntityJson(e);
    const metadata: ItemMetadata = { kind: 'event' };
    if (e.type) metadata['type'] = e.type;
    if (e.seriesMasterId) metadata['seriesMasterId'] = e.seriesMasterId;
    if (e.originalStart) metadata['originalStart'] = e.originalStart;
    if (e.start?.dateTime) metadata['start'] = e.start.dateTime;
    if (e.end?.dateTime) metadata['end'] = e.end.dateTime;
    if (e.start?.timeZone) metadata['timeZone'] = e.start.timeZone;
    if (e.isAllDay !== undefined) metadata['isAllDay'] = e.isAllDay;
    if (e.isCancelled) metadata['isCancelled'] = true;
    if (e.iCalUId) metadata['iCalUId'] = e.iCalUId;
    const organizer = e.organizer?.emailAddress?.address ?? e.organizer?.emailAddress?.name;
    const modified = e.lastModifiedDateTime ?? e.createdDateTime ?? new Date(0).toISOString();
    return {
      id: e.id,
      version: e.changeKey ?? modified,
      container: calendar.id,
      path: calendar.path,
      name: e.subject ?? '',
      ...(organizer ? { sender: organizer } : {}),
      size: content.length,
      ...(e.createdDateTime ? { created: e.createdDateTime } : {}),
      modified,
      metadata,
      content: async () => content,
    };
  }
}

export const calendarService: ServiceFactory = (session) => new CalendarService(session);
