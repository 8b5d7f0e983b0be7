// Status belongs to the operator and goes through /status: writing it never bumps generation
// (so observedGeneration can tell users whether the controller has seen their last change),
// status sent to the main resource is dropped, and the status endpoint cannot change spec.
import { beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { objectPath } from '../../src/runtime/resource.ts';
import { applyStatus, FIELD_MANAGER } from '../../src/runtime/status.ts';
import { adminKubeConfig } from '../envtest/context.ts';
import { apply, freshNamespace, get, resourceOf } from '../support/kube.ts';

const kc = adminKubeConfig();
const API = 'saasbackup.io/v1alpha1';
let namespace: string;

interface Stored {
  metadata: { generation: number; managedFields?: { manager: string; subresource?: string }[] };
  spec: { provider: string; discovery?: { intervalMinutes: number } };
  status?: { observedGeneration?: number; conditions?: { type: string; reason: string }[] };
}

const connector = (intervalMinutes: number) => ({
  apiVersion: API,
  kind: 'Connector',
  metadata: { name: 'status-test' },
  spec: {
    provider: 'microsoft365',
    microsoft365: {
      tenantId: 'contoso.onmicrosoft.com',
      clientId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      clientSecretRef: { name: 'app' },
    },
    discovery: { intervalMinutes },
  },
});

const readyStatus = (reason: string) => ({
  observedGeneration: 1,
  conditions: [{ type: 'Ready', status: 'True', reason, message: 'test', lastTransitionTime: '2026-11-22T00:00:00Z' }],
});

const target = () => ({
  group: 'saasbackup.io',
  version: 'v1alpha1',
  plural: 'connectors',
  kind: 'Connector',
  namespace,
  name: 'status-test',
});
const read = async () => (await get<Stored>(kc, API, 'Connector', namespace, 'status-test'))!;

beforeAll(async () => {
  namespace = await freshNamespace(kc, 'status');
  await apply(kc, connector(60), namespace);
});

describe('the /status subresource', () => {
  it('takes status through server-side apply without bumping generation', async () => {
    const before = await read();
    await applyStatus(kc, target(), readyStatus('Ready'));
    const after = await read();
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.status?.conditions?.[0]?.reason).toBe('Ready');
    const manager = after.metadata.managedFields?.find((field) => field.manager === FIELD_MANAGER);
    expect(manager?.subresource).toBe('status');
  });

  it('bumps generation on a spec change and leaves status alone', async () => {
    const before = await read();
    await apply(kc, connector(120), namespace);
    const after = await read();
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(after.status?.conditions?.[0]?.reason).toBe('Ready');
  });

  it('drops status written to the main resource', async () => {
    await apply(kc, { ...connector(120), status: readyStatus('ForgedByUser') }, namespace);
    expect((await read()).status?.conditions?.[0]?.reason).toBe('Ready');
  });

  it('ignores spec sent to the status endpoint', async () => {
    const current = await read();
    await kubeRequest(kc, {
      method: 'PUT',
      path: objectPath(resourceOf(API, 'Connector'), namespace, 'status-test', 'status'),
      body: { ...current, spec: { ...current.spec, discovery: { intervalMinutes: 999 } } },
    });
    expect((await read()).spec.discovery?.intervalMinutes).toBe(120);
  });
});
