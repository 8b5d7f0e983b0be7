// restic as the peer: `restic init` then `restic backup --json` of the corpus directory, into
// s3:<minio>/<bucket>/restic-<corpus>. Default settings (repository format "stable" = 2, zstd
// `--compression auto`, 16 MiB packs, its local metadata cache) except that the cache lives in the
// work directory. The changed run backs up the same directory again from the same host name, so
// restic picks the first snapshot as parent and skips files whose metadata did not change.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BenchStorage } from './minio.ts';
import { runMeasured } from './measure.ts';

export const RESTIC_PASSWORD = 'bench-password';
export const RESTIC_BACKUP_FLAGS = ['--compression', 'auto', '--host', 'bench'] as const;

export interface ResticRepo {
  binary: string;
  /** s3:http://127.0.0.1:PORT/bucket/prefix */
  url: string;
  prefix: string;
  env: NodeJS.ProcessEnv;
}

/** restic's JSON summary of a backup (restic 0.14 field names). */
export interface ResticSummary {
  message_type: 'summary';
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  total_files_processed: number;
  total_bytes_processed: number;
  total_duration: number;
  snapshot_id: string;
}

export interface ResticBackupResult {
  seconds: number;
  peakRssBytes: number | undefined;
  cpuSeconds: number | undefined;
  summary: ResticSummary;
}

export async function resticVersion(binary: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(binary, ['version']);
    return stdout.trim();
  } catch (err) {
    throw new Error(
      `cannot run ${binary} (${err instanceof Error ? err.message : String(err)}); install it with ` +
        '`apt-get install -y restic` or pass --restic <path>',
      { cause: err },
    );
  }
}

export function resticRepo(binary: string, storage: BenchStorage, prefix: string, cacheDir: string): ResticRepo {
  return {
    binary,
    url: `s3:${storage.endpoint}/${storage.bucket}/${prefix}`,
    prefix,
    env: {
      ...process.env,
      RESTIC_PASSWORD,
      AWS_ACCESS_KEY_ID: storage.accessKey,
      AWS_SECRET_ACCESS_KEY: storage.secretKey,
      AWS_DEFAULT_REGION: storage.region,
      RESTIC_CACHE_DIR: cacheDir,
      // Progress goes nowhere anyway (stdout is a pipe); keep restic from computing it often.
      RESTIC_PROGRESS_FPS: '0.2',
    },
  };
}

async function resticOk(repo: ResticRepo, args: string[], logFile: string, onLine?: (line: string) => boolean): Promise<void> {
  const r = await runMeasured({
    command: repo.binary,
    args: ['-r', repo.url, ...args],
    env: repo.env,
    logFile,
    ...(onLine ? { onStdoutLine: onLine } : {}),
  });
  if (r.code !== 0) throw new Error(`restic ${args[0] ?? ''} failed (exit ${r.code ?? r.signal}); see ${logFile}`);
}

export async function resticInit(repo: ResticRepo, logFile: string): Promise<void> {
  await resticOk(repo, ['init'], logFile);
}

/** The repository format version, from `restic cat config`. */
export async function resticRepositoryVersion(repo: ResticRepo, logFile: string): Promise<number | undefined> {
  let text = '';
  await resticOk(repo, ['cat', 'config'], logFile, (line) => {
    text += `${line}\n`;
    return true;
  });
  try {
    const v = (JSON.parse(text) as { version?: unknown }).version;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function resticBackup(repo: ResticRepo, dir: string, logFile: string, timeoutMs: number): Promise<ResticBackupResult> {
  let summary: ResticSummary | undefined;
  const r = await runMeasured({
    command: repo.binary,
    args: ['-r', repo.url, 'backup', '--json', ...RESTIC_BACKUP_FLAGS, dir],
    env: repo.env,
    logFile,
    timeoutMs,
    onStdoutLine: (line) => {
      if (!line.startsWith('{')) return false;
      try {
        const msg = JSON.parse(line) as { message_type?: string };
        if (msg.message_type === 'summary') {
          summary = msg as ResticSummary;
          return false;
        }
        return msg.message_type === 'status';
      } catch {
        return false;
      }
    },
  });
  if (r.code !== 0) throw new Error(`restic backup failed (exit ${r.code ?? r.signal}); see ${logFile}`);
  if (summary === undefined) throw new Error(`restic backup printed no JSON summary; see ${logFile}`);
  return { seconds: r.seconds, peakRssBytes: r.peakRssBytes, cpuSeconds: r.cpuSeconds, summary };
}
