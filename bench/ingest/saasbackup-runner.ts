// The saasbackup side of the ingest benchmark, run by bench/tools/saasbackup.ts in its own Node
// process so that its peak RSS is its own:
//
//   node bench/ingest/saasbackup-runner.ts init
//   node bench/ingest/saasbackup-runner.ts backup --dir <corpus> --service mail|onedrive --run <name> [--parent latest|<id>] [--concurrency 16] [--encoder-threads N]
//
// Storage and key come from the environment (BENCH_S3_ENDPOINT, BENCH_S3_BUCKET, BENCH_S3_PREFIX,
// BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY, BENCH_REPOSITORY_KEY). `backup` backs the corpus up the
// way the workers back up a source that lists everything each run (a resync): account by account
// (account = top-level directory), each opened from the parent snapshot (the newest, or
// `--parent <id>` to time one incremental run again); a file whose version (`${size}-${mtimeMs}`)
// and folder are those stored is kept as it is, a new or changed one is added (id and name = the
// file name, container and path = the folders below the account), with `--concurrency` addItem
// calls in flight across accounts; what the walk no longer finds is removed, and each account is
// finished as soon as its last item is stored. Content is read whole (one read), or streamed
// (1 MiB pieces) above 1 MiB. Its last stdout line is the report: {"items", "bytesIn", "seconds",
// "peakRssBytes", "cpu", "outcome", "snapshot"}.
import { close, createReadStream, open, read, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Repository } from '../../src/repository/repository.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import type { AccountItems } from '../../src/repository/writer.ts';

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

/**
 * An account's files, folder by folder. Synchronous: the corpus is in the page cache, and 50,000
 * stat promises cost the main thread more than the system calls themselves (restic's walker, too,
 * makes one lstat per file).
 */
function* walkAccount(root: string, account: string, rel = ''): Generator<FileItem> {
  const dir = rel === '' ? join(root, account) : join(root, account, rel);
  const entries = readdirSync(dir, { withFileTypes: true }).sort(byName);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const abs = join(dir, e.name);
    const s = statSync(abs);
    yield { account, path: rel, name: e.name, abs, size: s.size, mtimeMs: s.mtimeMs };
  }
  for (const e of entries) {
    if (e.isDirectory()) yield* walkAccount(root, account, rel === '' ? e.name : `${rel}/${e.name}`);
  }
}

/**
 * A small file's bytes, read in one read of the size the walk saw (callbacks: fs/promises'
 * readFile took twice the main thread's time per file, with its FileHandle, fstat and chunked reads).
 */
function readWhole(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (error, fd) => {
      if (error) return reject(error);
      const bytes = Buffer.allocUnsafe(size);
      read(fd, bytes, 0, size, 0, (readError, n) => {
        close(fd, () => undefined);
        if (readError) reject(readError);
        else resolve(n === size ? bytes : bytes.subarray(0, n));
      });
    });
  });
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

/** Accounts whose parent trees are read ahead of the walk. */
const OPEN_AHEAD = 4;

async function backup(options: {
  dir: string;
  service: string;
  run: string;
  parent: string;
  concurrency: number;
  encoderThreads: number | undefined;
}): Promise<void> {
  const started = performance.now();
  const { service } = options;
  const repo = await Repository.open(storage(), {
    key: env('BENCH_REPOSITORY_KEY'),
    ...(options.encoderThreads === undefined ? {} : { encoderThreads: options.encoderThreads }),
  });
  const writer = await repo.snapshotWriter({ policy: 'bench', run: options.run, shard: 0, parent: options.parent });
  let items = 0;
  let bytesIn = 0;
  // kept: as stored, without asking the writer; unchanged: added again with content already stored.
  const outcome = { added: 0, unchanged: 0, kept: 0, removed: 0 };
  const accounts = readdirSync(options.dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .sort(byName)
    .map((e) => e.name);
  const opening = new Map<string, Promise<AccountItems>>();
  const open = (account: string) => {
    let entries = opening.get(account);
    if (entries === undefined) {
      entries = writer.previousAccount(account, service).then((previous) => writer.openAccount(account, service, previous));
      entries.catch(() => undefined); // awaited below, in order
      opening.set(account, entries);
    }
    return entries;
  };
  const inFlight = new Set<Promise<void>>();
  const finishing: Promise<void>[] = [];
  for (const [i, account] of accounts.entries()) {
    accounts.slice(i, i + 1 + OPEN_AHEAD).forEach(open);
    const entries = await open(account);
    opening.delete(account);
    const seen = writer.idSet();
    const mine = new Set<Promise<void>>();
    for (const f of walkAccount(options.dir, account)) {
      items++;
      bytesIn += f.size;
      seen.add(f.name);
      const version = `${f.size}-${f.mtimeMs}`;
      const stored = entries.get(f.name);
      if (stored?.version === version && stored.container === f.path) {
        outcome.kept++;
        continue;
      }
      while (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      const task = writer
        .addItem({
          account,
          service,
          id: f.name,
          version,
          container: f.path,
          path: f.path,
          name: f.name,
          size: f.size,
          modified: new Date(f.mtimeMs).toISOString(),
          // Small items whole; large ones streamed in 1 MiB pieces, so memory stays bounded.
          content: async () => (f.size <= STREAM_ABOVE ? readWhole(f.abs, f.size) : createReadStream(f.abs, { highWaterMark: MiB })),
        })
        .then((result) => {
          outcome[result]++;
        })
        .finally(() => {
          inFlight.delete(task);
          mine.delete(task);
        });
      inFlight.add(task);
      mine.add(task);
    }
    // The walk goes on with the next account while this one's last items are stored.
    finishing.push(
      (async () => {
        await Promise.all(mine);
        for (const id of entries.ids()) {
          if (seen.has(id)) continue;
          writer.removeItem(account, service, id);
          outcome.removed++;
        }
        await writer.finishAccount(account, service);
      })(),
    );
  }
  await Promise.all(finishing);
  const snapshot = await writer.commit();
  await repo.close();
  const seconds = (performance.now() - started) / 1000;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  // CPU of the main thread alone (the event loop that every item passes through), next to the
  // process's total, to tell whether the main thread or the machine is the limit.
  const main = process.threadCpuUsage();
  const all = process.cpuUsage();
  const cpu = { mainThreadSeconds: (main.user + main.system) / 1e6, processSeconds: (all.user + all.system) / 1e6 };
  console.log(
    JSON.stringify({ items, bytesIn, seconds, peakRssBytes, cpu, outcome, snapshot: { id: snapshot.id, stats: snapshot.stats } }),
  );
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      service: { type: 'string', default: 'mail' },
      run: { type: 'string', default: 'first' },
      parent: { type: 'string', default: 'latest' },
      concurrency: { type: 'string', default: '16' },
      'encoder-threads': { type: 'string' },
    },
  });
  const command = positionals[0];
  if (command === 'init') return init();
  if (command === 'backup') {
    if (values.dir === undefined) throw new Error('backup needs --dir');
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`--concurrency must be a positive integer, got ${values.concurrency}`);
    const threadsArg = values['encoder-threads'];
    const encoderThreads = threadsArg === undefined ? undefined : Number(threadsArg);
    if (encoderThreads !== undefined && !(Number.isInteger(encoderThreads) && encoderThreads >= 0)) {
      throw new Error(`--encoder-threads must be a non-negative integer, got ${threadsArg}`);
    }
    return backup({ dir: values.dir, service: values.service, run: values.run, parent: values.parent, concurrency, encoderThreads });
  }
  throw new Error(
    `usage: saasbackup-runner.ts init | backup --dir <dir> --service mail|onedrive --run <name> [--parent latest|<id>] [--concurrency N] [--encoder-threads N]`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
