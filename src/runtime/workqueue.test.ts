import { describe, expect, it } from 'vitest';
import { ItemExponentialBackoff } from './backoff.ts';
import { FakeClock, flushPromises } from './fake-clock.ts';
import { WorkQueue } from './workqueue.ts';

function newQueue(clock = new FakeClock(), backoff = new ItemExponentialBackoff({ baseMs: 10, maxMs: 1_000 })) {
  const depths: number[] = [];
  const queue = new WorkQueue({ clock, timers: clock, backoff, onDepthChange: (d) => depths.push(d) });
  return { queue, clock, depths };
}

/** Tracks a pending get() without awaiting it. */
function pendingGet(queue: WorkQueue) {
  const state: { key?: string | undefined; settled: boolean } = { settled: false };
  void queue.get().then((key) => {
    state.key = key;
    state.settled = true;
  });
  return state;
}

describe('WorkQueue', () => {
  it('merges repeated adds of a queued key into one', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.length).toBe(0);
  });

  it('never hands out a key that is being processed; a re-add waits for done', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    expect(await queue.get()).toBe('ns/a');

    queue.add('ns/a');
    queue.add('ns/a');
    expect(queue.length).toBe(0);
    const second = pendingGet(queue);
    await flushPromises();
    expect(second.settled).toBe(false);

    queue.done('ns/a');
    await flushPromises();
    expect(second.key).toBe('ns/a');
    queue.done('ns/a');
    expect(queue.length).toBe(0);
  });

  it('does not re-queue a processed key that was not added again', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    await queue.get();
    queue.done('ns/a');
    expect(queue.length).toBe(0);
    expect(queue.processing).toEqual([]);
  });

  it('hands a new key straight to a waiting worker', async () => {
    const { queue } = newQueue();
    const waiting = pendingGet(queue);
    queue.add('ns/a');
    await flushPromises();
    expect(waiting.key).toBe('ns/a');
    expect(queue.processing).toEqual(['ns/a']);
  });

  it('adds delayed keys when their time comes, earliest first', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('ns/late', 100);
    queue.addAfter('ns/early', 50);
    await clock.advance(49);
    expect(queue.length).toBe(0);
    await clock.advance(1);
    expect(queue.length).toBe(1);
    await clock.advance(50);
    expect(await queue.get()).toBe('ns/early');
    expect(await queue.get()).toBe('ns/late');
  });

  it('keeps the earlier deadline when a key is delayed twice', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('ns/a', 100);
    queue.addAfter('ns/a', 10);
    queue.addAfter('ns/b', 10);
    queue.addAfter('ns/b', 100);
    await clock.advance(10);
    expect(queue.length).toBe(2);
    await queue.get();
    await queue.get();
    queue.done('ns/a');
    queue.done('ns/b');
    await clock.advance(1_000);
    expect(queue.length).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('adds at once for a zero or negative delay', () => {
    const { queue } = newQueue();
    queue.addAfter('ns/a', 0);
    expect(queue.length).toBe(1);
  });

  it('backs off rate-limited adds per key until forgotten', async () => {
    const { queue, clock } = newQueue();
    queue.addRateLimited('ns/a');
    await clock.advance(9);
    expect(queue.length).toBe(0);
    await clock.advance(1);
    expect(queue.length).toBe(1);
    await queue.get();
    queue.done('ns/a');

    queue.addRateLimited('ns/a');
    expect(queue.numRequeues('ns/a')).toBe(2);
    await clock.advance(19);
    expect(queue.length).toBe(0);
    await clock.advance(1);
    expect(queue.length).toBe(1);

    queue.forget('ns/a');
    expect(queue.numRequeues('ns/a')).toBe(0);
  });

  it('reports the depth as it changes', async () => {
    const { queue, depths } = newQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    await queue.get();
    expect(depths).toEqual([1, 2, 1]);
  });

  it('on shutDown wakes waiting workers, hands out nothing more and drops delayed adds', async () => {
    const { queue, clock } = newQueue();
    const waiting = pendingGet(queue);
    queue.addAfter('ns/later', 100);
    queue.shutDown();
    await flushPromises();
    expect(waiting).toEqual({ key: undefined, settled: true });
    expect(clock.pendingTimers).toBe(0);
    queue.addAfter('ns/b', 10);
    expect(clock.pendingTimers).toBe(0);
    // A plain add is recorded as undone work, but never handed out.
    queue.add('ns/a');
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBeUndefined();
  });

  it('shutDownWithDrain resolves once every handed-out key is done', async () => {
    const { queue } = newQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    await queue.get();
    let drained = false;
    void queue.shutDownWithDrain().then(() => (drained = true));
    await flushPromises();
    expect(drained).toBe(false);
    expect(await queue.get()).toBeUndefined();
    queue.done('ns/a');
    await flushPromises();
    expect(drained).toBe(true);
    // What was queued but never started stays there for whoever looks (logs, the next leader relists).
    expect(queue.length).toBe(1);
  });
});
