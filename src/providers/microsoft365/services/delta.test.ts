import { describe, expect, it } from 'vitest';
import { holdBack, readCursor, writeCursor } from './delta.ts';

describe('cursors of per-container delta services', () => {
  it('reads what it wrote, and an unreadable cursor as "known, list everything again"', () => {
    const written = writeCursor(new Map([['inbox', { link: 'https://graph/delta?$deltatoken=1', path: 'Inbox' }]]));
    expect(readCursor(written)).toEqual({
      known: true,
      containers: new Map([['inbox', { link: 'https://graph/delta?$deltatoken=1', path: 'Inbox' }]]),
    });
    expect(readCursor(undefined)).toEqual({ known: false, containers: new Map() });
    expect(readCursor('not json')).toEqual({ known: true, containers: new Map() });
  });

  it('puts held-back containers back to their previous state in every per-container field, or leaves them out', () => {
    const previous = JSON.stringify({ v: 1, containers: { a: { link: 'a1', path: 'A' } }, calendars: { a: { opened: '2026' } } });
    const next = JSON.stringify({
      v: 1,
      containers: { a: { link: 'a2', path: 'A' }, b: { link: 'b2', path: 'B' }, c: { link: 'c2', path: 'C' } },
      calendars: { a: { opened: '2027' }, b: {} },
    });
    expect(JSON.parse(holdBack(next, previous, new Set(['a', 'b'])))).toEqual({
      v: 1,
      containers: { a: { link: 'a1', path: 'A' }, c: { link: 'c2', path: 'C' } },
      calendars: { a: { opened: '2026' } },
    });
    expect(holdBack(next, previous, new Set())).toBe(next);
    expect(JSON.parse(holdBack(next, undefined, new Set(['c']))).containers).not.toHaveProperty('c');
  });
});
