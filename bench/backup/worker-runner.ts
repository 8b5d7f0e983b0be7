// One backup run of the real worker code for the backup benchmark, in its own process so that
// its peak RSS and CPU are its own: msal-node and the Graph client over HTTPS to an emulator in
// another process, the repository on MinIO.
//
//   node bench/backup/worker-runner.ts --connection <file> --run <name> [--services mail] [--concurrency 50]
//        [--budget '{"mailboxRequests":475,"mailboxWindowMs":30000}']
//
// The repository comes from the environment (BENCH_S3_ENDPOINT, BENCH_S3_REGION, BENCH_S3_BUCKET,
// BENCH_S3_PREFIX, BENCH_S3_ACCESS_KEY, BENCH_S3_SECRET_KEY, BENCH_REPOSITORY_KEY) and is created
// on the first run. The emulator's CA is trusted through NODE_EXTRA_CA_CERTS (set by the caller).
// The last stdout line is the report: {"result", "seconds", "peakRssBytes", "cpu"}.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { MicrosoftProvider } from '../../src/providers/microsoft365/provider.ts';
import { RepositoryError } from '../../src/repository/errors.ts';
import { Repository } from '../../src/repository/repository.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import { runBackup } from '../../src/worker/backup-run.ts';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

const { values } = parseArgs({
  options: {
    connection: { type: 'string' },
    run: { type: 'string', default: 'bench' },
    services: { type: 'string', default: 'mail' },
    concurrency: { type: 'string', default: '50' },
    budget: { type: 'string' },
  },
});
if (!values.connection) throw new Error('--connection <file> is required');
const connection = JSON.parse(readFileSync(values.connection, 'utf8')) as {
  authorityHost: string;
  graphBaseUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
};

const started = performance.now();
const storage = new S3Storage({
  endpoint: env('BENCH_S3_ENDPOINT'),
  region: env('BENCH_S3_REGION'),
  bucket: env('BENCH_S3_BUCKET'),
  prefix: env('BENCH_S3_PREFIX'),
  accessKey: env('BENCH_S3_ACCESS_KEY'),
  secretKey: env('BENCH_S3_SECRET_KEY'),
});
const key = env('BENCH_REPOSITORY_KEY');
let repository: Repository;
try {
  repository = await Repository.open(storage, { key });
} catch (error) {
  if (!(error instanceof RepositoryError && error.code === 'RepositoryNotFound')) throw error;
  repository = await Repository.init(storage, { key });
}
const provider = new MicrosoftProvider({
  tenantId: connection.tenantId,
  clientId: connection.clientId,
  credential: { clientSecret: connection.clientSecret },
  endpoints: { authorityHost: connection.authorityHost, graphBaseUrl: connection.graphBaseUrl },
  ...(values.budget ? { budget: JSON.parse(values.budget) as Record<string, number> } : {}),
});
// Where the memory goes (sampled): a peak RSS over the goal is explained by these.
const peaks = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = (): void => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[k] = Math.max(peaks[k], m[k]);
};
setInterval(sample, 100).unref();
// BENCH_MEMORY_LOG_MS=<ms>: log the memory figures on stderr that often (to see what grows in a long run).
if (process.env['BENCH_MEMORY_LOG_MS']) {
  setInterval(() => {
    const m = process.memoryUsage();
    const at = ((performance.now() - started) / 1000).toFixed(0);
    console.error(
      `memory at ${at} s: ${Object.entries(m)
        .map(([k, v]) => `${k} ${(v / 1048576).toFixed(0)}`)
        .join(', ')} MiB`,
    );
  }, Number(process.env['BENCH_MEMORY_LOG_MS'])).unref();
}
// BENCH_HEAP_SNAPSHOT_MS=<ms>: write a V8 heap snapshot that long after the start (to see what the heap holds).
if (process.env['BENCH_HEAP_SNAPSHOT_MS']) {
  setTimeout(() => {
    console.error(`heap snapshot written to ${writeHeapSnapshot()}`);
  }, Number(process.env['BENCH_HEAP_SNAPSHOT_MS'])).unref();
}
const result = await runBackup({
  policy: 'bench',
  run: values.run,
  shard: { index: 0, count: 1 },
  provider,
  repository,
  services: values.services.split(','),
  accounts: { mode: 'all' },
  discovery: { autoAddUsers: true, autoAddSharedMailboxes: true, includeUnlicensed: false },
  concurrency: Number(values.concurrency),
});
await repository.close();
const main = process.threadCpuUsage();
const all = process.cpuUsage();
console.log(
  JSON.stringify({
    result: { ...result, accounts: { ...result.accounts, list: [] } },
    seconds: (performance.now() - started) / 1000,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    memoryPeaks: peaks,
    cpu: { mainThreadSeconds: (main.user + main.system) / 1e6, processSeconds: (all.user + all.system) / 1e6 },
  }),
);
