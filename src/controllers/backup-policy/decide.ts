// Pure validation of a BackupPolicy beyond what the CRD schema can check.
import { CronExpressionParser } from 'cron-parser';
import { GOOGLE_SERVICES, MICROSOFT365_SERVICES, type BackupPolicy, type Service } from '../../api/backup-policy.ts';
import type { Connector } from '../../api/connector.ts';
import { isTrue } from '../../runtime/conditions.ts';
import { checkSecret, failed, ok, type SecretKeys, type Verdict } from '../verdict.ts';

export interface BackupPolicyInput {
  policy: BackupPolicy;
  /** The Connector named by spec.connectorRef, if it exists. */
  connector: Connector | undefined;
  secrets: SecretKeys;
}

export const S3_CREDENTIAL_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

export function servicesOfProvider(provider: Connector['spec']['provider']): readonly Service[] {
  return provider === 'google' ? GOOGLE_SERVICES : MICROSOFT365_SERVICES;
}

/** Checks the schedule and time zone the way the scheduler will use them; returns a problem or undefined. */
export function scheduleProblem(schedule: string, timeZone: string | undefined): string | undefined {
  if (timeZone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      return `spec.timeZone "${timeZone}" is not an IANA time zone such as Europe/Berlin or UTC.`;
    }
  }
  try {
    CronExpressionParser.parse(schedule, { tz: timeZone ?? 'UTC' });
  } catch (error) {
    return `spec.schedule "${schedule}" is not a valid cron expression: ${(error as Error).message}.`;
  }
  return undefined;
}

export function decideBackupPolicyReady({ policy, connector, secrets }: BackupPolicyInput): Verdict {
  const { spec } = policy;
  if (!connector) {
    return failed(
      'ConnectorNotFound',
      `Connector "${spec.connectorRef.name}" named in spec.connectorRef does not exist in this namespace.`,
    );
  }
  const offered = servicesOfProvider(connector.spec.provider);
  const unsupported = spec.services.filter((service) => !offered.includes(service));
  if (unsupported.length > 0) {
    return failed(
      'InvalidConfiguration',
      `spec.services lists ${unsupported.join(', ')}, which provider ${connector.spec.provider} does not offer; it offers ${offered.join(', ')}.`,
    );
  }
  const schedule = scheduleProblem(spec.schedule, spec.timeZone);
  if (schedule) return failed('InvalidConfiguration', schedule);

  const secretProblem =
    (spec.storage.s3 &&
      checkSecret(secrets, 'spec.storage.s3.credentialsSecretRef', spec.storage.s3.credentialsSecretRef.name, S3_CREDENTIAL_KEYS)) ||
    checkSecret(secrets, 'spec.storage.encryptionKeySecretRef', spec.storage.encryptionKeySecretRef.name, [
      spec.storage.encryptionKeySecretRef.key,
    ]);
  if (secretProblem) return secretProblem;

  if (!isTrue(connector.status?.conditions, 'Ready')) {
    return failed('ConnectorNotReady', `Connector "${connector.metadata.name}" is not Ready.`);
  }
  return ok('Ready', 'The policy is valid: its Connector is Ready and its storage Secrets are present.');
}

export function policySecretNames(policy: BackupPolicy): string[] {
  const { s3, encryptionKeySecretRef } = policy.spec.storage;
  return [s3?.credentialsSecretRef.name, encryptionKeySecretRef.name].filter((name): name is string => name !== undefined);
}
