import { describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock.ts';
import { LeaderElector } from './leader-elector.ts';
import type { LeaseRecord } from './leader-election.ts';
import type { LeaseSnapshot, LeaseStore } from './lease-store.ts';

/** An in-memory Lease with resourceVersion checks, like the apiserver's optimistic concurrency. */
class MemoryLeaseStore implements LeaseStore {
  readonly description = 'saasbackup-system/saasbackup-controller';
  snapshot: LeaseSnapshot | undefined;
  writes = 0;
  mode: 'ok' | 'failing' | 'hanging' = 'ok';
  #version = 0;

  async get(signal?: AbortSignal) {
    await this.#network(signal);
    return this.snapshot && structuredClone(this.snapshot);
  }

  async create(record: LeaseRecord, signal?: AbortSignal) {
    await this.#network(signal);
    if (this.snapshot) throw Object.assign(new Error('already exists'), { code: 409 });
    return this.#write(record);
  }

  async update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal) {
    await this.#network(signal);
    if (this.snapshot?.resourceVersion !== resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    return this.#write(record);
  }

  /** Another replica writing the lease directly. */
  overwrite(record: LeaseRecord) {
    this.#write(record);
  }

  #write(record: LeaseRecord): LeaseSnapshot {
    this.writes++;
    this.snapshot = { record: structuredClone(record), resourceVersion: String(++this.#version) };
    return structuredClone(this.snapshot);
  }

  #network(signal?: AbortSignal): Promise<void> {
    if (this.mode === 'failing') return Promise.reject(new Error('connect ECONNREFUSED'));
    if (this.mode === 'hanging') {
      return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }
    return Promise.resolve();
  }
}

function replica(identity: string, store: LeaseStore, clock: FakeClock) {
  const events: string[] = [];
  let leaderSignal: AbortSignal | undefined;
  const elector = new LeaderElector({
    store,
    identity,
    clock,
    timers: clock,
    random: () => 0,
    callbacks: {
      onStartedLeading: (signal) => {
        leaderSignal = signal;
        events.push('started');
      },
      onStoppedLeading: () => events.push('stopped'),
      onNewLeader: (holder) => events.push(`leader:${holder}`),
    },
  });
  const stop = new AbortController();
  let finished = false;
  const running = elector.run(stop.signal).then(() => (finished = true));
  return {
    elector,
    events,
    stop,
    running,
    get leaderSignal() {
      return leaderSignal;
    },
    get finished() {
      return finished;
    },
  };
}

describe('LeaderElector', () => {
  it('creates the lease, starts leading and renews every retry period', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events).toEqual(['leader:pod-a', 'started']);
    expect(a.leaderSignal?.aborted).toBe(false);
    expect(store.snapshot?.record).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 0, leaseDurationSeconds: 15 });

    const firstRenew = store.snapshot?.record.renewTime;
    await clock.advance(6_000);
    expect(store.writes).toBe(4);
    expect(store.snapshot?.record.renewTime).not.toBe(firstRenew);
    expect(store.snapshot?.record.acquireTime).toBe(firstRenew);
    expect(a.elector.isLeader).toBe(true);
  });

  it('stops leading at once when no renew succeeds within the renew deadline', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    // The apiserver stops answering: requests hang rather than fail.
    store.mode = 'hanging';
    await clock.advance(9_999);
    expect(a.elector.isLeader).toBe(true);
    await clock.advance(1);
    expect(a.elector.isLeader).toBe(false);
    expect(a.leaderSignal?.aborted).toBe(true);
    expect(a.events.at(-1)).toBe('stopped');
    await a.running;
    expect(a.finished).toBe(true);
  });

  it('keeps leading through failed renews shorter than the deadline', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    // Renews at 2, 4 and 6 s fail; the one at 8 s, before the 10 s deadline, succeeds.
    store.mode = 'failing';
    await clock.advance(7_000);
    store.mode = 'ok';
    await clock.advance(12_000);
    expect(a.elector.isLeader).toBe(true);
    expect(a.events).not.toContain('stopped');
  });

  it('stops leading when another replica has taken the lease', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    store.overwrite({ holderIdentity: 'pod-b', leaseDurationSeconds: 15, leaseTransitions: 1 });
    await clock.advance(2_000);
    expect(a.elector.isLeader).toBe(false);
    expect(a.events).toEqual(['leader:pod-a', 'started', 'leader:pod-b', 'stopped']);
    await a.running;
  });

  it('follows a live leader and takes over only after its lease expired', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    store.overwrite({ holderIdentity: 'pod-b', leaseDurationSeconds: 15, leaseTransitions: 3 });
    const a = replica('pod-a', store, clock);
    await clock.advance(14_500);
    expect(a.elector.isLeader).toBe(false);
    expect(a.events).toEqual(['leader:pod-b']);
    await clock.advance(2_000);
    expect(a.elector.isLeader).toBe(true);
    expect(store.snapshot?.record).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 4 });
  });

  it('releases the lease on shutdown so the standby takes over without waiting for expiry', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    const b = replica('pod-b', store, clock);
    await clock.advance(3_000);
    expect(b.elector.isLeader).toBe(false);

    a.stop.abort();
    await a.running;
    expect(a.events.at(-1)).toBe('stopped');
    expect(a.leaderSignal?.aborted).toBe(true);
    expect(store.snapshot?.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });

    // B retries every 2 s; the lease would have been valid for 15 s without the release.
    await clock.advance(2_000);
    expect(b.elector.isLeader).toBe(true);
    expect(store.snapshot?.record).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
    b.stop.abort();
    await b.running;
  });

  it('does not hang on shutdown when the release cannot reach the apiserver', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    await clock.advance(0);
    store.mode = 'hanging';
    a.stop.abort();
    await clock.advance(10_000);
    expect(a.finished).toBe(true);
    expect(a.events.at(-1)).toBe('stopped');
  });

  it('of two replicas racing for a new lease, exactly one leads', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore();
    const a = replica('pod-a', store, clock);
    const b = replica('pod-b', store, clock);
    await clock.advance(10_000);
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
  });

  it('rejects an empty identity and unsafe timings', () => {
    const store = new MemoryLeaseStore();
    const callbacks = { onStartedLeading: () => {}, onStoppedLeading: () => {} };
    expect(() => new LeaderElector({ store, identity: '', callbacks })).toThrow(/identity/);
    expect(() => new LeaderElector({ store, identity: 'a', callbacks, renewDeadlineMs: 20_000 })).toThrow(/leaseDuration/);
  });
});
