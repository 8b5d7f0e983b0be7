import { describe, expect, it } from 'vitest';
import { ItemExponentialBackoff } from './backoff.ts';
import { Controller } from './controller.ts';
import { FakeClock, flushPromises } from './fake-clock.ts';
import type { ControllerMetrics, ReconcileOutcome } from './metrics.ts';
import { TerminalError, type ObjectKey, type ReconcileResult, type Reconciler } from './types.ts';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class RecordingMetrics implements ControllerMetrics {
  outcomes: ReconcileOutcome[] = [];
  depths: number[] = [];
  registered: string[] = [];
  registerController(controller: string) {
    this.registered.push(controller);
  }
  observeReconcile(_controller: string, outcome: ReconcileOutcome) {
    this.outcomes.push(outcome);
  }
  setQueueDepth(_controller: string, depth: number) {
    this.depths.push(depth);
  }
}

type Step = (key: ObjectKey, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** A reconciler whose behaviour is given per call; it tracks what runs concurrently. */
class ScriptedReconciler implements Reconciler {
  readonly name = 'test';
  calls: string[] = [];
  inFlight = new Set<string>();
  maxInFlight = 0;
  overlappedItself = false;
  readonly step: Step;
  constructor(step: Step = async () => {}) {
    this.step = step;
  }
  async reconcile(key: ObjectKey, signal: AbortSignal): Promise<ReconcileResult | void> {
    const k = `${key.namespace}/${key.name}`;
    if (this.inFlight.has(k)) this.overlappedItself = true;
    this.inFlight.add(k);
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight.size);
    this.calls.push(k);
    try {
      return await this.step(key, signal);
    } finally {
      this.inFlight.delete(k);
    }
  }
}

function setup(reconciler: Reconciler, maxConcurrentReconciles = 1) {
  const clock = new FakeClock();
  const metrics = new RecordingMetrics();
  const controller = new Controller({
    reconciler,
    maxConcurrentReconciles,
    clock,
    timers: clock,
    metrics,
    backoff: new ItemExponentialBackoff({ baseMs: 100, maxMs: 10_000 }),
  });
  return { clock, metrics, controller };
}

describe('Controller', () => {
  it('reconciles queued keys and forgets them on success', async () => {
    const reconciler = new ScriptedReconciler();
    const { controller, metrics } = setup(reconciler);
    controller.start();
    controller.enqueue({ namespace: 'ns', name: 'a' });
    controller.enqueue('ns/b');
    await flushPromises();
    expect(reconciler.calls).toEqual(['ns/a', 'ns/b']);
    expect(metrics.outcomes).toEqual(['success', 'success']);
    expect(metrics.registered).toEqual(['test']);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
  });

  it('queues work on a standby but reports queue depth only once started (no alert on standbys)', async () => {
    const reconciler = new ScriptedReconciler();
    const { controller, metrics } = setup(reconciler);
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    expect(controller.queue.length).toBe(2);
    expect(metrics.depths).toEqual([]);
    controller.start();
    await flushPromises();
    expect(reconciler.calls).toEqual(['ns/a', 'ns/b']);
    expect(metrics.depths.length).toBeGreaterThan(0);
    expect(metrics.depths.at(-1)).toBe(0);
  });

  it('retries a failing key with growing backoff, then forgets it once it succeeds', async () => {
    let failuresLeft = 2;
    const reconciler = new ScriptedReconciler(async () => {
      if (failuresLeft-- > 0) throw new Error('apiserver unavailable');
    });
    const { controller, clock, metrics } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    await flushPromises();
    expect(reconciler.calls).toHaveLength(1);
    expect(controller.queue.numRequeues('ns/a')).toBe(1);

    await clock.advance(99);
    expect(reconciler.calls).toHaveLength(1);
    await clock.advance(1);
    expect(reconciler.calls).toHaveLength(2);

    await clock.advance(199);
    expect(reconciler.calls).toHaveLength(2);
    await clock.advance(1);
    expect(reconciler.calls).toHaveLength(3);
    expect(metrics.outcomes).toEqual(['error', 'error', 'success']);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not retry a terminal error', async () => {
    const reconciler = new ScriptedReconciler(async () => {
      throw new TerminalError('spec.schedule is not a cron expression');
    });
    const { controller, clock, metrics } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    await clock.advance(60_000);
    expect(reconciler.calls).toEqual(['ns/a']);
    expect(metrics.outcomes).toEqual(['terminal']);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('requeues after the requested time', async () => {
    const reconciler = new ScriptedReconciler(async () => ({ requeueAfterMs: 5_000 }));
    const { controller, clock, metrics } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    await flushPromises();
    await clock.advance(4_999);
    expect(reconciler.calls).toHaveLength(1);
    await clock.advance(1);
    expect(reconciler.calls).toHaveLength(2);
    expect(metrics.outcomes).toEqual(['requeue', 'requeue']);
  });

  it('runs at most N reconciles at once', async () => {
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const reconciler = new ScriptedReconciler(async (key) => {
      const gate = deferred();
      gates.set(key.name, gate);
      await gate.promise;
    });
    const { controller } = setup(reconciler, 2);
    controller.start();
    for (const name of ['a', 'b', 'c', 'd', 'e']) controller.enqueue(`ns/${name}`);
    await flushPromises();
    expect(reconciler.inFlight.size).toBe(2);
    expect(controller.queue.length).toBe(3);

    // Open the gates of whatever is running until every key has been reconciled.
    for (let round = 0; round < 10 && (reconciler.calls.length < 5 || reconciler.inFlight.size > 0); round++) {
      for (const gate of gates.values()) gate.resolve();
      await flushPromises();
      expect(reconciler.inFlight.size).toBeLessThanOrEqual(2);
    }
    expect(reconciler.calls.sort()).toEqual(['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/e']);
    expect(reconciler.maxInFlight).toBe(2);
  });

  it('never reconciles one key twice at once; an event during a reconcile runs it again after', async () => {
    const gate = deferred();
    let first = true;
    const reconciler = new ScriptedReconciler(async () => {
      if (first) {
        first = false;
        await gate.promise;
      }
    });
    const { controller } = setup(reconciler, 4);
    controller.start();
    controller.enqueue('ns/a');
    await flushPromises();
    controller.enqueue('ns/a');
    controller.enqueue('ns/a');
    await flushPromises();
    expect(reconciler.calls).toEqual(['ns/a']);
    gate.resolve();
    await flushPromises();
    expect(reconciler.calls).toEqual(['ns/a', 'ns/a']);
    expect(reconciler.overlappedItself).toBe(false);
  });

  it('shutDown lets running reconciles finish and starts no new ones', async () => {
    const gate = deferred();
    const reconciler = new ScriptedReconciler(async () => gate.promise);
    const { controller, metrics } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    await flushPromises();

    const shutdown = controller.shutDown(30_000);
    await flushPromises();
    expect(controller.signal.aborted).toBe(false);
    gate.resolve();
    expect(await shutdown).toEqual({ unfinished: [] });
    await controller.done();
    expect(reconciler.calls).toEqual(['ns/a']);
    expect(metrics.outcomes).toEqual(['success']);
    expect(controller.queue.length).toBe(1);
  });

  it('shutDown aborts reconciles still running when the grace period ends', async () => {
    const reconciler = new ScriptedReconciler(
      (_key, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    const { controller, clock } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    await flushPromises();

    const shutdown = controller.shutDown(10_000);
    await clock.advance(10_000);
    expect(await shutdown).toEqual({ unfinished: ['ns/a'] });
    expect(controller.signal.aborted).toBe(true);
    await controller.done();
    // The aborted reconcile did not finish its work, so its key stays queued.
    expect(controller.queue.length).toBe(1);
    expect(controller.queue.processing).toEqual([]);
  });

  it('stop aborts the reconcile signal at once (leadership lost)', async () => {
    let seen: AbortSignal | undefined;
    const reconciler = new ScriptedReconciler(
      (_key, signal) =>
        new Promise((_resolve, reject) => {
          seen = signal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    const { controller } = setup(reconciler);
    controller.start();
    controller.enqueue('ns/a');
    await flushPromises();
    expect(seen?.aborted).toBe(false);
    controller.stop('leader election lost');
    expect(seen?.aborted).toBe(true);
    await controller.done();
    controller.enqueue('ns/b');
    await flushPromises();
    expect(reconciler.calls).toEqual(['ns/a']);
  });

  it('rejects malformed keys where they are enqueued', () => {
    const { controller } = setup(new ScriptedReconciler());
    expect(() => controller.enqueue('no-namespace')).toThrow(/namespace\/name/);
  });
});
