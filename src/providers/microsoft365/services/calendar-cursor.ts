// The calendar service's cursor: the Outlook-style containers (container-cursor.ts) and, beside
// them, what each calendar needs besides its delta link (calendar.ts says why).
//   {"v":1,"containers":{"<id>":{"link":"…","path":"Calendar"}},
//    "calendars":{"<id>":{"opened":"2026-07-20T00:00:00.000Z","series":["<master id>"]}}}
import { readContainerState, writeContainerState } from './container-cursor.ts';
import type { ContainerState } from './container-cursor.ts';
import { asRecord, cursorCodec, holdBackEntries, readEntries, writeEntries } from './cursor.ts';
import type { PreviousCursor } from './cursor.ts';

/** What the cursor keeps per calendar besides its delta link. */
export interface CalendarNotes {
  /** The day (UTC) the calendar's window was opened: the window is computed from it. */
  opened: string;
  /** Series masters the snapshot holds for the calendar. */
  series: string[];
}

export interface CalendarCursor {
  containers: Map<string, ContainerState>;
  notes: Map<string, CalendarNotes>;
}

export type PreviousCalendars = PreviousCursor<CalendarCursor>;

function readNotes(value: unknown): CalendarNotes | undefined {
  const entry = asRecord(value);
  const opened = entry?.['opened'];
  const series = entry?.['series'];
  if (typeof opened !== 'string' || !Array.isArray(series)) return undefined;
  return { opened, series: series.filter((s): s is string => typeof s === 'string') };
}

export const calendarCursor = cursorCodec<CalendarCursor>({
  version: 1,
  empty: () => ({ containers: new Map(), notes: new Map() }),
  read: (fields, unreadable) => {
    const containers = readEntries(fields['containers'], readContainerState, unreadable);
    // A calendar whose notes alone cannot be read is listed again by calendar.ts (its window is
    // unknown); one with notes and no readable link is an unreadable container.
    const damagedNotes = new Set<string>();
    const notes = readEntries(fields['calendars'], readNotes, damagedNotes);
    for (const id of [...notes.keys(), ...damagedNotes]) if (!containers.has(id)) unreadable.add(id);
    return { containers, notes };
  },
  write: (cursor) => ({
    containers: writeEntries(cursor.containers, writeContainerState),
    calendars: writeEntries(cursor.notes, (n): CalendarNotes => ({ opened: n.opened, series: n.series })),
  }),
  holdBack: (next, previous, held) => ({
    containers: holdBackEntries(next.containers, previous.containers, held),
    notes: holdBackEntries(next.notes, previous.notes, held),
  }),
});
