import { describe, expect, it } from 'vitest';
import { Budget } from './budget.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Budget', () => {
  it('makes a taker wait until enough is given back', async () => {
    const budget = new Budget(10);
    await budget.take(6);
    let second = false;
    const waiting = budget.take(6).then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    budget.give(6);
    await waiting;
    expect(second).toBe(true);
  });

  it('lets a request larger than the whole budget through alone', async () => {
    const budget = new Budget(10);
    await budget.take(50);
    let small = false;
    const waiting = budget.take(1).then(() => (small = true));
    await tick();
    expect(small).toBe(false);
    budget.give(50);
    await waiting;
  });

  it('counts slots when each taker takes one', async () => {
    const budget = new Budget(2);
    await budget.take(1);
    await budget.take(1);
    let third = false;
    const waiting = budget.take(1).then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    budget.give(1);
    await waiting;
  });
});
