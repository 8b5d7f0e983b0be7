import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock } from '../../runtime/fake-clock.ts';
import { KeyedLimiter } from './limiter.ts';

/** Resolves on the next macrotask: anything that could run without waiting has run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('KeyedLimiter', () => {
  it('lets `concurrency` requests of a key in at once and the next one when a slot frees', async () => {
    const limiter = new KeyedLimiter({ concurrency: 4, budget: 0, windowMs: 1000 });
    const releases = await Promise.all([1, 2, 3, 4].map(() => limiter.acquire('mbx')));
    let fifth = false;
    const p = limiter.acquire('mbx').then((r) => {
      fifth = true;
      return r;
    });
    await settle();
    expect(fifth).toBe(false);
    expect(limiter.inFlight('mbx')).toBe(4);
    // Another key is not held back.
    (await limiter.acquire('other'))();
    releases[0]?.();
    (await p)();
    expect(fifth).toBe(true);
    releases.slice(1).forEach((r) => r?.());
    expect(limiter.inFlight('mbx')).toBe(0);
  });

  it('gives a batch several slots at once, at most the concurrency, and frees them together', async () => {
    const limiter = new KeyedLimiter({ concurrency: 4, budget: 100, windowMs: 60_000 });
    const single = await limiter.acquire('mbx');
    let batchIn = false;
    const batch = limiter.acquire('mbx', 16, 4).then((r) => {
      batchIn = true;
      return r;
    });
    await settle();
    // Three slots are free, the batch needs four: it waits, and nobody jumps the queue.
    expect(batchIn).toBe(false);
    const behind = limiter.acquire('mbx');
    single();
    const releaseBatch = await batch;
    expect(limiter.inFlight('mbx')).toBe(4);
    releaseBatch();
    (await behind)();
    expect(limiter.inFlight('mbx')).toBe(0);
    // A batch asking for more slots than the concurrency gets all of them, not a deadlock.
    (await limiter.acquire('mbx', 1, 20))();
  });

  it('serves waiters in order', async () => {
    const limiter = new KeyedLimiter({ concurrency: 1, budget: 0, windowMs: 1000 });
    const order: number[] = [];
    const first = await limiter.acquire('k');
    const waiting = [1, 2, 3].map((i) =>
      limiter.acquire('k').then((release) => {
        order.push(i);
        release();
      }),
    );
    first();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
  });

  it('holds requests over the budget until the window slides', async () => {
    const limiter = new KeyedLimiter({ concurrency: 0, budget: 2, windowMs: 80 });
    (await limiter.acquire('k'))();
    (await limiter.acquire('k'))();
    let third = false;
    const p = limiter.acquire('k').then((r) => {
      third = true;
      r();
    });
    await settle();
    expect(third).toBe(false);
    await p;
    expect(third).toBe(true);
    expect(limiter.stats.waitedMs).toBeGreaterThan(0);
  });

  it('pauses a key after the service asked to slow down', async () => {
    const limiter = new KeyedLimiter({ concurrency: 4, budget: 0, windowMs: 1000 });
    limiter.pause('k', 60);
    let admitted = false;
    const p = limiter.acquire('k').then((r) => {
      admitted = true;
      r();
    });
    await settle();
    expect(admitted).toBe(false);
    (await limiter.acquire('other'))();
    await sleep(1);
    await p;
    expect(admitted).toBe(true);
    expect(limiter.stats.pauses).toBe(1);
  });

  describe('with a signal', () => {
    /** A promise whose settlement can be looked at without awaiting it. */
    function watch<T>(promise: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
      const seen: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
      promise.then(
        (value) => Object.assign(seen, { state: 'resolved', value }),
        (error: unknown) => Object.assign(seen, { state: 'rejected', error }),
      );
      return seen;
    }

    it('rejects at once with the reason of a signal that has already aborted, taking nothing', async () => {
      const clock = new FakeClock();
      const limiter = new KeyedLimiter({ concurrency: 1, budget: 1, windowMs: 60_000 }, { clock, timers: clock });
      const signal = AbortSignal.abort();
      const err = await limiter.acquire('k', 1, 1, signal).catch((e: unknown) => e);
      expect(err).toBe(signal.reason);
      expect((err as Error).name).toBe('AbortError');
      // Neither the slot nor the budget unit was taken: the next request goes in at once.
      const release = watch(limiter.acquire('k'));
      await settle();
      expect(release.state).toBe('resolved');
      expect(limiter.inFlight('k')).toBe(1);
    });

    it('takes an aborted waiter out of the queue: it frees nothing it did not hold, and the waiters behind it go on in order', async () => {
      const limiter = new KeyedLimiter({ concurrency: 2, budget: 0, windowMs: 1000 });
      const holding = await limiter.acquire('mbx');
      const controller = new AbortController();
      // Head of the queue: a batch that needs both slots, so it waits for the one held.
      const batch = watch(limiter.acquire('mbx', 2, 2, controller.signal));
      const order: string[] = [];
      const behind = ['a', 'b'].map((name) =>
        limiter.acquire('mbx').then((release) => {
          order.push(name);
          return release;
        }),
      );
      await settle();
      expect(limiter.waiting('mbx')).toBe(3);
      expect(order).toEqual([]);

      const reason = new Error('run cancelled');
      controller.abort(reason);
      await settle();
      expect(batch.state).toBe('rejected');
      expect(batch.error).toBe(reason);
      // The single free slot goes to the first waiter behind it; the held slot is still held.
      expect(order).toEqual(['a']);
      expect(limiter.inFlight('mbx')).toBe(2);
      expect(limiter.waiting('mbx')).toBe(1);
      holding();
      const [a, b] = await Promise.all(behind);
      expect(order).toEqual(['a', 'b']);
      expect(limiter.inFlight('mbx')).toBe(2);
      a?.();
      b?.();
      expect(limiter.inFlight('mbx')).toBe(0);
      expect(limiter.waiting('mbx')).toBe(0);
    });

    it('leaves the budget to the others when a waiter held back by the budget aborts, and drops its wake-up', async () => {
      const clock = new FakeClock();
      const limiter = new KeyedLimiter({ concurrency: 0, budget: 3, windowMs: 60_000 }, { clock, timers: clock });
      (await limiter.acquire('k', 2))();
      const controller = new AbortController();
      // Needs 2 of the 1 unit left: waits for the window to slide, with a timer.
      const big = watch(limiter.acquire('k', 2, 1, controller.signal));
      await settle();
      expect(big.state).toBe('pending');
      expect(clock.pendingTimers).toBe(1);
      controller.abort();
      await settle();
      expect(big.state).toBe('rejected');
      expect((big.error as Error).name).toBe('AbortError');
      // Nobody waits any more: no timer is left to keep the process alive.
      expect(clock.pendingTimers).toBe(0);
      // The unit left is still there: a request of cost 1 goes in without time passing.
      const small = watch(limiter.acquire('k', 1));
      await settle();
      expect(small.state).toBe('resolved');
      // And the budget is spent now: the next one waits for the window.
      const after = watch(limiter.acquire('k', 1));
      await settle();
      expect(after.state).toBe('pending');
      await clock.advance(60_000);
      expect(after.state).toBe('resolved');
    });

    it('abandons the wait of a paused key when the signal aborts, and serves nobody early', async () => {
      const clock = new FakeClock();
      const limiter = new KeyedLimiter({ concurrency: 4, budget: 0, windowMs: 1000 }, { clock, timers: clock });
      limiter.pause('k', 300_000);
      const controller = new AbortController();
      const aborted = watch(limiter.acquire('k', 1, 1, controller.signal));
      const patient = watch(limiter.acquire('k'));
      await clock.advance(1_000);
      controller.abort();
      await settle();
      expect(aborted.state).toBe('rejected');
      expect(patient.state).toBe('pending');
      // The one left still waits out the pause, and is served when it ends.
      await clock.advance(298_999);
      expect(patient.state).toBe('pending');
      await clock.advance(1);
      expect(patient.state).toBe('resolved');
      expect(limiter.inFlight('k')).toBe(1);
    });

    it('keeps a slot granted before the abort until it is released', async () => {
      const limiter = new KeyedLimiter({ concurrency: 1, budget: 0, windowMs: 1000 });
      const controller = new AbortController();
      const release = await limiter.acquire('k', 1, 1, controller.signal);
      controller.abort();
      expect(limiter.inFlight('k')).toBe(1);
      release();
      expect(limiter.inFlight('k')).toBe(0);
    });
  });
});
