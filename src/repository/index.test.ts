// The master index keeps its blobs in a scratch database: lookups, packs, files and superseded
// files behave as the in-memory maps did.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MasterIndex, type PackEntry } from './index.ts';

const blobId = () => randomBytes(32).toString('hex');

function pack(blobs: string[]): PackEntry {
  return {
    id: blobId(),
    size: blobs.length * 100 + 10,
    blobs: blobs.map((id, i) => ({ id, type: i === 0 ? 'tree' : 'data', offset: i * 100, length: 100 })),
  };
}

async function* files(entries: [string, PackEntry[]][]) {
  for (const entry of entries) yield entry;
}

describe('the master index', () => {
  it('finds every blob where the first pack that lists it has it, and lists packs with their blobs', async () => {
    const index = new MasterIndex();
    const shared = blobId();
    const first = pack([blobId(), shared, blobId()]);
    const second = pack([shared, blobId()]);
    await index.addFiles(
      files([
        ['index/a', [first]],
        ['index/b', [second]],
      ]),
    );
    expect(index.get(shared)).toEqual({ packId: first.id, type: 'data', offset: 100, length: 100 });
    expect(index.get(first.blobs[0]!.id)).toEqual({ packId: first.id, type: 'tree', offset: 0, length: 100 });
    expect(index.has(second.blobs[1]!.id)).toBe(true);
    expect(index.has(blobId())).toBe(false);
    expect(index.get(blobId())).toBeUndefined();
    expect(index.pack(second.id)).toEqual(second);
    expect([...index.packs]).toEqual([first, second]);
    expect(index.packCount).toBe(2);
    expect(index.blobCount).toBe(4);
    expect([...index.files]).toEqual([
      ['index/a', [first.id]],
      ['index/b', [second.id]],
    ]);

    // Added later, one by one: the same answers.
    const third = pack([blobId(), shared]);
    index.addPack(third);
    index.addPack(third);
    expect(index.get(shared)?.packId).toBe(first.id);
    expect(index.get(third.blobs[0]!.id)?.packId).toBe(third.id);
    expect(index.blobCount).toBe(5);
    index.clear();
    expect(index.has(shared)).toBe(false);
    expect(index.packCount).toBe(0);
  });

  it('forgets superseded index files and the packs only they listed, and reads the blobs from the packs that replaced them', async () => {
    const index = new MasterIndex();
    const kept = pack([blobId()]);
    const moved = blobId();
    const old = pack([moved, blobId()]);
    const repacked = pack([moved]);
    const unlisted = pack([blobId()]);
    await index.addFiles(files([['index/old', [kept, old]]]));
    index.addPack(unlisted);
    index.addFile('index/new', [kept, repacked]);
    expect(index.get(moved)?.packId).toBe(old.id);
    index.removeFiles(['index/old']);
    expect(index.get(moved)?.packId).toBe(repacked.id);
    expect(index.pack(old.id)).toBeUndefined();
    expect(index.has(old.blobs[1]!.id)).toBe(false);
    expect(index.pack(kept.id)).toEqual(kept);
    // A pack no index file lists yet (uploaded, or found from its header) stays.
    expect(index.pack(unlisted.id)).toEqual(unlisted);
    expect([...index.files.keys()]).toEqual(['index/new']);
  });
});
