// Runs one reconciler over its work queue with at most N reconciles in flight, the way
// controller-runtime's controller does: success forgets the key's backoff (and honours
// "requeue after"), a TerminalError is logged and not retried, any other error backs off.
import type { ItemExponentialBackoff } from './backoff.ts';
import { silentLogger, type Logger } from './logger.ts';
import { noopControllerMetrics, type ControllerMetrics, type ReconcileOutcome } from './metrics.ts';
import { sleep, systemTimers, type Timers } from '../time/timers.ts';
import { keyFromString, keyToString, systemClock, TerminalError, type Clock, type ObjectKey, type Reconciler } from './types.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  reconciler: Reconciler;
  /** Reconciles in flight at most (distinct keys; one key never runs twice at once). Default 1. */
  maxConcurrentReconciles?: number;
  backoff?: ItemExponentialBackoff;
  metrics?: ControllerMetrics;
  logger?: Logger;
  clock?: Clock;
  timers?: Timers;
}

export interface ShutdownReport {
  /** Keys whose reconcile was still running when the grace period ended (and was then aborted). */
  unfinished: string[];
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #reconciler: Reconciler;
  readonly #concurrency: number;
  readonly #metrics: ControllerMetrics;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #timers: Timers;
  /** Aborted when the controller stops, so reconciles can cancel their API calls. */
  readonly #abort = new AbortController();
  #workers: Promise<void>[] | undefined;

  constructor(options: ControllerOptions) {
    const concurrency = options.maxConcurrentReconciles ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`maxConcurrentReconciles must be a positive integer, got ${concurrency}`);
    }
    this.#reconciler = options.reconciler;
    this.name = options.reconciler.name;
    this.#concurrency = concurrency;
    this.#metrics = options.metrics ?? noopControllerMetrics;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.queue = new WorkQueue({
      backoff: options.backoff,
      clock: this.#clock,
      timers: this.#timers,
      // A standby fills its queue from the informers so it can take over warm, but nothing drains
      // it until it leads: report the depth only while started, or a depth alert fires on standbys.
      onDepthChange: (depth) => {
        if (this.#workers) this.#metrics.setQueueDepth(this.name, depth);
      },
    });
    this.#metrics.registerController(this.name);
  }

  /** Aborted once the controller is stopped or its shutdown grace period has run out. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Queues a reconcile of `key` (an ObjectKey or `namespace/name`); used by informer handlers. */
  enqueue(key: ObjectKey | string): void {
    this.queue.add(normalizeKey(key));
  }

  enqueueAfter(key: ObjectKey | string, ms: number): void {
    this.queue.addAfter(normalizeKey(key), ms);
  }

  /** Starts the workers. A controller runs once: after stop or shutdown, build a new one. */
  start(): void {
    if (this.#workers) throw new Error(`controller ${this.name} was already started`);
    if (this.#abort.signal.aborted) throw new Error(`controller ${this.name} was stopped`);
    this.#workers = Array.from({ length: this.#concurrency }, () => this.#work());
    this.#metrics.setQueueDepth(this.name, this.queue.length);
    this.#logger.info({ controller: this.name, workers: this.#concurrency }, 'controller started');
  }

  /**
   * Stops at once (leadership lost: another replica may already be acting): no new work, and the
   * signal of running reconciles is aborted. Use `done()` to wait for them to return.
   */
  stop(reason = 'stopped'): void {
    this.queue.shutDown();
    if (!this.#abort.signal.aborted) {
      this.#logger.info({ controller: this.name, reason }, 'controller stopping');
      this.#abort.abort(new Error(`controller ${this.name} ${reason}`));
    }
  }

  /**
   * Graceful stop (SIGTERM): takes no new work and lets running reconciles finish for up to
   * `graceMs`; then aborts the rest. Keys still queued are left for the next leader, which
   * relists everything anyway.
   */
  async shutDown(graceMs: number): Promise<ShutdownReport> {
    const graceTimer = new AbortController();
    const drained = this.queue.shutDownWithDrain();
    await Promise.race([drained, sleep(this.#timers, graceMs, graceTimer.signal)]);
    graceTimer.abort();
    const unfinished = this.queue.processing;
    if (unfinished.length > 0) {
      this.#logger.warn({ controller: this.name, unfinished }, 'shutdown grace period over; aborting reconciles');
    }
    this.stop('shut down');
    return { unfinished };
  }

  /** Resolves when every worker has returned (after stop or shutdown). */
  async done(): Promise<void> {
    await Promise.all(this.#workers ?? []);
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.#reconcileKey(key);
    }
  }

  async #reconcileKey(key: string): Promise<void> {
    const started = this.#clock.now().getTime();
    const outcome = await this.#runReconcile(key);
    this.queue.done(key);
    const seconds = Math.max(0, this.#clock.now().getTime() - started) / 1000;
    this.#metrics.observeReconcile(this.name, outcome, seconds);
    this.#logger.debug({ controller: this.name, key, outcome, seconds }, 'reconciled');
  }

  async #runReconcile(key: string): Promise<ReconcileOutcome> {
    const log = { controller: this.name, key };
    try {
      const result = await this.#reconciler.reconcile(parseQueuedKey(key), this.#abort.signal);
      this.queue.forget(key);
      const requeueAfterMs = result?.requeueAfterMs;
      if (requeueAfterMs === undefined) return 'success';
      this.queue.addAfter(key, requeueAfterMs);
      return 'requeue';
    } catch (err) {
      if (err instanceof TerminalError) {
        // Retrying cannot help; the next change to the object queues it again.
        this.queue.forget(key);
        this.#logger.error({ ...log, err }, 'reconcile failed with a terminal error; not retrying');
        return 'terminal';
      }
      if (this.#abort.signal.aborted) {
        // Cut short by stop or shutdown: the work is not done, so the key stays queued.
        this.queue.add(key);
        this.#logger.warn({ ...log, err }, 'reconcile aborted by controller stop; left queued');
        return 'error';
      }
      this.queue.addRateLimited(key);
      this.#logger.error({ ...log, err, retries: this.queue.numRequeues(key) }, 'reconcile failed; retrying with backoff');
      return 'error';
    }
  }
}

/** A malformed key can never reconcile, so it is a terminal error rather than endless retries. */
function parseQueuedKey(key: string): ObjectKey {
  try {
    return keyFromString(key);
  } catch (err) {
    throw new TerminalError((err as Error).message);
  }
}

function normalizeKey(key: ObjectKey | string): string {
  // Parsing validates the shape here, where the caller is, rather than inside a worker.
  return typeof key === 'string' ? keyToString(keyFromString(key)) : keyToString(key);
}
