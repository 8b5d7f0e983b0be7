// Controller metrics. The controller records through the `ControllerMetrics` interface so that it
// does not depend on prom-client and tests can pass `noopControllerMetrics` or a fake.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How one reconcile ended, as recorded in `saasbackup_controller_reconcile_total{result}`. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'terminal';

export const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ['success', 'error', 'requeue', 'terminal'];

export interface ControllerMetrics {
  /** Creates the series of a controller at zero, so rates and alerts work before the first reconcile. */
  registerController(controller: string): void;
  observeReconcile(controller: string, outcome: ReconcileOutcome, durationSeconds: number): void;
  setQueueDepth(controller: string, depth: number): void;
}

export const noopControllerMetrics: ControllerMetrics = {
  registerController: () => {},
  observeReconcile: () => {},
  setQueueDepth: () => {},
};

// From milliseconds (a cache read) to minutes (a slow apiserver); longer work belongs in Jobs.
const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createControllerMetrics(registry: Registry): ControllerMetrics {
  const reconciles = new Counter({
    name: 'saasbackup_controller_reconcile_total',
    help: 'Reconciles by controller and result (success, error, requeue, terminal).',
    labelNames: ['controller', 'result'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'saasbackup_controller_reconcile_duration_seconds',
    help: 'Time one reconcile took, by controller.',
    labelNames: ['controller'] as const,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'saasbackup_controller_workqueue_depth',
    help: 'Keys waiting in the work queue of a controller.',
    labelNames: ['controller'] as const,
    registers: [registry],
  });

  return {
    registerController(controller) {
      for (const result of RECONCILE_OUTCOMES) reconciles.inc({ controller, result }, 0);
      depth.set({ controller }, 0);
    },
    observeReconcile(controller, outcome, durationSeconds) {
      reconciles.inc({ controller, result: outcome });
      duration.observe({ controller }, durationSeconds);
    },
    setQueueDepth(controller, value) {
      depth.set({ controller }, value);
    },
  };
}
