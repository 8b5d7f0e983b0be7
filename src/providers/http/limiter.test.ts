import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
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
});
