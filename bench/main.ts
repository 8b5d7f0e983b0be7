// Benchmarks entry point: `npm run bench -- <benchmark> [options]` (node bench/main.ts ...).
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_FILE_COUNT, DEFAULT_FILES_MIB } from './corpus/files.ts';
import { DEFAULT_MAIL_ITEMS } from './corpus/mail.ts';
import { CORPORA, runIngest, TOOLS } from './ingest.ts';
import type { CorpusName, Tool } from './ingest.ts';

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
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) throw new InvalidArgumentError(`unknown "${item}" (allowed: ${allowed.join(', ')})`);
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
  .option('--files-mib <m>', `size of the file corpus in MiB (default ${DEFAULT_FILES_MIB} at ${DEFAULT_MAIL_ITEMS} items, scaled with --items)`, positiveNumber)
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
  .option('--quiet-wait <seconds>', 'before each run, wait up to this long for other processes to leave the CPUs alone (0: do not wait)', Number, 120)
  .action(async (opts: {
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
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
