// Pacing requests to a SaaS API per key (a mailbox, a tenant): at most `concurrency` in flight,
// at most `budget` units spent in any `windowMs`, and a pause when the service says to slow down.
// Waiters are served first come, first served, so one busy account cannot starve the others'
// turns within its key, and keys are independent: a tenant's throughput grows with its number of
// mailboxes, not with one mailbox's quota. A waiter whose signal aborts leaves the queue at once,
// having spent nothing: slots and budget are taken only when a waiter is served.
import { systemTimers } from '../../time/timers.ts';
import type { TimerHandle, Timers } from '../../time/timers.ts';
import { systemClock } from '../../time/clock.ts';
import type { Clock } from '../../time/clock.ts';

export interface LimitOptions {
  /** Requests in flight per key; 0 means unlimited. */
  concurrency: number;
  /** Units per window per key; 0 means unlimited. */
  budget: number;
  windowMs: number;
}

/** Where the limiter's time comes from; the real clock and timers by default. */
export interface LimiterTime {
  clock?: Clock;
  timers?: Timers;
}

interface Waiter {
  cost: number;
  slots: number;
  grant: (release: () => void) => void;
}

class KeyState {
  inFlight = 0;
  spent: { at: number; cost: number }[] = [];
  spentTotal = 0;
  pausedUntil = 0;
  queue: Waiter[] = [];
  timer: TimerHandle | undefined;
}

export interface LimiterStats {
  /** Time requests spent waiting for a slot or budget, milliseconds (summed). */
  waitedMs: number;
  pauses: number;
}

export class KeyedLimiter {
  readonly stats: LimiterStats = { waitedMs: 0, pauses: 0 };
  readonly #options: LimitOptions;
  readonly #keys = new Map<string, KeyState>();
  readonly #clock: Clock;
  readonly #timers: Timers;

  constructor(options: LimitOptions, time: LimiterTime = {}) {
    this.#options = options;
    this.#clock = time.clock ?? systemClock;
    this.#timers = time.timers ?? systemTimers;
  }

  /**
   * Waits for `slots` of the key's concurrency (a batch whose parts run side by side at the
   * service takes several; capped at the concurrency) and `cost` units of its budget; the
   * returned function frees the slots. When `signal` aborts first, the wait ends and the promise
   * rejects with the signal's reason.
   */
  acquire(key: string, cost = 1, slots = 1, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const state = this.#state(key);
    const started = this.#now();
    const concurrency = this.#options.concurrency;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        slots: Math.max(1, concurrency > 0 ? Math.min(slots, concurrency) : slots),
        grant: (release) => {
          signal?.removeEventListener('abort', abandon);
          this.stats.waitedMs += this.#now() - started;
          resolve(release);
        },
      };
      const abandon = (): void => {
        const at = state.queue.indexOf(waiter);
        if (at < 0) return;
        state.queue.splice(at, 1);
        reject(signal?.reason as Error);
        // The waiter may have been what held the queue (at its head, or the one a timer was for).
        this.#restart(key, state);
      };
      signal?.addEventListener('abort', abandon, { once: true });
      state.queue.push(waiter);
      this.#pump(key, state);
    });
  }

  /** Holds every request of `key` back for `ms` (after a 429 with Retry-After). */
  pause(key: string, ms: number): void {
    const state = this.#state(key);
    const until = this.#now() + ms;
    if (until > state.pausedUntil) {
      state.pausedUntil = until;
      this.stats.pauses++;
    }
  }

  /** Requests in flight for `key` (for tests and metrics). */
  inFlight(key: string): number {
    return this.#keys.get(key)?.inFlight ?? 0;
  }

  /** Requests waiting for `key` (for tests and metrics). */
  waiting(key: string): number {
    return this.#keys.get(key)?.queue.length ?? 0;
  }

  #now(): number {
    return this.#clock.now().getTime();
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (!state) {
      state = new KeyState();
      this.#keys.set(key, state);
    }
    return state;
  }

  /** Drops a pending wake-up and looks at the queue again (it may have a new head, or none). */
  #restart(key: string, state: KeyState): void {
    if (state.timer !== undefined) {
      this.#timers.clearTimeout(state.timer);
      state.timer = undefined;
    }
    this.#pump(key, state);
    this.#forgetIfIdle(key, state);
  }

  #forgetIfIdle(key: string, state: KeyState): void {
    const idle = state.inFlight === 0 && state.queue.length === 0 && state.timer === undefined;
    if (idle && state.spent.length === 0 && state.pausedUntil <= this.#now()) this.#keys.delete(key);
  }

  #pump(key: string, state: KeyState): void {
    if (state.timer !== undefined) return;
    const o = this.#options;
    while (state.queue.length > 0) {
      const now = this.#now();
      if (state.pausedUntil > now) return this.#wake(key, state, state.pausedUntil - now);
      const waiter = state.queue[0] as Waiter;
      if (o.concurrency > 0 && state.inFlight + waiter.slots > o.concurrency) return;
      if (o.budget > 0) {
        while (state.spent.length > 0 && (state.spent[0] as { at: number }).at <= now - o.windowMs) {
          state.spentTotal -= (state.spent.shift() as { cost: number }).cost;
        }
        if (state.spentTotal + waiter.cost > o.budget && state.spent.length > 0) {
          // Wait until enough of the window has slid past.
          let excess = state.spentTotal + waiter.cost - o.budget;
          let wakeAt = now + o.windowMs;
          for (const s of state.spent) {
            excess -= s.cost;
            if (excess <= 0) {
              wakeAt = s.at + o.windowMs;
              break;
            }
          }
          return this.#wake(key, state, Math.max(1, wakeAt - now));
        }
        state.spent.push({ at: now, cost: waiter.cost });
        state.spentTotal += waiter.cost;
      }
      state.queue.shift();
      state.inFlight += waiter.slots;
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        state.inFlight -= waiter.slots;
        this.#pump(key, state);
        this.#forgetIfIdle(key, state);
      });
    }
  }

  #wake(key: string, state: KeyState, ms: number): void {
    state.timer = this.#timers.setTimeout(() => {
      state.timer = undefined;
      this.#pump(key, state);
    }, ms);
  }
}
