// `saasbackup repo ...`: the repository, for operators. Every command prints what it did; long
// work (check, prune) reports progress on stderr; --json gives machine-readable output.
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../../api/duration.ts';
import { check } from '../../repository/check.ts';
import { forget } from '../../repository/forget.ts';
import { prune } from '../../repository/prune.ts';
import { Repository } from '../../repository/repository.ts';
import type { RetentionPolicy } from '../../repository/retention.ts';
import { formatBytes, table } from './format.ts';
import { repositoryKey, storageFor, type LocationFlags } from './location.ts';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative whole number');
  return n;
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

async function openRepository(flags: LocationFlags): Promise<Repository> {
  return Repository.open(storageFor(flags), { key: repositoryKey(flags) });
}

export function repoCommand(): Command {
  const repo = new Command('repo')
    .description('Work with a repository: init, snapshots, ls, cat, check, forget, prune, stats')
    .option('-r, --repo <location>', 'local path or s3:<endpoint>/<bucket>/<prefix> (default $SAASBACKUP_REPOSITORY)')
    .option('--key-file <file>', 'file holding the repository key (default $SAASBACKUP_REPOSITORY_KEY)');
  const flags = () => repo.opts<LocationFlags>();

  repo
    .command('init')
    .description('create a new repository; refuses a location that already holds one')
    .action(async () => {
      const storage = storageFor(flags());
      const repository = await Repository.init(storage, { key: repositoryKey(flags()) });
      out(`created repository ${repository.config.id} at ${storage.location}`);
      out('keep the repository key safe: without it the data cannot be read');
    });

  repo
    .command('snapshots')
    .description('list snapshots, oldest first')
    .option('--policy <name>', 'only snapshots of this policy')
    .option('--checkpoints', 'list checkpoints of unfinished runs instead')
    .option('--json', 'print JSON')
    .action(async (options: { policy?: string; checkpoints?: boolean; json?: boolean }) => {
      const repository = await openRepository(flags());
      const snapshots = (await repository.snapshots(options.checkpoints ? 'checkpoints' : 'snapshots')).filter(
        (s) => !options.policy || s.policy === options.policy,
      );
      if (options.json) return out(JSON.stringify(snapshots, null, 2));
      out(
        table(
          ['ID', 'TIME', 'POLICY', 'RUN', 'SHARD', 'ACCOUNTS', 'ITEMS', 'ADDED', 'SIZE'],
          snapshots.map((s) => [
            s.id.slice(0, 12),
            s.time,
            s.policy,
            s.run,
            String(s.shard),
            String(s.accounts.length),
            String(s.stats.items),
            String(s.stats.itemsAdded),
            formatBytes(s.accounts.reduce((n, a) => n + a.bytes, 0)),
          ]),
        ),
      );
      out(`${snapshots.length} ${options.checkpoints ? 'checkpoints' : 'snapshots'}`);
    });

  repo
    .command('ls')
    .description('list the items of a snapshot from its catalog (reads no content)')
    .argument('<snapshot>', 'snapshot id or unique prefix')
    .option('--account <account>', 'only this account')
    .option('--service <service>', 'only this service')
    .option('--json', 'print JSON lines')
    .action(async (snapshotId: string, options: { account?: string; service?: string; json?: boolean }) => {
      const repository = await openRepository(flags());
      const snapshot = await repository.snapshot(snapshotId);
      const rows: string[][] = [];
      for await (const item of repository.items(snapshot, options)) {
        if (options.json) out(JSON.stringify(item));
        else rows.push([item.account, item.service, item.path, item.name, formatBytes(item.size), item.modified, item.id]);
      }
      if (!options.json) out(table(['ACCOUNT', 'SERVICE', 'PATH', 'NAME', 'SIZE', 'MODIFIED', 'ID'], rows));
    });

  repo
    .command('cat')
    .description("print a snapshot's manifest, or with account, service and item id, the item's content")
    .argument('<snapshot>', 'snapshot id or unique prefix')
    .argument('[account]')
    .argument('[service]')
    .argument('[item]', 'item id')
    .action(async (snapshotId: string, account?: string, service?: string, itemId?: string) => {
      const repository = await openRepository(flags());
      const snapshot = await repository.snapshot(snapshotId);
      if (!account) return out(JSON.stringify(snapshot, null, 2));
      if (!service || !itemId) throw new InvalidArgumentError('give account, service and item id to print an item');
      for await (const item of repository.items(snapshot, { account, service })) {
        if (item.id === itemId) {
          process.stdout.write(await repository.readContent(item));
          return;
        }
      }
      throw new InvalidArgumentError(`no item ${itemId} of ${account} ${service} in snapshot ${snapshot.id.slice(0, 12)}`);
    });

  repo
    .command('check')
    .description('verify the structure; with --read-data also decrypt and verify every blob')
    .option('--read-data', 'read and verify every blob (reads the whole repository)')
    .option('--json', 'print the report as JSON')
    .action(async (options: { readData?: boolean; json?: boolean }) => {
      const repository = await openRepository(flags());
      const report = await check(repository, {
        readData: options.readData ?? false,
        onProgress: (done, total) => {
          if (done === total || done % 50 === 0) progress(`checked ${done}/${total} packs`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (options.json) out(JSON.stringify(report, null, 2));
      else {
        for (const warning of report.warnings) out(`warning: ${warning}`);
        for (const error of report.errors) out(`error: ${error}`);
        if (report.affected.length > 0) {
          out('\nitems affected:');
          out(
            table(
              ['SNAPSHOT', 'ACCOUNT', 'SERVICE', 'PATH', 'NAME', 'ID'],
              report.affected.map((a) => [a.snapshot.slice(0, 12), a.account, a.service, a.path, a.name, a.itemId]),
            ),
          );
        }
        out(
          `${report.stats.snapshots} snapshots, ${report.stats.packs} packs, ${report.stats.blobs} blobs${options.readData ? `, ${formatBytes(report.stats.bytesRead)} read` : ''}: ${
            report.errors.length === 0 ? 'no errors' : `${report.errors.length} errors`
          }`,
        );
      }
      if (report.errors.length > 0) process.exitCode = 1;
    });

  repo
    .command('forget')
    .description("remove snapshots a retention policy does not keep (restic's rules); --prune to free their space")
    .option('--keep-last <n>', 'keep the newest n snapshots', count)
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last n hours', count)
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last n days', count)
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last n weeks', count)
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last n months', count)
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last n years', count)
    .option('--max-age <duration>', 'keep every snapshot younger than this, counted from the newest one (30d, 12w, 1y)')
    .option('--policy <name>', 'only snapshots of this policy')
    .option('--time-zone <zone>', 'time zone of the day, week, month and year buckets', 'UTC')
    .option('--dry-run', 'only say what would be removed')
    .option('--prune', 'prune afterwards')
    .action(async (options: Record<string, unknown>) => {
      const policy: RetentionPolicy = {};
      for (const [flag, field] of [
        ['keepLast', 'keepLast'],
        ['keepHourly', 'keepHourly'],
        ['keepDaily', 'keepDaily'],
        ['keepWeekly', 'keepWeekly'],
        ['keepMonthly', 'keepMonthly'],
        ['keepYearly', 'keepYearly'],
      ] as const) {
        if (options[flag] !== undefined) policy[field] = options[flag] as number;
      }
      if (options.maxAge) policy.maxAgeMs = parseDuration(options.maxAge as string);
      const repository = await openRepository(flags());
      const report = await forget(repository, policy, {
        timeZone: options.timeZone as string,
        dryRun: Boolean(options.dryRun),
        ...(options.policy ? { policyName: options.policy as string } : {}),
      });
      if (report.emptyPolicy) {
        out('no keep rule given: every snapshot is kept (give at least one --keep-* or --max-age)');
        return;
      }
      for (const { snapshot, reasons } of report.kept)
        out(`keep   ${snapshot.id.slice(0, 12)} ${snapshot.time} ${snapshot.policy}/${snapshot.shard}  (${reasons.join(', ')})`);
      for (const snapshot of report.removed)
        out(
          `${options.dryRun ? 'would remove' : 'remove'} ${snapshot.id.slice(0, 12)} ${snapshot.time} ${snapshot.policy}/${snapshot.shard}`,
        );
      for (const snapshot of report.locked)
        out(`locked ${snapshot.id.slice(0, 12)} ${snapshot.time}: Object Lock keeps it until its retention ends`);
      out(
        `${report.kept.length} kept, ${report.removed.length} ${options.dryRun ? 'would be removed' : 'removed'}, ${report.locked.length} locked`,
      );
      if (options.prune && !options.dryRun) await runPrune(repository, false);
    });

  repo
    .command('prune')
    .description('delete data no snapshot needs and repack mostly-empty packs (takes an exclusive lock)')
    .option('--dry-run', 'only say what would be done')
    .action(async (options: { dryRun?: boolean }) => runPrune(await openRepository(flags()), Boolean(options.dryRun)));

  repo
    .command('stats')
    .description('size of the repository and of what its snapshots hold')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const repository = await openRepository(flags());
      const snapshots = await repository.snapshots();
      let stored = 0;
      let objects = 0;
      for await (const object of repository.storage.list('')) {
        stored += object.size;
        objects += 1;
      }
      const logical = snapshots.reduce((n, s) => n + s.accounts.reduce((m, a) => m + a.bytes, 0), 0);
      const stats = {
        snapshots: snapshots.length,
        packs: [...repository.index.packs].length,
        blobs: repository.index.blobCount,
        objects,
        bytesStored: stored,
        bytesInSnapshots: logical,
      };
      if (options.json) return out(JSON.stringify(stats, null, 2));
      out(`snapshots:           ${stats.snapshots}`);
      out(`packs / blobs:       ${stats.packs} / ${stats.blobs}`);
      out(`stored:              ${formatBytes(stored)} in ${objects} objects`);
      out(`held by snapshots:   ${formatBytes(logical)}${stored > 0 ? ` (${(logical / stored).toFixed(1)}x the stored size)` : ''}`);
    });

  return repo;
}

async function runPrune(repository: Repository, dryRun: boolean): Promise<void> {
  const report = await prune(repository, { dryRun, onProgress: progress });
  if (process.stderr.isTTY) process.stderr.write('\n');
  out(
    `${dryRun ? 'would delete' : 'deleted'} ${report.packsDeleted} packs and ${report.unindexedDeleted} unindexed packs, repacked ${report.packsRepacked} into ${report.packsWritten}, freed ${formatBytes(report.bytesFreed)}`,
  );
  if (report.bytesLocked > 0)
    out(
      `${formatBytes(report.bytesLocked)} could not be freed yet: Object Lock protects it until ${report.lockedUntil ?? 'its retention ends'}`,
    );
}
