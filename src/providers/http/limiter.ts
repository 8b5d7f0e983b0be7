// Pacing requests to a SaaS API per key (a mailbox, a tenant): at most `concurrency` in flight,
// at most `budget` units spent in any `windowMs`, and a pause when the service says to slow down.
// Waiters are served first come, first served, so one busy account cannot starve the others'
// turns within its key, and keys are independent: a tenant's throughput grows with its number of
// mailboxes, not with one mailbox's quota.

export interface LimitOptions {
  /** Requests in flight per key; 0 means unlimited. */
  concurrency: number;
  /** Units per window per key; 0 means unlimited. */
  budget: number;
  windowMs: number;
}

interface Waiter {
  cost: number;
  slots: number;
  resolve: (release: () => void) => void;
}

class KeyState {
  inFlight = 0;
  spent: { at: number; cost: number }[] = [];
  spentTotal = 0;
  pausedUntil = 0;
  queue: Waiter[] = [];
  timer: NodeJS.Timeout | undefined;
}

export interface LimiterStats {
  /** Time requests spent waiting for a slot or budget, milliseconds (summed). */
  waitedMs: number;
  pauses: number;
}

export class KeyedLimiter {
  private readonly options: LimitOptions;
  private readonly keys = new Map<string, KeyState>();
  private readonly now: () => number;
  readonly stats: LimiterStats = { waitedMs: 0, pauses: 0 };

  constructor(options: LimitOptions, now: () => number = Date.now) {
    this.options = options;
    this.now = now;
  }

  /**
   * Waits for `slots` of the key's concurrency (a batch whose parts run side by side at the
   * service takes several; capped at the concurrency) and `cost` units of its budget; the
   * returned function frees the slots.
   */
  acquire(key: string, cost = 1, slots = 1): Promise<() => void> {
    const state = this.state(key);
    const started = this.now();
    return new Promise((resolve) => {
      state.queue.push({
        cost,
        slots: Math.max(1, this.options.concurrency > 0 ? Math.min(slots, this.options.concurrency) : slots),
        resolve: (release) => {
          this.stats.waitedMs += this.now() - started;
          resolve(release);
        },
      });
      this.pump(key, state);
    });
  }

  /** Holds every request of `key` back for `ms` (after a 429 with Retry-After). */
  pause(key: string, ms: number): void {
    const state = this.state(key);
    const until = this.now() + ms;
    if (until > state.pausedUntil) {
      state.pausedUntil = until;
      this.stats.pauses++;
    }
  }

  /** Requests in flight for `key` (for tests and metrics). */
  inFlight(key: string): number {
    return this.keys.get(key)?.inFlight ?? 0;
  }

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = new KeyState();
      this.keys.set(key, state);
    }
    return state;
  }

  private pump(key: string, state: KeyState): void {
    if (state.timer) return;
    const o = this.options;
    while (state.queue.length > 0) {
      const now = this.now();
      if (state.pausedUntil > now) return this.wake(key, state, state.pausedUntil - now);
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
          return this.wake(key, state, Math.max(1, wakeAt - now));
        }
        state.spent.push({ at: now, cost: waiter.cost });
        state.spentTotal += waiter.cost;
      }
      state.queue.shift();
      state.inFlight += waiter.slots;
      let released = false;
      waiter.resolve(() => {
        if (released) return;
        released = true;
        state.inFlight -= waiter.slots;
        this.pump(key, state);
        if (state.inFlight === 0 && state.queue.length === 0 && !state.timer && state.spent.length === 0) this.keys.delete(key);
      });
    }
  }

  private wake(key: string, state: KeyState, ms: number): void {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      this.pump(key, state);
    }, ms);
  }
}
