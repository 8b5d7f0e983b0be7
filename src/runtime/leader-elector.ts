// The I/O loop of leader election (client-go leaderelection.LeaderElector.Run): try to acquire
// the Lease every retryPeriod; once leading, renew it every retryPeriod; if no renew succeeds for
// renewDeadline, stop leading at once (the lease may soon be someone else's). On a clean stop,
// release the lease so a standby takes over without waiting for it to expire.
import { isConflict } from './api-errors.ts';
import {
  decide,
  defaultLeaderElectionTimings,
  releasedRecord,
  RETRY_JITTER,
  validateTimings,
  type LeaderElectionTimings,
  type Observation,
} from './leader-election.ts';
import type { LeaseSnapshot, LeaseStore } from './lease-store.ts';
import { silentLogger, type Logger } from './logger.ts';
import { sleep, systemTimers, type TimerHandle, type Timers } from '../time/timers.ts';
import { systemClock, type Clock } from './types.ts';

export interface LeaderCallbacks {
  /** This replica became leader; `signal` aborts the moment it stops being leader. */
  onStartedLeading(signal: AbortSignal): void;
  /** Leadership ended (lost, or released on shutdown). Controllers must already be stopping. */
  onStoppedLeading(): void;
  /** The holder of the lease changed (this replica included). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions extends Partial<LeaderElectionTimings> {
  store: LeaseStore;
  /** Unique per replica, usually the pod name. */
  identity: string;
  callbacks: LeaderCallbacks;
  /** Release the lease when `run`'s signal aborts (clean shutdown). Default true. */
  releaseOnCancel?: boolean;
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
  logger?: Logger;
}

type AttemptResult = 'leading' | 'following' | 'failed';

export class LeaderElector {
  readonly #store: LeaseStore;
  readonly #identity: string;
  readonly #callbacks: LeaderCallbacks;
  readonly #timings: LeaderElectionTimings;
  readonly #releaseOnCancel: boolean;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #logger: Logger;

  #observation: Observation | undefined;
  /** What this replica last wrote, for renewing and releasing with the right resourceVersion. */
  #lastWrite: LeaseSnapshot | undefined;
  #reportedLeader: string | undefined;
  #leading: AbortController | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #running = false;

  constructor(options: LeaderElectorOptions) {
    this.#timings = {
      leaseDurationMs: options.leaseDurationMs ?? defaultLeaderElectionTimings.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? defaultLeaderElectionTimings.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? defaultLeaderElectionTimings.retryPeriodMs,
    };
    validateTimings(this.#timings);
    if (options.identity === '') throw new Error('leader election identity must not be empty');
    this.#store = options.store;
    this.#identity = options.identity;
    this.#callbacks = options.callbacks;
    this.#releaseOnCancel = options.releaseOnCancel ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
  }

  get isLeader(): boolean {
    return this.#leading !== undefined;
  }

  /** The holder last seen on the lease, if any. */
  get leader(): string | undefined {
    return this.#reportedLeader;
  }

  /**
   * Campaigns until this replica leads, then keeps the lease until leadership is lost or `signal`
   * aborts (then the lease is released). Resolves when leadership has ended; a replica that lost
   * the lease should exit so that it restarts as a clean follower, as controller-runtime does.
   */
  async run(signal: AbortSignal = new AbortController().signal): Promise<void> {
    if (this.#running) throw new Error('leader elector is already running');
    this.#running = true;
    try {
      while (!signal.aborted) {
        if ((await this.#tryAcquireOrRenew(signal)) === 'leading') break;
        const jitteredMs = this.#timings.retryPeriodMs * (1 + this.#random() * RETRY_JITTER);
        await sleep(this.#timers, jitteredMs, signal);
      }
      if (signal.aborted) {
        // The lease may have been won just as the signal aborted; hand it back.
        if (this.#releaseOnCancel) await this.release();
        return;
      }
      const leadership = this.#startLeading();
      await this.#renewLoop(signal, leadership);
      if (signal.aborted && this.#leading === leadership) {
        if (this.#releaseOnCancel) await this.release();
        else this.#stopLeading('shutting down');
      }
    } finally {
      this.#running = false;
    }
  }

  /** Stops leading (if leading) and hands the lease over: no holder, one-second duration. */
  async release(): Promise<void> {
    if (this.#leading) this.#stopLeading('releasing the lease');
    const last = this.#lastWrite;
    if (!last || last.record.holderIdentity !== this.#identity) return;
    // Shutdown must not hang on an unreachable apiserver; the lease then simply expires.
    const timeout = new AbortController();
    const timer = this.#timers.setTimeout(() => timeout.abort(), this.#timings.renewDeadlineMs);
    try {
      const now = this.#clock.now();
      const released = releasedRecord(last.record, now);
      this.#lastWrite = await this.#store.update(released, last.resourceVersion, timeout.signal);
      this.#observation = { record: this.#lastWrite.record, observedAt: now };
      this.#logger.info({ lease: this.#store.description, identity: this.#identity }, 'released leader lease');
    } catch (err) {
      // 409: someone changed the lease since our last renew, so it is no longer ours to release.
      const level = isConflict(err) ? 'info' : 'warn';
      this.#logger[level]({ lease: this.#store.description, err }, 'could not release leader lease');
    } finally {
      this.#timers.clearTimeout(timer);
    }
  }

  async #renewLoop(signal: AbortSignal, leadership: AbortController): Promise<void> {
    const stopped = AbortSignal.any([signal, leadership.signal]);
    while (!stopped.aborted) {
      await sleep(this.#timers, this.#timings.retryPeriodMs, stopped);
      if (stopped.aborted) return;
      const result = await this.#tryAcquireOrRenew(stopped);
      if (this.#leading !== leadership) return;
      if (result === 'leading') {
        this.#armRenewDeadline();
      } else if (result === 'following') {
        this.#stopLeading(`lease is now held by ${this.#reportedLeader ?? 'another replica'}`);
      }
      // 'failed': keep trying until the renew deadline timer ends leadership.
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<AttemptResult> {
    try {
      const snapshot = await this.#store.get(signal);
      const now = this.#clock.now();
      const decision = decide({
        identity: this.#identity,
        now,
        current: snapshot?.record,
        previous: this.#observation,
        leaseDurationSeconds: this.#timings.leaseDurationMs / 1000,
      });
      this.#observation = decision.observation;
      this.#reportLeader(decision.observation.record.holderIdentity);
      if (decision.action === 'follow') return 'following';

      const written =
        decision.action === 'create' || !snapshot
          ? await this.#store.create(decision.record, signal)
          : await this.#store.update(decision.record, snapshot.resourceVersion, signal);
      this.#lastWrite = written;
      this.#observation = { record: written.record, observedAt: now };
      this.#reportLeader(this.#identity);
      return 'leading';
    } catch (err) {
      if (signal.aborted) return 'failed';
      // 409 means another replica wrote the lease between our read and write: it won this round.
      const level = isConflict(err) ? 'debug' : 'warn';
      this.#logger[level]({ lease: this.#store.description, err }, 'could not acquire or renew leader lease');
      return 'failed';
    }
  }

  #startLeading(): AbortController {
    const leadership = new AbortController();
    this.#leading = leadership;
    this.#armRenewDeadline();
    this.#logger.info({ lease: this.#store.description, identity: this.#identity }, 'became leader');
    this.#notify(() => this.#callbacks.onStartedLeading(leadership.signal));
    return leadership;
  }

  #armRenewDeadline(): void {
    if (this.#deadlineTimer !== undefined) this.#timers.clearTimeout(this.#deadlineTimer);
    // A timer rather than a check after each attempt: a renew request that hangs must not keep
    // this replica acting as leader past the deadline.
    this.#deadlineTimer = this.#timers.setTimeout(
      () => this.#stopLeading(`no successful renew within ${this.#timings.renewDeadlineMs} ms`),
      this.#timings.renewDeadlineMs,
    );
  }

  #stopLeading(reason: string): void {
    const leadership = this.#leading;
    if (!leadership) return;
    this.#leading = undefined;
    if (this.#deadlineTimer !== undefined) this.#timers.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#logger.warn({ lease: this.#store.description, identity: this.#identity, reason }, 'stopped leading');
    leadership.abort(new Error(`leadership lost: ${reason}`));
    this.#notify(() => this.#callbacks.onStoppedLeading());
  }

  #reportLeader(holder: string): void {
    if (holder === '' || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#notify(() => this.#callbacks.onNewLeader?.(holder));
  }

  /** Callbacks run from timers too; one that throws must not crash the process or the loop. */
  #notify(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.#logger.error({ lease: this.#store.description, err }, 'leader election callback threw');
    }
  }
}
