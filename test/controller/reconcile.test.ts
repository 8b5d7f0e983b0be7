// The controller, running as its own process under the ServiceAccount token that config/rbac/
// grants (not as cluster admin), reconciles the samples: conditions with reasons from the
// catalog, observedGeneration, printer-column fields, and Events on transitions.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { adminKubeConfig } from '../envtest/context.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { API_VERSION, apply, eventually, freshNamespace, get, readManifests, remove, type Manifest } from '../support/kube.ts';
import { CONTROLLER_NAMESPACE, controllerKubeconfigPath } from '../support/rbac.ts';

const SAMPLES = fileURLToPath(new URL('../../config/samples/', import.meta.url));
const kc = adminKubeConfig();
let controller: ControllerProcess;
let namespace: string;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
interface Reconciled extends Manifest {
  metadata: Manifest['metadata'] & { generation: number };
  status?: {
    conditions?: Condition[];
    observedGeneration?: number;
    phase?: string;
    reason?: string;
    completionTime?: string;
    duration?: string;
  };
}

async function condition(kind: string, name: string, type: string, expected: Partial<Condition>, ns = namespace): Promise<Condition> {
  return eventually(
    async () => {
      const object = await get<Reconciled>(kc, API_VERSION, kind, ns, name);
      const found = object?.status?.conditions?.find((c) => c.type === type);
      return found && Object.entries(expected).every(([key, value]) => found[key as keyof Condition] === value) ? found : undefined;
    },
    { what: `${kind} ${name} condition ${type} ${JSON.stringify(expected)}`, timeoutMs: 30_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\ncontroller log:\n${controller.tail()}`);
  });
}

async function events(
  ns: string,
): Promise<{ reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }[]> {
  const list = await kubeRequest<{ items: never[] }>(kc, { method: 'GET', path: `/api/v1/namespaces/${ns}/events` });
  return list.items;
}

beforeAll(async () => {
  namespace = await freshNamespace(kc, 'reconcile');
  controller = new ControllerProcess({
    kubeconfigPath: await controllerKubeconfigPath(),
    identity: 'reconcile-test',
    leaseNamespace: CONTROLLER_NAMESPACE,
    leaseName: 'reconcile-test',
  });
  await controller.waitForLog((line) => line.msg === 'became leader; reconciling');
  // Secrets first, as Argo CD orders them; a Secret that comes late is tested on its own below.
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml'));
  for (const file of ['secrets.yaml', ...files.filter((f) => f !== 'secrets.yaml')]) {
    for (const manifest of readManifests(path.join(SAMPLES, file))) await apply(kc, manifest, namespace);
  }
});

afterAll(async () => {
  await controller?.stop();
});

describe('reconciling the samples', () => {
  it('makes both Connectors Ready once their credential Secrets exist', async () => {
    const ready = await condition('Connector', 'contoso-m365', 'Ready', { status: 'True', reason: 'Ready' });
    expect(ready.observedGeneration).toBe(1);
    await condition('Connector', 'example-workspace', 'Ready', { status: 'True', reason: 'Ready' });
  });

  it('makes the BackupPolicy Ready once its Connector is Ready', async () => {
    const ready = await condition('BackupPolicy', 'contoso-m365-daily', 'Ready', { status: 'True', reason: 'Ready' });
    expect(ready.message).toContain('Connector is Ready');
  });

  it('shows valid runs and restores as Scheduled, waiting for a worker', async () => {
    await condition('BackupRun', 'contoso-m365-daily-manual-ceo', 'Succeeded', { status: 'Unknown', reason: 'Scheduled' });
    const run = await get<Reconciled>(kc, API_VERSION, 'BackupRun', namespace, 'contoso-m365-daily-manual-ceo');
    expect(run?.status?.phase).toBe('Scheduled');
    await condition('RestoreRequest', 'restore-jdoe-projects', 'Succeeded', { status: 'Unknown', reason: 'Scheduled' });
    await condition('RestoreRequest', 'export-legal-hold-asmith', 'Succeeded', { status: 'Unknown', reason: 'Scheduled' });
  });

  it('makes the ObjectExclusion Ready', async () => {
    await condition('ObjectExclusion', 'contoso-known-bad-objects', 'Ready', { status: 'True', reason: 'Ready' });
  });

  it('records Events on the objects when their conditions change', async () => {
    const recorded = await eventually(
      async () => {
        const list = await events(namespace);
        return list.some((e) => e.involvedObject.name === 'contoso-m365-daily' && e.reason === 'Ready') ? list : undefined;
      },
      { what: 'a Ready event on the policy' },
    );
    const forConnector = recorded.filter((e) => e.involvedObject.kind === 'Connector' && e.involvedObject.name === 'contoso-m365');
    expect(forConnector.map((e) => e.reason)).toEqual(['Ready']);
    expect(forConnector[0]?.type).toBe('Normal');
  });
});

describe('problems the schema cannot see', () => {
  it('reports a missing Connector, then recovers when it appears', async () => {
    const ns = await freshNamespace(kc, 'missing-connector');
    const samplePolicy = readManifests(path.join(SAMPLES, 'backuppolicy.yaml'))[0]!;
    await apply(kc, samplePolicy, ns);
    const missing = await condition('BackupPolicy', 'contoso-m365-daily', 'Ready', { status: 'False', reason: 'ConnectorNotFound' }, ns);
    expect(missing.message).toContain('Connector "contoso-m365"');
    const warning = await eventually(async () => (await events(ns)).find((e) => e.reason === 'ConnectorNotFound'), {
      what: 'a warning event',
    });
    expect(warning.type).toBe('Warning');

    for (const manifest of readManifests(path.join(SAMPLES, 'secrets.yaml'))) await apply(kc, manifest, ns);
    await apply(kc, readManifests(path.join(SAMPLES, 'connector-microsoft365.yaml'))[0]!, ns);
    await condition('BackupPolicy', 'contoso-m365-daily', 'Ready', { status: 'True', reason: 'Ready' }, ns);
  });

  it('names a missing Secret key without revealing any Secret value', async () => {
    const ns = await freshNamespace(kc, 'missing-key');
    await apply(
      kc,
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'contoso-m365-app' }, stringData: { 'wrong-key': 'hunter2-not-shown' } },
      ns,
    );
    await apply(kc, readManifests(path.join(SAMPLES, 'connector-microsoft365.yaml'))[0]!, ns);
    const notReady = await condition('Connector', 'contoso-m365', 'Ready', { status: 'False', reason: 'SecretNotFound' }, ns);
    expect(notReady.message).toContain('has no key "client-secret"');
    expect(JSON.stringify(await events(ns))).not.toContain('hunter2-not-shown');
    expect(JSON.stringify(controller.logs)).not.toContain('hunter2-not-shown');
  });

  it('notices a Secret created after the Connector that needs it', async () => {
    const ns = await freshNamespace(kc, 'late-secret');
    await apply(kc, readManifests(path.join(SAMPLES, 'connector-microsoft365.yaml'))[0]!, ns);
    await condition('Connector', 'contoso-m365', 'Ready', { status: 'False', reason: 'SecretNotFound' }, ns);
    await apply(kc, readManifests(path.join(SAMPLES, 'secrets.yaml'))[0]!, ns);
    await condition('Connector', 'contoso-m365', 'Ready', { status: 'True', reason: 'Ready' }, ns);
    const reasons = (await events(ns)).filter((e) => e.involvedObject.kind === 'Connector').map((e) => e.reason);
    expect(reasons.sort()).toEqual(['Ready', 'SecretNotFound']);
  });

  it('rejects services the provider does not offer', async () => {
    const ns = await freshNamespace(kc, 'wrong-services');
    for (const file of ['secrets.yaml', 'connector-google.yaml']) {
      for (const manifest of readManifests(path.join(SAMPLES, file))) await apply(kc, manifest, ns);
    }
    const policy = readManifests(path.join(SAMPLES, 'backuppolicy.yaml'))[0]! as Manifest & { spec: Record<string, unknown> };
    await apply(kc, { ...policy, spec: { ...policy.spec, connectorRef: { name: 'example-workspace' } } }, ns);
    const invalid = await condition('BackupPolicy', 'contoso-m365-daily', 'Ready', { status: 'False', reason: 'InvalidConfiguration' }, ns);
    expect(invalid.message).toContain('mail, onedrive');
    expect(invalid.message).toContain('google');
  });

  it('keeps lastTransitionTime when a spec change leaves the condition as it was, and advances observedGeneration', async () => {
    const before = await condition('ObjectExclusion', 'contoso-known-bad-objects', 'Ready', { status: 'True' });
    const exclusion = readManifests(path.join(SAMPLES, 'objectexclusion.yaml'))[0]! as Manifest & { spec: Record<string, unknown> };
    await apply(kc, { ...exclusion, spec: { ...exclusion.spec, comment: 'changed' } }, namespace);
    const after = await condition('ObjectExclusion', 'contoso-known-bad-objects', 'Ready', { status: 'True', observedGeneration: 2 });
    expect(after.lastTransitionTime).toBe(before.lastTransitionTime);
  });
});

describe('cancelling', () => {
  it('finishes a cancelled run as Cancelled with completion time and duration', async () => {
    const run = readManifests(path.join(SAMPLES, 'backuprun.yaml'))[0]! as Manifest & { spec: Record<string, unknown> };
    await apply(kc, { ...run, spec: { ...run.spec, cancel: true } }, namespace);
    const cancelled = await condition('BackupRun', 'contoso-m365-daily-manual-ceo', 'Succeeded', { status: 'False', reason: 'Cancelled' });
    expect(cancelled.message).toContain('cancelled');
    const stored = await get<Reconciled>(kc, API_VERSION, 'BackupRun', namespace, 'contoso-m365-daily-manual-ceo');
    expect(stored?.status).toMatchObject({ phase: 'Cancelled', reason: 'Cancelled' });
    expect(stored?.status?.completionTime).toBeTruthy();
    expect(stored?.status?.duration).toMatch(/^\d+[dhms]/);
  });

  it('stops touching an object once it is deleted', async () => {
    await remove(kc, API_VERSION, 'BackupRun', namespace, 'contoso-m365-daily-manual-ceo');
    await eventually(async () => (await get(kc, API_VERSION, 'BackupRun', namespace, 'contoso-m365-daily-manual-ceo')) === undefined, {
      what: 'the run to be gone',
    });
    expect(controller.child.exitCode).toBeNull();
  });
});
