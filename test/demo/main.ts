// `npm run demo`: the product end to end on one machine, no cluster needed. It starts the
// Microsoft 365 emulator with a small generated tenant, backs it up into a local repository with
// the real worker code (msal-node and the Graph client over HTTPS to the emulator), changes the
// tenant, backs it up again incrementally, and prints the job monitor and where the data went.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatBytes, table } from '../../src/cli/repo/format.ts';
import { MicrosoftProvider } from '../../src/providers/microsoft365/provider.ts';
import { Repository } from '../../src/repository/repository.ts';
import { FileStorage } from '../../src/repository/storage/file.ts';
import { runBackup, type BackupRunResult } from '../../src/worker/backup-run.ts';
import { connectionOf, startEmulator } from '../emulators/microsoft/testing.ts';

const KEY = 'demo repository key: keep it secret in real life';
const SERVICES = ['mail', 'calendar', 'contacts', 'onedrive', 'sharepoint', 'teams'];

function duration(ms: number): string {
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

function row(type: string, r: BackupRunResult): string[] {
  const t = r.statistics.total;
  const stored = t.added.bytes;
  return [
    type,
    r.outcome,
    r.reason,
    `${t.added.count}`,
    `${t.removed.count}`,
    `${t.skipped.count}`,
    formatBytes(stored),
    duration(Date.parse(r.completionTime) - Date.parse(r.startTime)),
  ];
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? mkdtempSync(path.join(tmpdir(), 'saasbackup-demo-'));
  console.log('Starting the Microsoft 365 emulator (Entra ID + Graph over HTTPS on 127.0.0.1)...');
  const emulator = await startEmulator({
    tenant: {
      seed: 'demo',
      users: 4,
      sharedMailboxes: 1,
      groups: 2,
      sites: 1,
      teams: 1,
      items: { mail: 60, events: 12, contacts: 15, files: 20, siteFiles: 10, channelMessages: 6 },
    },
  });
  const c = emulator.connection;
  const provider = new MicrosoftProvider(connectionOf(emulator));
  const services = SERVICES.filter((s) => provider.services.has(s));
  console.log(`Tenant ${c.tenantId} at ${c.graphBaseUrl}; services: ${services.join(', ')}`);
  const repository = await Repository.init(new FileStorage(dir), { key: KEY });
  const run = (name: string) =>
    runBackup({
      policy: 'demo',
      run: name,
      shard: { index: 0, count: 1 },
      provider,
      repository,
      services,
      accounts: { mode: 'all' },
      discovery: { autoAddUsers: true, autoAddSharedMailboxes: true, includeUnlicensed: false },
      concurrency: 4,
      onProgress: (p) =>
        process.stdout.write(`\r  ${p.accountsDone}/${p.accountsTotal} accounts, ${p.itemsDone} items, ${formatBytes(p.bytesDone)}   `),
    });
  try {
    console.log('\nBase backup (every account is onboarding until its first full backup)...');
    const base = await run('demo-base');
    console.log(`\n  ${base.outcome}: ${base.message}`);
    const counts = emulator.mutate({ add: 0.1, change: 0.05, move: 0.05, remove: 0.05 });
    const changed = counts.reduce((n, m) => n + m.added + m.changed + m.moved + m.removed, 0);
    console.log(`\nThe tenant changed: ${changed} items added, changed, moved or removed. Incremental backup...`);
    emulator.resetStats();
    const incremental = await run('demo-incremental');
    console.log(`\n  ${incremental.outcome}: ${incremental.message}`);
    console.log(`  Graph requests of the incremental run: ${emulator.stats.total} (content downloads only for what changed)\n`);

    console.log('Job monitor');
    console.log(
      table(
        ['TYPE', 'STATUS', 'REASON', 'ADDED', 'REMOVED', 'SKIPPED', 'SIZE', 'DURATION'],
        [row('Backup (base)', base), row('Backup (incremental)', incremental)],
      ),
    );
    console.log('\nAccounts');
    console.log(
      table(
        ['ACCOUNT', 'KIND', 'STATUS'],
        incremental.accounts.list.map((a) => [a.address, a.kind, a.status]),
      ),
    );
    const snapshots = await repository.snapshots();
    console.log(`\nThe data went into an encrypted, deduplicated repository at ${dir}: ${snapshots.length} snapshots.`);
    console.log('Look inside with the operator CLI:');
    console.log(`  export SAASBACKUP_REPOSITORY=${dir} SAASBACKUP_REPOSITORY_KEY='${KEY}'`);
    console.log('  npm run saasbackup -- repo snapshots');
    console.log(`  npm run saasbackup -- repo ls ${incremental.snapshot?.slice(0, 12) ?? ''}`);
    console.log('  npm run saasbackup -- repo stats');
  } finally {
    await repository.close();
    await emulator.close();
  }
}

await main();
