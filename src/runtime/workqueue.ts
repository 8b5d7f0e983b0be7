// The work queue of a controller, with client-go workqueue semantics: keys are `namespace/name`,
// so many events about one object merge into one reconcile; a key is never handed to two workers
// at once (one added again while it is processed is re-queued when `done` is called); delayed adds
// serve "requeue after" and per-key backoff serves errors.
import { ItemExponentialBackoff } from './backoff.ts';
import { systemClock, type Clock } from './types.ts';
import { systemTimers, type TimerHandle, type Timers } from '../time/timers.ts';

export interface WorkQueueOptions {
  /** Backoff used by `addRateLimited`; defaults to 5 ms doubling up to 1000 s. */
  backoff?: ItemExponentialBackoff;
  clock?: Clock;
  timers?: Timers;
  /** Called with the new number of queued keys whenever it changes (the queue-depth gauge). */
  onDepthChange?: (depth: number) => void;
}

interface DelayedAdd {
  readyAtMs: number;
  timer: TimerHandle;
}

export class WorkQueue {
  readonly #backoff: ItemExponentialBackoff;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #onDepthChange: (depth: number) => void;

  /** Keys ready to be handed out, oldest first. */
  #queue: string[] = [];
  /** Keys that need processing: queued, or added again while being processed. */
  readonly #dirty = new Set<string>();
  /** Keys handed out by `get` and not yet `done`. */
  readonly #processing = new Set<string>();
  readonly #delayed = new Map<string, DelayedAdd>();
  #getters: ((key: string | undefined) => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#backoff = options.backoff ?? new ItemExponentialBackoff();
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#onDepthChange = options.onDepthChange ?? (() => {});
  }

  /** Number of keys waiting to be handed out (not those being processed or delayed). */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys currently handed out to workers. */
  get processing(): string[] {
    return [...this.#processing];
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Queues `key`. After shutdown the key is still recorded (nothing will hand it out), so that
   * the queue shows the work left undone, such as a reconcile cut short by the shutdown.
   */
  add(key: string): void {
    if (this.#dirty.has(key)) return;
    this.#dirty.add(key);
    // A key being processed waits for `done`, so it never runs concurrently with itself.
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /**
   * Adds `key` once `ms` have passed; if it is already waiting, the earlier deadline wins.
   * Ignored after shutdown: no timer should outlive the queue.
   */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const readyAtMs = this.#clock.now().getTime() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.readyAtMs <= readyAtMs) return;
    if (existing) this.#timers.clearTimeout(existing.timer);
    const timer = this.#timers.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { readyAtMs, timer });
  }

  /** Adds `key` after its per-key backoff, which grows with each call until `forget`. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.#backoff.when(key));
  }

  /** Resets the backoff of `key`; call it when the key reconciled without error. */
  forget(key: string): void {
    this.#backoff.forget(key);
  }

  /** How many times in a row `key` has been re-added by `addRateLimited`. */
  numRequeues(key: string): number {
    return this.#backoff.failures(key);
  }

  /**
   * Waits for the next key. Resolves `undefined` once the queue is shut down: a shut-down queue
   * hands out nothing more, and what is still queued is left for the next leader.
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#dequeue();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile it goes back to the end of the queue. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) this.#enqueue(key);
    if (this.#processing.size === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * Stops handing out keys and drops delayed adds; workers blocked in `get` receive `undefined`.
   * Queued keys stay queued (the next leader relists and reconciles everything anyway).
   */
  shutDown(): void {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      for (const { timer } of this.#delayed.values()) this.#timers.clearTimeout(timer);
      this.#delayed.clear();
    }
    const getters = this.#getters;
    this.#getters = [];
    for (const resolve of getters) resolve(undefined);
  }

  /** Like `shutDown`, then resolves once every key handed out has been marked `done`. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #enqueue(key: string): void {
    this.#queue.push(key);
    // Hand the key straight to a waiting worker if there is one.
    const getter = this.#shuttingDown ? undefined : this.#getters.shift();
    if (getter) {
      getter(this.#dequeue());
    } else {
      this.#onDepthChange(this.#queue.length);
    }
  }

  #dequeue(): string | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#dirty.delete(key);
    this.#processing.add(key);
    this.#onDepthChange(this.#queue.length);
    return key;
  }
}
