import { describe, expect, it } from 'vitest';
import { allSecrets, microsoftConnector, secretsOf } from '../fixtures.test-support.ts';
import { decideConnectorReady } from './decide.ts';

describe('Connector readiness', () => {
  it('is Ready when the credential Secret and key exist', () => {
    const verdict = decideConnectorReady({ connector: microsoftConnector(), secrets: allSecrets });
    expect(verdict).toMatchObject({ status: 'True', reason: 'Ready' });
  });

  it('names the missing Secret', () => {
    const verdict = decideConnectorReady({ connector: microsoftConnector(), secrets: secretsOf({}) });
    expect(verdict.status).toBe('False');
    expect(verdict.reason).toBe('SecretNotFound');
    expect(verdict.message).toContain('Secret "app" named in spec.microsoft365.clientSecretRef does not exist');
  });

  it('names the missing key of an existing Secret', () => {
    const verdict = decideConnectorReady({ connector: microsoftConnector(), secrets: secretsOf({ app: ['secret'] }) });
    expect(verdict.reason).toBe('SecretNotFound');
    expect(verdict.message).toContain('has no key "client-secret"');
  });

  it('checks both keys of a certificate Secret', () => {
    const connector = microsoftConnector();
    connector.spec.microsoft365 = {
      ...connector.spec.microsoft365!,
      clientSecretRef: undefined,
      certificateRef: { name: 'cert', certificateKey: 'tls.crt', privateKeyKey: 'tls.key' },
    };
    const verdict = decideConnectorReady({ connector, secrets: secretsOf({ cert: ['tls.crt'] }) });
    expect(verdict.message).toContain('has no key "tls.key"');
  });

  it('checks the service-account key of a Google connector', () => {
    const verdict = decideConnectorReady({
      connector: {
        ...microsoftConnector(),
        spec: {
          provider: 'google',
          google: { domain: 'example.com', adminEmail: 'admin@example.com', serviceAccountKeyRef: { name: 'sa', key: 'key.json' } },
        },
      },
      secrets: secretsOf({ sa: ['key.json'] }),
    });
    expect(verdict.status).toBe('True');
  });
});
