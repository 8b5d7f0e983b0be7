// `saasbackup worker backup`: one shard of one BackupRun. Today it is run by hand (a local run,
// or a Job written by hand); the demo runs the same runBackup in its own process. The operator does
// not create worker Jobs yet. The command reads the Connector and the BackupPolicy from files, the
// Secrets they reference from mounted directories (one file per key, as Kubernetes mounts them;
// only the keys the manifests name are read), the shard from the Indexed Job's
// JOB_COMPLETION_INDEX, and writes its progress while it runs (the progress file) and its result
// for every outcome, also when it stops before the run starts: as JSON in the result file (by
// default the container's termination message) and as its last log line.
import { existsSync, lstatSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { reasonMessage, REASONS, type Reason } from '../api/reasons.ts';
import { SECRET_KEY_RULES } from '../api/validation-rules.ts';
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
  checkRunName,
  JobSpecError,
  microsoftCredential,
  parseConnector,
  parsePolicy,
  secretOf,
  secretWithFallback,
  storagePlan,
  type ExclusionFile,
  type SecretSource,
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

/** Exit codes, as `saasbackup worker backup --help` and the README tell them. */
export const EXIT_SUCCESSFUL = 0;
/** A crash: a bug of the worker (the result says InternalError, the log has the stack). */
export const EXIT_CRASHED = 1;
/** A manifest, Secret or option it cannot use, a repository key that does not open the repository. */
export const EXIT_USAGE = 2;
/** The run ended Incomplete, Unsuccessful or Cancelled, or the repository could not be reached (see the result). */
export const EXIT_REPORTED = 3;

export const EXIT_CODES_HELP = `Exit codes:
  0  the run was Successful
  1  the worker crashed (a bug: the result says InternalError, the log has the stack)
  2  a manifest, option or Secret it cannot use, or a repository key that does not open the
     repository (RepositoryKeyInvalid); the message names the field or file to fix
  3  the run ended Incomplete, Unsuccessful or Cancelled, or the repository could not be reached;
     the result says why, with a reason from the catalog
A result (JSON) is written for every outcome: to --result-file, else to the termination log.
`;

const TERMINATION_LOG = '/dev/termination-log';

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

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/**
 * A Secret mounted as a directory, one file per key. Kubernetes mounts each key as a link into
 * `..data/`, inside the mount; a key whose file resolves anywhere outside the mount is refused.
 */
export function mountedSecret(dir: string): SecretSource {
  return {
    location: dir,
    read(key: string): string | undefined {
      if (!SECRET_KEY_RULES.every((rule) => rule.holds(key))) throw new JobSpecError(`${JSON.stringify(key)} is not a Secret key`);
      const file = path.join(dir, key);
      try {
        lstatSync(file);
      } catch {
        return undefined;
      }
      let real: string;
      try {
        real = realpathSync(file);
      } catch {
        throw new JobSpecError(`${file} is a link that leads nowhere; mount the Secret again`);
      }
      if (!isInside(realpathSync(dir), real))
        throw new JobSpecError(
          `${file} leads outside the Secret's mount ${dir} (to ${real}); refusing to read it: mount the Secret as a volume, where every key stays inside the mount`,
        );
      if (!statSync(real).isFile()) throw new JobSpecError(`${file} is not a file`);
      return readFileSync(real, 'utf8');
    },
  };
}

/**
 * How long after a cancel (SIGTERM) the storage still retries: long enough to commit what was
 * stored through a brief S3 hiccup, short enough to end before Kubernetes' default 30 s grace.
 */
const STORAGE_GRACE_MS = 20_000;

function storageOf(plan: StoragePlan, signal: AbortSignal): Storage {
  if (plan.kind === 's3' && plan.s3) return new S3Storage({ ...plan.s3, signal });
  return new FileStorage(path.resolve(plan.local!.path));
}

/** Opens the policy's repository, creating it on the first run of the policy. */
async function openRepository(plan: StoragePlan, signal: AbortSignal): Promise<Repository> {
  const storage = storageOf(plan, signal);
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

/** What the controller reads when the worker stopped before or outside a run: Unsuccessful, with the reason. */
function resultOfStop(reason: Reason, message: string, startTime: string): BackupRunResult {
  const none = () => ({ added: { count: 0, bytes: 0 }, removed: { count: 0, bytes: 0 }, skipped: { count: 0, bytes: 0 } });
  return {
    outcome: 'Unsuccessful',
    reason,
    message,
    startTime,
    completionTime: new Date().toISOString(),
    statistics: { total: none(), services: {} },
    accounts: { total: 0, shard: 0, done: 0, byStatus: { Success: 0, Partial: 0, Failed: 0, Onboarding: 0 }, list: [] },
    objects: { failed: 0, excluded: 0 },
    failedContainers: 0,
    exclusions: { excluded: [], ignored: [] },
    resumedFrom: [],
    requests: { requests: 0, throttled: 0, retries: 0 },
  };
}

interface Stop {
  reason: Reason;
  message: string;
  exitCode: number;
}

/** The detail, then what to do from the catalog: on its own line after a list of problems. */
function withRemediation(reason: Reason, detail: string): string {
  if (detail.includes('\n')) return `${detail}\n${REASONS[reason].remediation}`;
  return reasonMessage(reason, /[.!?]$/.test(detail) ? detail : `${detail}.`);
}

/** Why the worker stopped on `error`: the reason, a message that says what to fix (never a secret), the exit code. */
function stopOf(error: unknown): Stop {
  if (error instanceof JobSpecError)
    return { reason: error.reason, message: withRemediation(error.reason, error.message), exitCode: EXIT_USAGE };
  if (error instanceof RepositoryError)
    return {
      reason: error.reason,
      message: withRemediation(error.reason, error.message),
      exitCode: error.reason === 'RepositoryKeyInvalid' ? EXIT_USAGE : EXIT_REPORTED,
    };
  const kind = error instanceof Error ? error.name : typeof error;
  return {
    reason: 'InternalError',
    message: reasonMessage('InternalError', `The worker stopped on an unexpected error (${kind}); the worker log has the details.`),
    exitCode: EXIT_CRASHED,
  };
}

/** The result file: the one given, else the container's termination message when there is one. */
function resultFileOf(options: WorkerBackupOptions): string | undefined {
  return options.resultFile ?? (existsSync(TERMINATION_LOG) ? TERMINATION_LOG : undefined);
}

function writeResult(file: string, result: BackupRunResult): void {
  // The termination message is limited to 4 KiB: the full result goes to the result file when
  // one is given, the summary (without the account list) to the termination log.
  const written = file === TERMINATION_LOG ? { ...result, accounts: { ...result.accounts, list: [] } } : result;
  writeFileSync(file, `${JSON.stringify(written)}\n`);
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

/** Both values, or one JobSpecError with the problems of both: a person fixes both files at once. */
function together<A, B>(first: () => A, second: () => B): [A, B] {
  const problems: string[] = [];
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof JobSpecError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
  const a = attempt(first);
  const b = attempt(second);
  if (problems.length > 0) throw new JobSpecError(problems.join('\n'));
  return [a!, b!];
}

/** Runs the backup; throws JobSpecError, RepositoryError or a bug when it stops before the run has a result. */
export async function workerBackup(options: WorkerBackupOptions, env: NodeJS.ProcessEnv, log: Logger): Promise<BackupRunResult> {
  const [connector, policy] = together(
    () => parseConnector(readObject(options.connector, 'Connector')),
    () => parsePolicy(readObject(options.policy, 'BackupPolicy')),
  );
  const runName = checkRunName(options.run);
  const shard = shardOf(options, env);
  const secrets = (name: string) => mountedSecret(path.join(options.secretsDir, name));
  const plan = storagePlan(
    policy.spec,
    secretWithFallback(secrets('storage'), secretOf(envCredentials(env), 'the environment')),
    secrets('repository-key'),
  );
  if (connector.spec.provider !== 'microsoft365')
    throw new JobSpecError('the Google Workspace provider is not available in this version: use a microsoft365 Connector');
  const m = connector.spec.microsoft365!;
  const credential = microsoftCredential(connector.spec, secrets('connector'));
  const exclusions = options.exclusions ? ((readObject(options.exclusions, 'exclusion list') as ExclusionFile).objects ?? []) : [];
  log.info(
    {
      policy: policy.name,
      run: runName,
      shard,
      repository: plan.kind === 's3' ? `s3://${plan.s3!.bucket}/${plan.s3!.prefix}` : plan.local!.path,
    },
    'backup starting',
  );

  // Every input is checked before anything is opened; what is opened is closed on every way out.
  const abort = new AbortController();
  const storageStop = new AbortController();
  const onSignal = (): void => {
    abort.abort();
    setTimeout(() => storageStop.abort(), STORAGE_GRACE_MS).unref();
  };
  process.once('SIGTERM', onSignal);
  let repository: Repository;
  try {
    repository = await openRepository(plan, storageStop.signal);
  } catch (error) {
    process.off('SIGTERM', onSignal);
    throw error;
  }
  let provider: Provider | undefined;
  // Called once per finished account.
  const onProgress = (progress: RunProgress): void => {
    if (options.progressFile) writeAtomically(options.progressFile, `${JSON.stringify({ ...progress, time: new Date().toISOString() })}\n`);
    log.info(progress, 'progress');
  };
  const checkpointSeconds = Number(env.SAASBACKUP_CHECKPOINT_SECONDS ?? 60);
  try {
    provider = new MicrosoftProvider({
      tenantId: m.tenantId,
      clientId: m.clientId,
      credential,
      ...(m.cloud ? { cloud: m.cloud } : {}),
      ...(m.endpoints ? { endpoints: m.endpoints } : {}),
      signal: abort.signal,
    });
    const run = policy.spec.run;
    const result = await runBackup({
      policy: policy.name,
      run: runName,
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
    return result;
  } finally {
    process.off('SIGTERM', onSignal);
    await provider?.close();
    await repository.close();
  }
}

/**
 * The command: runs the backup, writes the result for every outcome and returns the exit code.
 * Messages go to stderr for a person running it by hand, the result to the log and the result file.
 */
export async function workerBackupCommand(options: WorkerBackupOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = createLogger('worker', options.logLevel ?? 'info');
  const startTime = new Date().toISOString();
  let result: BackupRunResult;
  let exitCode: number;
  try {
    result = await workerBackup(options, env, log);
    exitCode = result.outcome === 'Successful' ? EXIT_SUCCESSFUL : EXIT_REPORTED;
  } catch (error) {
    const stop = stopOf(error);
    if (stop.exitCode === EXIT_CRASHED) console.error(error);
    console.error(`saasbackup: ${stop.message}`);
    result = resultOfStop(stop.reason, stop.message, startTime);
    exitCode = stop.exitCode;
  }
  const resultFile = resultFileOf(options);
  if (resultFile) {
    try {
      writeResult(resultFile, result);
    } catch (error) {
      console.error(`saasbackup: cannot write the result to ${resultFile}: ${(error as Error).message}`);
    }
  }
  log.info(
    { outcome: result.outcome, reason: result.reason, snapshot: result.snapshot, statistics: result.statistics.total, exitCode },
    result.message,
  );
  return exitCode;
}

function envCredentials(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.AWS_ACCESS_KEY_ID) out['AWS_ACCESS_KEY_ID'] = env.AWS_ACCESS_KEY_ID;
  if (env.AWS_SECRET_ACCESS_KEY) out['AWS_SECRET_ACCESS_KEY'] = env.AWS_SECRET_ACCESS_KEY;
  return out;
}
