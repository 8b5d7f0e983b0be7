// Where the CLI finds a repository and its key. A location is a local path or
// `s3:<endpoint>/<bucket>[/<prefix>]` (restic's form); S3 credentials come from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and the key from SAASBACKUP_REPOSITORY_KEY or
// --key-file (a mounted Secret), never from an argument that `ps` would show.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FileStorage } from '../../repository/storage/file.ts';
import { S3Storage } from '../../repository/storage/s3.ts';
import type { Storage } from '../../repository/storage/storage.ts';

export interface LocationFlags {
  repo?: string;
  keyFile?: string;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses `s3:http://host:9000/bucket/some/prefix` into endpoint, bucket and prefix. */
export function parseS3Location(location: string): { endpoint: string; bucket: string; prefix: string } {
  const url = new URL(location.slice('s3:'.length));
  const [bucket, ...prefix] = url.pathname.split('/').filter(Boolean);
  if (!bucket)
    throw new UsageError(
      `${location} names no bucket: use s3:<endpoint>/<bucket>[/<prefix>], for example s3:https://s3.amazonaws.com/backups/m365`,
    );
  return { endpoint: `${url.protocol}//${url.host}`, bucket, prefix: prefix.join('/') };
}

export function storageFor(flags: LocationFlags, env: NodeJS.ProcessEnv = process.env): Storage {
  const location = flags.repo ?? env.SAASBACKUP_REPOSITORY;
  if (!location)
    throw new UsageError('no repository given: pass --repo <path | s3:<endpoint>/<bucket>/<prefix>> or set SAASBACKUP_REPOSITORY');
  if (location.startsWith('s3:')) {
    const accessKey = env.AWS_ACCESS_KEY_ID;
    const secretKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKey || !secretKey) throw new UsageError('S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
    return new S3Storage({ ...parseS3Location(location), accessKey, secretKey, ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}) });
  }
  return new FileStorage(path.resolve(location));
}

export function repositoryKey(flags: LocationFlags, env: NodeJS.ProcessEnv = process.env): string {
  if (flags.keyFile) return readFileSync(flags.keyFile, 'utf8').replace(/\r?\n$/, '');
  const key = env.SAASBACKUP_REPOSITORY_KEY;
  if (!key)
    throw new UsageError(
      'no repository key: set SAASBACKUP_REPOSITORY_KEY or pass --key-file <file> (for example the mounted encryption-key Secret)',
    );
  return key;
}
