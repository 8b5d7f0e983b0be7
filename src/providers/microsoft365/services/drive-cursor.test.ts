import { describe, expect, it } from 'vitest';
import { driveCursor } from './drive-cursor.ts';
import { FolderTree } from './drive-items.ts';

/** A cursor as the code before the typed codecs wrote it (drive-items.ts's writeDriveCursor), byte for byte. */
const WRITTEN =
  '{"v":1,"drives":{"b!drive":{"prefix":"Documents","deltaLink":"https://graph/drives/b!drive/root/delta?token=t1","root":"root","folders":[["f1",-1,"Projects"],["f2",0,"2024"],["f3",-2,"Orphan"]]},"b!other":{"prefix":"","deltaLink":"https://graph/d2?token=t2","folders":[]}}}';

describe('the drive cursor', () => {
  it('reads a cursor written before the typed codecs to the same state, and writes it back byte for byte', () => {
    const read = driveCursor.parse(WRITTEN);
    expect(read).toEqual({
      known: true,
      unreadable: new Set(),
      drives: new Map([
        [
          'b!drive',
          {
            prefix: 'Documents',
            state: {
              deltaLink: 'https://graph/drives/b!drive/root/delta?token=t1',
              root: 'root',
              folders: [
                ['f1', -1, 'Projects'],
                ['f2', 0, '2024'],
                ['f3', -2, 'Orphan'],
              ],
            },
          },
        ],
        ['b!other', { prefix: '', state: { deltaLink: 'https://graph/d2?token=t2', folders: [] } }],
      ]),
    });
    expect(driveCursor.serialise(read)).toBe(WRITTEN);
    const tree = FolderTree.from(read.drives.get('b!drive')?.state);
    expect([tree.path('f2'), tree.path('f3')]).toEqual(['Projects/2024', 'Orphan']);
    expect(driveCursor.serialise(driveCursor.parse(undefined))).toBe('{"v":1,"drives":{}}');
    expect(driveCursor.parse(undefined)).toMatchObject({ known: false });
  });

  it('lists again only the drives whose entry is damaged, and names them', () => {
    const damaged = JSON.stringify({
      v: 1,
      drives: {
        good: { prefix: 'A', deltaLink: 'l', folders: [] },
        noPrefix: { deltaLink: 'l', folders: [] },
        badFolder: { prefix: 'B', deltaLink: 'l', folders: [['f', 'root', 'x']] },
        badRoot: { prefix: 'C', deltaLink: 'l', root: 7, folders: [] },
        noFolders: { prefix: 'D', deltaLink: 'l' },
      },
    });
    expect(driveCursor.parse(damaged)).toEqual({
      known: true,
      unreadable: new Set(['noPrefix', 'badFolder', 'badRoot', 'noFolders']),
      drives: new Map([['good', { prefix: 'A', state: { deltaLink: 'l', folders: [] } }]]),
    });
    for (const text of ['{', '{"v":2,"drives":{}}', '{"v":1,"drives":"x"}'])
      expect(driveCursor.parse(text)).toEqual({ known: true, unreadable: new Set(), drives: new Map() });
  });

  it('puts held-back drives back to their previous state, or leaves them out', () => {
    const previous = '{"v":1,"drives":{"a":{"prefix":"A","deltaLink":"a1","folders":[["f",-1,"F"]]}}}';
    const next = '{"v":1,"drives":{"a":{"prefix":"A","deltaLink":"a2","folders":[]},"b":{"prefix":"B","deltaLink":"b2","folders":[]}}}';
    const held = (ids: string[]): string =>
      driveCursor.serialise(driveCursor.holdBack(driveCursor.parse(next), driveCursor.parse(previous), new Set(ids)));
    expect(held(['a', 'b'])).toBe(previous);
    expect(held([])).toBe(next);
  });
});
