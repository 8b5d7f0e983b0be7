// The change ledger's rules, one table row per situation a service's stream produces. Each case
// starts from the items a snapshot holds, applies the changes in order with the outcome of each
// store, and checks what the account holds afterwards, what was removed, which containers keep
// their old cursor and why, and whether the account counts as read whole.
import { describe, expect, it } from 'vitest';
import type { Change, SourceItem } from '../providers/provider.ts';
import { ChangeLedger, type HoldReason, type LedgerItem, type LedgerItems } from './change-ledger.ts';

type Held = Record<string, string>; // id → container
type StoreOutcome = 'stored' | 'failed' | 'notFound';

/** The items of a snapshot as the writer holds them, for the ledger to read. */
class ModelItems implements LedgerItems {
  readonly map = new Map<string, LedgerItem>();
  constructor(held: Held) {
    for (const [id, container] of Object.entries(held)) this.map.set(id, { container, size: 10 });
  }
  get(id: string): LedgerItem | undefined {
    return this.map.get(id);
  }
  get size(): number {
    return this.map.size;
  }
  *ids(container?: string): Iterable<string> {
    for (const id of [...this.map.keys()].sort()) if (container === undefined || this.map.get(id)?.container === container) yield id;
  }
}

function item(id: string, container: string, version = 'v2'): SourceItem {
  return {
    id,
    version,
    container,
    path: container,
    name: id,
    size: 10,
    modified: '2026-12-01T00:00:00Z',
    content: async () => Buffer.from(id),
  };
}

const upsert = (id: string, container: string, version?: string): Change => ({ type: 'upsert', item: item(id, container, version) });
const remove = (id: string, container: string): Change => ({ type: 'remove', id, container });
const resync = (container: string): Change => ({ type: 'resync', container, reason: 'SyncStateNotFound' });
const done = (container: string): Change => ({ type: 'containerDone', container });
const gone = (container: string): Change => ({ type: 'containerRemoved', container });
const failed = (container: string): Change => ({
  type: 'containerFailed',
  container,
  path: container,
  issue: { source: 'graph', code: 'ErrorInternalServerError', message: 'The store is unavailable.' },
});

interface Case {
  name: string;
  held: Held;
  changes: Change[];
  /** How the store of an upserted id ends (default: stored). */
  stores?: Record<string, StoreOutcome>;
  base?: boolean;
  excluded?: string[];
  stopped?: boolean;
  movesBetweenContainers?: boolean;
  expect: { held: Held; removed: string[]; kept?: Record<string, HoldReason>; complete?: boolean };
}

/** Runs a case as the engine does: apply each change, settle each store, then apply the removals. */
function run(c: Case): { held: Held; removed: string[]; kept: Record<string, HoldReason>; complete: boolean; named: Set<string> } {
  const items = new ModelItems(c.held);
  const named = new Set<string>();
  const ledger = new ChangeLedger(items, {
    base: c.base ?? false,
    excluded: (id, version) => (c.excluded ?? []).includes(`${id}@${version}`),
    ...(c.movesBetweenContainers === undefined ? {} : { movesBetweenContainers: c.movesBetweenContainers }),
    named,
  });
  for (const change of c.changes) {
    const step = ledger.apply(change);
    if (step.action !== 'store') continue;
    const outcome = c.stores?.[step.item.id] ?? 'stored';
    if (outcome === 'stored') items.map.set(step.item.id, { container: step.item.container, size: step.item.size });
    else if (outcome === 'failed') ledger.failed(step.item);
    else ledger.gone(step.item);
  }
  const removed: string[] = [];
  for (const removal of ledger.removals(c.stopped ?? false)) {
    items.map.delete(removal.id);
    removed.push(removal.id);
  }
  const result = ledger.result(c.stopped ?? false);
  const held: Held = {};
  for (const id of items.ids()) held[id] = items.get(id)!.container!;
  return { held, removed: removed.sort(), kept: Object.fromEntries(result.held), complete: result.complete, named };
}

const CASES: Case[] = [
  {
    name: 'an incremental round: new, changed and deleted items',
    held: { a: 'inbox', b: 'inbox' },
    changes: [upsert('a', 'inbox'), upsert('c', 'inbox'), remove('b', 'inbox'), done('inbox')],
    expect: { held: { a: 'inbox', c: 'inbox' }, removed: ['b'], complete: true },
  },
  {
    name: 'a move reported remove-first',
    held: { a: 'inbox' },
    changes: [remove('a', 'inbox'), done('inbox'), upsert('a', 'archive'), done('archive')],
    expect: { held: { a: 'archive' }, removed: [], complete: true },
  },
  {
    name: 'a move reported upsert-first',
    held: { a: 'inbox' },
    changes: [upsert('a', 'archive'), done('archive'), remove('a', 'inbox'), done('inbox')],
    expect: { held: { a: 'archive' }, removed: [], complete: true },
  },
  {
    name: 'a move whose download fails keeps the item where it was, and its new folder is read again',
    held: { a: 'inbox' },
    changes: [remove('a', 'inbox'), done('inbox'), upsert('a', 'archive'), done('archive')],
    stores: { a: 'failed' },
    expect: { held: { a: 'inbox' }, removed: [], kept: { archive: 'ItemFailed' }, complete: true },
  },
  {
    name: 'a move into a container that then fails: the removal waits and its container is read again',
    held: { a: 'inbox', b: 'inbox' },
    changes: [remove('a', 'inbox'), remove('b', 'inbox'), done('inbox'), failed('archive')],
    expect: {
      held: { a: 'inbox', b: 'inbox' },
      removed: [],
      kept: { inbox: 'RemovalDeferred', archive: 'ContainerFailed' },
      complete: false,
    },
  },
  {
    name: 'where nothing moves between containers (drives), a removal does not wait for a failed container',
    held: { a: 'drive1', b: 'drive2' },
    movesBetweenContainers: false,
    changes: [remove('a', 'drive1'), done('drive1'), failed('drive2')],
    expect: { held: { b: 'drive2' }, removed: ['a'], kept: { drive2: 'ContainerFailed' }, complete: false },
  },
  {
    name: 'a remove from a container the item is not in is ignored',
    held: { a: 'archive' },
    changes: [remove('a', 'inbox'), done('inbox')],
    expect: { held: { a: 'archive' }, removed: [], complete: true },
  },
  {
    name: "an expired token's full listing that misses items removes them",
    held: { a: 'inbox', b: 'inbox', c: 'inbox', x: 'archive' },
    changes: [resync('inbox'), upsert('a', 'inbox', 'v1'), upsert('d', 'inbox'), done('inbox'), done('archive')],
    expect: { held: { a: 'inbox', d: 'inbox', x: 'archive' }, removed: ['b', 'c'], complete: true },
  },
  {
    name: 'a resync keeps an item that moved out of the container and the new items its listing stored',
    held: { a: 'inbox', b: 'inbox' },
    changes: [resync('inbox'), upsert('n', 'inbox'), done('inbox'), upsert('b', 'archive'), done('archive')],
    expect: { held: { b: 'archive', n: 'inbox' }, removed: ['a'], complete: true },
  },
  {
    name: 'a resync whose listing fails removes nothing',
    held: { a: 'inbox', b: 'inbox' },
    changes: [resync('inbox'), upsert('a', 'inbox'), failed('inbox')],
    expect: { held: { a: 'inbox', b: 'inbox' }, removed: [], kept: { inbox: 'ContainerFailed' }, complete: false },
  },
  {
    name: 'a removed container takes its items, but not one that moved out of it',
    held: { a: 'old', b: 'old', c: 'inbox' },
    changes: [gone('old'), upsert('b', 'inbox'), done('inbox')],
    expect: { held: { b: 'inbox', c: 'inbox' }, removed: ['a'], complete: true },
  },
  {
    name: 'a removed container while another one fails keeps its items for the next run',
    held: { a: 'old', c: 'inbox' },
    changes: [gone('old'), failed('inbox')],
    expect: { held: { a: 'old', c: 'inbox' }, removed: [], kept: { old: 'RemovalDeferred', inbox: 'ContainerFailed' }, complete: false },
  },
  {
    name: 'a failed container keeps its items and its cursor; the others go on',
    held: { a: 'inbox', b: 'archive' },
    changes: [failed('inbox'), upsert('b', 'archive'), upsert('c', 'archive'), done('archive')],
    expect: { held: { a: 'inbox', b: 'archive', c: 'archive' }, removed: [], kept: { inbox: 'ContainerFailed' }, complete: false },
  },
  {
    name: 'an item deleted between listing and download (404) is removed, not failed',
    held: { a: 'inbox', b: 'inbox' },
    changes: [upsert('a', 'inbox'), upsert('n', 'inbox'), done('inbox')],
    stores: { a: 'notFound', n: 'notFound' },
    expect: { held: { b: 'inbox' }, removed: ['a'], complete: true },
  },
  {
    name: 'an excluded version is not stored, its previous version stays, and its container is read again',
    held: { a: 'inbox' },
    changes: [upsert('a', 'inbox', 'v2'), upsert('n', 'inbox', 'v1'), done('inbox')],
    excluded: ['a@v2', 'n@v1'],
    expect: { held: { a: 'inbox' }, removed: [], kept: { inbox: 'ItemExcluded' }, complete: true },
  },
  {
    name: 'leftovers of an interrupted base listing are removed once the account is read whole',
    held: { a: 'inbox', stale: 'inbox', other: 'deleted-folder' },
    base: true,
    changes: [upsert('a', 'inbox'), upsert('b', 'inbox'), done('inbox')],
    expect: { held: { a: 'inbox', b: 'inbox' }, removed: ['other', 'stale'], complete: true },
  },
  {
    name: 'leftovers of an interrupted base stay while a container fails',
    held: { a: 'inbox', stale: 'inbox' },
    base: true,
    changes: [upsert('a', 'inbox'), done('inbox'), failed('archive')],
    expect: { held: { a: 'inbox', stale: 'inbox' }, removed: [], kept: { archive: 'ContainerFailed' }, complete: false },
  },
  {
    name: 'a stopped account removes nothing',
    held: { a: 'inbox', b: 'inbox' },
    changes: [remove('a', 'inbox'), resync('archive'), done('archive'), upsert('c', 'inbox')],
    stopped: true,
    expect: { held: { a: 'inbox', b: 'inbox', c: 'inbox' }, removed: [], complete: false },
  },
  {
    name: 'an item removed twice is removed once',
    held: { a: 'inbox' },
    changes: [resync('inbox'), remove('a', 'inbox'), done('inbox')],
    expect: { held: {}, removed: ['a'], complete: true },
  },
];

describe('the change ledger', () => {
  it.each(CASES)('$name', (c) => {
    const out = run(c);
    expect(out.held).toEqual(c.expect.held);
    expect(out.removed).toEqual(c.expect.removed);
    expect(out.kept).toEqual(c.expect.kept ?? {});
    if (c.expect.complete !== undefined) expect(out.complete).toBe(c.expect.complete);
  });

  it('keeps no id of a plain base backup in memory', () => {
    const changes = Array.from({ length: 1000 }, (_, i) => upsert(`m${i}`, 'inbox'));
    const out = run({ name: 'base', held: {}, base: true, changes: [...changes, done('inbox')], expect: { held: {}, removed: [] } });
    expect(Object.keys(out.held)).toHaveLength(1000);
    expect(out.named.size).toBe(0);
  });
});
