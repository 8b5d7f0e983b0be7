import { describe, expect, it } from 'vitest';
import { decide, releasedRecord, renewDeadlinePassed, validateTimings, type LeaseRecord, type Observation } from './leader-election.ts';
import { formatMicroTime } from './time-format.ts';

const T0 = new Date('2026-11-22T02:13:38.123Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const held = (holderIdentity: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  acquireTime: '2026-11-22T02:00:00.000000Z',
  renewTime: '2026-11-22T02:13:30.000000Z',
  leaseTransitions: 4,
  ...overrides,
});

const input = (current: LeaseRecord | undefined, now: Date, previous?: Observation) => ({
  identity: 'pod-a',
  now,
  current,
  previous,
  leaseDurationSeconds: 15,
});

describe('decide', () => {
  it('creates the lease when none exists', () => {
    const decision = decide(input(undefined, T0));
    expect(decision.action).toBe('create');
    if (decision.action !== 'create') return;
    expect(decision.record).toEqual({
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-22T02:13:38.123000Z',
      renewTime: '2026-11-22T02:13:38.123000Z',
      leaseTransitions: 0,
    });
  });

  it('acquires an empty (released) lease at once and counts the transition', () => {
    const decision = decide(input(held('', { leaseDurationSeconds: 1 }), T0));
    expect(decision).toMatchObject({
      action: 'acquire',
      record: { holderIdentity: 'pod-a', leaseTransitions: 5, leaseDurationSeconds: 15 },
    });
  });

  it('renews its own lease, keeping acquireTime and the transition count', () => {
    const decision = decide(input(held('pod-a'), T0));
    expect(decision.action).toBe('renew');
    if (decision.action !== 'renew') return;
    expect(decision.record).toEqual({
      ...held('pod-a'),
      renewTime: formatMicroTime(T0),
    });
  });

  it('respects a foreign lease it has not watched go stale for a whole lease duration', () => {
    // Even with an old renewTime, the replica's own clock decides: first sight starts the count.
    const decision = decide(input(held('pod-b', { renewTime: '2020-01-01T00:00:00.000000Z' }), T0));
    expect(decision).toMatchObject({ action: 'follow', holder: 'pod-b', expiresAt: at(15) });
  });

  it('takes over a foreign lease that has not changed for the lease duration', () => {
    const first = decide(input(held('pod-b'), T0));
    const stillValid = decide(input(held('pod-b'), at(14.999), first.observation));
    expect(stillValid.action).toBe('follow');
    const expired = decide(input(held('pod-b'), at(15), stillValid.observation));
    expect(expired).toMatchObject({
      action: 'acquire',
      record: { holderIdentity: 'pod-a', leaseTransitions: 5, acquireTime: formatMicroTime(at(15)) },
    });
  });

  it('restarts the expiry count when the holder renews', () => {
    const first = decide(input(held('pod-b'), T0));
    const renewed = held('pod-b', { renewTime: '2026-11-22T02:13:48.000000Z' });
    const second = decide(input(renewed, at(10), first.observation));
    const third = decide(input(renewed, at(20), second.observation));
    expect(third).toMatchObject({ action: 'follow', expiresAt: at(25) });
  });

  it('uses the lease duration written on the lease, not its own', () => {
    const first = decide(input(held('pod-b', { leaseDurationSeconds: 60 }), T0));
    expect(decide(input(held('pod-b', { leaseDurationSeconds: 60 }), at(30), first.observation)).action).toBe('follow');
  });
});

describe('renewDeadlinePassed', () => {
  it('is true once renewDeadline has gone by since the last successful renew', () => {
    expect(renewDeadlinePassed(T0, at(9.999), 10_000)).toBe(false);
    expect(renewDeadlinePassed(T0, at(10), 10_000)).toBe(true);
  });
});

describe('releasedRecord', () => {
  it('clears the holder and shortens the lease to one second, keeping the count', () => {
    expect(releasedRecord(held('pod-a'), T0)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: formatMicroTime(T0),
      renewTime: formatMicroTime(T0),
      leaseTransitions: 4,
    });
  });
});

describe('validateTimings', () => {
  it('accepts the defaults and rejects timings that let two leaders overlap', () => {
    expect(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).not.toThrow();
    expect(() => validateTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).toThrow(/leaseDuration/);
    expect(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(/renewDeadline/);
  });
});

describe('formatMicroTime', () => {
  it('writes RFC 3339 with exactly six fractional digits', () => {
    expect(formatMicroTime(T0)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });
});
