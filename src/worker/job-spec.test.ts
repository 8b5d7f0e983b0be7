import { describe, expect, it } from 'vitest';
import { checkRunName, JobSpecError, microsoftCredential, parseConnector, parsePolicy, secretOf, storagePlan } from './job-spec.ts';

const connector = (microsoft365: Record<string, unknown>) => ({
  kind: 'Connector',
  metadata: { name: 'contoso' },
  spec: {
    provider: 'microsoft365',
    microsoft365: { tenantId: 'contoso.onmicrosoft.com', clientId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', ...microsoft365 },
  },
});
const policy = (storage: Record<string, unknown>, name = 'daily') => ({
  kind: 'BackupPolicy',
  metadata: { name },
  spec: { connectorRef: { name: 'contoso' }, services: ['mail'], storage: { encryptionKeySecretRef: { name: 'key' }, ...storage } },
});
const s3 = { endpoint: 'http://minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' } };

function failure(action: () => unknown): JobSpecError {
  try {
    action();
  } catch (error) {
    if (error instanceof JobSpecError) return error;
    throw error;
  }
  throw new Error('expected a JobSpecError');
}

describe('parsing manifests', () => {
  it('fills in the defaults', () => {
    const { spec } = parsePolicy(policy({ s3 }));
    expect(spec.storage.encryptionKeySecretRef.key).toBe('repository-key');
    expect(spec.storage.s3?.prefix).toBe('');
  });

  it('names every broken field, with the rule instead of the bare pattern', () => {
    const error = failure(() => parsePolicy(policy({ s3: { ...s3, bucket: 'a..b', prefix: 'x/../y' } }, 'p'.repeat(51))));
    expect(error.reason).toBe('InvalidConfiguration');
    expect(error.message).toBe(
      [
        `BackupPolicy ${'p'.repeat(51)} is not valid:`,
        '  metadata.name: a BackupPolicy name has at most 50 characters',
        '  spec.storage.s3.bucket: a bucket name must not have two adjacent periods, nor a period next to a hyphen',
        "  spec.storage.s3.prefix: a key prefix must not have a '..' segment, nor any segment that starts with '.'",
      ].join('\n'),
    );
  });

  it('writes list indexes as the apiserver does', () => {
    expect(
      failure(() => parsePolicy({ ...policy({ s3 }), spec: { ...policy({ s3 }).spec, services: ['mail', 'fax'] } })).message,
    ).toContain('spec.services[1]: must be one of');
  });

  it('refuses a policy name that is no Kubernetes name, and a run name that could climb out of the reports folder', () => {
    expect(failure(() => parsePolicy(policy({ s3 }, '../daily'))).message).toContain('metadata.name: a name must be a DNS subdomain');
    expect(failure(() => checkRunName('../../config')).message).toContain('--run "../../config": a name must be a DNS subdomain');
    expect(checkRunName('daily-202612010600')).toBe('daily-202612010600');
  });
});

describe('reading Secrets', () => {
  it('reads only the keys the manifest names', () => {
    const asked: string[] = [];
    const secret = { location: '/mnt/connector', read: (key: string) => (asked.push(key), 'value') };
    const spec = parseConnector(connector({ certificateRef: { name: 'tls' } })).spec;
    expect(microsoftCredential(spec, secret)).toEqual({ certificatePem: 'value', privateKeyPem: 'value' });
    expect(asked).toEqual(['tls.crt', 'tls.key']);
  });

  it('reads no bucket credentials for local storage', () => {
    const storage = { location: '/mnt/storage', read: () => expect.unreachable('the storage Secret was read') };
    const plan = storagePlan(
      parsePolicy(policy({ local: { path: '/backup' } })).spec,
      storage,
      secretOf({ 'repository-key': 'k\n' }, 'key'),
    );
    expect(plan).toEqual({ kind: 'local', local: { path: '/backup' }, repositoryKey: 'k' });
  });

  it('says which key of which Secret is missing, as SecretNotFound', () => {
    const spec = parseConnector(connector({ clientSecretRef: { name: 'contoso-app' } })).spec;
    const error = failure(() => microsoftCredential(spec, secretOf({}, '/mnt/connector')));
    expect(error.reason).toBe('SecretNotFound');
    expect(error.message).toBe(
      'the client secret of the Connector: the mounted Secret has no key client-secret (at /mnt/connector); add the key to the Secret contoso-app, or correct spec.microsoft365.clientSecretRef.key',
    );
  });

  it('never reads a key that is no Secret key, even from a manifest that skipped the checks', () => {
    const spec = parsePolicy(policy({ local: { path: '/backup' } })).spec;
    const hostile = { ...spec, storage: { ...spec.storage, encryptionKeySecretRef: { name: 'key', key: '../../etc/shadow' } } };
    const secret = { location: '/mnt/key', read: () => expect.unreachable('a hostile key was read') };
    expect(failure(() => storagePlan(hostile, secret, secret)).message).toContain(
      'spec.storage.encryptionKeySecretRef.key: a Secret key must use only',
    );
  });

  it('names the field when the key file cannot be used', () => {
    const spec = parsePolicy(policy({ local: { path: '/backup' } })).spec;
    const secret = {
      location: '/mnt/key',
      read: () => {
        throw new JobSpecError('/mnt/key/repository-key leads outside the Secret mount');
      },
    };
    expect(failure(() => storagePlan(spec, secret, secret)).message).toBe(
      'the repository key (spec.storage.encryptionKeySecretRef.key): /mnt/key/repository-key leads outside the Secret mount',
    );
  });
});
