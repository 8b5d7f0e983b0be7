// What a worker Job is told, checked and completed with the CRD defaults: the Connector and the
// BackupPolicy (as the controller mounts them, or as a user writes them for a local run), and the
// Secrets they reference, mounted as files. Pure: the CLI reads the files, this decides.
import { Value } from '@sinclair/typebox/value';
import { BackupPolicySpec } from '../api/backup-policy.ts';
import { ConnectorSpec } from '../api/connector.ts';
import { parseDuration } from '../api/duration.ts';
import type { MicrosoftCredential } from '../providers/microsoft365/auth.ts';

export class JobSpecError extends Error {
  override readonly name = 'JobSpecError';
}

interface ObjectShape {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
}

function checked<T>(schema: Parameters<typeof Value.Check>[0], value: unknown, what: string): T {
  const withDefaults = Value.Default(schema, structuredClone(value));
  const errors = [...Value.Errors(schema, withDefaults)].slice(0, 5);
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const allowed = (e.schema as { enum?: unknown[] }).enum;
      const message = allowed
        ? `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(e.value)})`
        : e.message;
      return `  spec${e.path.replaceAll('/', '.')}: ${message}`;
    });
    throw new JobSpecError(`${what} is not valid:\n${lines.join('\n')}`);
  }
  return withDefaults as T;
}

export interface NamedSpec<T> {
  name: string;
  namespace: string;
  spec: T;
}

function named<T>(object: unknown, kind: string, schema: Parameters<typeof Value.Check>[0]): NamedSpec<T> {
  const o = (object ?? {}) as ObjectShape;
  if (o.kind !== undefined && o.kind !== kind) throw new JobSpecError(`expected a ${kind}, got a ${String(o.kind)}`);
  const name = o.metadata?.name;
  if (!name) throw new JobSpecError(`the ${kind} has no metadata.name`);
  return { name, namespace: o.metadata?.namespace ?? 'default', spec: checked<T>(schema, o.spec, `${kind} ${name}`) };
}

export function parseConnector(object: unknown): NamedSpec<ConnectorSpec> {
  return named<ConnectorSpec>(object, 'Connector', ConnectorSpec);
}

export function parsePolicy(object: unknown): NamedSpec<BackupPolicySpec> {
  return named<BackupPolicySpec>(object, 'BackupPolicy', BackupPolicySpec);
}

/** A mounted Secret: key → value. */
export type SecretFiles = Record<string, string>;

function required(secret: SecretFiles, key: string, what: string): string {
  const value = secret[key];
  if (value === undefined || value === '') throw new JobSpecError(`${what}: the mounted Secret has no key ${key}`);
  return value;
}

export function microsoftCredential(connector: ConnectorSpec, secret: SecretFiles): MicrosoftCredential {
  const m = connector.microsoft365;
  if (!m) throw new JobSpecError('the Connector has no spec.microsoft365');
  if (m.clientSecretRef)
    return { clientSecret: required(secret, m.clientSecretRef.key ?? 'client-secret', 'the client secret of the Connector').trim() };
  if (m.certificateRef) {
    return {
      certificatePem: required(secret, m.certificateRef.certificateKey ?? 'tls.crt', 'the certificate of the Connector'),
      privateKeyPem: required(secret, m.certificateRef.privateKeyKey ?? 'tls.key', 'the private key of the Connector'),
    };
  }
  throw new JobSpecError('the Connector sets neither clientSecretRef nor certificateRef');
}

export interface StoragePlan {
  kind: 's3' | 'local';
  s3?: {
    endpoint: string;
    bucket: string;
    prefix: string;
    region?: string;
    forcePathStyle?: boolean;
    accessKey: string;
    secretKey: string;
  };
  local?: { path: string };
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; periodMs: number };
  repositoryKey: string;
}

export function storagePlan(policy: BackupPolicySpec, storageSecret: SecretFiles, keySecret: SecretFiles): StoragePlan {
  const storage = policy.storage;
  const repositoryKey = required(keySecret, storage.encryptionKeySecretRef.key ?? 'repository-key', 'the repository key').replace(
    /\r?\n$/,
    '',
  );
  const objectLock = storage.objectLock ? { mode: storage.objectLock.mode, periodMs: parseDuration(storage.objectLock.period) } : undefined;
  if (storage.s3) {
    const s3 = storage.s3;
    return {
      kind: 's3',
      s3: {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: s3.prefix ?? '',
        ...(s3.region ? { region: s3.region } : {}),
        ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
        accessKey: required(storageSecret, 'AWS_ACCESS_KEY_ID', 'the bucket credentials').trim(),
        secretKey: required(storageSecret, 'AWS_SECRET_ACCESS_KEY', 'the bucket credentials').trim(),
      },
      ...(objectLock ? { objectLock } : {}),
      repositoryKey,
    };
  }
  if (storage.local) return { kind: 'local', local: { path: storage.local.path }, repositoryKey };
  throw new JobSpecError('spec.storage sets neither s3 nor local');
}

export interface ExclusionFile {
  objects: { account: string; service?: string; objectId: string; version: string }[];
}
