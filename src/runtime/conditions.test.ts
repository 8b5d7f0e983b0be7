import { describe, expect, it } from 'vitest';
import { getCondition, isTrue, removeCondition, setCondition, type Condition } from './conditions.ts';
import { FakeClock } from './fake-clock.ts';

const ready = (status: Condition['status'], reason = 'Ready', message = '') => ({ type: 'Ready', status, reason, message });

describe('setCondition', () => {
  it('adds a new condition with the transition time and observed generation', () => {
    const clock = new FakeClock('2026-11-22T02:13:38.456Z');
    const conditions = setCondition(undefined, ready('True', 'Ready', 'all good'), 3, clock);
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        observedGeneration: 3,
        lastTransitionTime: '2026-11-22T02:13:38Z',
        reason: 'Ready',
        message: 'all good',
      },
    ]);
  });

  it('keeps lastTransitionTime when the status is unchanged, even if reason and message change', async () => {
    const clock = new FakeClock('2026-01-01T00:00:00Z');
    const first = setCondition([], ready('False', 'AuthenticationFailed', 'bad secret'), 1, clock);
    await clock.advance(60_000);
    const second = setCondition(first, ready('False', 'InsufficientPermissions', 'grant Mail.Read'), 2, clock);
    expect(second[0]).toMatchObject({
      status: 'False',
      reason: 'InsufficientPermissions',
      message: 'grant Mail.Read',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status changes', async () => {
    const clock = new FakeClock('2026-01-01T00:00:00Z');
    const first = setCondition([], ready('False'), 1, clock);
    await clock.advance(90_000);
    const second = setCondition(first, ready('True'), 1, clock);
    expect(getCondition(second, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:01:30Z');
  });

  it('replaces in place, leaves other conditions alone, and does not mutate its input', () => {
    const clock = new FakeClock();
    const before = setCondition(
      setCondition([], ready('True'), 1, clock),
      { type: 'Onboarding', status: 'True', reason: 'BaseBackup', message: '' },
      1,
      clock,
    );
    const frozen = structuredClone(before);
    const after = setCondition(before, ready('False', 'StorageUnavailable'), 2, clock);
    expect(before).toEqual(frozen);
    expect(after.map((c) => c.type)).toEqual(['Ready', 'Onboarding']);
    expect(after[1]).toBe(before[1]);
  });

  it('omits observedGeneration when no generation is known', () => {
    const conditions = setCondition([], ready('Unknown'), undefined, new FakeClock());
    expect(conditions[0]).not.toHaveProperty('observedGeneration');
  });
});

describe('condition queries', () => {
  const clock = new FakeClock();
  const conditions = setCondition(
    setCondition([], ready('True'), 1, clock),
    { type: 'Protected', status: 'False', reason: 'ItemsSkipped', message: '' },
    1,
    clock,
  );

  it('finds conditions by type', () => {
    expect(getCondition(conditions, 'Protected')?.reason).toBe('ItemsSkipped');
    expect(getCondition(conditions, 'Missing')).toBeUndefined();
    expect(getCondition(undefined, 'Ready')).toBeUndefined();
  });

  it('isTrue only for status True', () => {
    expect(isTrue(conditions, 'Ready')).toBe(true);
    expect(isTrue(conditions, 'Protected')).toBe(false);
    expect(isTrue(conditions, 'Missing')).toBe(false);
  });

  it('removeCondition returns a list without that type', () => {
    expect(removeCondition(conditions, 'Ready').map((c) => c.type)).toEqual(['Protected']);
    expect(conditions).toHaveLength(2);
  });
});
