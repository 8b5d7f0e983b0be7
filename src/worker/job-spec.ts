// What a worker is told, checked and completed with the CRD defaults: the Connector and the
// BackupPolicy (as a user writes them for a local run, or as they will be mounted into a Job), and
// the Secrets they reference, mounted as files. The checks are the apiserver's: the same TypeBox
// schemas, and the field rules of src/api/validation-rules.ts that the CRDs carry as CEL, so that a
// manifest that never went through the apiserver is refused the same way. Pure: the CLI reads the
// files, this decides.
import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { backupPolicyKind, BackupPolicySpec } from '../api/backup-policy.ts';
import { connectorKind, ConnectorSpec } from '../api/connector.ts';
import { parseDuration } from '../api/duration.ts';
import type { KindDefinition } from '../api/kind.ts';
import type { Reason } from '../api/reasons.ts';
import { brokenRules, KUBERNETES_NAME_RULES, SECRET_KEY_RULES, type BrokenRule } from '../api/validation-rules.ts';
import type { MicrosoftCredential } from '../providers/microsoft365/auth.ts';

/** A manifest, file or Secret the worker cannot use; the message names the field or file to fix. */
export class JobSpecError extends Error {
  override readonly name = 'JobSpecError';
  /** The catalog reason of the result: InvalidConfiguration, or SecretNotFound for a missing Secret key. */
  readonly reason: Reason;

  constructor(message: string, reason: Reason = 'InvalidConfiguration') {
    super(message);
    this.reason = reason;
  }
}

interface ObjectShape {
  kind?: string;
  metadata?: { name?: unknown; namespace?: string };
  spec?: unknown;
}

/** A JSON pointer of TypeBox (`/services/1`) as the apiserver writes the field (`spec.services[1]`). */
function fieldOf(root: string, pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : `${path}.${segment}`), root);
}

function schemaMessage(error: ValueError): string {
  const schema = error.schema as { enum?: unknown[]; maxLength?: number; maxItems?: number };
  if (schema.enum) return `must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(error.value)})`;
  if (error.type === ValueErrorType.StringMaxLength) return `Too long: must have at most ${schema.maxLength} characters`;
  if (error.type === ValueErrorType.ArrayMaxItems) return `Too many: must have at most ${schema.maxItems} items`;
  return error.message;
}

/**
 * The problems of `value` against `schema`, each with its field: the schema's own, and the broken
 * field rules. Where a rule explains a field, it replaces the bare "must match pattern" of the schema.
 */
function problemsOf(schema: TSchema, value: unknown, root: string): BrokenRule[] {
  const rules = brokenRules(schema, value, root);
  const explained = new Set(rules.map((rule) => rule.path));
  const schemaProblems = [...Value.Errors(schema, value)]
    .map((error) => ({ error, path: fieldOf(root, error.path) }))
    .filter(({ error, path }) => !(error.type === ValueErrorType.StringPattern && explained.has(path)))
    .map(({ error, path }) => ({ path, message: schemaMessage(error) }));
  return [...schemaProblems, ...rules];
}

export interface NamedSpec<T> {
  name: string;
  namespace: string;
  spec: T;
}

function named<T>(object: unknown, kind: KindDefinition, schema: TSchema): NamedSpec<T> {
  const o = (object ?? {}) as ObjectShape;
  if (o.kind !== undefined && o.kind !== kind.kind) throw new JobSpecError(`expected a ${kind.kind}, got a ${String(o.kind)}`);
  const name = o.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new JobSpecError(`the ${kind.kind} has no metadata.name`);
  const spec = Value.Default(schema, structuredClone(o.spec));
  const nameProblems = [...KUBERNETES_NAME_RULES, ...(kind.nameRules ?? [])]
    .filter((rule) => !rule.holds(name))
    .map((rule) => ({ path: 'metadata.name', message: rule.message }));
  const problems = [...nameProblems, ...problemsOf(schema, spec, 'spec')];
  if (problems.length > 0) {
    const lines = problems.slice(0, 5).map((problem) => `  ${problem.path}: ${problem.message}`);
    if (problems.length > 5) lines.push(`  (and ${problems.length - 5} more)`);
    throw new JobSpecError(`${kind.kind} ${name} is not valid:\n${lines.join('\n')}`);
  }
  return { name, namespace: o.metadata?.namespace ?? 'default', spec: spec as T };
}

export function parseConnector(object: unknown): NamedSpec<ConnectorSpec> {
  return named<ConnectorSpec>(object, connectorKind, ConnectorSpec);
}

export function parsePolicy(object: unknown): NamedSpec<BackupPolicySpec> {
  return named<BackupPolicySpec>(object, backupPolicyKind, BackupPolicySpec);
}

/** The name of the BackupRun (`--run`), which names the run's reports in the repository. */
export function checkRunName(name: string, option = '--run'): string {
  const broken = KUBERNETES_NAME_RULES.find((rule) => !rule.holds(name));
  if (broken) throw new JobSpecError(`${option} ${JSON.stringify(name)}: ${broken.message}`);
  return name;
}

/** A mounted Secret, read one key at a time, so that only the keys a manifest names are read. */
export interface SecretSource {
  /** Where the Secret is mounted, for messages. */
  readonly location: string;
  /** The value of `key`, or undefined when the Secret has no such key; throws JobSpecError when the key's file cannot be used. */
  read(key: string): string | undefined;
}

/** A SecretSource over values in memory (credentials from the environment, tests). */
export function secretOf(values: Record<string, string>, location: string): SecretSource {
  return { location, read: (key) => (Object.hasOwn(values, key) ? values[key] : undefined) };
}

/** `first`, and for keys it does not have, `fallback`. */
export function secretWithFallback(first: SecretSource, fallback: SecretSource): SecretSource {
  return { location: `${first.location} (or ${fallback.location})`, read: (key) => first.read(key) ?? fallback.read(key) };
}

interface SecretKeyUse {
  key: string;
  /** The manifest field that names the key, or that implies it. */
  field: string;
  /** What the value is, for messages: "the client secret of the Connector". */
  what: string;
  /** The Secret named in the manifest. */
  secretName: string;
}

function required(secret: SecretSource, use: SecretKeyUse): string {
  const broken = SECRET_KEY_RULES.find((rule) => !rule.holds(use.key));
  if (broken) throw new JobSpecError(`${use.field}: ${broken.message} (got ${JSON.stringify(use.key)})`);
  let value: string | undefined;
  try {
    value = secret.read(use.key);
  } catch (error) {
    if (error instanceof JobSpecError) throw new JobSpecError(`${use.what} (${use.field}): ${error.message}`, error.reason);
    throw error;
  }
  if (value === undefined || value === '')
    throw new JobSpecError(
      `${use.what}: the mounted Secret has no key ${use.key} (at ${secret.location}); add the key to the Secret ${use.secretName}, or correct ${use.field}`,
      'SecretNotFound',
    );
  return value;
}

export function microsoftCredential(connector: ConnectorSpec, secret: SecretSource): MicrosoftCredential {
  const m = connector.microsoft365;
  if (!m) throw new JobSpecError('the Connector has no spec.microsoft365');
  if (m.clientSecretRef) {
    const ref = m.clientSecretRef;
    return {
      clientSecret: required(secret, {
        key: ref.key ?? 'client-secret',
        field: 'spec.microsoft365.clientSecretRef.key',
        what: 'the client secret of the Connector',
        secretName: ref.name,
      }).trim(),
    };
  }
  if (m.certificateRef) {
    const ref = m.certificateRef;
    return {
      certificatePem: required(secret, {
        key: ref.certificateKey ?? 'tls.crt',
        field: 'spec.microsoft365.certificateRef.certificateKey',
        what: 'the certificate of the Connector',
        secretName: ref.name,
      }),
      privateKeyPem: required(secret, {
        key: ref.privateKeyKey ?? 'tls.key',
        field: 'spec.microsoft365.certificateRef.privateKeyKey',
        what: 'the private key of the Connector',
        secretName: ref.name,
      }),
    };
  }
  throw new JobSpecError('the Connector sets neither spec.microsoft365.clientSecretRef nor spec.microsoft365.certificateRef');
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

/** Where the repository is and how to open it; reads the bucket credentials only for s3 storage. */
export function storagePlan(policy: BackupPolicySpec, storageSecret: SecretSource, keySecret: SecretSource): StoragePlan {
  const storage = policy.storage;
  const keyRef = storage.encryptionKeySecretRef;
  const repositoryKey = required(keySecret, {
    key: keyRef.key ?? 'repository-key',
    field: 'spec.storage.encryptionKeySecretRef.key',
    what: 'the repository key',
    secretName: keyRef.name,
  }).replace(/\r?\n$/, '');
  const objectLock = storage.objectLock ? { mode: storage.objectLock.mode, periodMs: parseDuration(storage.objectLock.period) } : undefined;
  if (storage.s3) {
    const s3 = storage.s3;
    const credential = (key: string) =>
      required(storageSecret, {
        key,
        field: 'spec.storage.s3.credentialsSecretRef.name',
        what: 'the bucket credentials',
        secretName: s3.credentialsSecretRef.name,
      }).trim();
    return {
      kind: 's3',
      s3: {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: s3.prefix ?? '',
        ...(s3.region ? { region: s3.region } : {}),
        ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
        accessKey: credential('AWS_ACCESS_KEY_ID'),
        secretKey: credential('AWS_SECRET_ACCESS_KEY'),
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
