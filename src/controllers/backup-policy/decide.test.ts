import { describe, expect, it } from 'vitest';
import { allSecrets, microsoftConnector, policy, secretsOf } from '../fixtures.test-support.ts';
import { decideBackupPolicyReady, scheduleProblem } from './decide.ts';

describe('BackupPolicy readiness', () => {
  it('is Ready with a Ready connector and all Secrets', () => {
    expect(decideBackupPolicyReady({ policy: policy(), connector: microsoftConnector(), secrets: allSecrets })).toMatchObject({
      status: 'True',
      reason: 'Ready',
    });
  });

  it('reports a missing Connector by name', () => {
    const verdict = decideBackupPolicyReady({ policy: policy(), connector: undefined, secrets: allSecrets });
    expect(verdict).toMatchObject({ status: 'False', reason: 'ConnectorNotFound' });
    expect(verdict.message).toContain('Connector "contoso"');
  });

  it('rejects services the provider does not offer and lists what it offers', () => {
    const verdict = decideBackupPolicyReady({
      policy: policy({ services: ['mail', 'gmail'] }),
      connector: microsoftConnector(),
      secrets: allSecrets,
    });
    expect(verdict.reason).toBe('InvalidConfiguration');
    expect(verdict.message).toContain('gmail');
    expect(verdict.message).toContain('it offers mail, calendar, contacts, onedrive, sharepoint, teams');
  });

  it('rejects an unknown time zone', () => {
    const verdict = decideBackupPolicyReady({
      policy: policy({ timeZone: 'Mars/Olympus' }),
      connector: microsoftConnector(),
      secrets: allSecrets,
    });
    expect(verdict.reason).toBe('InvalidConfiguration');
    expect(verdict.message).toContain('spec.timeZone');
  });

  it('names a missing S3 credentials key', () => {
    const secrets = secretsOf({ app: ['client-secret'], s3: ['AWS_ACCESS_KEY_ID'], 'repo-key': ['repository-key'] });
    const verdict = decideBackupPolicyReady({ policy: policy(), connector: microsoftConnector(), secrets });
    expect(verdict.reason).toBe('SecretNotFound');
    expect(verdict.message).toContain('"AWS_SECRET_ACCESS_KEY"');
  });

  it('names a missing encryption key Secret', () => {
    const secrets = secretsOf({ s3: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] });
    const verdict = decideBackupPolicyReady({ policy: policy(), connector: microsoftConnector(), secrets });
    expect(verdict.message).toContain('spec.storage.encryptionKeySecretRef');
  });

  it('is not Ready while its Connector is not Ready', () => {
    const verdict = decideBackupPolicyReady({ policy: policy(), connector: microsoftConnector(false), secrets: allSecrets });
    expect(verdict).toMatchObject({ status: 'False', reason: 'ConnectorNotReady' });
  });

  it('accepts the default schedule in a named time zone', () => {
    expect(scheduleProblem('0 */6 * * *', 'Europe/Copenhagen')).toBeUndefined();
  });
});
