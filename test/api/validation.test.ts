// The apiserver rejects bad manifests before any controller sees them, with a message that names
// the field (the CRD schema and its CEL rules at work). Each case starts from a valid object.
import { ApiException } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../envtest/context.ts';
import { apply, create, freshNamespace, type Manifest } from '../support/kube.ts';

const kc = adminKubeConfig();
let namespace: string;

beforeAll(async () => {
  namespace = await freshNamespace(kc, 'validation');
});

type Spec = Record<string, unknown>;
const API = 'saasbackup.io/v1alpha1';

const connector = (spec: Spec): Manifest => ({ apiVersion: API, kind: 'Connector', metadata: { name: 'c' }, spec });
const m365 = (overrides: Spec = {}): Spec => ({
  provider: 'microsoft365',
  microsoft365: {
    tenantId: 'contoso.onmicrosoft.com',
    clientId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    clientSecretRef: { name: 'app' },
    ...overrides,
  },
});
const google = (overrides: Spec = {}): Spec => ({
  provider: 'google',
  google: { domain: 'example.com', adminEmail: 'admin@example.com', serviceAccountKeyRef: { name: 'sa' }, ...overrides },
});

const policy = (overrides: Spec = {}, name = 'p'): Manifest => ({
  apiVersion: API,
  kind: 'BackupPolicy',
  metadata: { name },
  spec: {
    connectorRef: { name: 'c' },
    services: ['mail'],
    storage: {
      s3: { endpoint: 'http://minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' } },
      encryptionKeySecretRef: { name: 'key' },
    },
    ...overrides,
  },
});
const storage = (overrides: Spec): Spec => ({
  storage: {
    s3: { endpoint: 'http://minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' } },
    encryptionKeySecretRef: { name: 'key' },
    ...overrides,
  },
});

const restore = (overrides: Spec = {}): Manifest => ({
  apiVersion: API,
  kind: 'RestoreRequest',
  metadata: { name: 'r' },
  spec: { policyRef: { name: 'p' }, source: { snapshotId: '0123456789abcdef' }, scope: { accounts: ['a@contoso.com'] }, ...overrides },
});
const run = (overrides: Spec = {}): Manifest => ({
  apiVersion: API,
  kind: 'BackupRun',
  metadata: { name: 'p-202611220600' },
  spec: { policyRef: { name: 'p' }, ...overrides },
});
const exclusion = (overrides: Spec = {}): Manifest => ({
  apiVersion: API,
  kind: 'ObjectExclusion',
  metadata: { name: 'x' },
  spec: { policyRef: { name: 'p' }, objects: [{ objectId: 'AAMk', version: 'CQA' }], ...overrides },
});

/** [what is wrong, manifest, text the error message must contain (the field, and the rule's message where there is one)] */
const invalid: [string, Manifest, string[]][] = [
  ['Connector without provider', connector({ microsoft365: m365().microsoft365 }), ['spec.provider', 'Required value']],
  ['Connector with an unknown provider', connector({ ...m365(), provider: 'dropbox' }), ['spec.provider', 'Unsupported value: "dropbox"']],
  [
    'Connector whose provider block does not match',
    connector({ ...m365(), provider: 'google' }),
    ['spec', 'provider google needs spec.google'],
  ],
  [
    'Connector with both provider blocks',
    connector({ ...m365(), google: google().google }),
    ['spec', 'provider microsoft365 needs spec.microsoft365 and no spec.google'],
  ],
  [
    'Microsoft 365 with secret and certificate',
    connector(m365({ certificateRef: { name: 'cert' } })),
    ['spec.microsoft365', 'set exactly one of clientSecretRef or certificateRef'],
  ],
  [
    'Microsoft 365 without a credential',
    connector(m365({ clientSecretRef: undefined })),
    ['spec.microsoft365', 'set exactly one of clientSecretRef or certificateRef'],
  ],
  ['client id that is not a GUID', connector(m365({ clientId: 'my-app' })), ['spec.microsoft365.clientId']],
  [
    'authority host that is not a URL',
    connector(m365({ endpoints: { authorityHost: 'login.example' } })),
    ['spec.microsoft365.endpoints.authorityHost'],
  ],
  ['national cloud that does not exist', connector(m365({ cloud: 'Moon' })), ['spec.microsoft365.cloud', 'Unsupported value: "Moon"']],
  ['Google admin that is not an address', connector(google({ adminEmail: 'admin' })), ['spec.google.adminEmail']],
  [
    'Secret reference into another namespace',
    connector(m365({ clientSecretRef: { name: 'app', namespace: 'kube-system' } })),
    ['unknown field "spec.microsoft365.clientSecretRef.namespace"'],
  ],
  ['discovery every minute', connector({ ...m365(), discovery: { intervalMinutes: 1 } }), ['spec.discovery.intervalMinutes']],
  ['schedule minute out of range', policy({ schedule: '61 * * * *' }), ['spec.schedule', 'schedule must be a cron expression']],
  ['schedule in words', policy({ schedule: 'every day at noon' }), ['spec.schedule', 'schedule must be a cron expression']],
  ['schedule with six fields', policy({ schedule: '0 0 */6 * * *' }), ['spec.schedule', 'schedule must be a cron expression']],
  ['no services', policy({ services: [] }), ['spec.services']],
  ['unknown service', policy({ services: ['mail', 'fax'] }), ['spec.services[1]', 'Unsupported value: "fax"']],
  ['a service twice', policy({ services: ['mail', 'mail'] }), ['spec.services[1]', 'Duplicate value']],
  ['policy without connectorRef', policy({ connectorRef: undefined }), ['spec.connectorRef', 'Required value']],
  [
    'connectorRef into another namespace',
    policy({ connectorRef: { name: 'c', namespace: 'other' } }),
    ['unknown field "spec.connectorRef.namespace"'],
  ],
  ['both s3 and local storage', policy(storage({ local: { path: '/backup' } })), ['spec.storage', 'set exactly one of s3 or local']],
  [
    'storage without an encryption key',
    policy(storage({ encryptionKeySecretRef: undefined })),
    ['spec.storage.encryptionKeySecretRef', 'Required value'],
  ],
  [
    'S3 endpoint without scheme',
    policy(storage({ s3: { endpoint: 'minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' } } })),
    ['spec.storage.s3.endpoint'],
  ],
  [
    'bucket name with capitals',
    policy(storage({ s3: { endpoint: 'http://m:9000', bucket: 'Backups', credentialsSecretRef: { name: 's3' } } })),
    ['spec.storage.s3.bucket'],
  ],
  [
    'Object Lock on local storage',
    policy({
      storage: { local: { path: '/b' }, encryptionKeySecretRef: { name: 'key' }, objectLock: { mode: 'GOVERNANCE', period: '30d' } },
    }),
    ['spec.storage.objectLock', 'objectLock needs s3 storage'],
  ],
  [
    'Object Lock mode that S3 does not have',
    policy(storage({ objectLock: { mode: 'STRICT', period: '30d' } })),
    ['spec.storage.objectLock.mode', 'Unsupported value: "STRICT"'],
  ],
  ['empty retention', policy({ retention: {} }), ['spec.retention', 'retention needs at least one of keepLast']],
  ['negative retention count', policy({ retention: { keepDaily: -1 } }), ['spec.retention.keepDaily']],
  ['retention age in words', policy({ retention: { maxAge: '1 year' } }), ['spec.retention.maxAge']],
  [
    'include mode without accounts',
    policy({ accounts: { mode: 'include' } }),
    ['spec.accounts.include', 'mode include needs at least one entry in include'],
  ],
  [
    'account selector with two keys',
    policy({ accounts: { exclude: [{ address: 'a@contoso.com', group: 'g' }] } }),
    ['spec.accounts.exclude[0]', 'exactly one of address, id or group'],
  ],
  ['zero shards', policy({ run: { shards: 0 } }), ['spec.run.shards']],
  ['policy name too long for run names', policy({}, 'p'.repeat(51)), ['a BackupPolicy name has at most 50 characters']],
  [
    'restore from both a snapshot and a time',
    restore({ source: { snapshotId: '0123456789abcdef', pointInTime: '2026-11-01T00:00:00Z' } }),
    ['spec.source', 'set exactly one of snapshotId or pointInTime'],
  ],
  ['restore from nothing', restore({ source: {} }), ['spec.source', 'set exactly one of snapshotId or pointInTime']],
  ['restore time that is not a time', restore({ source: { pointInTime: 'yesterday' } }), ['spec.source.pointInTime']],
  [
    'restore to another account without naming it',
    restore({ target: { type: 'AlternateAccount' } }),
    ['spec.target.account', 'target type AlternateAccount needs target.account'],
  ],
  [
    'restore to a new folder without a name',
    restore({ target: { type: 'NewFolder' } }),
    ['spec.target.folderName', 'target type NewFolder needs target.folderName'],
  ],
  ['unknown conflict policy', restore({ conflictPolicy: 'Replace' }), ['spec.conflictPolicy', 'Unsupported value: "Replace"']],
  ['restore of no accounts', restore({ scope: { accounts: [] } }), ['spec.scope.accounts']],
  ['run without a policy', run({ policyRef: undefined }), ['spec.policyRef', 'Required value']],
  ['exclusion of nothing', exclusion({ objects: [] }), ['spec.objects']],
  ['exclusion without a version', exclusion({ objects: [{ objectId: 'AAMk' }] }), ['spec.objects[0].version', 'Required value']],
];

async function rejection(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request;
  } catch (error) {
    if (error instanceof ApiException) {
      const body = error.body as { message?: string } | undefined;
      return { code: error.code, message: body?.message ?? String(error.message) };
    }
    throw error;
  }
  throw new Error('the apiserver accepted the manifest');
}

describe('invalid manifests', () => {
  it('covers at least 20 cases', () => expect(invalid.length).toBeGreaterThanOrEqual(20));

  it.each(invalid)('rejects %s', async (_, manifest, expected) => {
    const { code, message } = await rejection(create(kc, manifest, namespace));
    expect([400, 422]).toContain(code);
    for (const text of expected) expect(message).toContain(text);
  });
});

describe('changes the schema forbids', () => {
  it('keeps a BackupRun on its policy and a cancelled run cancelled', async () => {
    const name = 'immutable-202611220600';
    await apply(kc, { ...run(), metadata: { name } }, namespace);
    const moved = await rejection(apply(kc, { ...run({ policyRef: { name: 'other' } }), metadata: { name } }, namespace));
    expect(moved.message).toContain('spec.policyRef');
    expect(moved.message).toContain('policyRef is immutable');
    await apply(kc, { ...run({ cancel: true }), metadata: { name } }, namespace);
    const resumed = await rejection(apply(kc, { ...run({ cancel: false }), metadata: { name } }, namespace));
    expect(resumed.message).toContain('spec.cancel');
    expect(resumed.message).toContain('a cancelled run cannot be resumed');
  });

  it('keeps the source of a RestoreRequest', async () => {
    await apply(kc, { ...restore(), metadata: { name: 'fixed-source' } }, namespace);
    const changed = await rejection(
      apply(kc, { ...restore({ source: { snapshotId: 'fedcba9876543210' } }), metadata: { name: 'fixed-source' } }, namespace),
    );
    expect(changed.message).toContain('source and policyRef are immutable');
  });
});
