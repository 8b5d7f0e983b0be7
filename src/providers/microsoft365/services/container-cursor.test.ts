import { describe, expect, it } from 'vitest';
import { containersCursor } from './container-cursor.ts';

/** Cursors as the code before the typed codecs wrote them (delta.ts's writeCursor), byte for byte. */
const WRITTEN =
  '{"v":1,"containers":{"AAMkAD1":{"link":"https://graph.microsoft.com/v1.0/users/u/mailFolders/AAMkAD1/messages/delta?$deltatoken=abc","path":"Inbox"},"AAMkAD2":{"link":"https://graph/delta?$deltatoken=2","path":"Inbox/Pro%2Fjects"}}}';
const EMPTY = '{"v":1,"containers":{}}';

describe('cursors of per-container delta services', () => {
  it('reads what it wrote, and an unreadable cursor as "known, list everything again"', () => {
    const written = containersCursor.serialise({
      containers: new Map([['inbox', { link: 'https://graph/delta?$deltatoken=1', path: 'Inbox' }]]),
    });
    expect(containersCursor.parse(written)).toEqual({
      known: true,
      unreadable: new Set(),
      containers: new Map([['inbox', { link: 'https://graph/delta?$deltatoken=1', path: 'Inbox' }]]),
    });
    expect(containersCursor.parse(undefined)).toEqual({ known: false, unreadable: new Set(), containers: new Map() });
    expect(containersCursor.parse('not json')).toEqual({ known: true, unreadable: new Set(), containers: new Map() });
  });

  it('reads a cursor written before the typed codecs to the same state, and writes it back byte for byte', () => {
    const read = containersCursor.parse(WRITTEN);
    expect(read).toEqual({
      known: true,
      unreadable: new Set(),
      containers: new Map([
        ['AAMkAD1', { link: 'https://graph.microsoft.com/v1.0/users/u/mailFolders/AAMkAD1/messages/delta?$deltatoken=abc', path: 'Inbox' }],
        ['AAMkAD2', { link: 'https://graph/delta?$deltatoken=2', path: 'Inbox/Pro%2Fjects' }],
      ]),
    });
    expect(containersCursor.serialise(read)).toBe(WRITTEN);
    expect(containersCursor.serialise(containersCursor.parse(EMPTY))).toBe(EMPTY);
    expect(containersCursor.serialise(containersCursor.parse(undefined))).toBe(EMPTY);
  });

  it('lists again only the containers whose entry is damaged, and names them', () => {
    const damaged =
      '{"v":1,"containers":{"a":{"link":"a1","path":"A"},"b":{"link":42,"path":"B"},"c":{"path":"C"},"d":null,"e":"x","f":{"link":"f1","path":"F","extra":true}}}';
    expect(containersCursor.parse(damaged)).toEqual({
      known: true,
      unreadable: new Set(['b', 'c', 'd', 'e']),
      containers: new Map([
        ['a', { link: 'a1', path: 'A' }],
        ['f', { link: 'f1', path: 'F' }],
      ]),
    });
  });

  it('reads another version, a cursor that is no object, or one without containers as known and empty', () => {
    for (const text of [
      '{"v":2,"containers":{"a":{"link":"a1","path":"A"}}}',
      '{"containers":{}}',
      'null',
      '[]',
      '"v1"',
      '{"v":1}',
      '{"v":1,"containers":[]}',
      '',
    ])
      expect(containersCursor.parse(text)).toEqual({ known: true, unreadable: new Set(), containers: new Map() });
  });

  it('puts held-back containers back to their previous state, or leaves them out', () => {
    const previous = '{"v":1,"containers":{"a":{"link":"a1","path":"A"}}}';
    const next = '{"v":1,"containers":{"a":{"link":"a2","path":"A"},"b":{"link":"b2","path":"B"},"c":{"link":"c2","path":"C"}}}';
    const held = (ids: string[], before: string | undefined): string =>
      containersCursor.serialise(containersCursor.holdBack(containersCursor.parse(next), containersCursor.parse(before), new Set(ids)));
    expect(JSON.parse(held(['a', 'b'], previous))).toEqual({
      v: 1,
      containers: { a: { link: 'a1', path: 'A' }, c: { link: 'c2', path: 'C' } },
    });
    expect(held([], previous)).toBe(next);
    expect(JSON.parse(held(['c'], undefined)).containers).not.toHaveProperty('c');
    expect(JSON.parse(held(['a'], 'not json')).containers).not.toHaveProperty('a');
    expect(containersCursor.holdBack(containersCursor.parse(next), containersCursor.parse(previous), undefined)).toEqual(
      containersCursor.parse(next),
    );
  });
});
