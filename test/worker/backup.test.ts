// The backup worker end to end: the real worker code (msal-node, the Graph client, our governor,
// every Microsoft 365 service module) against the emulator, into a repository on the real MinIO.
// What a user would check: everything is in the snapshot byte for byte; an incremental run
// counts exactly what changed and downloads nothing else; throttling only slows a run down;
// persistent failures show in the object report with the right transitions; revoked credentials
// end the run with the right reason and keep what was stored; a killed worker resumes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicrosoftProvider } from '../../src/providers/microsoft365/provider.ts';
import { Repository } from '../../src/repository/repository.ts';
import { readAccountRecords } from '../../src/worker/account-records.ts';
import { runBackup } from '../../src/worker/backup-run.ts';
import type { MicrosoftEmulator, MicrosoftEmulatorOptions } from '../emulators/microsoft/index.ts';
import { startEmulator } from '../emulators/microsoft/testing.ts';
import { sharedMinio } from '../envtest/context.ts';
import { pathPattern } from '../providers/microsoft365/support.ts';
import {
  ALL_SERVICES,
  spawnWorker,
  workerLayout,
  exportedMail,
  exportedMessages,
  KEY,
  providerOptions,
  runInput,
  s3Storage,
  snapshotHashes,
} from './support.ts';

const minio = sharedMinio();
let prefixes = 0;

const s3 = (prefix: string) => s3Storage(minio, prefix);

async function newRepository(): Promise<{ repository: Repository; prefix: string }> {
  const prefix = `worker-test-${process.pid}-${++prefixes}`;
  return { repository: await Repository.init(s3(prefix), { key: KEY }), prefix };
}

const input = runInput;

const SMALL: MicrosoftEmulatorOptions['tenant'] = {
  seed: 'worker',
  users: 3,
  sharedMailboxes: 1,
  unlicensedUsers: 1,
  groups: 2,
  sites: 1,
  teams: 1,
  items: { mail: 25, events: 6, contacts: 6, files: 8, siteFiles: 5, channelMessages: 3 },
};

describe('backup worker against the emulator, into MinIO', () => {
  let emulator: MicrosoftEmulator;

  beforeAll(async () => {
    emulator = await startEmulator({ tenant: SMALL });
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it('backs up every service of every account byte for byte, then exactly what changed, downloading nothing else', async () => {
    const { repository } = await newRepository();
    const base = await runBackup(input(emulator, repository, 'contoso-daily-202612010000'));
    expect(base.outcome, base.message).toBe('Successful');
    expect(base.reason).toBe('Succeeded');
    expect(Object.keys(base.statistics.services).sort()).toEqual([...ALL_SERVICES].sort());
    const licensed = [...emulator.directory.users.values()].filter((u) => u.assignedLicenses.length > 0).length;
    expect(base.accounts.shard).toBeGreaterThanOrEqual(licensed + 1 + 1 + 1); // users, the shared mailbox, a site, a team

    // Mail is compared with the emulator's own export, message by message.
    const mail = exportedMail(emulator);
    const stored = await snapshotHashes(repository, base.snapshot!, 'mail');
    expect(stored.size).toBe(mail.size);
    for (const [id, hash] of mail) expect(stored.get(id), id).toBe(hash);
    for (const summary of base.accounts.list) expect(summary.status).toBe('Success');

    const counts = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, seed: 'first-change' });
    const expected = (service: string) =>
      counts
        .filter((c) => c.service === service)
        .reduce((n, c) => ({ added: n.added + c.added + c.changed + c.moved, removed: n.removed + c.removed }), { added: 0, removed: 0 });
    emulator.resetStats();
    const incremental = await runBackup(input(emulator, repository, 'contoso-daily-202612010600'));
    expect(incremental.outcome, incremental.message).toBe('Successful');
    const mailStats = incremental.statistics.services['mail']!;
    expect(mailStats.added.count).toBe(expected('mail').added);
    expect(mailStats.removed.count).toBe(expected('mail').removed);
    // Only what changed was downloaded: one MIME request per added, changed or moved message.
    expect(emulator.stats.byKind['mail.mime'] ?? 0).toBe(expected('mail').added);
    const after = exportedMail(emulator);
    const snapshotMail = await snapshotHashes(repository, incremental.snapshot!, 'mail');
    expect(snapshotMail.size).toBe(after.size);
    for (const [id, hash] of after) expect(snapshotMail.get(id), id).toBe(hash);

    // Nothing changed: nothing downloaded, nothing added.
    emulator.resetStats();
    const idle = await runBackup(input(emulator, repository, 'contoso-daily-202612011200'));
    expect(idle.outcome).toBe('Successful');
    expect(idle.statistics.total.added.count).toBe(0);
    expect(idle.statistics.total.removed.count).toBe(0);
    expect(emulator.stats.byKind['mail.mime'] ?? 0).toBe(0);

    // Messages are deleted and one mailbox's sync states expire: its folders are listed again,
    // what they no longer hold is removed, and nothing is downloaded again.
    const mailbox = idle.accounts.list.find((a) => a.kind === 'user')!;
    const removals = emulator.mutate({ seed: 'worker-expired', add: 0, change: 0, move: 0, remove: 0.1, addFolders: 0, removeFolders: 0 });
    expect(emulator.expireDeltaTokens(mailbox.address, 'mail')).toBeGreaterThan(0);
    emulator.resetStats();
    const resynced = await runBackup(input(emulator, repository, 'contoso-daily-202612011800'));
    expect(resynced.outcome, resynced.message).toBe('Successful');
    expect(resynced.statistics.services['mail']!.removed.count).toBe(
      removals.filter((c) => c.service === 'mail').reduce((n, c) => n + c.removed, 0),
    );
    expect(resynced.statistics.services['mail']!.added.count).toBe(0);
    expect(emulator.stats.byKind['mail.mime'] ?? 0).toBe(0);
    const now = exportedMail(emulator);
    const resyncedMail = await snapshotHashes(repository, resynced.snapshot!, 'mail');
    expect(resyncedMail.size).toBe(now.size);
    for (const [id, hash] of now) expect(resyncedMail.get(id), id).toBe(hash);
    await repository.close();
  });

  it('finishes a throttling storm with no failed item, only slower', async () => {
    const storm = await startEmulator({
      tenant: { ...SMALL, seed: 'storm', users: 2, sharedMailboxes: 0, sites: 0, teams: 0, items: { ...SMALL!.items, mail: 60 } },
    });
    try {
      storm.throttle.options = { ...storm.throttle.options, mailboxRequests: 40, mailboxWindowMs: 1_000, mailboxConcurrency: 2 };
      const { repository } = await newRepository();
      const result = await runBackup(
        input(storm, repository, 'storm-1', {
          services: ['mail', 'contacts'],
          provider: new MicrosoftProvider({ ...providerOptions(storm), budget: { mailboxConcurrency: 4, mailboxRequests: 1_000_000 } }),
        }),
      );
      expect(result.outcome, result.message).toBe('Successful');
      expect(result.statistics.total.skipped.count).toBe(0);
      expect(storm.stats.throttled).toBeGreaterThan(0);
      expect(result.requests.throttled).toBeGreaterThan(0);
      expect((await snapshotHashes(repository, result.snapshot!, 'mail')).size).toBe(exportedMail(storm).size);
      await repository.close();
    } finally {
      await storm.close();
    }
  });

  it('reports an object that keeps failing, and moves it to Success once it is backed up, and to Excluded when excluded', async () => {
    const { repository } = await newRepository();
    const user = [...emulator.directory.users.values()].find((u) => u.assignedLicenses.length > 0)!;
    const first = await runBackup(input(emulator, repository, 'report-1', { services: ['mail'] }));
    expect(first.outcome).toBe('Successful');
    // New messages arrive; the download of one of them fails every time.
    const before = new Set(exportedMessages(emulator).map((m) => m.id));
    const counts = emulator.mutate({ add: 0.1, change: 0, move: 0, remove: 0, seed: 'report' });
    expect(counts.find((c) => c.account === user.id && c.service === 'mail')!.added).toBeGreaterThan(0);
    const victim = exportedMessages(emulator).find((m) => m.account === user.id && !before.has(m.id))!.id;
    emulator.faults.add({
      kind: 'error',
      routeKind: 'mail.mime',
      path: pathPattern(victim),
      status: 500,
      code: 'ErrorInternalServerError',
      message: 'The store is unavailable for this item.',
    });
    const failing = await runBackup(input(emulator, repository, 'report-2', { services: ['mail'] }));
    expect(failing.outcome).toBe('Successful');
    expect(failing.reason).toBe('ItemsSkipped');
    expect(failing.statistics.total.skipped.count).toBeGreaterThanOrEqual(1);
    expect(failing.skippedReport).toBeDefined();
    const csv = (await repository.getSealed(failing.skippedReport!)).toString();
    expect(csv).toContain(victim);
    expect(csv).toContain('ErrorInternalServerError');
    let record = (await readAccountRecords(repository, 'contoso-daily')).find((r) => r.account === user.id)!;
    const failed = record.objects.find((o) => o.id === victim)!;
    expect(failed).toMatchObject({ status: 'Failure', service: 'mail', issue: { source: 'graph', code: 'ErrorInternalServerError' } });
    expect(record.status).toBe('Partial');

    // Excluded: not tried again, not skipped, stays Excluded.
    const excluded = await runBackup(
      input(emulator, repository, 'report-3', {
        services: ['mail'],
        exclusions: [{ account: user.id, objectId: victim, version: failed.version }],
      }),
    );
    expect(excluded.exclusions.excluded).toEqual([expect.objectContaining({ id: victim, version: failed.version })]);
    expect(excluded.statistics.total.skipped.count).toBe(0);
    record = (await readAccountRecords(repository, 'contoso-daily')).find((r) => r.account === user.id)!;
    expect(record.objects.find((o) => o.id === victim)?.status).toBe('Excluded');

    // The exclusion is deleted and the fault goes away: the next run backs it up, the record turns Success.
    emulator.faults.clear();
    const healed = await runBackup(input(emulator, repository, 'report-4', { services: ['mail'] }));
    expect(healed.statistics.total.skipped.count).toBe(0);
    record = (await readAccountRecords(repository, 'contoso-daily')).find((r) => r.account === user.id)!;
    expect(record.objects.find((o) => o.id === victim)?.status).toBe('Success');
    expect(record.status).toBe('Success');
    await repository.close();
  });

  it('ends Incomplete with AuthenticationFailed when the credentials are revoked mid-run, and keeps what was stored', async () => {
    const revoked = await startEmulator({ tenant: { ...SMALL, seed: 'revoke', users: 6, sharedMailboxes: 0, sites: 0, teams: 0 } });
    try {
      const { repository } = await newRepository();
      let revokedAt = -1;
      const result = await runBackup(
        input(revoked, repository, 'revoke-1', {
          services: ['mail'],
          concurrency: 1,
          onProgress: (p) => {
            if (p.accountsDone === 2 && revokedAt < 0) {
              revokedAt = p.accountsDone;
              revoked.revokeCredentials();
            }
          },
        }),
      );
      expect(result.outcome, result.message).toBe('Incomplete');
      expect(result.reason).toBe('AuthenticationFailed');
      expect(result.message).not.toContain(revoked.connection.clientSecret);
      expect(result.snapshot).toBeDefined();
      const snapshot = await repository.snapshot(result.snapshot!);
      const withItems = snapshot.accounts.filter((a) => a.items > 0);
      expect(withItems.length).toBeGreaterThanOrEqual(2);
      await repository.close();
    } finally {
      await revoked.close();
    }
  });
});

describe('saasbackup worker backup (the command a Job runs)', () => {
  let emulator: MicrosoftEmulator;
  let dir: string;

  beforeAll(async () => {
    emulator = await startEmulator({
      tenant: {
        ...SMALL,
        seed: 'cli',
        users: 4,
        sharedMailboxes: 0,
        sites: 0,
        teams: 0,
        items: { ...SMALL!.items, mail: 150 },
        sizes: { mailMedianBytes: 40 * 1024 },
      },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-worker-cli-'));
  });

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const layout = (prefix: string, secret?: string) => workerLayout({ dir, prefix, emulator, minio, ...(secret ? { secret } : {}) });
  const worker = (args: string[], killAfter?: (line: string) => boolean) => spawnWorker(emulator, args, killAfter);

  it('runs a backup from the mounted Connector, BackupPolicy and Secrets, and writes its result', async () => {
    const { args } = layout('plain');
    const run = await worker([...args, '--run', 'contoso-mail-202612010000']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(readFileSync(path.join(dir, 'plain', 'result.json'), 'utf8')) as {
      outcome: string;
      snapshot: string;
      statistics: { total: { added: { count: number } } };
    };
    expect(result.outcome).toBe('Successful');
    expect(result.statistics.total.added.count).toBe(exportedMail(emulator).size);
    expect(JSON.parse(readFileSync(path.join(dir, 'plain', 'progress.json'), 'utf8'))).toMatchObject({ accountsDone: 4, accountsTotal: 4 });
    expect(run.stdout).not.toContain(emulator.connection.clientSecret);
  });

  it('resumes after being killed mid-run and downloads less than a fresh base backup', async () => {
    const { args } = layout('killed');
    emulator.resetStats();
    const fresh = exportedMail(emulator).size;
    // Killed once the first accounts are checkpointed (progress lines come per account).
    const killed = await worker([...args, '--run', 'contoso-mail-202612020000'], (line) => line.includes('"accountsDone":2'));
    expect(killed.signal).toBe('SIGKILL');
    const firstDownloads = emulator.stats.byKind['mail.mime'] ?? 0;
    expect(firstDownloads).toBeGreaterThan(0);
    emulator.resetStats();
    const resumed = await worker([...args, '--run', 'contoso-mail-202612020000']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const secondDownloads = emulator.stats.byKind['mail.mime'] ?? 0;
    expect(secondDownloads).toBeLessThan(fresh);
    const result = JSON.parse(readFileSync(path.join(dir, 'killed', 'result.json'), 'utf8')) as { outcome: string; snapshot: string };
    expect(result.outcome).toBe('Successful');
    const repository = await Repository.open(s3(`killed-${process.pid}`), { key: KEY });
    expect((await snapshotHashes(repository, result.snapshot, 'mail')).size).toBe(fresh);
    await repository.close();
  });

  it('refuses a wrong manifest and a missing Secret key with a message that says what to fix', async () => {
    const { args } = layout('bad');
    const policyFile = path.join(dir, 'bad', 'policy.yaml');
    const policy = JSON.parse(readFileSync(policyFile, 'utf8').split('\n')[1]!) as { spec: { services: unknown } };
    policy.spec.services = 'mail';
    writeFileSync(policyFile, JSON.stringify(policy));
    const wrong = await worker([...args, '--run', 'x']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/BackupPolicy contoso-mail is not valid:\n\s+spec\.services/);
    rmSync(path.join(dir, 'bad'), { recursive: true });
    const again = layout('bad');
    rmSync(path.join(dir, 'bad', 'secrets', 'connector', 'client-secret'));
    const missing = await worker([...again.args, '--run', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('the client secret of the Connector: the mounted Secret has no key client-secret');
  });

  it('reports a wrong client secret as AuthenticationFailed, without the secret', async () => {
    const { args } = layout('wrong-secret', 'not-the-secret-value');
    const run = await worker([...args, '--run', 'x']);
    expect(run.code).toBe(3);
    const result = JSON.parse(readFileSync(path.join(dir, 'wrong-secret', 'result.json'), 'utf8')) as {
      outcome: string;
      reason: string;
      message: string;
    };
    expect(result).toMatchObject({ outcome: 'Unsuccessful', reason: 'AuthenticationFailed' });
    expect(`${run.stdout}${run.stderr}${result.message}`).not.toContain('not-the-secret-value');
  });
});
