// What the worker tests share: a repository on a MinIO, the worker's input for a run against the
// emulator, and the two views a user compares after a run (the emulator's mail, the snapshot's).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MicrosoftProvider, type MicrosoftProviderOptions } from '../../src/providers/microsoft365/provider.ts';
import type { Repository } from '../../src/repository/repository.ts';
import { S3Storage, type S3StorageOptions } from '../../src/repository/storage/s3.ts';
import type { BackupRunInput } from '../../src/worker/backup-run.ts';
import type { MinioConnection } from '../envtest/minio.ts';
import type { MicrosoftEmulator } from '../emulators/microsoft/index.ts';
import { connectionOf } from '../emulators/microsoft/testing.ts';
import { FAST_RETRY } from '../providers/microsoft365/support.ts';

export const KEY = 'worker-test-key';
export const ALL_SERVICES = ['mail', 'calendar', 'contacts', 'onedrive', 'sharepoint', 'teams'];

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function s3Storage(
  minio: Pick<MinioConnection, 'endpoint' | 'region' | 'accessKey' | 'secretKey'> & { bucket: string },
  prefix: string,
  extra: Partial<S3StorageOptions> = {},
): S3Storage {
  return new S3Storage({
    endpoint: minio.endpoint,
    region: minio.region,
    bucket: minio.bucket,
    prefix,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    ...extra,
  });
}

export function providerOptions(emulator: MicrosoftEmulator): MicrosoftProviderOptions {
  return { ...connectionOf(emulator), retry: FAST_RETRY };
}

export function providerFor(emulator: MicrosoftEmulator, extra: Partial<MicrosoftProviderOptions> = {}): MicrosoftProvider {
  return new MicrosoftProvider({ ...providerOptions(emulator), ...extra });
}

/** A run of the policy `contoso-daily` over every account and service of the emulator's tenant. */
export function runInput(
  emulator: MicrosoftEmulator,
  repository: Repository,
  run: string,
  extra: Partial<BackupRunInput> = {},
): BackupRunInput {
  return {
    policy: 'contoso-daily',
    run,
    shard: { index: 0, count: 1 },
    provider: providerFor(emulator),
    repository,
    services: ALL_SERVICES,
    accounts: { mode: 'all' },
    discovery: { autoAddUsers: true, autoAddSharedMailboxes: true, includeUnlicensed: false },
    concurrency: 4,
    ...extra,
  };
}

/** Content hashes by item id for one service of the snapshot. */
export async function snapshotHashes(repository: Repository, snapshotId: string, service: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const item of repository.items(await repository.snapshot(snapshotId), { service })) {
    out.set(item.id, sha256(await repository.readContent(item)));
  }
  return out;
}

export interface ExportedMessage {
  id: string;
  sha256: string;
  changeKey: string;
}

export function exportedMessages(emulator: MicrosoftEmulator): (ExportedMessage & { account: string })[] {
  const exported = emulator.export()['mail'] as { mailboxes: { account: string; messages: ExportedMessage[] }[] };
  return exported.mailboxes.flatMap((mailbox) => mailbox.messages.map((m) => ({ ...m, account: mailbox.account })));
}

/** Every message of the tenant, by id, with the hash of its MIME. */
export function exportedMail(emulator: MicrosoftEmulator): Map<string, string> {
  return new Map(exportedMessages(emulator).map((m) => [m.id, m.sha256]));
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const CLI = path.join(ROOT, 'src/cli/main.ts');

export interface WorkerLayoutOptions {
  /** Where the files go (`<dir>/<prefix>/`). */
  dir: string;
  /** Names the files' folder and the repository's prefix in the bucket. */
  prefix: string;
  emulator: MicrosoftEmulator;
  minio: Pick<MinioConnection, 'endpoint' | 'region' | 'accessKey' | 'secretKey'> & { bucket: string };
  /** The client secret in the mounted Secret (default: the right one). */
  secret?: string;
  concurrency?: number;
}

/** What a Job mounts for the worker: the Connector, the BackupPolicy (mail only) and the Secrets, as files; and the arguments. */
export function workerLayout(o: WorkerLayoutOptions): { args: string[]; repositoryPrefix: string } {
  const c = o.emulator.connection;
  const base = path.join(o.dir, o.prefix);
  const secrets = path.join(base, 'secrets');
  for (const [sub, files] of Object.entries({
    connector: { 'client-secret': `${o.secret ?? c.clientSecret}\n` },
    storage: { AWS_ACCESS_KEY_ID: o.minio.accessKey, AWS_SECRET_ACCESS_KEY: o.minio.secretKey },
    'repository-key': { 'repository-key': KEY },
  })) {
    mkdirSync(path.join(secrets, sub), { recursive: true });
    for (const [name, value] of Object.entries(files)) writeFileSync(path.join(secrets, sub, name), value);
  }
  const repositoryPrefix = `${o.prefix}-${process.pid}`;
  const connector = {
    apiVersion: 'saasbackup.io/v1alpha1',
    kind: 'Connector',
    metadata: { name: 'contoso', namespace: 'backup' },
    spec: {
      provider: 'microsoft365',
      microsoft365: {
        tenantId: c.tenantId,
        clientId: c.clientId,
        clientSecretRef: { name: 'contoso-app' },
        endpoints: { authorityHost: c.authorityHost, graphBaseUrl: c.graphBaseUrl },
      },
    },
  };
  const policy = {
    apiVersion: 'saasbackup.io/v1alpha1',
    kind: 'BackupPolicy',
    metadata: { name: 'contoso-mail', namespace: 'backup' },
    spec: {
      connectorRef: { name: 'contoso' },
      services: ['mail'],
      storage: {
        s3: {
          endpoint: o.minio.endpoint,
          bucket: o.minio.bucket,
          prefix: repositoryPrefix,
          region: o.minio.region,
          credentialsSecretRef: { name: 'bucket' },
        },
        encryptionKeySecretRef: { name: 'repo-key' },
      },
      run: { concurrency: o.concurrency ?? 1 },
    },
  };
  writeFileSync(path.join(base, 'connector.json'), JSON.stringify(connector));
  writeFileSync(path.join(base, 'policy.yaml'), `# as applied\n${JSON.stringify(policy)}\n`);
  return {
    repositoryPrefix,
    args: [
      '--connector',
      path.join(base, 'connector.json'),
      '--policy',
      path.join(base, 'policy.yaml'),
      '--secrets-dir',
      secrets,
      '--result-file',
      path.join(base, 'result.json'),
      '--progress-file',
      path.join(base, 'progress.json'),
    ],
  };
}

/** `saasbackup worker backup` as a process, checkpointing after every account; SIGKILLed once a stdout line matches `killAfter`. */
export function spawnWorker(
  emulator: MicrosoftEmulator,
  args: string[],
  killAfter?: (line: string) => boolean,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [CLI, 'worker', 'backup', ...args], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: emulator.connection.caFile, SAASBACKUP_CHECKPOINT_SECONDS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (killAfter && stdout.split('\n').some(killAfter)) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** `saasbackup repo ...` against a repository on the MinIO, as an operator runs it; its stdout. */
export function repoCommand(
  minio: Pick<MinioConnection, 'endpoint' | 'accessKey' | 'secretKey'> & { bucket: string },
  prefix: string,
  args: string[],
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, 'repo', ...args], {
      env: {
        ...process.env,
        SAASBACKUP_REPOSITORY: `s3:${minio.endpoint}/${minio.bucket}/${prefix}`,
        SAASBACKUP_REPOSITORY_KEY: KEY,
        AWS_ACCESS_KEY_ID: minio.accessKey,
        AWS_SECRET_ACCESS_KEY: minio.secretKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`saasbackup repo ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}
