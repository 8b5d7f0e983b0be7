import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { WatchError } from './api-errors.ts';
import { FakeClock, flushPromises } from './fake-clock.ts';
import { Informer } from './informer.ts';
import type { ListResult, ListWatch, WatchEvent } from './list-watch.ts';

const obj = (namespace: string, name: string, resourceVersion: string): KubernetesObject => ({
  apiVersion: 'saasbackup.io/v1alpha1',
  kind: 'BackupPolicy',
  metadata: { namespace, name, resourceVersion },
});

interface OpenWatch {
  resourceVersion: string;
  emit(event: WatchEvent<KubernetesObject>): void;
  close(): void;
  fail(err: unknown): void;
}

/** A ListWatch the test drives: it answers lists from a script and exposes the open watch. */
class ScriptedListWatch implements ListWatch<KubernetesObject> {
  lists: (ListResult<KubernetesObject> | Error)[] = [];
  listCalls = 0;
  watches: OpenWatch[] = [];

  async list(): Promise<ListResult<KubernetesObject>> {
    this.listCalls++;
    const next = this.lists.length > 1 ? this.lists.shift() : this.lists[0];
    if (!next) throw new Error('no list scripted');
    if (next instanceof Error) throw next;
    return structuredClone(next);
  }

  watch(resourceVersion: string, onEvent: (e: WatchEvent<KubernetesObject>) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('stopped')));
      this.watches.push({ resourceVersion, emit: onEvent, close: resolve, fail: reject });
    });
  }

  get current(): OpenWatch {
    const open = this.watches.at(-1);
    if (!open) throw new Error('no watch open');
    return open;
  }
}

function setup() {
  const clock = new FakeClock();
  const listWatch = new ScriptedListWatch();
  const informer = new Informer<KubernetesObject>({
    name: 'backuppolicies',
    listWatch,
    clock,
    timers: clock,
    backoff: { baseMs: 1_000, maxMs: 30_000 },
  });
  const events: string[] = [];
  informer.onAdd((o) => events.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  informer.onUpdate((o, n) => events.push(`update ${n.metadata?.name}@${o.metadata?.resourceVersion}->${n.metadata?.resourceVersion}`));
  informer.onDelete((o) => events.push(`delete ${o.metadata?.name}`));
  return { clock, listWatch, informer, events };
}

describe('Informer', () => {
  it('lists, syncs, then watches from the list resourceVersion', async () => {
    const { listWatch, informer, events } = setup();
    listWatch.lists = [{ items: [obj('ns1', 'a', '5'), obj('ns2', 'b', '6')], resourceVersion: '10' }];
    expect(informer.hasSynced()).toBe(false);
    const synced = informer.waitForSync();
    informer.start();
    expect(await synced).toBe(true);
    await flushPromises();

    expect(informer.hasSynced()).toBe(true);
    expect(events).toEqual(['add a@5', 'add b@6']);
    expect(informer.get('ns1', 'a')?.metadata?.resourceVersion).toBe('5');
    expect(informer.list('ns2').map((o) => o.metadata?.name)).toEqual(['b']);
    expect(informer.list()).toHaveLength(2);
    expect(listWatch.current.resourceVersion).toBe('10');
    await informer.stop();
  });

  it('applies watch events to the cache and tracks bookmarks', async () => {
    const { listWatch, informer, events } = setup();
    listWatch.lists = [{ items: [obj('ns', 'a', '5')], resourceVersion: '10' }];
    informer.start();
    await flushPromises();
    const watch = listWatch.current;
    watch.emit({ type: 'ADDED', object: obj('ns', 'b', '11') });
    watch.emit({ type: 'MODIFIED', object: obj('ns', 'a', '12') });
    watch.emit({ type: 'DELETED', object: obj('ns', 'b', '13') });
    watch.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });

    expect(events).toEqual(['add a@5', 'add b@11', 'update a@5->12', 'delete b']);
    expect(informer.get('ns', 'b')).toBeUndefined();
    expect(informer.get('ns', 'a')?.metadata?.resourceVersion).toBe('12');
    expect(informer.resourceVersion).toBe('20');
    await informer.stop();
  });

  it('on 410 Gone relists and replaces the cache, emitting only what changed', async () => {
    const { listWatch, informer, events } = setup();
    listWatch.lists = [
      { items: [obj('ns', 'a', '5'), obj('ns', 'b', '6'), obj('ns', 'c', '7')], resourceVersion: '10' },
      { items: [obj('ns', 'a', '5'), obj('ns', 'c', '30'), obj('ns', 'd', '31')], resourceVersion: '40' },
    ];
    informer.start();
    await flushPromises();
    events.length = 0;

    listWatch.current.fail(new WatchError({ code: 410, reason: 'Expired', message: 'too old resource version' }));
    await flushPromises();

    expect(listWatch.listCalls).toBe(2);
    expect(events).toEqual(['delete b', 'update c@7->30', 'add d@31']);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'c', 'd']);
    expect(listWatch.current.resourceVersion).toBe('40');
    await informer.stop();
  });

  it('resumes the watch after it ends, from the last resourceVersion, without relisting', async () => {
    const { listWatch, informer } = setup();
    listWatch.lists = [{ items: [], resourceVersion: '10' }];
    informer.start();
    await flushPromises();
    listWatch.current.emit({ type: 'ADDED', object: obj('ns', 'a', '15') });
    listWatch.current.close();
    await flushPromises();
    expect(listWatch.watches.map((w) => w.resourceVersion)).toEqual(['10', '15']);
    expect(listWatch.listCalls).toBe(1);
    await informer.stop();
  });

  it('backs off while the apiserver is unreachable and recovers when it returns', async () => {
    const { clock, listWatch, informer, events } = setup();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    listWatch.lists = [refused, refused, refused, { items: [obj('ns', 'a', '5')], resourceVersion: '10' }];
    informer.start();
    await flushPromises();
    // The first retry is immediate, then they wait 1 s, then 2 s.
    expect(listWatch.listCalls).toBe(2);
    await clock.advance(999);
    expect(listWatch.listCalls).toBe(2);
    await clock.advance(1);
    expect(listWatch.listCalls).toBe(3);
    expect(informer.hasSynced()).toBe(false);
    await clock.advance(2_000);
    expect(listWatch.listCalls).toBe(4);
    expect(informer.hasSynced()).toBe(true);
    expect(events).toEqual(['add a@5']);
    await informer.stop();
  });

  it('keeps a network-failed watch cache and re-watches; relists after an apiserver error status', async () => {
    const { clock, listWatch, informer } = setup();
    listWatch.lists = [{ items: [obj('ns', 'a', '5')], resourceVersion: '10' }];
    informer.start();
    await flushPromises();
    listWatch.current.fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await clock.advance(0);
    expect(listWatch.listCalls).toBe(1);
    expect(listWatch.watches).toHaveLength(2);

    listWatch.current.fail(new WatchError({ code: 504, reason: 'Timeout', message: 'Too large resource version' }));
    await clock.advance(1_000);
    expect(listWatch.listCalls).toBe(2);
    await informer.stop();
  });

  it('survives a throwing handler and replays the cache to handlers added after sync', async () => {
    const { listWatch, informer } = setup();
    listWatch.lists = [{ items: [obj('ns', 'a', '5')], resourceVersion: '10' }];
    informer.onAdd(() => {
      throw new Error('handler bug');
    });
    informer.start();
    await flushPromises();
    const late: string[] = [];
    informer.onAdd((o) => late.push(o.metadata?.name ?? ''));
    expect(late).toEqual(['a']);
    listWatch.current.emit({ type: 'ADDED', object: obj('ns', 'b', '11') });
    expect(informer.get('ns', 'b')).toBeDefined();
    await informer.stop();
  });

  it('stop ends the loop and releases waiters that never synced', async () => {
    const { listWatch, informer } = setup();
    listWatch.lists = [new Error('forbidden')];
    informer.start();
    const waiting = informer.waitForSync();
    await flushPromises();
    await informer.stop();
    expect(await waiting).toBe(false);
  });
});
