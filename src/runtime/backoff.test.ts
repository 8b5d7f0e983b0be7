import { describe, expect, it } from 'vitest';
import { exponentialDelay, ItemExponentialBackoff } from './backoff.ts';

describe('ItemExponentialBackoff', () => {
  it('doubles the delay of a key with each failure, from the base', () => {
    const backoff = new ItemExponentialBackoff({ baseMs: 5, maxMs: 1_000_000 });
    expect([1, 2, 3, 4].map(() => backoff.when('ns/a'))).toEqual([5, 10, 20, 40]);
    expect(backoff.failures('ns/a')).toBe(4);
  });

  it('counts failures per key', () => {
    const backoff = new ItemExponentialBackoff({ baseMs: 5 });
    backoff.when('ns/a');
    backoff.when('ns/a');
    expect(backoff.when('ns/b')).toBe(5);
    expect(backoff.failures('ns/a')).toBe(2);
    expect(backoff.failures('ns/b')).toBe(1);
  });

  it('never waits longer than the cap, however many failures', () => {
    const backoff = new ItemExponentialBackoff({ baseMs: 5, maxMs: 1_000 });
    const delays = Array.from({ length: 2_000 }, () => backoff.when('ns/a'));
    expect(delays.slice(0, 9)).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1_000]);
    expect(delays.every((d) => Number.isFinite(d) && d <= 1_000)).toBe(true);
    expect(delays.at(-1)).toBe(1_000);
  });

  it('starts again from the base after forget', () => {
    const backoff = new ItemExponentialBackoff({ baseMs: 5 });
    backoff.when('ns/a');
    backoff.when('ns/a');
    backoff.forget('ns/a');
    expect(backoff.failures('ns/a')).toBe(0);
    expect(backoff.when('ns/a')).toBe(5);
  });

  it('defaults to client-go values: 5 ms up to 1000 s', () => {
    const backoff = new ItemExponentialBackoff();
    expect(backoff.when('k')).toBe(5);
    expect(exponentialDelay(100)).toBe(1_000_000);
  });

  it('rejects a cap below the base', () => {
    expect(() => new ItemExponentialBackoff({ baseMs: 10, maxMs: 5 })).toThrow(/baseMs <= maxMs/);
  });
});

describe('exponentialDelay', () => {
  it('spreads delays up by the jitter share, still capped', () => {
    expect(exponentialDelay(2, { baseMs: 100, maxMs: 10_000, jitter: 0.2, random: () => 0.5 })).toBeCloseTo(440);
    expect(exponentialDelay(2, { baseMs: 100, maxMs: 10_000, jitter: 0.2, random: () => 0 })).toBe(400);
    expect(exponentialDelay(20, { baseMs: 100, maxMs: 10_000, jitter: 0.2, random: () => 0.99 })).toBe(10_000);
  });
});
