// The calendar workload's data: per mailbox, calendars, and in each calendar the stored events
// (single instances and series masters). Occurrences and exceptions of a series are computed from
// the master (its recurrence, its exceptions and its deleted occurrences), as Exchange does.
import { createHash, randomBytes } from 'node:crypto';
import { Prng } from '../../../../../bench/corpus/prng.ts';
import { TextGen } from '../../../../../bench/corpus/text.ts';
import type { ChangeLog } from '../../tenant/changelog.ts';
import type { User } from '../../tenant/directory.ts';
import { dateKey, graphDateTime, occurrenceStarts } from './recurrence.ts';
import type { PatternedRecurrence } from './recurrence.ts';

export interface EmailAddress {
  name: string;
  address: string;
}

export interface Attendee {
  type: 'required' | 'optional' | 'resource';
  emailAddress: EmailAddress;
}

/** A body either generated again on demand from a recipe, or kept as a client wrote it. */
export interface EventBody {
  contentType: 'html' | 'text';
  content?: string;
  /** Generated text of `size` characters, seeded by the event id and `v` (the body's version). */
  recipe?: { size: number; v: number };
}

/** What an exception overrides in one occurrence. */
export interface ExceptionRecord {
  subject: string;
  start: number;
  end: number;
  location: string;
  body?: EventBody;
  modified: number;
  version: number;
}

/** A series' own exceptions and deleted occurrences (single events share the empty ones). */
export function seriesState(event: EventRecord): { exceptions: Map<string, ExceptionRecord>; cancelled: Set<string> } {
  if (event.exceptions === NO_EXCEPTIONS) event.exceptions = new Map();
  if (event.cancelled === NO_CANCELLED) event.cancelled = new Set();
  return { exceptions: event.exceptions as Map<string, ExceptionRecord>, cancelled: event.cancelled as Set<string> };
}

export interface EventRecord {
  id: string;
  calendarId: string;
  iCalUId: string;
  created: number;
  modified: number;
  version: number;
  subject: string;
  body: EventBody;
  start: number;
  end: number;
  isAllDay: boolean;
  location: string;
  organizer: EmailAddress;
  attendees: Attendee[];
  showAs: string;
  importance: string;
  sensitivity: string;
  categories: readonly string[];
  recurrence?: PatternedRecurrence;
  /** Occurrences changed in place, by original start day (`YYYYMMDD`). */
  exceptions: Map<string, ExceptionRecord> | ReadonlyMap<string, ExceptionRecord>;
  /** Occurrences deleted from the series, by original start day. */
  cancelled: Set<string> | ReadonlySet<string>;
}

export interface CalendarRecord {
  id: string;
  name: string;
  color: string;
  hexColor: string;
  isDefault: boolean;
  version: number;
  log: ChangeLog<EventRecord>;
}

export interface Mailbox {
  user: User;
  /** The owner as an organizer (shared by the events the owner organizes). */
  owner: EmailAddress;
  calendars: Map<string, CalendarRecord>;
  defaultCalendar: CalendarRecord;
  /** Every stored event (single or master) of the mailbox by id. */
  events: Map<string, EventRecord>;
  /** Last state of deleted events, to name their instances in later delta rounds. */
  graves: Map<string, EventRecord>;
}

/** One instance of a calendar view: a single event, an occurrence or an exception. */
export interface Instance {
  id: string;
  type: 'singleInstance' | 'occurrence' | 'exception';
  event: EventRecord;
  start: number;
  end: number;
  originalStart?: number;
  exception?: ExceptionRecord;
}

const OCCURRENCE = /_OCC(\d{8})$/;

/** Outlook-looking opaque ids (`AAMkA...`), deterministic when a random stream is given. */
export function newId(prefix: string, rng?: Prng): string {
  const bytes = rng ? Buffer.from(rng.hex(30), 'hex') : randomBytes(30);
  return `AAMkA${prefix}${bytes.toString('base64url')}`;
}

export function occurrenceId(masterId: string, originalStart: number): string {
  return `${masterId}_OCC${dateKey(originalStart)}`;
}

/** Splits an occurrence id into its master's id and original start day. */
export function parseOccurrenceId(id: string): { masterId: string; key: string } | undefined {
  const m = OCCURRENCE.exec(id);
  return m?.[1] ? { masterId: id.slice(0, -m[0].length), key: m[1] } : undefined;
}

export function changeKey(id: string, version: number): string {
  return createHash('sha256').update(`${id}/${version}`).digest('base64').slice(0, 40);
}

/** The instances of an event, in start order (a single event is its own one instance). */
export function instancesOf(event: EventRecord): Instance[] {
  if (!event.recurrence) return [{ id: event.id, type: 'singleInstance', event, start: event.start, end: event.end }];
  const duration = event.end - event.start;
  const out: Instance[] = [];
  for (const original of occurrenceStarts(event.recurrence, event.start)) {
    const key = dateKey(original);
    if (event.cancelled.has(key)) continue;
    const exception = event.exceptions.get(key);
    out.push({
      id: occurrenceId(event.id, original),
      type: exception ? 'exception' : 'occurrence',
      event,
      start: exception?.start ?? original,
      end: exception?.end ?? original + duration,
      originalStart: original,
      ...(exception ? { exception } : {}),
    });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Occurrences a series had at `key`, for deleted ones (named in later delta rounds). */
export function cancelledInstances(event: EventRecord): { id: string; start: number; end: number }[] {
  if (!event.recurrence || event.cancelled.size === 0) return [];
  const duration = event.end - event.start;
  return occurrenceStarts(event.recurrence, event.start)
    .filter((s) => event.cancelled.has(dateKey(s)))
    .map((s) => ({ id: occurrenceId(event.id, s), start: s, end: s + duration }));
}

export function overlaps(start: number, end: number, windowStart: number, windowEnd: number): boolean {
  // Graph's calendarView: events that end after the window starts and start before it ends (an
  // event of zero duration at the window's start is included).
  return start < windowEnd && (end > windowStart || (end === start && start === windowStart));
}

/** Shared by single events, which have no exceptions or deleted occurrences (never written to). */
export const NO_EXCEPTIONS: ReadonlyMap<string, ExceptionRecord> = new Map();
export const NO_CANCELLED: ReadonlySet<string> = new Set();
export const NO_CATEGORIES: readonly string[] = [];

export function renderBody(body: EventBody, eventId: string): string {
  if (body.content !== undefined) return body.content;
  if (!body.recipe) return '';
  const text = new TextGen(new Prng(`calendar/body/${eventId}/${body.recipe.v}`));
  const paragraphs = text.paragraphs(body.recipe.size);
  if (body.contentType === 'text') return paragraphs.join('\r\n\r\n');
  return `<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>\r\n<body>\r\n${paragraphs
    .map((p) => `<p>${p}</p>`)
    .join('\r\n')}\r\n</body>\r\n</html>\r\n`;
}

function preview(content: string): string {
  return content
    .replace(/<head>[\s\S]*?<\/head>/i, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 255);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function location(displayName: string): Record<string, unknown> {
  return displayName
    ? { displayName, locationType: 'default', uniqueId: displayName, uniqueIdType: 'private' }
    : { displayName: '', locationType: 'default', uniqueIdType: 'unknown' };
}

/** The Graph JSON of a stored event (single or series master). */
export function renderEvent(event: EventRecord, origin: string): Record<string, unknown> {
  return render(event, origin, {
    id: event.id,
    type: event.recurrence ? 'seriesMaster' : 'singleInstance',
    start: event.start,
    end: event.end,
  });
}

/** The Graph JSON of an instance (a single event, an occurrence or an exception). */
export function renderInstance(instance: Instance, origin: string): Record<string, unknown> {
  if (instance.type === 'singleInstance') return renderEvent(instance.event, origin);
  return render(instance.event, origin, instance);
}

function render(
  event: EventRecord,
  origin: string,
  instance: { id: string; type: string; start: number; end: number; originalStart?: number; exception?: ExceptionRecord },
): Record<string, unknown> {
  const ex = instance.exception;
  const isOccurrence = instance.type === 'occurrence' || instance.type === 'exception';
  const version = ex ? ex.version : event.version;
  const key = changeKey(instance.id, version);
  const content = renderBody(ex?.body ?? event.body, event.id);
  const loc = ex ? ex.location : event.location;
  return {
    '@odata.etag': `W/"${key}"`,
    id: instance.id,
    createdDateTime: iso(event.created),
    lastModifiedDateTime: iso(ex ? ex.modified : event.modified),
    changeKey: key,
    categories: event.categories,
    transactionId: null,
    originalStartTimeZone: 'UTC',
    originalEndTimeZone: 'UTC',
    // Each occurrence of a series has its own iCalUId; the series master's names the series.
    iCalUId: isOccurrence ? `${event.iCalUId}${dateKey(instance.originalStart ?? instance.start)}` : event.iCalUId,
    uid: event.iCalUId,
    reminderMinutesBeforeStart: 15,
    isReminderOn: true,
    hasAttachments: false,
    subject: ex ? ex.subject : event.subject,
    bodyPreview: preview(content),
    importance: event.importance,
    sensitivity: event.sensitivity,
    ...(instance.originalStart !== undefined ? { originalStart: iso(instance.originalStart).replace(/\.\d+Z$/, 'Z') } : {}),
    isAllDay: event.isAllDay,
    isCancelled: false,
    isOrganizer: true,
    responseRequested: true,
    seriesMasterId: isOccurrence ? event.id : null,
    showAs: event.showAs,
    type: instance.type,
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(instance.id)}&exvsurl=1&path=/calendar/item`,
    onlineMeetingUrl: null,
    isOnlineMeeting: false,
    onlineMeetingProvider: 'unknown',
    allowNewTimeProposals: true,
    occurrenceId: isOccurrence ? `OID.${event.id}.${isoDateOnly(instance.originalStart ?? instance.start)}` : null,
    isDraft: false,
    hideAttendees: false,
    responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' },
    body: { contentType: (ex?.body ?? event.body).contentType, content },
    start: { dateTime: graphDateTime(instance.start), timeZone: 'UTC' },
    end: { dateTime: graphDateTime(instance.end), timeZone: 'UTC' },
    location: location(loc),
    locations: loc ? [location(loc)] : [],
    recurrence: instance.type === 'seriesMaster' ? (event.recurrence ?? null) : null,
    attendees: event.attendees.map((a) => ({ ...a, status: { response: 'none', time: '0001-01-01T00:00:00Z' } })),
    organizer: { emailAddress: event.organizer },
    onlineMeeting: null,
  };
}

function isoDateOnly(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function renderCalendar(calendar: CalendarRecord, owner: EmailAddress): Record<string, unknown> {
  const key = changeKey(calendar.id, calendar.version);
  return {
    '@odata.etag': `W/"${key}"`,
    id: calendar.id,
    name: calendar.name,
    color: calendar.color,
    hexColor: calendar.hexColor,
    groupClassId: '0006f0b7-0000-0000-c000-000000000046',
    isDefaultCalendar: calendar.isDefault,
    changeKey: key,
    canShare: true,
    canViewPrivateItems: true,
    canEdit: true,
    allowedOnlineMeetingProviders: ['teamsForBusiness'],
    defaultOnlineMeetingProvider: 'teamsForBusiness',
    isTentativeByDefault: true,
    isRemovable: !calendar.isDefault,
    owner,
  };
}

/**
 * What a restored event must equal, without ids, versions or timestamps: the sha256 of this
 * canonical JSON is what export() lists for each event.
 */
export function canonicalEvent(event: EventRecord): Record<string, unknown> {
  const exceptions = [...event.exceptions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, ex]) => ({
      key,
      subject: ex.subject,
      start: ex.start,
      end: ex.end,
      location: ex.location,
      body: ex.body ? renderBody(ex.body, event.id) : null,
    }));
  return {
    subject: event.subject,
    body: { contentType: event.body.contentType, content: renderBody(event.body, event.id) },
    start: event.start,
    end: event.end,
    isAllDay: event.isAllDay,
    location: event.location,
    organizer: event.organizer.address.toLowerCase(),
    attendees: event.attendees.map((a) => `${a.type}:${a.emailAddress.address.toLowerCase()}`).sort(),
    recurrence: event.recurrence ?? null,
    exceptions,
    cancelled: [...event.cancelled].sort(),
  };
}
