// A manual clock for tests: time moves only when a test calls `advance`, and due timers fire in
// deadline order with pending promise callbacks run between them, so async loops can be stepped
// deterministically without sleeping.
import type { Clock } from './types.ts';
import type { TimerHandle, Timers } from '../time/timers.ts';

interface ScheduledTimer {
  id: number;
  at: number;
  callback: () => void;
}

/** Lets every queued promise callback run (they all run before the next macrotask). */
export function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock, Timers {
  #nowMs: number;
  #nextId = 1;
  #timers: ScheduledTimer[] = [];

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.#nowMs = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#nowMs);
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer = { id: this.#nextId++, at: this.#nowMs + Math.max(0, ms), callback };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Number of timers that have not fired yet. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and settling promises after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#nowMs + ms;
    await flushPromises();
    for (;;) {
      const next = this.#earliestDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#nowMs = Math.max(this.#nowMs, next.at);
      next.callback();
      await flushPromises();
    }
    this.#nowMs = target;
    await flushPromises();
  }

  #earliestDue(limit: number): ScheduledTimer | undefined {
    let earliest: ScheduledTimer | undefined;
    for (const t of this.#timers) {
      if (t.at <= limit && (!earliest || t.at < earliest.at || (t.at === earliest.at && t.id < earliest.id))) {
        earliest = t;
      }
    }
    return earliest;
  }
}
