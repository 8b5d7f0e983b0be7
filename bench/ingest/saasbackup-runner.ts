// The saasbackup side of the ingest benchmark, run by bench/tools/saasbackup.ts in its own Node
// process so that its peak RSS is its own:
//
//   node bench/ingest/saasbackup-runner.ts init
//   node bench/ingest/saasbackup-runner.ts backup --dir <corpus> --service mail|onedrive --run <name> [--concurrency 16] [--encoder-threads N]
//
// Storage and key come from the environment (BENCH_S3_ENDPOINT, BENCH_S3_BUCKET, BENCH_S3_PREFIX,
// BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY, BENCH_REPOSITORY_KEY). `backup` walks the corpus and
// adds every file as an item (account = top-level directory, path = the folders below it, id and
// name = the file name, version = `${size}-${mtimeMs}`) to a snapshot of policy "bench", shard 0,
// with the newest snapshot as parent, `--concurrency` addItem calls in flight; content is read
// with fs.readFile, or streamed (1 MiB pieces) above 1 MiB. Its last stdout line
// is the report: {"items", "bytesIn", "seconds", "peakRssBytes", "cpu", "snapshot"}.
import { createReadStream, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Repository } from '../../src/repository/repository.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';

const MiB = 1024 * 1024;
/** Items larger than this are handed to the writer as a stream rather than a Buffer. */
// Large content is streamed, as the workers stream downloads from the SaaS APIs.
const STREAM_ABOVE = MiB;

interface FileItem {
  account: string;
  /** Folders below the account directory, '/'-separated; '' at the top. */
  path: string;
  name: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function* walkDir(root: string, account: string, rel: string): AsyncGenerator<FileItem> {
  const dir = rel === '' ? join(root, account) : join(root, account, rel);
  const entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
  const files = entries.filter((e) => e.isFile());
  // Synchronous stat: a directory's files are in the page cache, and 50,000 stat promises cost
  // the main thread more than the system calls themselves (as restic's walker, one lstat each).
  const stats = files.map((e) => statSync(join(dir, e.name)));
  for (let i = 0; i < files.length; i++) {
    const e = files[i];
    const s = stats[i];
    if (e === undefined || s === undefined) continue;
    yield { account, path: rel, name: e.name, abs: join(dir, e.name), size: s.size, mtimeMs: s.mtimeMs };
  }
  for (const e of entries) {
    if (e.isDirectory()) yield* walkDir(root, account, rel === '' ? e.name : `${rel}/${e.name}`);
  }
}

/** Every file, account by account; `starting` is told the next few accounts ahead of their files. */
async function* walk(root: string, starting: (account: string) => void): AsyncGenerator<FileItem> {
  const accounts = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).sort(byName);
  const AHEAD = 4;
  accounts.slice(0, AHEAD).forEach((a) => starting(a.name));
  for (const [i, a] of accounts.entries()) {
    const next = accounts[i + AHEAD];
    if (next) starting(next.name);
    yield* walkDir(root, a.name, '');
  }
}

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}

function storage(): S3Storage {
  return new S3Storage({
    endpoint: env('BENCH_S3_ENDPOINT'),
    bucket: env('BENCH_S3_BUCKET'),
    prefix: env('BENCH_S3_PREFIX'),
    region: env('BENCH_S3_REGION'),
    accessKey: env('BENCH_S3_ACCESS_KEY'),
    secretKey: env('BENCH_S3_SECRET_KEY'),
  });
}

async function init(): Promise<void> {
  const started = performance.now();
  const repo = await Repository.init(storage(), { key: env('BENCH_REPOSITORY_KEY') });
  await repo.close();
  console.log(JSON.stringify({ init: true, seconds: (performance.now() - started) / 1000 }));
}

async function backup(options: { dir: string; service: string; run: string; concurrency: number; encoderThreads: number | undefined }): Promise<void> {
  const started = performance.now();
  const repo = await Repository.open(storage(), {
    key: env('BENCH_REPOSITORY_KEY'),
    ...(options.encoderThreads === undefined ? {} : { encoderThreads: options.encoderThreads }),
  });
  const writer = await repo.snapshotWriter({ policy: 'bench', run: options.run, shard: 0, parent: 'latest' });
  let items = 0;
  let bytesIn = 0;
  // The parent's trees of the next accounts are read while this one's files are stored.
  const files = walk(options.dir, (account) => writer.prefetchAccount(account, options.service));
  // Async generators queue concurrent next() calls, so the workers share one walk.
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = await files.next();
      if (next.done === true) return;
      const f = next.value;
      items++;
      bytesIn += f.size;
      await writer.addItem({
        account: f.account,
        service: options.service,
        id: f.name,
        version: `${f.size}-${f.mtimeMs}`,
        path: f.path,
        name: f.name,
        size: f.size,
        modified: new Date(f.mtimeMs).toISOString(),
        // Small items whole; large ones streamed in 1 MiB pieces, so memory stays bounded.
        content: async () => (f.size <= STREAM_ABOVE ? readFile(f.abs) : createReadStream(f.abs, { highWaterMark: MiB })),
      });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const snapshot = await writer.commit();
  await repo.close();
  const seconds = (performance.now() - started) / 1000;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  // CPU of the main thread alone (the event loop that every item passes through), next to the
  // process's total, to tell whether the main thread or the machine is the limit.
  const main = process.threadCpuUsage();
  const all = process.cpuUsage();
  const cpu = { mainThreadSeconds: (main.user + main.system) / 1e6, processSeconds: (all.user + all.system) / 1e6 };
  console.log(JSON.stringify({ items, bytesIn, seconds, peakRssBytes, cpu, snapshot: { id: snapshot.id, stats: snapshot.stats } }));
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      service: { type: 'string', default: 'mail' },
      run: { type: 'string', default: 'first' },
      concurrency: { type: 'string', default: '16' },
      'encoder-threads': { type: 'string' },
    },
  });
  const command = positionals[0];
  if (command === 'init') return init();
  if (command === 'backup') {
    if (values.dir === undefined) throw new Error('backup needs --dir');
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a positive integer, got ${values.concurrency}`);
    const threadsArg = values['encoder-threads'];
    const encoderThreads = threadsArg === undefined ? undefined : Number(threadsArg);
    if (encoderThreads !== undefined && !(Number.isInteger(encoderThreads) && encoderThreads >= 0)) {
      throw new Error(`--encoder-threads must be a non-negative integer, got ${threadsArg}`);
    }
    return backup({ dir: values.dir, service: values.service, run: values.run, concurrency, encoderThreads });
  }
  throw new Error(`usage: saasbackup-runner.ts init | backup --dir <dir> --service mail|onedrive --run <name> [--concurrency N] [--encoder-threads N]`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
