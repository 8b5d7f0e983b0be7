// The controller process as an SRE runs it: probes, metrics, JSON logs, SIGTERM, and no secret
// value in logs or Events.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ControllerProcess } from '../support/controller-process.ts';
import { API_VERSION, apply, eventually, get } from '../support/kube.ts';
import {
  ApiserverGate,
  controllerSuite,
  FAST_LEASE,
  LEASE_NAMESPACE,
  condition,
  connectorManifest,
  createConnectorWithSecret,
  kubeconfigWithServer,
  listEvents,
  metricValue,
  readLease,
  samplesOf,
  scrape,
  secretManifest,
  waitForConnectorReady,
  waitForHolder,
} from './support.ts';

const CONTROLLERS = ['connector', 'backuppolicy', 'backuprun', 'restorerequest', 'objectexclusion'];
const RESOURCES = ['connectors', 'backuppolicies', 'backupruns', 'restorerequests', 'objectexclusions'];
const RESULTS = ['success', 'error', 'requeue', 'terminal'];
const LEVELS = ['debug', 'info', 'warn', 'error'];

describe('the controller process', () => {
  const suite = controllerSuite('controller-process');
  const { admin, fleet } = suite;
  let kubeconfigPath: string;
  let namespace: string;

  beforeAll(() => {
    kubeconfigPath = suite.kubeconfigPath();
    namespace = suite.namespace();
  });

  /** Starts one replica on a Lease of its own; `stdout` collects every raw stdout line. */
  function startController(kubeconfig = kubeconfigPath): {
    controller: ControllerProcess;
    identity: string;
    leaseName: string;
    stdout: string[];
  } {
    const leaseName = suite.newLease('process');
    const identity = `${leaseName}-a`;
    const controller = fleet.start({ kubeconfigPath: kubeconfig, identity, leaseNamespace: LEASE_NAMESPACE, leaseName, ...FAST_LEASE });
    const stdout: string[] = [];
    createInterface({ input: controller.child.stdout! }).on('line', (line) => stdout.push(line));
    return { controller, identity, leaseName, stdout };
  }

  async function startLeader(): Promise<ReturnType<typeof startController>> {
    const started = startController();
    await waitForHolder(admin, started.leaseName, started.identity, 60_000);
    await started.controller.waitForLog((l) => l.msg === 'became leader; reconciling');
    return started;
  }

  it('serves /healthz at once, and /readyz only once every cache has synced', async () => {
    // The controller reaches the apiserver through a gate that holds its connections: it is
    // alive but can list nothing until the gate opens.
    const gate = await ApiserverGate.start(inject('apiserverUrl'));
    try {
      const { controller, leaseName } = startController(kubeconfigWithServer(kubeconfigPath, gate.url));
      expect(await controller.get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
      await eventually(async () => gate.waiting > 0, { what: 'the controller to call the apiserver' });

      const notReady = await controller.get('/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.body).toMatch(/^waiting for caches: /);
      for (const resource of RESOURCES) expect(notReady.body).toContain(resource);
      const before = await scrape(controller);
      for (const resource of RESOURCES) expect(metricValue(before, 'saasbackup_controller_cache_synced', { resource })).toBe(0);
      expect(metricValue(before, 'saasbackup_controller_leader')).toBe(0);
      // Every controller's series exist from the start, at zero, so rates and alerts work.
      for (const controllerName of CONTROLLERS) {
        for (const result of RESULTS) {
          expect(
            metricValue(before, 'saasbackup_controller_reconcile_total', { controller: controllerName, result }),
            `${controllerName} ${result}`,
          ).toBe(0);
        }
        expect(metricValue(before, 'saasbackup_controller_workqueue_depth', { controller: controllerName })).toBe(0);
      }
      // It does not campaign for leadership with incomplete caches.
      expect(await readLease(admin, leaseName)).toBeUndefined();
      expect(await controller.get('/healthz')).toEqual({ status: 200, body: 'ok\n' });

      gate.open();
      await eventually(async () => ((await controller.get('/readyz')).status === 200 ? true : undefined), { what: '/readyz 200' });
      await controller.waitForLog((l) => l.msg === 'became leader; reconciling');
      expect(await controller.get('/readyz')).toEqual({ status: 200, body: 'ok (leader)\n' });
      const after = await scrape(controller);
      for (const resource of RESOURCES) expect(metricValue(after, 'saasbackup_controller_cache_synced', { resource })).toBe(1);
      expect(await controller.get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    } finally {
      await fleet.stopAll();
      await gate.close();
    }
  });

  it('exits 0 on SIGTERM while it still cannot reach the apiserver', async () => {
    const gate = await ApiserverGate.start(inject('apiserverUrl'));
    try {
      const { controller } = startController(kubeconfigWithServer(kubeconfigPath, gate.url));
      await controller.port();
      await eventually(async () => gate.waiting > 0, { what: 'the controller to call the apiserver' });
      expect((await controller.get('/readyz')).status).toBe(503);

      const terminatedAt = Date.now();
      const exit = await controller.stop('SIGTERM');
      const exitMs = Date.now() - terminatedAt;
      console.log(`[process] exited ${exitMs} ms after SIGTERM with the apiserver unreachable`);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(exitMs).toBeLessThan(5_000);
      expect(controller.logs.at(-1)?.msg).toBe('stopped');
    } finally {
      await fleet.stopAll();
      await gate.close();
    }
  });

  it('exposes reconcile, work queue, leader, cache and process metrics on /metrics', async () => {
    const { controller } = await startLeader();
    await createConnectorWithSecret(admin, namespace, 'metrics');
    await waitForConnectorReady(admin, namespace, 'metrics');
    await eventually(
      async () =>
        (metricValue(await scrape(controller), 'saasbackup_controller_reconcile_total', { controller: 'connector', result: 'success' }) ??
          0) >= 1,
      { what: 'reconcile_total{controller="connector",result="success"} >= 1' },
    );

    const response = await fetch(`http://127.0.0.1:${await controller.port()}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = await scrape(controller);

    for (const controllerName of CONTROLLERS) {
      for (const result of RESULTS) {
        expect(
          metricValue(samples, 'saasbackup_controller_reconcile_total', { controller: controllerName, result }),
          `${controllerName} ${result}`,
        ).toBeGreaterThanOrEqual(0);
      }
      expect(metricValue(samples, 'saasbackup_controller_workqueue_depth', { controller: controllerName })).toBeGreaterThanOrEqual(0);
    }
    const buckets = samplesOf(samples, 'saasbackup_controller_reconcile_duration_seconds_bucket', { controller: 'connector' });
    expect(buckets.length).toBeGreaterThan(1);
    const counts = buckets.map((b) => b.value);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
    const reconciles = metricValue(samples, 'saasbackup_controller_reconcile_duration_seconds_count', { controller: 'connector' }) ?? 0;
    expect(reconciles).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'saasbackup_controller_reconcile_duration_seconds_bucket', { controller: 'connector', le: '+Inf' })).toBe(
      reconciles,
    );
    expect(metricValue(samples, 'saasbackup_controller_leader')).toBe(1);
    for (const resource of RESOURCES) expect(metricValue(samples, 'saasbackup_controller_cache_synced', { resource })).toBe(1);
    expect(metricValue(samples, 'saasbackup_controller_process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024);
    expect(metricValue(samples, 'saasbackup_controller_process_start_time_seconds')).toBeGreaterThan(0);
  });

  it('logs JSON lines, and on SIGTERM releases its lease, logs "stopped" and exits 0 within seconds', async () => {
    const startedAt = Date.now();
    const { controller, leaseName, stdout } = await startLeader();
    await createConnectorWithSecret(admin, namespace, 'sigterm');
    await waitForConnectorReady(admin, namespace, 'sigterm');

    const terminatedAt = Date.now();
    const exit = await controller.stop('SIGTERM');
    const exitMs = Date.now() - terminatedAt;
    console.log(`[process] exited ${exitMs} ms after SIGTERM`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(5_000);

    const lines = stdout.filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(10);
    for (const text of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`stdout line is not JSON: ${text}`);
      }
      expect(LEVELS, text).toContain(line['level']);
      expect(typeof line['msg'] === 'string' && line['msg'] !== '', text).toBe(true);
      const time = Date.parse(String(line['time']));
      expect(time, text).toBeGreaterThanOrEqual(startedAt - 1_000);
      expect(time, text).toBeLessThanOrEqual(Date.now());
      expect(line['component'], text).toBe('controller');
    }
    const messages = controller.logs.map((l) => l.msg);
    expect(controller.logs).toContainEqual(expect.objectContaining({ msg: 'received signal', signal: 'SIGTERM' }));
    expect(messages).toContain('released leader lease');
    expect(messages.at(-1)).toBe('stopped');
    const lease = await readLease(admin, leaseName);
    expect(lease?.spec?.holderIdentity ?? '').toBe('');
    expect(lease?.spec?.leaseDurationSeconds).toBe(1);
  });

  it('never writes a secret value to its logs or to Events', async () => {
    const canary = `sb-canary-${randomBytes(16).toString('hex')}`;
    const { controller, stdout } = await startLeader();
    await apply(admin, secretManifest('canary-app', namespace, { 'client-secret': canary, 'other-key': canary }));
    // Ready; a key the Secret lacks; a Secret that does not exist (Warnings with messages).
    await apply(admin, connectorManifest('canary', namespace, 'canary-app'));
    await apply(admin, connectorManifest('canary-wrong-key', namespace, 'canary-app', 'missing-key'));
    await apply(admin, connectorManifest('canary-no-secret', namespace, 'canary-missing'));
    await waitForConnectorReady(admin, namespace, 'canary');
    for (const name of ['canary-wrong-key', 'canary-no-secret']) {
      await eventually(
        async () => {
          const ready = await condition(admin, namespace, name);
          return ready?.status === 'False' && ready.reason === 'SecretNotFound' ? ready : undefined;
        },
        { what: `Connector ${name} Ready=False SecretNotFound` },
      );
    }
    const events = await eventually(
      async () => {
        const found = (await listEvents(admin, namespace)).filter((e) => e.involvedObject.name.startsWith('canary'));
        return found.filter((e) => e.reason === 'SecretNotFound').length >= 2 && found.some((e) => e.reason === 'Ready')
          ? found
          : undefined;
      },
      { what: 'Events Ready and SecretNotFound on the canary Connectors' },
    );
    // SIGTERM, so that every line the process would write has been written.
    expect(await controller.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const encoded = Buffer.from(canary).toString('base64');
    const forbidden = [canary, encoded, encoded.replace(/=+$/, '')];
    const output = [...stdout, ...controller.stderr];
    // The reconciles did happen and were logged.
    expect(output.some((line) => line.includes('canary-wrong-key'))).toBe(true);
    for (const value of forbidden) {
      expect(output.filter((line) => line.includes(value))).toEqual([]);
      expect(events.filter((e) => JSON.stringify(e).includes(value))).toEqual([]);
      for (const name of ['canary', 'canary-wrong-key', 'canary-no-secret']) {
        expect(JSON.stringify(await get(admin, API_VERSION, 'Connector', namespace, name))).not.toContain(value);
      }
    }
    // The Warning names what is missing, not what is there.
    expect(events.find((e) => e.involvedObject.name === 'canary-wrong-key' && e.reason === 'SecretNotFound')?.message).toContain(
      'missing-key',
    );
  });
});
