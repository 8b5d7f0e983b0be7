// Our storage going away in the middle of a backup, against a real MinIO that is stopped and then
// started again on the same data directory and port: the run must stop at once and say so
// (Incomplete, StorageUnavailable), record no source object as failed because of our storage,
// keep its last checkpoint, and the next run must resume from that checkpoint and end with a
// snapshot that matches the tenant.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Repository } from '../../src/repository/repository.ts';
import { readAccountRecords } from '../../src/worker/account-records.ts';
import { runBackup } from '../../src/worker/backup-run.ts';
import type { MicrosoftEmulator } from '../emulators/microsoft/index.ts';
import { startEmulator } from '../emulators/microsoft/testing.ts';
import { startMinio, type MinioServer } from '../envtest/minio.ts';
import { makeTempDir } from '../envtest/process.ts';
import { exportedMail, KEY, runInput, s3Storage, snapshotHashes } from './support.ts';

describe('a storage outage during a backup', () => {
  let emulator: MicrosoftEmulator;
  let minio: MinioServer;
  let dir: string;

  beforeAll(async () => {
    dir = makeTempDir('storage-outage-', inject('envtestDir'));
    minio = await startMinio({ binary: inject('envtestBinaries').minio!, dir });
    emulator = await startEmulator({
      tenant: {
        seed: 'outage',
        users: 6,
        sharedMailboxes: 0,
        unlicensedUsers: 0,
        groups: 0,
        sites: 0,
        teams: 0,
        items: { mail: 250, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 0 },
        sizes: { mailMedianBytes: 64 * 1024 },
      },
    });
  });

  afterAll(async () => {
    await emulator?.close();
    await minio?.stop();
  });

  // Few, quick retries: the outage outlasts them, which is what is tested.
  const storage = () => s3Storage({ ...minio, bucket: minio.bucket! }, 'outage', { maxAttempts: 3, retryBaseDelayMs: 50 });

  it('stops the run at once, records no failed object, keeps the checkpoint, and the next run resumes from it', async () => {
    const repository = await Repository.init(storage(), { key: KEY });
    const total = exportedMail(emulator).size;
    let stopping: Promise<void> | undefined;
    const cut = await runBackup(
      runInput(emulator, repository, 'contoso-daily-202612040000', {
        services: ['mail'],
        concurrency: 2,
        checkpointAfterAccountMs: 0,
        onProgress: (p) => {
          if (p.accountsDone === 2) stopping ??= minio.stop();
        },
      }),
    );
    await stopping;
    await repository.close();
    expect(cut.outcome, cut.message).toBe('Incomplete');
    expect(cut.reason).toBe('StorageUnavailable');
    expect(cut.snapshot).toBeUndefined();
    expect(cut.message).toContain('the next run resumes from the last checkpoint');
    // Our storage is not the source's fault: nothing skipped, no skipped-items report.
    expect(cut.statistics.total.skipped.count).toBe(0);
    expect(cut.skippedReport).toBeUndefined();
    expect(cut.accounts.done).toBeGreaterThanOrEqual(2);
    expect(cut.accounts.done).toBeLessThan(6);

    minio = await startMinio({ binary: inject('envtestBinaries').minio!, dir, restartOf: minio });
    const reopened = await Repository.open(storage(), { key: KEY });
    expect(await reopened.snapshots()).toEqual([]);
    // The last checkpoint stays (the one before it too, when its delete met the outage).
    const checkpoints = await reopened.snapshots('checkpoints');
    expect(checkpoints.length).toBeGreaterThanOrEqual(1);
    for (const record of await readAccountRecords(reopened, 'contoso-daily')) {
      expect(record.objects, record.address).toEqual([]);
    }

    emulator.resetStats();
    const next = await runBackup(runInput(emulator, reopened, 'contoso-daily-202612040600', { services: ['mail'], concurrency: 2 }));
    expect(next.outcome, next.message).toBe('Successful');
    expect(next.resumedFrom).toContain(checkpoints.at(-1)!.id);
    // The accounts finished before the outage came from the checkpoint, not from Graph again.
    expect(emulator.stats.byKind['mail.mime'] ?? 0).toBeLessThan(total);
    const stored = await snapshotHashes(reopened, next.snapshot!, 'mail');
    expect(stored).toEqual(exportedMail(emulator));
    expect(await reopened.snapshots('checkpoints')).toEqual([]);
    await reopened.close();
  });
});
