// A private MinIO for the benchmark, started with the integration-test harness (same pinned binary,
// same start-up checks) on free 127.0.0.1 ports, with one plain bucket (no versioning, no Object
// Lock) that every tool writes into under its own prefix. "Bytes stored" is the sum of the sizes of
// the objects under a prefix.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'minio';
import { pinnedVersions, resolveBinaries } from '../../test/envtest/binaries.ts';
import { startMinio } from '../../test/envtest/minio.ts';
import { findProcess } from './cpu.ts';
import type { MinioServer } from '../../test/envtest/minio.ts';

export const BENCH_BUCKET = 'bench';

export interface BenchStorage {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** `minio --version`, first line (plus the pinned module version for the harness's build). */
  version: string;
  binary: string;
  /** The server's pid, for CPU accounting (undefined if it could not be found). */
  pid: number | undefined;
  stop(): Promise<void>;
  /** Sum of sizes and number of the objects under `${prefix}/`. */
  stored(prefix: string): Promise<{ bytes: number; objects: number }>;
}

async function minioBinary(): Promise<string> {
  const fromEnv = process.env['MINIO_BINARY'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const bins = await resolveBinaries({ minio: true });
  if (bins.minio === undefined) throw new Error('resolveBinaries() returned no minio binary');
  return bins.minio;
}

async function sumObjects(client: Client, bucket: string, prefix: string): Promise<{ bytes: number; objects: number }> {
  const stream = client.listObjectsV2(bucket, `${prefix}/`, true);
  let bytes = 0;
  let objects = 0;
  for await (const item of stream as AsyncIterable<{ size?: number; name?: string }>) {
    if (item.name === undefined) continue;
    bytes += item.size ?? 0;
    objects++;
  }
  return { bytes, objects };
}

export async function startBenchMinio(workDir: string): Promise<BenchStorage> {
  const binary = await minioBinary();
  const dir = join(workDir, 'minio');
  mkdirSync(dir, { recursive: true });
  const reported = (await promisify(execFile)(binary, ['--version'])).stdout.split('\n')[0]?.trim() ?? 'unknown';
  // The harness builds MinIO from the Go module proxy, so the binary calls itself DEVELOPMENT.GOGET.
  const fromEnv = process.env['MINIO_BINARY'] !== undefined && process.env['MINIO_BINARY'] !== '';
  const version = fromEnv ? reported : `${reported}; module github.com/minio/minio@${pinnedVersions().minio}`;
  const server: MinioServer = await startMinio({ binary, dir, bucket: null });
  try {
    const client = server.client();
    await client.makeBucket(BENCH_BUCKET, server.region);
    return {
      endpoint: server.endpoint,
      region: server.region,
      bucket: BENCH_BUCKET,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      version,
      binary,
      pid: findProcess([binary, ' server ', ` 127.0.0.1:${server.port} `]),
      stop: () => server.stop(),
      stored: (prefix) => sumObjects(client, BENCH_BUCKET, prefix),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
