// Checkpoints never shadow a snapshot, run as a user runs the worker: base backup, a change in the
// tenant, backups again, with several accounts at once and a checkpoint due after every account.
// Every incremental run counts exactly what changed; after every commit `saasbackup repo snapshots
// --checkpoints` lists nothing; a stale checkpoint planted on purpose is ignored; and a worker
// killed after some accounts, a tenant that changes meanwhile, and the retried run end with a
// snapshot that matches the tenant.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.ts';
import type { Storage } from '../../src/repository/storage/storage.ts';
import { runBackup, type BackupRunResult } from '../../src/worker/backup-run.ts';
import type { MicrosoftEmulator, MicrosoftEmulatorOptions } from '../emulators/microsoft/index.ts';
import { startEmulator } from '../emulators/microsoft/testing.ts';
import { sharedMinio } from '../envtest/context.ts';
import { exportedMail, KEY, repoCommand, runInput, s3Storage, snapshotHashes, spawnWorker, workerLayout } from './support.ts';

const minio = sharedMinio();

const TENANT: MicrosoftEmulatorOptions['tenant'] = {
  seed: 'checkpoints',
  users: 6,
  sharedMailboxes: 1,
  unlicensedUsers: 0,
  groups: 0,
  sites: 0,
  teams: 0,
  items: { mail: 40, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 0 },
};

/** Storage that remembers the last checkpoint written, so that a test can put it back later. */
function recordingCheckpoints(inner: Storage): Storage & { lastCheckpoint?: { name: string; data: Buffer } } {
  const storage: Storage & { lastCheckpoint?: { name: string; data: Buffer } } = {
    location: inner.location,
    supportsObjectLock: inner.supportsObjectLock,
    get: (name, range) => inner.get(name, range),
    put: async (name, data, options) => {
      await inner.put(name, data, options);
      if (name.startsWith('checkpoints/')) storage.lastCheckpoint = { name, data };
    },
    delete: (name) => inner.delete(name),
    stat: (name) => inner.stat(name),
    list: (prefix) => inner.list(prefix),
  };
  return storage;
}

/** What the emulator's mutation says each service of the tenant gained and lost. */
function expectedMail(counts: ReturnType<MicrosoftEmulator['mutate']>): { added: number; removed: number } {
  return counts
    .filter((c) => c.service === 'mail')
    .reduce((n, c) => ({ added: n.added + c.added + c.changed + c.moved, removed: n.removed + c.removed }), { added: 0, removed: 0 });
}

describe('checkpoints that never shadow a snapshot', () => {
  let emulator: MicrosoftEmulator;
  let dir: string;

  beforeAll(async () => {
    emulator = await startEmulator({ tenant: TENANT });
    dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-checkpoints-'));
  });

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts exactly what changed in every run, leaves no checkpoint after a commit, and ignores a stale one', async () => {
    const prefix = `checkpoints-${process.pid}`;
    const storage = recordingCheckpoints(s3Storage(minio, prefix));
    const repository = await Repository.init(storage, { key: KEY });
    const listed = async (): Promise<unknown[]> =>
      JSON.parse(await repoCommand(minio, prefix, ['snapshots', '--checkpoints', '--json'])) as unknown[];
    const backup = (run: string): Promise<BackupRunResult> =>
      runBackup(
        runInput(emulator, repository, run, { services: ['mail'], concurrency: 3, checkpointAfterAccountMs: 0, checkpointEveryMs: 0 }),
      );
    const matchesTenant = async (result: BackupRunResult): Promise<void> => {
      expect(await snapshotHashes(repository, result.snapshot!, 'mail')).toEqual(exportedMail(emulator));
    };

    const base = await backup('contoso-daily-202612040000');
    expect(base.outcome, base.message).toBe('Successful');
    expect(base.statistics.total.added.count).toBe(exportedMail(emulator).size);
    expect(await listed()).toEqual([]);
    await matchesTenant(base);

    // The change of the report: 101 items of the tenant, then the next run counts them exactly.
    const first = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 0, removeFolders: 0, seed: 'cp-1' });
    const next = await backup('contoso-daily-202612040600');
    expect(next.outcome, next.message).toBe('Successful');
    expect(next.resumedFrom).toEqual([]);
    expect({ added: next.statistics.total.added.count, removed: next.statistics.total.removed.count }).toEqual(expectedMail(first));
    expect(await listed()).toEqual([]);
    await matchesTenant(next);

    // A checkpoint of the run that just committed comes back (a delete that failed, say): it is
    // older than that snapshot, so the next run must not resume from it.
    const stale = storage.lastCheckpoint!;
    expect(stale).toBeDefined();
    await s3Storage(minio, prefix).put(stale.name, stale.data);
    expect(await listed()).toHaveLength(1);
    const second = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 0, removeFolders: 0, seed: 'cp-2' });
    const after = await backup('contoso-daily-202612041200');
    expect(after.outcome, after.message).toBe('Successful');
    expect(after.resumedFrom).toEqual([]);
    expect({ added: after.statistics.total.added.count, removed: after.statistics.total.removed.count }).toEqual(expectedMail(second));
    expect(await listed()).toEqual([]);
    await matchesTenant(after);
    await repository.close();
  });

  it('brings a killed run up to date: the retried run, after the tenant changed, matches the tenant', async () => {
    const tenant = await startEmulator({
      tenant: {
        ...TENANT,
        seed: 'checkpoints-killed',
        users: 5,
        items: { ...TENANT!.items, mail: 150 },
        sizes: { mailMedianBytes: 40 * 1024 },
      },
    });
    try {
      const { args, repositoryPrefix } = workerLayout({ dir, prefix: 'killed', emulator: tenant, minio, concurrency: 2 });
      const run = ['--run', 'contoso-mail-202612050000'];
      // The base backup is killed once some accounts are checkpointed (a progress line comes per account).
      const killed = await spawnWorker(tenant, [...args, ...run], (line) => line.includes('"accountsDone":2'));
      expect(killed.signal).toBe('SIGKILL');
      // The tenant changes, also in the accounts the killed attempt had finished.
      tenant.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 0, removeFolders: 0, seed: 'cp-killed' });
      const retried = await spawnWorker(tenant, [...args, ...run]);
      expect(retried.code, retried.stderr).toBe(0);
      const result = JSON.parse(readFileSync(path.join(dir, 'killed', 'result.json'), 'utf8')) as BackupRunResult;
      expect(result.outcome).toBe('Successful');
      expect(result.resumedFrom.length).toBeGreaterThan(0);
      const repository = await Repository.open(s3Storage(minio, repositoryPrefix), { key: KEY });
      expect(await snapshotHashes(repository, result.snapshot!, 'mail')).toEqual(exportedMail(tenant));
      expect(await repository.snapshots('checkpoints')).toEqual([]);
      await repository.close();
    } finally {
      await tenant.close();
    }
  });
});
