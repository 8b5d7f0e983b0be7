// The decisions of Lease-based leader election, as pure functions (client-go leaderelection's
// tryAcquireOrRenew without the I/O). The I/O loop is in leader-elector.ts.
//
// Like client-go, a foreign lease counts as expired by this replica's own clock: it must have
// seen the same record for leaseDurationSeconds, rather than trusting the holder's renewTime,
// so clock skew between nodes cannot make two replicas lead at once.
import { formatMicroTime } from './time-format.ts';

/** The fields of a coordination.k8s.io/v1 Lease spec that leader election uses. */
export interface LeaseRecord {
  /** '' when nobody holds the lease (never held, or released). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** MicroTime strings (`2026-11-22T02:13:38.123000Z`). */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

/** The last distinct record this replica saw, and when (by its own clock) it first saw it. */
export interface Observation {
  record: LeaseRecord;
  observedAt: Date;
}

export interface ElectionInput {
  identity: string;
  now: Date;
  /** The lease as read now; undefined when the Lease object does not exist. */
  current: LeaseRecord | undefined;
  previous: Observation | undefined;
  /** leaseDurationSeconds to write when this replica takes or renews the lease. */
  leaseDurationSeconds: number;
}

export type ElectionDecision =
  /** No Lease exists: create it holding it. */
  | { action: 'create'; record: LeaseRecord; observation: Observation }
  /** Take over an empty, released or expired lease. */
  | { action: 'acquire'; record: LeaseRecord; observation: Observation }
  /** This replica holds the lease: extend it. */
  | { action: 'renew'; record: LeaseRecord; observation: Observation }
  /** Someone else holds a valid lease: stay (or become) a follower. */
  | { action: 'follow'; holder: string; expiresAt: Date; observation: Observation };

export function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/** The observation after reading `current`: its clock restarts only when the record changed. */
export function observe(previous: Observation | undefined, current: LeaseRecord, now: Date): Observation {
  if (previous && sameRecord(previous.record, current)) return previous;
  return { record: current, observedAt: now };
}

export function decide(input: ElectionInput): ElectionDecision {
  const { identity, now, current, leaseDurationSeconds } = input;
  const nowMicro = formatMicroTime(now);
  if (!current) {
    const record: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: nowMicro,
      renewTime: nowMicro,
      leaseTransitions: 0,
    };
    return { action: 'create', record, observation: { record, observedAt: now } };
  }

  const observation = observe(input.previous, current, now);
  const holder = current.holderIdentity;
  const expiresAt = new Date(observation.observedAt.getTime() + current.leaseDurationSeconds * 1000);
  if (holder !== '' && holder !== identity && expiresAt.getTime() > now.getTime()) {
    return { action: 'follow', holder, expiresAt, observation };
  }

  if (holder === identity) {
    const record: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: current.acquireTime ?? nowMicro,
      renewTime: nowMicro,
      leaseTransitions: current.leaseTransitions,
    };
    return { action: 'renew', record, observation };
  }

  const record: LeaseRecord = {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: nowMicro,
    renewTime: nowMicro,
    leaseTransitions: current.leaseTransitions + 1,
  };
  return { action: 'acquire', record, observation };
}

/** A leader that has not renewed for renewDeadline must stop acting before its lease can expire. */
export function renewDeadlinePassed(lastRenewAt: Date, now: Date, renewDeadlineMs: number): boolean {
  return now.getTime() - lastRenewAt.getTime() >= renewDeadlineMs;
}

/**
 * The record a leader writes on clean shutdown (client-go ReleaseOnCancel): no holder and a
 * one-second duration, so a standby takes over at its next retry instead of waiting out the lease.
 */
export function releasedRecord(current: LeaseRecord, now: Date): LeaseRecord {
  const nowMicro = formatMicroTime(now);
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: nowMicro,
    renewTime: nowMicro,
    leaseTransitions: current.leaseTransitions,
  };
}

export interface LeaderElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const defaultLeaderElectionTimings: LeaderElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

// client-go's JitterFactor: retries are spread over [retryPeriod, 2.2 · retryPeriod].
export const RETRY_JITTER = 1.2;

/** The same checks as client-go: a leader must give up before its lease can run out. */
export function validateTimings(t: LeaderElectionTimings): void {
  if (t.leaseDurationMs <= t.renewDeadlineMs) {
    throw new Error('leaseDuration must be greater than renewDeadline');
  }
  if (t.renewDeadlineMs <= RETRY_JITTER * t.retryPeriodMs) {
    throw new Error(`renewDeadline must be greater than retryPeriod × ${RETRY_JITTER}`);
  }
  if (t.retryPeriodMs < 1 || t.leaseDurationMs % 1000 !== 0) {
    throw new Error('retryPeriod must be positive and leaseDuration a whole number of seconds');
  }
}
