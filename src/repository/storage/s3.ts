// Storage in an S3 bucket under a prefix, through the `minio` client: AWS S3, MinIO, Ceph RGW and
// other S3-compatible services.
//
// Object Lock: a put with a retention sends x-amz-object-lock-mode and
// x-amz-object-lock-retain-until-date on the PUT itself, so the object is never stored unlocked.
// minio's putObject() cannot do that (it renames every header it does not know to x-amz-meta-*),
// so put() signs and sends the PUT through the client's makeRequestStreamAsync(), as putObject()
// does internally for a buffer, with the headers as given.
//
// Versioned buckets (every Object Lock bucket is one): a DELETE without a version id only adds a
// delete marker and frees nothing, so delete() removes every version of the key, oldest first.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Client, S3Error } from 'minio';
import type { BucketItem, ClientOptions, ObjectLockInfo } from 'minio';
import { isRepositoryError, RepositoryError } from '../errors.ts';
import { checkRange, truncatedError } from './range.ts';
import type { ByteRange } from './range.ts';
import { checkListPrefix, checkObjectName, InvalidObjectNameError } from './names.ts';
import { sleep, systemTimers } from '../../time/timers.ts';
import type { Timers } from '../../time/timers.ts';
import { abandonedRetriesError, errorCode, isMissingObject, isTransient, isWormRefusal, toRepositoryError } from './s3-errors.ts';
import type { S3Action } from './s3-errors.ts';
import type { ObjectInfo, ObjectLockRetention, PutOptions, Storage } from './storage.ts';

export interface S3StorageOptions {
  /** Root URL of the S3 API, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://minio.backup:9000`. */
  endpoint: string;
  bucket: string;
  /** Folder in the bucket that holds the repository, e.g. `tenant-a/m365`; '' for the whole bucket. */
  prefix: string;
  /** Region of the bucket; when absent, the client asks the bucket (GetBucketLocation) once. */
  region?: string;
  accessKey: string;
  secretKey: string;
  /**
   * Bucket in the path (`https://host/bucket/key`) rather than in the host name. Default: true,
   * except for endpoints under amazonaws.com, which use virtual-hosted style.
   */
  forcePathStyle?: boolean;
  /** A request that makes no progress (connect, response, body) for this long fails; default 60 s. */
  requestTimeoutMs?: number;
  /** Attempts per operation when the failure is transient (5xx, throttling, reset, timeout); default 4. */
  maxAttempts?: number;
  /** Delay before the second attempt; doubles for each further one, plus up to 50% jitter. Default 250 ms. */
  retryBaseDelayMs?: number;
  /** Clock, to tell whether a retention found on a refused delete is still in force. */
  now?: () => Date;
  /** Timers for the wait between attempts; the real ones by default. */
  timers?: Timers;
  /** Uniform in [0, 1), for the jitter of the wait between attempts; Math.random by default. */
  random?: () => number;
  /**
   * When it aborts, an operation waiting to try again gives up at once with Unavailable (the
   * retries were abandoned because the run stopped). Requests in flight and first attempts are
   * left alone, so a run can still commit what it stored while its signal has not aborted.
   */
  signal?: AbortSignal;
}

type Transport = NonNullable<ClientOptions['transport']>;

/** One entry of a version listing (minio's ObjectInfo type leaves these fields out). */
interface ObjectVersion {
  name?: string;
  versionId?: string;
  lastModified?: Date;
  isLatest?: boolean | string;
  isDeleteMarker?: boolean;
}

const RETENTION_MODES = new Set(['GOVERNANCE', 'COMPLIANCE']);

export class S3Storage implements Storage {
  /** `s3://bucket/prefix (https://host)`; never credentials. */
  readonly location: string;
  /**
   * True: a put with a retention writes it with the object. The bucket must have Object Lock
   * enabled, or such a put fails with a message that says so; bucketHasObjectLock() checks first.
   */
  readonly supportsObjectLock = true;
  readonly #client: Client;
  readonly #bucket: string;
  /** '' or the repository prefix with a trailing '/'. */
  readonly #keyPrefix: string;
  /** Endpoint origin for messages (no credentials, no path). */
  readonly #endpoint: string;
  readonly #maxAttempts: number;
  readonly #retryBaseDelayMs: number;
  readonly #now: () => Date;
  readonly #timers: Timers;
  readonly #random: () => number;
  readonly #signal: AbortSignal | undefined;
  /** Set once HeadBucket has answered yes, to tell a missing object from a missing bucket. */
  #bucketSeen = false;

  constructor(options: S3StorageOptions) {
    const url = parseEndpoint(options.endpoint);
    this.#endpoint = url.origin;
    this.#bucket = options.bucket;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new RepositoryError(
        'Unavailable',
        `${JSON.stringify(options.bucket)} is not a valid S3 bucket name — check spec.storage.s3.bucket`,
      );
    }
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix !== '') {
      try {
        checkObjectName(prefix);
      } catch (err) {
        if (!(err instanceof InvalidObjectNameError)) throw err;
        throw new RepositoryError('Unavailable', `invalid S3 prefix: ${err.message} — check spec.storage.s3.prefix`);
      }
    }
    this.#keyPrefix = prefix === '' ? '' : `${prefix}/`;
    this.location = `s3://${options.bucket}${prefix === '' ? '' : `/${prefix}`} (${this.#endpoint})`;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 4);
    this.#retryBaseDelayMs = options.retryBaseDelayMs ?? 250;
    this.#now = options.now ?? (() => new Date());
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#signal = options.signal;

    const useSSL = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literal without brackets
    try {
      this.#client = new Client({
        endPoint: host,
        port: url.port === '' ? (useSSL ? 443 : 80) : Number(url.port),
        useSSL,
        accessKey: options.accessKey,
        secretKey: options.secretKey,
        ...(options.region === undefined || options.region === '' ? {} : { region: options.region }),
        pathStyle: options.forcePathStyle ?? !/(^|\.)amazonaws\.com(\.cn)?$/.test(host),
        transport: transportWithTimeout(useSSL ? https : http, options.requestTimeoutMs ?? 60_000),
        // Retries happen here, where errors keep their S3 code (see transportWithTimeout);
        // minio's own would wrap them in a plain Error and log to the console.
        retryOptions: { disableRetry: true },
      });
    } catch (err) {
      throw new RepositoryError(
        'Unavailable',
        `S3 endpoint ${this.#endpoint} is not usable: ${err instanceof Error ? err.message : String(err)} — check spec.storage.s3.endpoint`,
        { cause: err },
      );
    }
  }

  async get(name: string, range?: ByteRange): Promise<Buffer> {
    const key = this.#key(name);
    if (range === undefined) {
      return this.#attempt('read', name, async () => readAll(await this.#client.getObject(this.#bucket, key)));
    }
    checkRange(name, range);
    // minio reads "length 0" as "to the end", and S3 has no empty range: answer from a HEAD.
    if (range.length === 0) {
      const info = await this.stat(name);
      if (info === undefined) throw this.#notFound(name);
      if (range.offset > info.size) throw truncatedError(name, range, 0);
      return Buffer.alloc(0);
    }
    return this.#attempt('read', name, async () => {
      let response: Readable;
      try {
        response = await this.#client.getPartialObject(this.#bucket, key, range.offset, range.length);
      } catch (err) {
        // 416: the object ends before the offset.
        if (errorCode(err) === 'InvalidRange') throw truncatedError(name, range, 0);
        throw err;
      }
      let body = await readAll(response);
      // A server that ignores Range answers 200 with the whole object.
      if ((response as http.IncomingMessage).statusCode === 200 && body.length > range.length) {
        body = body.subarray(range.offset, range.offset + range.length);
      }
      if (body.length < range.length) throw truncatedError(name, range, body.length);
      return body.length === range.length ? body : body.subarray(0, range.length);
    });
  }

  async put(name: string, data: Buffer, options?: PutOptions): Promise<void> {
    const key = this.#key(name);
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(data.length),
    };
    // Over http the payload is signed with its SHA-256, which also lets S3 reject a corrupted
    // upload (the caller may pass it: a pack's id is that hash). Over https minio sends
    // UNSIGNED-PAYLOAD, so Content-MD5 guards the body; AWS also requires it with a retention.
    const signed = this.#client.enableSHA256;
    if (!signed || options?.retention !== undefined) headers['content-md5'] = createHash('md5').update(data).digest('base64');
    if (options?.retention !== undefined) Object.assign(headers, retentionHeaders(name, options.retention));
    const sha256 = signed ? (options?.sha256 ?? createHash('sha256').update(data).digest('hex')) : '';
    await this.#attempt('write', name, async () => {
      const response = await this.#client.makeRequestStreamAsync(
        { method: 'PUT', bucketName: this.#bucket, objectName: key, headers: { ...headers } },
        data,
        sha256,
        [200],
        '',
      );
      response.resume();
      await finished(response);
    });
  }

  /**
   * Removes every version of the object (and its delete markers), oldest first, so that a version
   * under Object Lock stops the delete with the current version still in place. Throws
   * ObjectLocked, naming the retain-until date when S3 tells it.
   */
  async delete(name: string): Promise<void> {
    const key = this.#key(name);
    const versions = await this.#attempt('delete', name, () => this.#versionsOf(key));
    versions.sort(
      (a, b) => (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0) || Number(isLatest(a)) - Number(isLatest(b)),
    );
    for (const version of versions) {
      await this.#attempt('delete', name, () => this.#removeVersion(name, key, version.versionId));
    }
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    const key = this.#key(name);
    try {
      const info = await this.#attempt('stat', name, () => this.#client.statObject(this.#bucket, key));
      return { name, size: info.size, lastModified: info.lastModified };
    } catch (err) {
      if (!isRepositoryError(err, 'NotFound')) throw err;
      // A HEAD answers a bare 404 for a missing bucket as well.
      await this.#requireBucket('stat', name);
      return undefined;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkListPrefix(prefix);
    const keyPrefix = this.#keyPrefix + prefix;
    // After a transient failure the listing resumes behind the last key it returned.
    let startAfter = '';
    for (let attempt = 1; ; attempt++) {
      try {
        const items = this.#client.listObjectsV2(this.#bucket, keyPrefix, true, startAfter) as AsyncIterable<BucketItem>;
        for await (const item of items) {
          if (item.name === undefined) continue; // a common prefix; none without a delimiter
          startAfter = item.name;
          yield { name: item.name.slice(this.#keyPrefix.length), size: item.size, lastModified: item.lastModified };
        }
        return;
      } catch (err) {
        if (attempt < this.#maxAttempts && isTransient(err) && (await this.#backoff(attempt))) continue;
        throw this.#failure(err, 'list', prefix, attempt);
      }
    }
  }

  /** Whether the bucket has Object Lock enabled (and so versioning), i.e. retentions will hold. */
  async bucketHasObjectLock(): Promise<boolean> {
    // minio 8 declares the promise overload of getObjectLockConfig after a `void` one.
    const getConfig = this.#client.getObjectLockConfig.bind(this.#client) as (bucket: string) => Promise<ObjectLockInfo>;
    try {
      const config = await this.#attempt('check', '', () => getConfig(this.#bucket));
      return 'objectLockEnabled' in config && config.objectLockEnabled === 'Enabled';
    } catch (err) {
      if (err instanceof RepositoryError && errorCode(err.cause) === 'ObjectLockConfigurationNotFoundError') return false;
      throw err;
    }
  }

  #key(name: string): string {
    checkObjectName(name);
    return this.#keyPrefix + name;
  }

  /** Every version and delete marker of exactly this key. */
  async #versionsOf(key: string): Promise<ObjectVersion[]> {
    const versions: ObjectVersion[] = [];
    // The listing is by prefix, so it also returns longer keys that start with this one (none for
    // repository names of one length); minio lists a page's versions before its delete markers,
    // so the whole listing is read and filtered rather than cut at the first other key.
    // (minio 8 sends the key-marker of a second page unescaped, which breaks the signature for
    // names with URL-special characters; it only matters past 1000 versions of one key.)
    const entries = this.#client.listObjects(this.#bucket, key, true, { IncludeVersion: true }) as AsyncIterable<ObjectVersion>;
    for await (const entry of entries) {
      if (entry.name === key) versions.push(entry);
    }
    return versions;
  }

  async #removeVersion(name: string, key: string, versionId: string | undefined): Promise<void> {
    try {
      await this.#client.removeObject(this.#bucket, key, versionId === undefined ? {} : { versionId });
    } catch (err) {
      if (isMissingObject(err)) return; // removed meanwhile
      if (isWormRefusal(err)) throw await this.#locked(name, key, versionId, err);
      // AWS answers AccessDenied for a locked version, and also for missing permissions: ask.
      if (errorCode(err) === 'AccessDenied') {
        const locked = await this.#locked(name, key, versionId, err, true);
        if (locked !== undefined) throw locked;
      }
      throw err;
    }
  }

  /**
   * The ObjectLocked error for a refused delete, with the retention if S3 tells it. With
   * `onlyIfLocked`, undefined unless a retention in force or a legal hold is found.
   */
  async #locked(name: string, key: string, versionId: string | undefined, cause: unknown): Promise<RepositoryError>;
  async #locked(
    name: string,
    key: string,
    versionId: string | undefined,
    cause: unknown,
    onlyIfLocked: true,
  ): Promise<RepositoryError | undefined>;
  async #locked(
    name: string,
    key: string,
    versionId: string | undefined,
    cause: unknown,
    onlyIfLocked = false,
  ): Promise<RepositoryError | undefined> {
    const opts = versionId === undefined ? undefined : { versionId };
    const retention = await this.#client.getObjectRetention(this.#bucket, key, opts).catch(() => undefined);
    const until = retention?.retainUntilDate === undefined ? undefined : new Date(retention.retainUntilDate);
    const where = `in ${this.location}`;
    if (retention?.mode !== undefined && until !== undefined && !Number.isNaN(until.getTime()) && until > this.#now()) {
      return new RepositoryError(
        'ObjectLocked',
        `object ${name} ${where} is under S3 Object Lock (${retention.mode} retention until ${until.toISOString()}) and cannot be deleted before then`,
        { cause },
      );
    }
    const hold = await this.#client.getObjectLegalHold(this.#bucket, key, opts).catch(() => undefined);
    if (String(hold) === 'ON') {
      return new RepositoryError(
        'ObjectLocked',
        `object ${name} ${where} is under an S3 Object Lock legal hold and cannot be deleted until it is lifted`,
        {
          cause,
        },
      );
    }
    if (onlyIfLocked) return undefined;
    return new RepositoryError(
      'ObjectLocked',
      `object ${name} ${where} is under S3 Object Lock and cannot be deleted yet (${errorMessage(cause)})`,
      {
        cause,
      },
    );
  }

  /** Throws when the bucket does not exist; remembers a yes. */
  async #requireBucket(action: S3Action, name: string): Promise<void> {
    if (this.#bucketSeen) return;
    const exists = await this.#attempt(action, name, () => this.#client.bucketExists(this.#bucket));
    if (!exists) {
      const missing = new S3Error('The specified bucket does not exist');
      missing.code = 'NoSuchBucket';
      throw this.#failure(missing, action, name, 1);
    }
    this.#bucketSeen = true;
  }

  /** Runs one S3 operation, retrying transient failures with backoff; throws RepositoryError. */
  async #attempt<T>(action: S3Action, name: string, operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (err) {
        if (attempt < this.#maxAttempts && isTransient(err) && (await this.#backoff(attempt))) continue;
        throw this.#failure(err, action, name, attempt);
      }
    }
  }

  /**
   * Waits before attempt `attempt + 1`; false when the signal has aborted (before or during the
   * wait), and then no further attempt is made.
   */
  async #backoff(attempt: number): Promise<boolean> {
    const delay = this.#retryBaseDelayMs * 2 ** (attempt - 1);
    await sleep(this.#timers, delay + this.#random() * delay * 0.5, this.#signal);
    return this.#signal?.aborted !== true;
  }

  #failure(err: unknown, action: S3Action, name: string, attempts: number): Error {
    // A refused name is a bug or tampered data, not a storage failure: keep its own type.
    if (err instanceof InvalidObjectNameError || err instanceof RangeError) return err;
    const context = { endpoint: this.#endpoint, bucket: this.#bucket, location: this.location, action, name, attempts };
    if (this.#signal?.aborted && attempts < this.#maxAttempts && isTransient(err)) return abandonedRetriesError(err, context);
    return toRepositoryError(err, context);
  }

  #notFound(name: string): RepositoryError {
    return new RepositoryError('NotFound', `object ${name} does not exist in ${this.location}`);
  }
}

/** Checks the endpoint URL; messages never echo a URL that may hold credentials. */
function parseEndpoint(endpoint: string): URL {
  const shown = endpoint.includes('@') ? 'the endpoint' : JSON.stringify(endpoint);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RepositoryError(
      'Unavailable',
      `S3 endpoint ${shown} is not a URL (expected e.g. https://s3.eu-central-1.amazonaws.com or http://minio.backup:9000) — check spec.storage.s3.endpoint`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new RepositoryError(
      'Unavailable',
      'the S3 endpoint URL must not contain credentials; they belong in the Secret named in spec.storage.s3.credentialsSecretRef',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RepositoryError('Unavailable', `S3 endpoint ${shown} must start with https:// or http:// — check spec.storage.s3.endpoint`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new RepositoryError(
      'Unavailable',
      `S3 endpoint ${shown} must be the root URL of the S3 API, without a path (the bucket and prefix are separate settings) — check spec.storage.s3.endpoint`,
    );
  }
  return url;
}

/** The statuses for which minio 8 throws a bare Error("Retryable HTTP status"), body dropped. */
const MINIO_RETRY_STATUSES: Record<number, string> = {
  408: 'RequestTimeout',
  429: 'SlowDown',
  499: 'RequestCanceled',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
  520: 'InternalError',
};

/**
 * http(s).request for the minio client, with two changes:
 * - an idle timeout: a request stalled in connect, response or body fails with ETIMEDOUT;
 * - 408/429/5xx answers reach minio under status 599, which it parses like any error (S3 code
 *   from the XML body, else from x-minio-error-code, set here from the status). minio 8 would
 *   otherwise throw a plain Error without the S3 code, even with its own retries disabled.
 */
function transportWithTimeout(base: typeof http | typeof https, timeoutMs: number): Transport {
  const request = (...args: unknown[]): http.ClientRequest => {
    const last = args.length - 1;
    const onResponse = args[last];
    if (typeof onResponse === 'function') {
      args[last] = (response: http.IncomingMessage) => {
        const code = MINIO_RETRY_STATUSES[response.statusCode ?? 0];
        if (code !== undefined) {
          if (response.headers['x-minio-error-code'] === undefined) {
            response.headers['x-minio-error-code'] = code;
            response.headers['x-minio-error-desc'] = `HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trim();
          }
          response.statusCode = 599;
        }
        (onResponse as (response: http.IncomingMessage) => void)(response);
      };
    }
    const req = (base.request as (...args: unknown[]) => http.ClientRequest)(...args);
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no progress from S3 for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    return req;
  };
  return { request: request as Transport['request'] };
}

function retentionHeaders(name: string, retention: ObjectLockRetention): Record<string, string> {
  const until = retention.retainUntil.getTime();
  if (!RETENTION_MODES.has(retention.mode) || Number.isNaN(until)) {
    throw new RangeError(`invalid Object Lock retention for object ${name}: ${retention.mode} until ${String(retention.retainUntil)}`);
  }
  return {
    'x-amz-object-lock-mode': retention.mode,
    // Whole seconds, rounded up, so the lock never ends before the time asked for.
    'x-amz-object-lock-retain-until-date': new Date(Math.ceil(until / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function isLatest(version: ObjectVersion): boolean {
  return version.isLatest === true || version.isLatest === 'true';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
