// A single-node single-drive MinIO on free 127.0.0.1 ports with generated root credentials, and
// a bucket with Object Lock (hence versioning) enabled, checked by reading both configs back.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'minio';
import type { ObjectLockInfo } from 'minio';
import { freePorts, ManagedProcess, poll, portInUse, startupFailure } from './process.ts';

export const DEFAULT_BUCKET = 'saasbackup-test';
export const DEFAULT_REGION = 'us-east-1';

export interface MinioOptions {
  binary: string;
  /** Data goes to <dir>/minio-data, the log to <dir>/minio.log. */
  dir: string;
  /** Bucket created with Object Lock; default "saasbackup-test". Pass null for no bucket. */
  bucket?: string | null;
  region?: string;
  /** Time allowed to become live and create the bucket (default 60 s). */
  startTimeoutMs?: number;
  /**
   * Start again on the ports and credentials of an earlier server (its data stays in `dir`), as a
   * storage outage ends: clients of the first server reach this one.
   */
  restartOf?: Pick<MinioConnection, 'port' | 'consolePort' | 'accessKey' | 'secretKey'>;
}

/** Plain data, so it can be handed to test workers through vitest's provide(). */
export interface MinioConnection {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  host: string;
  port: number;
  consolePort: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  region: string;
  /** The Object Lock bucket, or null if none was requested. */
  bucket: string | null;
}

export interface MinioServer extends MinioConnection {
  dataDir: string;
  logFile: string;
  /** A new client for this server with the root credentials. */
  client(): Client;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

/** A minio npm client for a running server (root credentials). */
export function minioClient(c: Pick<MinioConnection, 'host' | 'port' | 'accessKey' | 'secretKey' | 'region'>): Client {
  return new Client({
    endPoint: c.host,
    port: c.port,
    useSSL: false,
    accessKey: c.accessKey,
    secretKey: c.secretKey,
    region: c.region,
  });
}

async function live(endpoint: string): Promise<true | undefined> {
  const res = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok ? true : undefined;
}

/** client.getObjectLockConfig(), typed: its first overload is declared `void` in minio 8's types. */
export function getObjectLockConfig(client: Client, bucket: string): Promise<ObjectLockInfo> {
  const get = client.getObjectLockConfig.bind(client) as (bucket: string) => Promise<ObjectLockInfo>;
  return get(bucket);
}

/**
 * Creates `bucket` with Object Lock (which also turns on versioning) unless it exists, then
 * verifies versioning reads back "Enabled" and the Object Lock configuration is enabled.
 */
export async function createObjectLockBucket(client: Client, bucket: string, region = DEFAULT_REGION): Promise<void> {
  if (!(await client.bucketExists(bucket))) {
    await client.makeBucket(bucket, region, { ObjectLocking: true });
  }
  const versioning = await client.getBucketVersioning(bucket);
  if (versioning.Status !== 'Enabled') {
    throw new Error(`bucket ${bucket}: versioning is ${JSON.stringify(versioning)}, expected Status=Enabled`);
  }
  const lock = await getObjectLockConfig(client, bucket);
  if (!('objectLockEnabled' in lock) || lock.objectLockEnabled !== 'Enabled') {
    throw new Error(`bucket ${bucket}: object lock config is ${JSON.stringify(lock)}, expected objectLockEnabled=Enabled`);
  }
}

export async function startMinio(options: MinioOptions): Promise<MinioServer> {
  const dataDir = join(options.dir, 'minio-data');
  const logFile = join(options.dir, 'minio.log');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // MinIO fetches an env value that starts with "env" from a URL (minio/pkg env.LookupEnv), so
  // both values get a fixed prefix.
  const accessKey = options.restartOf?.accessKey ?? `saasbackup-${randomBytes(6).toString('hex')}`;
  const secretKey = options.restartOf?.secretKey ?? `sk-${randomBytes(20).toString('hex')}`;
  const region = options.region ?? DEFAULT_REGION;
  const bucket = options.bucket === undefined ? DEFAULT_BUCKET : options.bucket;
  const timeoutMs = options.startTimeoutMs ?? 60_000;

  for (let attempt = 1; ; attempt++) {
    const [port, consolePort] = options.restartOf
      ? [options.restartOf.port, options.restartOf.consolePort]
      : ((await freePorts(2)) as [number, number]);
    const endpoint = `http://127.0.0.1:${port}`;
    const proc = new ManagedProcess({
      name: 'minio',
      binary: options.binary,
      logFile,
      args: ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`],
      env: {
        ...process.env,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_REGION: region,
        MINIO_UPDATE: 'off',
        MINIO_CI_CD: 'on',
        MINIO_BROWSER: 'off',
      },
    });
    const connection: MinioConnection = {
      endpoint,
      host: '127.0.0.1',
      port,
      consolePort,
      useSSL: false,
      accessKey,
      secretKey,
      region,
      bucket,
    };
    try {
      await poll('minio /minio/health/live', timeoutMs, () => live(endpoint), {
        intervalMs: 50,
        abort: () => proc.exitError(),
      });
      if (bucket !== null) {
        // Right after "live" the object layer may still be initialising; retry briefly.
        const client = minioClient(connection);
        await poll(
          `minio bucket ${bucket} with Object Lock`,
          timeoutMs,
          async () => {
            await createObjectLockBucket(client, bucket, region);
            return true;
          },
          { intervalMs: 200, abort: () => proc.exitError() },
        );
      }
    } catch (err) {
      const failure = await startupFailure(proc, err);
      if (attempt < 3 && !options.restartOf && portInUse(logFile)) continue;
      throw failure;
    }
    return {
      ...connection,
      dataDir,
      logFile,
      client: () => minioClient(connection),
      stop: () => proc.stop(5_000),
    };
  }
}
