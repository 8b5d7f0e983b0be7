import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createControllerMetrics } from './metrics.ts';

describe('createControllerMetrics', () => {
  it('registers the controller series at zero and records reconciles and depth', async () => {
    const registry = new Registry();
    const metrics = createControllerMetrics(registry);
    metrics.registerController('backuppolicy');

    let text = await registry.metrics();
    expect(text).toContain('saasbackup_controller_reconcile_total{controller="backuppolicy",result="terminal"} 0');
    expect(text).toContain('saasbackup_controller_workqueue_depth{controller="backuppolicy"} 0');

    metrics.observeReconcile('backuppolicy', 'error', 0.2);
    metrics.observeReconcile('backuppolicy', 'success', 0.01);
    metrics.setQueueDepth('backuppolicy', 7);
    text = await registry.metrics();
    expect(text).toContain('saasbackup_controller_reconcile_total{controller="backuppolicy",result="error"} 1');
    expect(text).toContain('saasbackup_controller_reconcile_duration_seconds_count{controller="backuppolicy"} 2');
    expect(text).toContain('saasbackup_controller_workqueue_depth{controller="backuppolicy"} 7');
  });

  it('keeps its metrics in the registry it is given', async () => {
    createControllerMetrics(new Registry());
    const other = new Registry();
    createControllerMetrics(other);
    expect(other.getSingleMetric('saasbackup_controller_reconcile_total')).toBeDefined();
  });
});
