// Benchmarks entry point: `npm run bench -- <benchmark> [options]` (node bench/main.ts ...).
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_FILE_COUNT, DEFAULT_FILES_MIB } from './corpus/files.ts';
import { DEFAULT_MAIL_ITEMS } from './corpus/mail.ts';
import { CORPORA, runIngest, TOOLS } from './ingest.ts';
import type { CorpusName, Tool } from './ingest.ts';
import { runBackupBench, SCENARIOS, type BackupBenchOptions, type Scenario } from './backup.ts';

const DEFAULT_OUT = fileURLToPath(new URL('./results/ingest.json', import.meta.url));

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function listOf<T extends string>(allowed: readonly T[]): (value: string) => T[] {
  return (value) => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item))
        throw new InvalidArgumentError(`unknown "${item}" (allowed: ${allowed.join(', ')})`);
    }
    if (items.length === 0) throw new InvalidArgumentError('empty list');
    return [...new Set(items)] as T[];
  };
}

const program = new Command('bench').description('saasbackup benchmarks (results as JSON under bench/results/)');

program
  .command('ingest')
  .description('repository ingest side by side with restic: a mail corpus and a file corpus, first run and a changed run')
  .option('--items <n>', `messages in the mail corpus`, positiveInt, DEFAULT_MAIL_ITEMS)
  .option(
    '--files-mib <m>',
    `size of the file corpus in MiB (default ${DEFAULT_FILES_MIB} at ${DEFAULT_MAIL_ITEMS} items, scaled with --items)`,
    positiveNumber,
  )
  .option('--files <n>', 'number of files in the file corpus', positiveInt, DEFAULT_FILE_COUNT)
  .option('--seed <seed>', 'corpus seed (same seed, same bytes)', '1')
  .option('--change-percent <p>', 'mail: percentage of messages added/changed/deleted for the changed run', positiveNumber, 1)
  .option('--tools <list>', `tools to run (${TOOLS.join(',')})`, listOf(TOOLS), [...TOOLS])
  .option('--corpus <list>', `corpora to run (${CORPORA.join(',')})`, listOf(CORPORA), [...CORPORA])
  .option('--concurrency <n>', 'saasbackup: addItem calls in flight', positiveInt, 16)
  .option('--work-dir <dir>', 'where the work directory (corpus, MinIO data, logs) is created (default: the OS temp dir)')
  .option('--keep', 'keep the work directory afterwards', false)
  .option('--out <file>', 'results file', DEFAULT_OUT)
  .option('--restic <binary>', 'restic binary', 'restic')
  .option('--timeout-minutes <m>', 'limit for one backup run', positiveNumber, 60)
  .option(
    '--quiet-wait <seconds>',
    'before each run, wait up to this long for other processes to leave the CPUs alone (0: do not wait)',
    Number,
    120,
  )
  .action(
    async (opts: {
      items: number;
      filesMib?: number;
      files: number;
      seed: string;
      changePercent: number;
      tools: Tool[];
      corpus: CorpusName[];
      concurrency: number;
      workDir?: string;
      keep: boolean;
      out: string;
      restic: string;
      timeoutMinutes: number;
      quietWait: number;
    }) => {
      const filesMib = opts.filesMib ?? Math.max(8, Math.round((DEFAULT_FILES_MIB * opts.items) / DEFAULT_MAIL_ITEMS));
      process.exitCode = await runIngest({
        items: opts.items,
        filesMib,
        files: opts.files,
        seed: opts.seed,
        changePercent: opts.changePercent,
        tools: opts.tools,
        corpora: opts.corpus,
        concurrency: opts.concurrency,
        workDir: opts.workDir,
        keep: opts.keep,
        out: opts.out,
        restic: opts.restic,
        timeoutMinutes: opts.timeoutMinutes,
        quietWaitSeconds: Number.isFinite(opts.quietWait) && opts.quietWait > 0 ? opts.quietWait : 0,
      });
    },
  );

program
  .command('backup')
  .description(
    'the worker against the Microsoft 365 emulator, repository on MinIO: unthrottled throughput, quota use under throttling, a run with nothing changed, memory with mailbox size',
  )
  .option('--unthrottled-mailboxes <n>', 'unthrottled: mailboxes', positiveInt, 10)
  .option('--unthrottled-items <n>', 'unthrottled: messages per mailbox (~30 KiB each)', positiveInt, 3000)
  .option('--throttled-mailboxes <n>', 'throttled: mailboxes', positiveInt, 50)
  .option('--throttled-items <n>', 'throttled: messages per mailbox', positiveInt, 1500)
  .option('--window-seconds <s>', "throttled: Microsoft's 10-minute window shortened to this, at the same rate", positiveInt, 30)
  .option('--unchanged-mailboxes <n>', 'noChange: mailboxes', positiveInt, 20)
  .option('--unchanged-items <n>', 'noChange: messages per mailbox', positiveInt, 5000)
  .option('--flat-mailboxes <n>', 'flat: mailboxes', positiveInt, 10)
  .option('--flat-small-items <n>', 'flat: messages per mailbox of the small run (~2 KiB each)', positiveInt, 10_000)
  .option('--flat-large-items <n>', 'flat: messages per mailbox of the large run', positiveInt, 100_000)
  .option('--scenarios <list>', `scenarios to run (${SCENARIOS.join(',')})`, listOf(SCENARIOS), [...SCENARIOS])
  .option('--keep', 'keep the work directory afterwards', false)
  .option('--out <file>', 'results file', fileURLToPath(new URL('./results/backup.json', import.meta.url)))
  .action(
    async (
      opts: Omit<BackupBenchOptions, 'scenarios' | 'noChangeMailboxes' | 'noChangeItems'> & {
        scenarios: Scenario[];
        unchangedMailboxes: number;
        unchangedItems: number;
      },
    ) => {
      const { unchangedMailboxes, unchangedItems, ...rest } = opts;
      process.exitCode = await runBackupBench({ ...rest, noChangeMailboxes: unchangedMailboxes, noChangeItems: unchangedItems });
    },
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
