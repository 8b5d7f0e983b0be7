// The apiserver rejects bad manifests before any controller sees them, with a message that names
// the field (the CRD schema and its CEL rules at work). Each case starts from a valid object.
// Hostile manifests (what a careless user or an attacker would write: Secret keys that climb out
// of the mount, buckets S3 refuses, credentials in URLs, endless strings) are refused by the
// apiserver and, the same way, by the worker, which may be handed a manifest directly.
import { ApiException } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { JobSpecError, parseConnector, parsePolicy } from '../../src/worker/job-spec.ts';
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

// What the field rules say, word for word as a user reads them.
const SECRET_NAME =
  "a Secret name must be a DNS subdomain: lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit (no '/', no '..')";
const SECRET_KEY = "a Secret key must use only letters, digits, '-', '_' and '.', and must not be '.' or start with '..' (no '/')";
const HTTPS_ONLY = 'an endpoint override must be an https:// URL';
const NO_CREDENTIALS_IN_URL = 'an endpoint URL must not carry a user name or password: credentials belong in the Secret';

interface Hostile {
  what: string;
  manifest: Manifest;
  /** What the apiserver's message must contain. */
  apiserver: string[];
  /** What the worker's message must contain. */
  worker: string[];
}

/** A broken field rule: the apiserver reports it as `<field>: Invalid value: "string": <message>`, the worker as `<field>: <message>`. */
const broken = (what: string, manifest: Manifest, field: string, message: string): Hostile => ({
  what,
  manifest,
  apiserver: [`${field}: Invalid value: "string": ${message}`],
  worker: [`${field}: ${message}`],
});
const tooLong = (what: string, manifest: Manifest, field: string, max: number): Hostile => ({
  what,
  manifest,
  apiserver: [`${field}: Too long: may not be more than ${max} bytes`],
  worker: [`${field}: Too long: must have at most ${max} characters`],
});
const tooMany = (what: string, manifest: Manifest, field: string, count: number, max: number): Hostile => ({
  what,
  manifest,
  apiserver: [`${field}: Too many: ${count}: must have at most ${max} items`],
  worker: [`${field}: Too many: must have at most ${max} items`],
});

const certificate = (ref: Spec): Manifest => connector(m365({ clientSecretRef: undefined, certificateRef: { name: 'tls', ...ref } }));
const s3 = (overrides: Spec): Manifest =>
  policy(storage({ s3: { endpoint: 'http://minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' }, ...overrides } }));
const selectors = (count: number) => Array.from({ length: count }, (_, i) => ({ address: `user${i}@contoso.com` }));

const hostile: Hostile[] = [
  broken(
    'certificate Secret name with a slash',
    certificate({ name: 'tls/../../etc' }),
    'spec.microsoft365.certificateRef.name',
    SECRET_NAME,
  ),
  broken('certificate Secret name ..', certificate({ name: '..' }), 'spec.microsoft365.certificateRef.name', SECRET_NAME),
  broken(
    'certificate key with a slash',
    certificate({ certificateKey: 'certs/tls.crt' }),
    'spec.microsoft365.certificateRef.certificateKey',
    SECRET_KEY,
  ),
  broken('certificate key ..', certificate({ certificateKey: '..' }), 'spec.microsoft365.certificateRef.certificateKey', SECRET_KEY),
  broken(
    'private key key that climbs out',
    certificate({ privateKeyKey: '../tls.key' }),
    'spec.microsoft365.certificateRef.privateKeyKey',
    SECRET_KEY,
  ),
  broken(
    "client secret key '..data' (the kubelet's own link)",
    connector(m365({ clientSecretRef: { name: 'app', key: '..data' } })),
    'spec.microsoft365.clientSecretRef.key',
    SECRET_KEY,
  ),
  broken(
    "client secret key '../etc'",
    connector(m365({ clientSecretRef: { name: 'app', key: '../etc' } })),
    'spec.microsoft365.clientSecretRef.key',
    SECRET_KEY,
  ),
  broken(
    "service-account key '..'",
    connector(google({ serviceAccountKeyRef: { name: 'sa', key: '..' } })),
    'spec.google.serviceAccountKeyRef.key',
    SECRET_KEY,
  ),
  broken(
    'authority host over http',
    connector(m365({ endpoints: { authorityHost: 'http://login.example.com' } })),
    'spec.microsoft365.endpoints.authorityHost',
    HTTPS_ONLY,
  ),
  broken(
    'Graph URL over http',
    connector(m365({ endpoints: { graphBaseUrl: 'http://graph.example.com' } })),
    'spec.microsoft365.endpoints.graphBaseUrl',
    HTTPS_ONLY,
  ),
  broken(
    'authority host with a user and password',
    connector(m365({ endpoints: { authorityHost: 'https://user:pw@login.example.com' } })),
    'spec.microsoft365.endpoints.authorityHost',
    NO_CREDENTIALS_IN_URL,
  ),
  broken(
    'Google token URL over http',
    connector(google({ endpoints: { oauthTokenUrl: 'http://oauth2.example.com/token' } })),
    'spec.google.endpoints.oauthTokenUrl',
    HTTPS_ONLY,
  ),
  broken(
    'Google API URL with a user',
    connector(google({ endpoints: { apiBaseUrl: 'https://admin@www.googleapis.com' } })),
    'spec.google.endpoints.apiBaseUrl',
    NO_CREDENTIALS_IN_URL,
  ),
  tooLong('Google customer id of 300 characters', connector(google({ customerId: `C${'a'.repeat(299)}` })), 'spec.google.customerId', 64),
  broken(
    'bucket named like an IP address',
    s3({ bucket: '192.168.1.1' }),
    'spec.storage.s3.bucket',
    'a bucket name must not be formatted as an IP address',
  ),
  broken(
    'bucket with two adjacent periods',
    s3({ bucket: 'a..b' }),
    'spec.storage.s3.bucket',
    'a bucket name must not have two adjacent periods, nor a period next to a hyphen',
  ),
  broken(
    'bucket with a period next to a hyphen',
    s3({ bucket: 'a.-b' }),
    'spec.storage.s3.bucket',
    'a bucket name must not have two adjacent periods, nor a period next to a hyphen',
  ),
  broken(
    'bucket with the reserved prefix xn--',
    s3({ bucket: 'xn--x' }),
    'spec.storage.s3.bucket',
    'a bucket name must not start with xn--, sthree- or amzn-s3-demo- (reserved by S3)',
  ),
  broken(
    'bucket with the reserved suffix -s3alias',
    s3({ bucket: 'backups-s3alias' }),
    'spec.storage.s3.bucket',
    'a bucket name must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved by S3)',
  ),
  broken(
    "prefix with a '..' segment",
    s3({ prefix: 'a/../b' }),
    'spec.storage.s3.prefix',
    "a key prefix must not have a '..' segment, nor any segment that starts with '.'",
  ),
  broken(
    "prefix '..'",
    s3({ prefix: '..' }),
    'spec.storage.s3.prefix',
    "a key prefix must not have a '..' segment, nor any segment that starts with '.'",
  ),
  broken(
    "local path with a '..' segment",
    policy({ storage: { local: { path: '/backup/../etc' }, encryptionKeySecretRef: { name: 'key' } } }),
    'spec.storage.local.path',
    "the path must not have a '..' segment",
  ),
  broken(
    'S3 endpoint with a user and password',
    s3({ endpoint: 'https://user:pw@minio:9000' }),
    'spec.storage.s3.endpoint',
    NO_CREDENTIALS_IN_URL,
  ),
  broken(
    'S3 endpoint with the bucket in its path',
    s3({ endpoint: 'https://minio:9000/backups' }),
    'spec.storage.s3.endpoint',
    'an S3 endpoint must be the root URL of the S3 API, with no path, query or fragment (the bucket and prefix are separate settings)',
  ),
  broken(
    'bucket credentials Secret name with a slash',
    s3({ credentialsSecretRef: { name: 's3/../admin' } }),
    'spec.storage.s3.credentialsSecretRef.name',
    SECRET_NAME,
  ),
  broken(
    "repository key '..data'",
    policy(storage({ encryptionKeySecretRef: { name: 'key', key: '..data' } })),
    'spec.storage.encryptionKeySecretRef.key',
    SECRET_KEY,
  ),
  tooMany('1001 excluded accounts', policy({ accounts: { mode: 'all', exclude: selectors(1001) } }), 'spec.accounts.exclude', 1001, 1000),
  broken(
    'policy name too long for run names',
    policy({}, 'p'.repeat(51)),
    'metadata.name',
    'a BackupPolicy name has at most 50 characters',
  ),
];

invalid.push(...hostile.map((h): [string, Manifest, string[]] => [h.what, h.manifest, h.apiserver]));

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

describe('hostile manifests', () => {
  it('are refused without repeating a password back', async () => {
    const { message } = await rejection(create(kc, s3({ endpoint: 'https://user:hunter2@minio:9000' }), namespace));
    expect(message).toContain(`spec.storage.s3.endpoint: Invalid value: "string": ${NO_CREDENTIALS_IN_URL}`);
    expect(message).not.toContain('hunter2');
  });

  it.each(hostile.filter((h) => h.manifest.kind === 'Connector' || h.manifest.kind === 'BackupPolicy'))(
    'refuses $what in the worker too',
    ({ manifest, worker }) => {
      const parse = () => (manifest.kind === 'Connector' ? parseConnector(manifest) : parsePolicy(manifest));
      expect(parse).toThrow(JobSpecError);
      let message = '';
      try {
        parse();
      } catch (error) {
        message = (error as Error).message;
      }
      for (const text of worker) expect(message).toContain(text);
    },
  );

  it('keeps what S3, Kubernetes and the samples allow', async () => {
    const allowed: Manifest[] = [
      s3({ bucket: 'a-b.c--d', prefix: 'tenants/contoso/m365' }),
      s3({ bucket: '1.2.3', prefix: 'a..b/c' }),
      certificate({ name: 'tls.contoso', certificateKey: '.tls.crt', privateKeyKey: 'tls_key..pem' }),
      connector(m365({ endpoints: { authorityHost: 'https://login.example.com', graphBaseUrl: 'https://graph.example.com/' } })),
      policy({ storage: { local: { path: '/var/backup/..snapshots/x' }, encryptionKeySecretRef: { name: 'key' } } }),
      policy({}, 'p'.repeat(50)),
    ];
    for (const [index, manifest] of allowed.entries()) {
      const named = { ...manifest, metadata: { name: `${manifest.metadata.name}${index}`.slice(0, 50) } };
      await create(kc, named, namespace);
      if (named.kind === 'Connector') parseConnector(named);
      else parsePolicy(named);
    }
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
