// Small builders of API objects for the decision tests.
import type { BackupPolicy } from '../api/backup-policy.ts';
import type { Connector } from '../api/connector.ts';
import { API_VERSION } from '../api/kind.ts';

export function microsoftConnector(ready = true): Connector {
  return {
    apiVersion: API_VERSION,
    kind: 'Connector',
    metadata: { name: 'contoso', namespace: 'backup', generation: 1 },
    spec: {
      provider: 'microsoft365',
      microsoft365: {
        tenantId: 'contoso.onmicrosoft.com',
        clientId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        clientSecretRef: { name: 'app', key: 'client-secret' },
      },
    },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'Ready' : 'AuthenticationFailed',
          message: '',
          lastTransitionTime: '2026-11-01T00:00:00Z',
        },
      ],
    },
  };
}

export function policy(overrides: Partial<BackupPolicy['spec']> = {}): BackupPolicy {
  return {
    apiVersion: API_VERSION,
    kind: 'BackupPolicy',
    metadata: { name: 'daily', namespace: 'backup', generation: 1 },
    spec: {
      connectorRef: { name: 'contoso' },
      services: ['mail', 'onedrive'],
      schedule: '0 */6 * * *',
      suspend: false,
      storage: {
        s3: { endpoint: 'http://minio:9000', bucket: 'backups', credentialsSecretRef: { name: 's3' } },
        encryptionKeySecretRef: { name: 'repo-key', key: 'repository-key' },
      },
      ...overrides,
    },
  };
}

/** A secret lookup over a fixed set of Secrets. */
export function secretsOf(secrets: Record<string, string[]>) {
  return (name: string) => (secrets[name] ? new Set(secrets[name]) : undefined);
}

export const allSecrets = secretsOf({
  app: ['client-secret'],
  s3: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
  'repo-key': ['repository-key'],
});
