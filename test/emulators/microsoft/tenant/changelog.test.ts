// The delta engine's guarantees, which every workload's delta query inherits.
import { describe, expect, it } from 'vitest';
import { ChangeLog, ExpiredDeltaToken, Sequence } from './changelog.ts';
import type { DeltaCursor } from './changelog.ts';

function readAll<T>(
  log: ChangeLog<T>,
  cursor: DeltaCursor,
  limit: number,
  between?: () => void,
): { ids: string[]; removed: string[]; delta: DeltaCursor; pages: number } {
  const ids: string[] = [];
  const removed: string[] = [];
  let pages = 0;
  for (;;) {
    const page = log.read(cursor, limit);
    pages++;
    for (const c of page.changes) (c.item === undefined ? removed : ids).push(c.id);
    if (page.delta) return { ids, removed, delta: page.delta, pages };
    cursor = page.next as DeltaCursor;
    between?.();
  }
}

describe('ChangeLog', () => {
  it('returns every live item once in a first round, in pages, and nothing removed', () => {
    const log = new ChangeLog<number>(new Sequence());
    for (let i = 0; i < 25; i++) log.put(`i${i}`, i);
    log.remove('i3');
    log.put('i4', 40);
    const round = readAll(log, log.start(), 10);
    expect(round.ids).toHaveLength(24);
    expect(new Set(round.ids).size).toBe(24);
    expect(round.removed).toEqual([]);
    expect(round.pages).toBe(3);
  });

  it('reports only what changed since the delta token, removals included', () => {
    const log = new ChangeLog<string>(new Sequence());
    for (let i = 0; i < 10; i++) log.put(`i${i}`, 'v1');
    const first = readAll(log, log.start(), 100);
    log.put('i1', 'v2');
    log.put('new', 'v1');
    log.remove('i2');
    const second = readAll(log, log.resume(first.delta), 100);
    expect(second.ids.sort()).toEqual(['i1', 'new']);
    expect(second.removed).toEqual(['i2']);
    const third = readAll(log, log.resume(second.delta), 100);
    expect(third.ids).toEqual([]);
    expect(third.removed).toEqual([]);
  });

  it('never skips an item that changes while a client pages: it comes in the next round', () => {
    const log = new ChangeLog<number>(new Sequence());
    for (let i = 0; i < 30; i++) log.put(`i${i}`, i);
    let n = 0;
    const first = readAll(log, log.start(), 5, () => {
      log.put(`i${n * 5}`, 100 + n); // an item already returned changes
      log.put(`i${29 - n}`, 200 + n); // an item not yet returned changes
      n++;
    });
    const second = readAll(log, log.resume(first.delta), 100);
    const seen = new Set([...first.ids, ...second.ids]);
    expect(seen.size).toBe(30);
    expect(second.ids.length).toBeGreaterThan(0);
  });

  it('refuses tokens issued before expire()', () => {
    const log = new ChangeLog<number>(new Sequence());
    log.put('a', 1);
    const { delta } = readAll(log, log.start(), 10);
    log.expire();
    expect(() => log.resume(delta)).toThrow(ExpiredDeltaToken);
    expect(readAll(log, log.start(), 10).ids).toEqual(['a']);
  });

  it('latest() starts a round with no items', () => {
    const log = new ChangeLog<number>(new Sequence());
    log.put('a', 1);
    const round = readAll(log, log.latest(), 10);
    expect(round.ids).toEqual([]);
    log.put('b', 2);
    expect(readAll(log, log.resume(round.delta), 10).ids).toEqual(['b']);
  });
});
