// What a failed S3 request means for the repository: retry it, or turn it into a RepositoryError
// whose message tells a platform engineer which setting to check. Messages name the endpoint,
// bucket and object, never the credentials (the minio client's errors do not carry them either).
import { S3Error } from 'minio';
import { RepositoryError } from '../errors.ts';

/** What the storage was doing, for messages: "cannot read object …". */
export type S3Action = 'read' | 'write' | 'delete' | 'stat' | 'list' | 'check';

export interface S3ErrorContext {
  /** The endpoint URL without credentials, e.g. http://127.0.0.1:9000. */
  endpoint: string;
  bucket: string;
  /** S3Storage.location, for "does not exist in …". */
  location: string;
  action: S3Action;
  /** Object name or list prefix (relative to the repository prefix). */
  name: string;
  /** How many attempts were made, when more than one. */
  attempts: number;
}

/** Socket-level failures: the endpoint is unreachable or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Network failures worth another attempt; refused connections and unknown hosts are configuration. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** S3 error codes of 5xx, throttling and timeouts (minio-go retries the same). */
const TRANSIENT_S3_CODES = new Set([
  'InternalError',
  'BadGateway',
  'GatewayTimeout',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'RequestCanceled',
  'XMinioServerNotInitialized',
  'OperationAborted',
]);

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'InvalidSecurity',
  'AllAccessDisabled',
  'AccountProblem',
]);

const REGION_CODES = new Set([
  'AuthorizationHeaderMalformed',
  'IllegalLocationConstraintException',
  'PermanentRedirect',
  'MovedPermanently',
  'TemporaryRedirect',
  'InvalidRegion',
]);

/** The `code` of a Node or minio error, if any. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' && err.code !== '' ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether another attempt may succeed: 5xx, throttling, timeouts, dropped connections. */
export function isTransient(err: unknown): boolean {
  if (err instanceof RepositoryError) return false;
  const code = errorCode(err);
  if (err instanceof S3Error) return code !== undefined && TRANSIENT_S3_CODES.has(code);
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
}

/** Whether S3 answered that the object does not exist (GET: NoSuchKey; HEAD: a bare 404). */
export function isMissingObject(err: unknown): boolean {
  const code = errorCode(err);
  return err instanceof S3Error && (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchVersion');
}

/** Whether S3 refused to delete because of Object Lock (MinIO: InvalidRequest "…WORM protected…"). */
export function isWormRefusal(err: unknown): boolean {
  return err instanceof S3Error && errorCode(err) === 'InvalidRequest' && /WORM/i.test(err.message);
}

function describe(ctx: S3ErrorContext): string {
  if (ctx.action === 'list') return `list objects under ${JSON.stringify(ctx.name)}`;
  if (ctx.action === 'check') return 'read the Object Lock configuration';
  return `${ctx.action} object ${ctx.name}`;
}

/** The RepositoryError for a failure that is not retried (any more). */
export function toRepositoryError(err: unknown, ctx: S3ErrorContext): RepositoryError {
  if (err instanceof RepositoryError) return err;
  const code = errorCode(err);
  const detail = errorMessage(err);
  const after = ctx.attempts > 1 ? ` (after ${ctx.attempts} attempts)` : '';
  const options = { cause: err };

  if (!(err instanceof S3Error)) {
    if (code !== undefined && TLS_CODES.has(code)) {
      return new RepositoryError(
        'Unavailable',
        `TLS with S3 at ${ctx.endpoint} failed: ${detail}${after} — check spec.storage.s3.endpoint (https:// or http://) and the endpoint's certificate`,
        options,
      );
    }
    if (code !== undefined && NETWORK_CODES.has(code)) {
      return new RepositoryError(
        'Unavailable',
        `cannot reach S3 at ${ctx.endpoint}: ${detail}${after} — check spec.storage.s3.endpoint and that the endpoint is reachable`,
        options,
      );
    }
    return new RepositoryError('Unavailable', `cannot ${describe(ctx)} at S3 ${ctx.endpoint}: ${detail}${after}`, options);
  }

  if (code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchVersion') {
    return new RepositoryError('NotFound', `object ${ctx.name} does not exist in ${ctx.location}`, options);
  }
  if (code === 'NoSuchBucket') {
    return new RepositoryError(
      'Unavailable',
      `bucket ${ctx.bucket} does not exist at ${ctx.endpoint} — check spec.storage.s3.bucket, or create the bucket (with Object Lock if the policy uses it)`,
      options,
    );
  }
  if (code !== undefined && CREDENTIAL_CODES.has(code)) {
    return new RepositoryError(
      'Unavailable',
      `S3 at ${ctx.endpoint} refused the credentials to ${describe(ctx)} in bucket ${ctx.bucket} (${code}: ${detail}) — check the Secret named in spec.storage.s3.credentialsSecretRef, and that its access key may use this bucket`,
      options,
    );
  }
  if (code !== undefined && REGION_CODES.has(code)) {
    return new RepositoryError(
      'Unavailable',
      `S3 at ${ctx.endpoint} cannot serve bucket ${ctx.bucket} as addressed (${code}: ${detail}) — check spec.storage.s3.region and spec.storage.s3.endpoint`,
      options,
    );
  }
  if (code === 'InvalidRequest' && /ObjectLockConfiguration/i.test(detail)) {
    return new RepositoryError(
      'Unavailable',
      `bucket ${ctx.bucket} at ${ctx.endpoint} has no Object Lock configuration, so ${ctx.name} cannot be written with a retention — use a bucket created with Object Lock, or turn Object Lock off in the policy`,
      options,
    );
  }
  const what = code === undefined ? detail : `${code}: ${detail}`;
  return new RepositoryError(
    'Unavailable',
    `S3 at ${ctx.endpoint} failed to ${describe(ctx)} in bucket ${ctx.bucket}: ${what}${after}`,
    options,
  );
}

/**
 * The RepositoryError for an operation whose retries were given up because the run stopped (its
 * signal aborted while the operation waited to try again); the last failure is the cause.
 */
export function abandonedRetriesError(err: unknown, ctx: S3ErrorContext): RepositoryError {
  const code = errorCode(err);
  const detail = errorMessage(err);
  const attempts = ctx.attempts === 1 ? '1 attempt' : `${ctx.attempts} attempts`;
  return new RepositoryError(
    'Unavailable',
    `cannot ${describe(ctx)} at S3 ${ctx.endpoint}: retries abandoned because the run stopped (after ${attempts}; last error: ${code === undefined ? detail : `${code}: ${detail}`})`,
    { cause: err },
  );
}
