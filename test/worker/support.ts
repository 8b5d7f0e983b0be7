// What the worker tests share: a repository on a MinIO, the worker's input for a run against the
// emulator, and the two views a user compares after a run (the emulator's mail, the snapshot's).
import { createHash } from 'node:crypto';
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
