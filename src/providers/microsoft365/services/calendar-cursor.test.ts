import { describe, expect, it } from 'vitest';
import { calendarCursor } from './calendar-cursor.ts';

/** Cursors as the code before the typed codecs wrote them (calendar.ts's writeCalendarCursor), byte for byte. */
const WRITTEN =
  '{"v":1,"containers":{"cal1":{"link":"https://graph/cal/delta?$deltatoken=9","path":"Calendar"}},"calendars":{"cal1":{"opened":"2026-07-20T00:00:00.000Z","series":["m1","m2"]}}}';
const EMPTY = '{"v":1,"containers":{},"calendars":{}}';

describe('the calendar cursor', () => {
  it('reads a cursor written before the typed codecs to the same state, and writes it back byte for byte', () => {
    const read = calendarCursor.parse(WRITTEN);
    expect(read).toEqual({
      known: true,
      unreadable: new Set(),
      containers: new Map([['cal1', { link: 'https://graph/cal/delta?$deltatoken=9', path: 'Calendar' }]]),
      notes: new Map([['cal1', { opened: '2026-07-20T00:00:00.000Z', series: ['m1', 'm2'] }]]),
    });
    expect(calendarCursor.serialise(read)).toBe(WRITTEN);
    expect(calendarCursor.serialise(calendarCursor.parse(undefined))).toBe(EMPTY);
    expect(calendarCursor.parse(undefined)).toMatchObject({ known: false });
    expect(calendarCursor.parse('{"v":1,"containers":{"a":')).toEqual({
      known: true,
      unreadable: new Set(),
      containers: new Map(),
      notes: new Map(),
    });
  });

  it('reads a cursor of the Outlook-style services as calendars without notes', () => {
    expect(calendarCursor.parse('{"v":1,"containers":{"cal1":{"link":"l","path":"Calendar"}}}')).toEqual({
      known: true,
      unreadable: new Set(),
      containers: new Map([['cal1', { link: 'l', path: 'Calendar' }]]),
      notes: new Map(),
    });
  });

  it('keeps the link of a calendar whose notes are damaged, and names a calendar whose link is', () => {
    const damaged =
      '{"v":1,"containers":{"a":{"link":"a1","path":"A"},"b":{"link":"b1"}},"calendars":{"a":{"opened":"2026"},"b":{"opened":"2026","series":[]},"c":{"opened":"2026","series":["s",7]}}}';
    expect(calendarCursor.parse(damaged)).toEqual({
      known: true,
      unreadable: new Set(['b', 'c']),
      containers: new Map([['a', { link: 'a1', path: 'A' }]]),
      notes: new Map([
        ['b', { opened: '2026', series: [] }],
        ['c', { opened: '2026', series: ['s'] }],
      ]),
    });
  });

  it('puts held-back calendars back to their previous link and notes, or leaves them out', () => {
    const previous = '{"v":1,"containers":{"a":{"link":"a1","path":"A"}},"calendars":{"a":{"opened":"2026","series":[]}}}';
    const next =
      '{"v":1,"containers":{"a":{"link":"a2","path":"A"},"b":{"link":"b2","path":"B"},"c":{"link":"c2","path":"C"}},"calendars":{"a":{"opened":"2027","series":["s"]},"b":{"opened":"2027","series":[]}}}';
    const held = (ids: string[], before: string | undefined): string =>
      calendarCursor.serialise(calendarCursor.holdBack(calendarCursor.parse(next), calendarCursor.parse(before), new Set(ids)));
    expect(JSON.parse(held(['a', 'b'], previous))).toEqual({
      v: 1,
      containers: { a: { link: 'a1', path: 'A' }, c: { link: 'c2', path: 'C' } },
      calendars: { a: { opened: '2026', series: [] } },
    });
    expect(held([], previous)).toBe(next);
    expect(JSON.parse(held(['c'], undefined)).containers).not.toHaveProperty('c');
  });
});
