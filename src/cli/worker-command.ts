// `saasbackup worker backup`: one shard of one BackupRun, inside the Job the controller creates
// (or by hand, for a local run). It reads the Connector and the BackupPolicy from files, the
// Secrets they reference from mounted directories (one file per key, as Kubernetes mounts them),
// the shard from the Indexed Job's JOB_COMPLETION_INDEX, and writes its progress and its result
// where the controller reads them: a progress file while it runs, and the result as JSON in the
// result file (by default the container's termination message) and as its last log line.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createLogger, type LogLevel } from '../logging/logger.ts';
import { MicrosoftProvider } from '../providers/microsoft365/provider.ts';
import type { Provider } from '../providers/provider.ts';
import { RepositoryError } from '../repository/errors.ts';
import { Repository } from '../repository/repository.ts';
import { FileStorage } from '../repository/storage/file.ts';
import { S3Storage } from '../repository/storage/s3.ts';
import type { Storage } from '../repository/storage/storage.ts';
import { runBackup, type BackupRunResult, type RunProgress } from '../worker/backup-run.ts';
import {
  JobSpecError,
  microsoftCredential,
  parseConnector,
  parsePolicy,
  storagePlan,
  type ExclusionFile,
  type SecretFiles,
  type StoragePlan,
} from '../worker/job-spec.ts';

export interface WorkerBackupOptions {
  connector: string;
  policy: string;
  run: string;
  shardIndex?: string;
  shardCount?: string;
  secretsDir: string;
  accounts?: string;
  exclusions?: string;
  progressFile?: string;
  resultFile?: string;
  logLevel?: LogLevel;
}

/** Exit codes: 0 the run was Successful; 3 it ended Incomplete, Unsuccessful or Cancelled (see the result); 2 bad input. */
export const EXIT_REPORTED = 3;
export const EXIT_USAGE = 2;

function readObject(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new JobSpecError(`cannot read the ${what} from ${file}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (error) {
    throw new JobSpecError(`the ${what} in ${file} is neither JSON nor YAML: ${(error as Error).message}`);
  }
}

/** A Secret mounted as a directory: one file per key (Kubernetes' `..data` links are skipped). */
export function readSecretDir(dir: string): SecretFiles {
  const out: SecretFiles = {};
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('..')) continue;
    const file = path.join(dir, name);
    if (statSync(file).isFile()) out[name] = readFileSync(file, 'utf8');
  }
  return out;
}

function storageOf(plan: StoragePlan): Storage {
  if (plan.kind === 's3' && plan.s3) return new S3Storage(plan.s3);
  return new FileStorage(path.resolve(plan.local!.path));
}

/** Opens the policy's repository, creating it on the first run of the policy. */
async function openRepository(plan: StoragePlan): Promise<Repository> {
  const storage = storageOf(plan);
  const options = { key: plan.repositoryKey, ...(plan.objectLock ? { objectLock: plan.objectLock } : {}) };
  try {
    return await Repository.open(storage, options);
  } catch (error) {
    if (error instanceof RepositoryError && error.code === 'RepositoryNotFound') return Repository.init(storage, options);
    throw error;
  }
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

function shardOf(options: WorkerBackupOptions, env: NodeJS.ProcessEnv): { index: number; count: number } {
  const index = Number(options.shardIndex ?? env.JOB_COMPLETION_INDEX ?? 0);
  const count = Number(options.shardCount ?? env.SAASBACKUP_SHARD_COUNT ?? 1);
  if (!Number.isInteger(count) || count < 1)
    throw new JobSpecError(
      `the shard count must be a positive whole number, got ${String(options.shardCount ?? env.SAASBACKUP_SHARD_COUNT)}`,
    );
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new JobSpecError(
      `the shard index must be a whole number below ${count}, got ${String(options.shardIndex ?? env.JOB_COMPLETION_INDEX)}`,
    );
  return { index, count };
}

export async function workerBackup(options: WorkerBackupOptions, env: NodeJS.ProcessEnv = process.env): Promise<BackupRunResult> {
  const log = createLogger('worker', options.logLevel ?? 'info');
  const connector = parseConnector(readObject(options.connector, 'Connector'));
  const policy = parsePolicy(readObject(options.policy, 'BackupPolicy'));
  const shard = shardOf(options, env);
  const secrets = (name: string) => readSecretDir(path.join(options.secretsDir, name));
  const plan = storagePlan(policy.spec, { ...envCredentials(env), ...secrets('storage') }, secrets('repository-key'));
  let provider: Provider;
  if (connector.spec.provider === 'microsoft365') {
    const m = connector.spec.microsoft365!;
    provider = new MicrosoftProvider({
      tenantId: m.tenantId,
      clientId: m.clientId,
      credential: microsoftCredential(connector.spec, secrets('connector')),
      ...(m.cloud ? { cloud: m.cloud } : {}),
      ...(m.endpoints ? { endpoints: m.endpoints } : {}),
    });
  } else {
    throw new JobSpecError('the Google Workspace provider is not available in this version: use a microsoft365 Connector');
  }
  const exclusions = options.exclusions ? ((readObject(options.exclusions, 'exclusion list') as ExclusionFile).objects ?? []) : [];
  log.info(
    {
      policy: policy.name,
      run: options.run,
      shard,
      repository: plan.kind === 's3' ? `s3://${plan.s3!.bucket}/${plan.s3!.prefix}` : plan.local!.path,
    },
    'backup starting',
  );

  const repository = await openRepository(plan);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGTERM', onSignal);
  // Called once per finished account.
  const onProgress = (progress: RunProgress): void => {
    if (options.progressFile) writeAtomically(options.progressFile, JSON.stringify({ ...progress, time: new Date().toISOString() }));
    log.info(progress, 'progress');
  };
  const checkpointSeconds = Number(env.SAASBACKUP_CHECKPOINT_SECONDS ?? 60);
  try {
    const run = policy.spec.run;
    const result = await runBackup({
      policy: policy.name,
      run: options.run,
      shard,
      provider,
      repository,
      services: policy.spec.services,
      accounts: (policy.spec.accounts ?? { mode: 'all' }) as Parameters<typeof runBackup>[0]['accounts'],
      discovery: {
        autoAddUsers: connector.spec.discovery?.autoAddUsers ?? true,
        autoAddSharedMailboxes: connector.spec.discovery?.autoAddSharedMailboxes ?? true,
        includeUnlicensed: connector.spec.discovery?.includeUnlicensed ?? false,
      },
      ...(options.accounts
        ? {
            only: options.accounts
              .split(',')
              .map((a) => a.trim())
              .filter(Boolean),
          }
        : {}),
      concurrency: run?.concurrency ?? 4,
      exclusions: exclusions.map((e) => ({ ...(e.account ? { account: e.account } : {}), objectId: e.objectId, version: e.version })),
      signal: abort.signal,
      onProgress,
      ...(Number.isFinite(checkpointSeconds) && checkpointSeconds >= 0 ? { checkpointAfterAccountMs: checkpointSeconds * 1000 } : {}),
    });
    const text = JSON.stringify(result);
    const resultFile = options.resultFile ?? (existsSync('/dev/termination-log') ? '/dev/termination-log' : undefined);
    // The termination message is limited to 4 KiB: the full result goes to the result file when
    // one is given, the summary (without the account list) to the termination log.
    if (resultFile)
      writeFileSync(
        resultFile,
        resultFile === '/dev/termination-log' ? JSON.stringify({ ...result, accounts: { ...result.accounts, list: [] } }) : text,
      );
    log.info(
      { outcome: result.outcome, reason: result.reason, snapshot: result.snapshot, statistics: result.statistics.total },
      result.message,
    );
    return result;
  } finally {
    process.off('SIGTERM', onSignal);
    await provider.close();
    await repository.close();
  }
}

function envCredentials(env: NodeJS.ProcessEnv): SecretFiles {
  const out: SecretFiles = {};
  if (env.AWS_ACCESS_KEY_ID) out['AWS_ACCESS_KEY_ID'] = env.AWS_ACCESS_KEY_ID;
  if (env.AWS_SECRET_ACCESS_KEY) out['AWS_SECRET_ACCESS_KEY'] = env.AWS_SECRET_ACCESS_KEY;
  return out;
}
