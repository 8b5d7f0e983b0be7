// A cancelled run, end to end: the real worker code (msal-node, the Graph client, our governor,
// the mail service) against the emulator, into a repository on the real MinIO. One mailbox is
// throttled with `Retry-After: 300` while the others are backed up; the run is cancelled while the
// governor waits that out. What a user would check: the run ends Cancelled, soon, not 300 s
// later; its snapshot is committed and holds every message of the accounts finished before the
// cancel; nothing is reported skipped or failed because of the cancel; and the throttled mailbox
// is not asked again.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MicrosoftProvider } from '../../src/providers/microsoft365/provider.ts';
import { Repository } from '../../src/repository/repository.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import { readAccountRecords } from '../../src/worker/account-records.ts';
import { runBackup } from '../../src/worker/backup-run.ts';
import type { MicrosoftEmulator } from '../emulators/microsoft/index.ts';
import type { User } from '../emulators/microsoft/tenant/directory.ts';
import { connectionOf, startEmulator } from '../emulators/microsoft/testing.ts';
import { sharedMinio } from '../envtest/context.ts';

const minio = sharedMinio();
const POLICY = 'contoso-cancel';
const RETRY_AFTER_SECONDS = 300;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface ExportedMailbox {
  account: string;
  messages: { id: string; sha256: string }[];
}

function exportedMail(emulator: MicrosoftEmulator): Map<string, Map<string, string>> {
  const { mailboxes } = emulator.export()['mail'] as { mailboxes: ExportedMailbox[] };
  return new Map(mailboxes.map((m) => [m.account, new Map(m.messages.map((msg) => [msg.id, msg.sha256]))]));
}

describe('a cancelled backup run', () => {
  let emulator: MicrosoftEmulator;
  let repository: Repository;

  beforeAll(async () => {
    emulator = await startEmulator({
      tenant: {
        seed: 'cancel',
        users: 4,
        unlicensedUsers: 0,
        sharedMailboxes: 0,
        groups: 1,
        sites: 0,
        teams: 0,
        mailFolders: 2,
        items: { mail: 20, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 0 },
      },
    });
    const storage = new S3Storage({
      endpoint: minio.endpoint,
      region: minio.region,
      bucket: minio.bucket,
      prefix: `worker-cancel-${process.pid}`,
      accessKey: minio.accessKey,
      secretKey: minio.secretKey,
    });
    repository = await Repository.init(storage, { key: 'worker-cancel-key' });
  });

  afterAll(async () => {
    await repository?.close();
    await emulator?.close();
  });

  it('ends Cancelled without waiting out a Retry-After of 300 s, and commits what the finished accounts stored', async () => {
    const mailboxes = [...emulator.directory.users.values()].filter((u) => u.mailboxType === 'user');
    expect(mailboxes).toHaveLength(4);
    const victim = mailboxes[0] as User;
    const others = mailboxes.slice(1);
    // Every request for the victim's mailbox (its first is the folder listing) is answered 429.
    const rule = emulator.faults.add({
      kind: 'throttled',
      path: `/users/(${escape(victim.id)}|${escape(encodeURIComponent(victim.id))})/`,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });

    const controller = new AbortController();
    // The production retry policy: Retry-After is honoured up to 300 s.
    const provider = new MicrosoftProvider({ ...connectionOf(emulator), signal: controller.signal });
    const governor = provider.session.governor;
    let othersDone!: () => void;
    const othersFinished = new Promise<void>((resolve) => (othersDone = resolve));
    const started = Date.now();
    const run = runBackup({
      policy: POLICY,
      run: `${POLICY}-202612010000`,
      shard: { index: 0, count: 1 },
      provider,
      repository,
      services: ['mail'],
      accounts: { mode: 'all' },
      discovery: { autoAddUsers: true, autoAddSharedMailboxes: true, includeUnlicensed: false },
      // All four accounts at once: the others go on while the victim waits.
      concurrency: 4,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.accountsDone === others.length) othersDone();
      },
    });
    // Should the run end by itself first, the assertions below say how.
    const early = await Promise.race([othersFinished.then(() => undefined), run]);
    expect(early, early?.message).toBeUndefined();

    // The victim's first request got its 429, and the governor is sleeping on the Retry-After.
    await vi.waitFor(() => expect(governor.stats.waitingToRetry).toBe(1), { timeout: 30_000 });
    expect(emulator.faults.fired[rule]).toBe(1);
    expect(governor.stats.throttled).toBe(1);
    controller.abort();
    const result = await run;
    const returned = Date.now();

    // The wait was abandoned: the run returned long before the Retry-After (counted from before
    // the run started, so it can only have expired later than this) would have let the victim's
    // request go again, and the throttled mailbox was not asked again.
    expect(returned - started).toBeLessThan((RETRY_AFTER_SECONDS * 1000) / 2);
    expect(governor.stats.waitingToRetry).toBe(0);
    expect(emulator.faults.fired[rule]).toBe(1);

    expect(result.outcome, result.message).toBe('Cancelled');
    expect(result.reason).toBe('Cancelled');
    expect(result.snapshot).toBeDefined();
    // Nothing is skipped or failed because of the cancel.
    expect(result.statistics.total.skipped.count).toBe(0);
    expect(result.skippedReport).toBeUndefined();
    expect(result.failedContainers).toBe(0);
    expect(result.objects.failed).toBe(0);
    for (const record of await readAccountRecords(repository, POLICY)) {
      expect(
        record.objects.filter((o) => o.status === 'Failure'),
        record.address,
      ).toEqual([]);
    }

    // The snapshot is committed and holds every message of the accounts finished before the cancel.
    const snapshot = await repository.snapshot(result.snapshot!);
    const source = exportedMail(emulator);
    for (const user of others) {
      const expected = source.get(user.id)!;
      expect(expected.size).toBeGreaterThan(0);
      const stored = new Map<string, string>();
      for await (const item of repository.items(snapshot, { account: user.id, service: 'mail' }))
        stored.set(item.id, sha256(await repository.readContent(item)));
      expect(stored, user.mail ?? user.id).toEqual(expected);
    }
    expect(result.statistics.total.added.count).toBe(others.reduce((n, u) => n + source.get(u.id)!.size, 0));
    // The victim was not reached: nothing of it is in the snapshot.
    expect(snapshot.accounts.filter((a) => a.account === victim.id && a.items > 0)).toEqual([]);
  });
});
