import { describe, expect, it } from 'vitest';
import { SharedRing } from './shared-ring.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedRing', () => {
  it('hands out slots in order that do not overlap, and reuses space given back in any order', async () => {
    const ring = new SharedRing(100);
    const a = await ring.take(40);
    const b = await ring.take(40);
    expect([a.offset, b.offset]).toEqual([0, 40]);
    a.bytes.fill(1);
    b.bytes.fill(2);
    // 20 left at the end, none at the start until `a` is given back.
    let c: { offset: number } | undefined;
    const waiting = ring.take(30).then((slot) => (c = slot));
    await tick();
    expect(c).toBeUndefined();
    ring.give(a);
    await waiting;
    expect(c!.offset).toBe(0);
    expect(b.bytes.every((x) => x === 2)).toBe(true);
    // Giving back `b` (the oldest now in use is `c`) frees [30, 100) behind... only once `c` is back.
    ring.give(b);
    const d = await ring.take(60);
    expect(d.offset).toBe(30);
    ring.give(c as never);
    ring.give(d);
    expect((await ring.take(100)).offset).toBe(0);
  });

  it('gives a slot larger than the ring its own buffer', async () => {
    const ring = new SharedRing(10);
    const slot = await ring.take(50);
    expect(slot.own?.byteLength).toBe(50);
    expect(slot.bytes.length).toBe(50);
    ring.give(slot);
    expect((await ring.take(10)).offset).toBe(0);
  });
});
