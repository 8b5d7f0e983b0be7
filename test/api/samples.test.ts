// Every sample in config/samples/ is accepted by a real apiserver (strict field validation, as
// kubectl does), and the schema defaults fill in what the samples leave out.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../envtest/context.ts';
import { apply, freshNamespace, readManifests, type Manifest } from '../support/kube.ts';

const SAMPLES = fileURLToPath(new URL('../../config/samples/', import.meta.url));
const files = readdirSync(SAMPLES)
  .filter((file) => file.endsWith('.yaml'))
  .sort();
const kc = adminKubeConfig();
let namespace: string;

beforeAll(async () => {
  namespace = await freshNamespace(kc, 'samples');
});

describe('config/samples', () => {
  it('has an example of every kind, each with a comment saying what it does', () => {
    const kinds = new Set(files.flatMap((file) => readManifests(path.join(SAMPLES, file)).map((m) => m.kind)));
    for (const kind of ['Connector', 'BackupPolicy', 'BackupRun', 'RestoreRequest', 'ObjectExclusion']) expect(kinds).toContain(kind);
  });

  it.each(files)('%s applies', async (file) => {
    for (const manifest of readManifests(path.join(SAMPLES, file))) {
      const stored = await apply<Manifest>(kc, manifest, namespace);
      expect(stored.metadata.name).toBe(manifest.metadata.name);
    }
  });

  it('fills in the schema defaults', async () => {
    const policy = await apply<Manifest & { spec: Record<string, unknown> }>(
      kc,
      {
        apiVersion: 'saasbackup.io/v1alpha1',
        kind: 'BackupPolicy',
        metadata: { name: 'minimal' },
        spec: {
          connectorRef: { name: 'contoso-m365' },
          services: ['mail'],
          storage: { local: { path: '/var/backup' }, encryptionKeySecretRef: { name: 'backup-repository-key' } },
        },
      },
      namespace,
    );
    expect(policy.spec).toMatchObject({
      schedule: '0 */6 * * *',
      suspend: false,
      accounts: { mode: 'all' },
      run: { shards: 1, concurrency: 4, apiBudgetPercent: 80 },
      historyLimits: { successfulRuns: 3, failedRuns: 3 },
      storage: { encryptionKeySecretRef: { key: 'repository-key' } },
    });
    const restore = await apply<Manifest & { spec: Record<string, unknown> }>(
      kc,
      {
        apiVersion: 'saasbackup.io/v1alpha1',
        kind: 'RestoreRequest',
        metadata: { name: 'minimal' },
        spec: { policyRef: { name: 'minimal' }, source: { snapshotId: '0123456789abcdef' }, scope: { accounts: ['a@contoso.com'] } },
      },
      namespace,
    );
    expect(restore.spec).toMatchObject({ conflictPolicy: 'Skip', cancel: false, target: { type: 'InPlace' } });
  });
});
