// The backup benchmark: the real worker (bench/backup/worker-runner.ts, its own process) against
// the Microsoft 365 emulator (test/emulators/cli.ts, another process beside it) with the
// repository on a private MinIO. Four scenarios, each against a fresh emulator:
//
// - unthrottled: mailboxes of ~30 KiB messages, throttling off, no latency: items/s and MiB/s of
//   a base backup;
// - throttled: 50 mailboxes with Microsoft's per-mailbox rate limit and 4 concurrent requests.
//   Microsoft's window is 10 minutes; the benchmark keeps the rate (10,000 requests per 600 s,
//   16.7 requests/s per mailbox) over a window shortened to --window-seconds, and gives the worker
//   the budget it has in production scaled the same way (95% of the limit). The achieved rate is
//   the accepted mailbox requests per second measured from the end of the first window (whose
//   burst a sliding window allows) to the end of the run, against 50 x limit / window;
// - noChange: a base backup of 20 mailboxes of 5,000 items, then a run with nothing changed:
//   API calls (per folder) and seconds;
// - flat: base backups of 10 mailboxes of 10,000 and of 100,000 small messages (2 KiB), each
//   into its own repository, unthrottled: the two peaks and their ratio (memory must not grow
//   with a mailbox).
//
// Results go to bench/results/backup.json.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { BENCH_NODE_FLAGS, IMAGE_ENV, IMAGE_NODE_FLAGS } from './tools/image-runtime.ts';
import { runMeasured } from './tools/measure.ts';
import { startBenchMinio, type BenchStorage } from './tools/minio.ts';

const EMULATOR_CLI = fileURLToPath(new URL('../test/emulators/cli.ts', import.meta.url));
const RUNNER = fileURLToPath(new URL('./backup/worker-runner.ts', import.meta.url));
const KEY = 'bench-password';

export interface BackupBenchOptions {
  out: string;
  unthrottledMailboxes: number;
  unthrottledItems: number;
  throttledMailboxes: number;
  throttledItems: number;
  windowSeconds: number;
  noChangeMailboxes: number;
  noChangeItems: number;
  flatMailboxes: number;
  flatSmallItems: number;
  flatLargeItems: number;
  scenarios: readonly Scenario[];
  keep: boolean;
}

export const SCENARIOS = ['unthrottled', 'throttled', 'noChange', 'flat'] as const;
export type Scenario = (typeof SCENARIOS)[number];

interface Connection {
  authorityHost: string;
  graphBaseUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caFile: string;
}

interface Emulator {
  connection: Connection;
  connectionFile: string;
  control(path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

interface EmulatorStats {
  total: number;
  byKind: Record<string, number>;
  byMailbox: Record<string, number>;
  throttled: number;
  faulted: number;
}

async function startEmulatorProcess(workDir: string, name: string, args: string[]): Promise<Emulator> {
  const child = spawn(process.execPath, [...BENCH_NODE_FLAGS, EMULATOR_CLI, 'microsoft', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code} before it printed its connection`)));
  });
  const connection = JSON.parse(first) as Connection;
  const ca = readFileSync(connection.caFile, 'utf8');
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ca]);
  const connectionFile = join(workDir, `${name}-connection.json`);
  writeFileSync(connectionFile, JSON.stringify(connection));
  return {
    connection,
    connectionFile,
    async control(path, body) {
      const response = await fetch(
        `${connection.graphBaseUrl}/_emulator/${path}`,
        body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
      );
      if (!response.ok) throw new Error(`emulator control ${path}: HTTP ${response.status}`);
      return response.status === 204 ? undefined : response.json();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface RunnerReport {
  result: {
    outcome: string;
    reason: string;
    message: string;
    statistics: { total: { added: { count: number; bytes: number }; removed: { count: number }; skipped: { count: number } } };
    requests: { requests: number; throttled: number; retries: number };
  };
  seconds: number;
  peakRssBytes: number;
  /** Sampled peaks of the worker's main thread heap, external memory and array buffers. */
  memoryPeaks: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  cpu: { mainThreadSeconds: number; processSeconds: number };
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`;
const memory = (r: RunnerReport): string =>
  `peak RSS ${mib(r.peakRssBytes)} (heap ${mib(r.memoryPeaks.heapUsed)}, external ${mib(r.memoryPeaks.external)}, array buffers ${mib(r.memoryPeaks.arrayBuffers)})`;

async function runWorker(
  storage: BenchStorage,
  workDir: string,
  emulator: Emulator,
  name: string,
  prefix: string,
  extra: string[] = [],
): Promise<RunnerReport & { wallSeconds: number; measuredPeakRssBytes: number | undefined }> {
  let last: string | undefined;
  const measured = await runMeasured({
    command: process.execPath,
    args: [...IMAGE_NODE_FLAGS, ...BENCH_NODE_FLAGS, RUNNER, '--connection', emulator.connectionFile, '--run', name, ...extra],
    env: {
      ...process.env,
      ...IMAGE_ENV,
      NODE_EXTRA_CA_CERTS: emulator.connection.caFile,
      BENCH_S3_ENDPOINT: storage.endpoint,
      BENCH_S3_REGION: storage.region,
      BENCH_S3_BUCKET: storage.bucket,
      BENCH_S3_PREFIX: prefix,
      BENCH_S3_ACCESS_KEY: storage.accessKey,
      BENCH_S3_SECRET_KEY: storage.secretKey,
      BENCH_REPOSITORY_KEY: KEY,
    },
    logFile: join(workDir, `${name}.log`),
    timeoutMs: 60 * 60_000,
    onStdoutLine: (line) => {
      if (line.startsWith('{"result"')) {
        last = line;
        return true;
      }
      return false;
    },
  });
  if (measured.code !== 0 || !last)
    throw new Error(`worker run ${name} failed (exit ${measured.code}); see ${join(workDir, `${name}.log`)}`);
  const report = JSON.parse(last) as RunnerReport;
  if (report.result.outcome !== 'Successful')
    throw new Error(`worker run ${name} ended ${report.result.outcome}: ${report.result.message}`);
  return { ...report, wallSeconds: measured.seconds, measuredPeakRssBytes: measured.peakRssBytes };
}

const mailOnly = (mailboxes: number, items: number, medianBytes: number): string[] => [
  '--users',
  String(mailboxes),
  '--shared-mailboxes',
  '0',
  '--unlicensed-users',
  '0',
  '--groups',
  '0',
  '--sites',
  '0',
  '--teams',
  '0',
  '--mail',
  String(items),
  '--events',
  '0',
  '--contacts',
  '0',
  '--files',
  '0',
  '--site-files',
  '0',
  '--channel-messages',
  '0',
  '--mail-median-bytes',
  String(medianBytes),
  '--size-sigma',
  '0.25',
];

const log = (text: string): void => console.error(`[bench] ${text}`);

export async function runBackupBench(options: BackupBenchOptions): Promise<number> {
  const workDir = mkdtempSync(join(tmpdir(), 'saasbackup-backup-bench-'));
  log(`work directory ${workDir}`);
  const storage = await startBenchMinio(workDir);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    parameters: { ...options, out: undefined },
    method:
      'The worker (its own process) and the emulator (another process) share the machine with MinIO; the repository is on MinIO. ' +
      `Throttled: Microsoft's rate of 10,000 requests per 10 minutes per mailbox is kept over a ${options.windowSeconds} s window, and the worker's budget is scaled the same way (95%).`,
  };
  let peak = 0;
  try {
    if (options.scenarios.includes('unthrottled')) {
      const emulator = await startEmulatorProcess(
        workDir,
        'unthrottled',
        mailOnly(options.unthrottledMailboxes, options.unthrottledItems, 30 * 1024),
      );
      try {
        log(`unthrottled: ${options.unthrottledMailboxes} mailboxes x ${options.unthrottledItems} messages of ~30 KiB`);
        const r = await runWorker(storage, workDir, emulator, 'unthrottled', 'unthrottled');
        const t = r.result.statistics.total;
        peak = Math.max(peak, r.peakRssBytes);
        results['unthrottled'] = {
          items: t.added.count,
          bytes: t.added.bytes,
          seconds: r.seconds,
          itemsPerSec: t.added.count / r.seconds,
          mibPerSec: t.added.bytes / 1024 / 1024 / r.seconds,
          requests: r.result.requests.requests,
          peakRssBytes: r.peakRssBytes,
          cpuSeconds: r.cpu.processSeconds,
        };
        log(
          `unthrottled: ${t.added.count} items in ${r.seconds.toFixed(1)} s = ${(t.added.count / r.seconds).toFixed(0)} items/s, ${(t.added.bytes / 1024 / 1024 / r.seconds).toFixed(1)} MiB/s, ${memory(r)}; CPU ${r.cpu.processSeconds.toFixed(1)} s (main thread ${r.cpu.mainThreadSeconds.toFixed(1)} s)`,
        );
      } finally {
        await emulator.stop();
      }
    }

    if (options.scenarios.includes('throttled')) {
      const windowMs = options.windowSeconds * 1000;
      const limit = Math.round((10_000 * windowMs) / 600_000);
      const emulator = await startEmulatorProcess(
        workDir,
        'throttled',
        mailOnly(options.throttledMailboxes, options.throttledItems, 2 * 1024),
      );
      try {
        await emulator.control('throttle', { preset: 'microsoft', mailboxRequests: limit, mailboxWindowMs: windowMs });
        log(
          `throttled: ${options.throttledMailboxes} mailboxes x ${options.throttledItems} messages, ${limit} requests per ${options.windowSeconds} s per mailbox, 4 at once`,
        );
        const samples: { at: number; accepted: number }[] = [];
        const accepted = (s: EmulatorStats): number => Object.values(s.byMailbox).reduce((a, b) => a + b, 0) - s.throttled;
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            const s = (await emulator.control('stats')) as EmulatorStats;
            samples.push({ at: performance.now(), accepted: accepted(s) });
            await new Promise((r) => setTimeout(r, 1000));
          }
        })();
        const started = performance.now();
        const budget = { mailboxRequests: Math.floor(limit * 0.95), mailboxWindowMs: windowMs };
        const r = await runWorker(storage, workDir, emulator, 'throttled', 'throttled', [
          '--concurrency',
          String(options.throttledMailboxes),
          '--budget',
          JSON.stringify(budget),
        ]);
        sampling = false;
        await sampler;
        const final = (await emulator.control('stats')) as EmulatorStats;
        samples.push({ at: performance.now(), accepted: accepted(final) });
        peak = Math.max(peak, r.peakRssBytes);
        // From the end of the first window (the burst a sliding window allows) to the end.
        const from = samples.find((s) => s.at - started >= windowMs) ?? samples[0]!;
        const to = samples.at(-1)!;
        const achieved = (to.accepted - from.accepted) / ((to.at - from.at) / 1000);
        const allowed = (options.throttledMailboxes * limit) / options.windowSeconds;
        results['throttled'] = {
          mailboxes: options.throttledMailboxes,
          allowedRequestsPerSec: allowed,
          achievedRequestsPerSec: achieved,
          quotaUtilization: achieved / allowed,
          windowSeconds: options.windowSeconds,
          requestsPerWindowPerMailbox: limit,
          workerBudgetPerWindow: budget.mailboxRequests,
          measuredSeconds: (to.at - from.at) / 1000,
          runSeconds: r.seconds,
          items: r.result.statistics.total.added.count,
          skipped: r.result.statistics.total.skipped.count,
          throttledResponses: final.throttled,
          peakRssBytes: r.peakRssBytes,
        };
        log(
          `throttled: ${achieved.toFixed(0)} of ${allowed.toFixed(0)} requests/s allowed (${((achieved / allowed) * 100).toFixed(1)}%), ${final.throttled} answered 429, ${r.result.statistics.total.skipped.count} skipped; ${memory(r)}`,
        );
      } finally {
        await emulator.stop();
      }
    }

    if (options.scenarios.includes('noChange')) {
      const emulator = await startEmulatorProcess(
        workDir,
        'nochange',
        mailOnly(options.noChangeMailboxes, options.noChangeItems, 4 * 1024),
      );
      try {
        log(`noChange: base backup of ${options.noChangeMailboxes} mailboxes x ${options.noChangeItems} messages`);
        const base = await runWorker(storage, workDir, emulator, 'nochange-base', 'nochange', [
          '--concurrency',
          String(options.noChangeMailboxes),
        ]);
        peak = Math.max(peak, base.peakRssBytes);
        await emulator.control('stats/reset', {});
        const r = await runWorker(storage, workDir, emulator, 'nochange-again', 'nochange', [
          '--concurrency',
          String(options.noChangeMailboxes),
        ]);
        const stats = (await emulator.control('stats')) as EmulatorStats;
        peak = Math.max(peak, r.peakRssBytes);
        const folders = stats.byKind['mail.delta'] ?? 0;
        results['noChange'] = {
          mailboxes: options.noChangeMailboxes,
          itemsPerMailbox: options.noChangeItems,
          folders,
          apiCalls: stats.total,
          apiCallsPerFolder: folders > 0 ? stats.total / folders : undefined,
          byKind: stats.byKind,
          seconds: r.seconds,
          added: r.result.statistics.total.added.count,
          base: {
            seconds: base.seconds,
            items: base.result.statistics.total.added.count,
            itemsPerSec: base.result.statistics.total.added.count / base.seconds,
          },
        };
        log(
          `noChange: ${stats.total} API calls for ${folders} folders in ${r.seconds.toFixed(1)} s; ${r.result.statistics.total.added.count} items added`,
        );
      } finally {
        await emulator.stop();
      }
    }
    if (options.scenarios.includes('flat')) {
      const runs: Record<string, unknown> = {};
      const peaks: number[] = [];
      for (const [size, items] of [
        ['small', options.flatSmallItems],
        ['large', options.flatLargeItems],
      ] as const) {
        const name = `flat-${size}`;
        const emulator = await startEmulatorProcess(workDir, name, mailOnly(options.flatMailboxes, items, 2 * 1024));
        try {
          log(`flat: ${options.flatMailboxes} mailboxes x ${items} messages of ~2 KiB`);
          // The emulator does not throttle: the worker's own per-mailbox budget (Microsoft's 10,000
          // requests per 10 minutes) would pace a mailbox of more than 10,000 messages instead (0: none).
          const r = await runWorker(storage, workDir, emulator, name, name, [
            '--concurrency',
            String(options.flatMailboxes),
            '--budget',
            JSON.stringify({ mailboxRequests: 0 }),
          ]);
          const t = r.result.statistics.total;
          peak = Math.max(peak, r.peakRssBytes);
          peaks.push(r.peakRssBytes);
          runs[size] = {
            mailboxes: options.flatMailboxes,
            itemsPerMailbox: items,
            items: t.added.count,
            seconds: r.seconds,
            itemsPerSec: t.added.count / r.seconds,
            cpuSeconds: r.cpu.processSeconds,
            mainThreadCpuSeconds: r.cpu.mainThreadSeconds,
            peakRssBytes: r.peakRssBytes,
            memoryPeaks: r.memoryPeaks,
          };
          log(
            `flat: ${t.added.count} items in ${r.seconds.toFixed(1)} s = ${(t.added.count / r.seconds).toFixed(0)} items/s, ${memory(r)}; CPU ${r.cpu.processSeconds.toFixed(1)} s (main thread ${r.cpu.mainThreadSeconds.toFixed(1)} s)`,
          );
        } finally {
          await emulator.stop();
        }
      }
      const ratio = peaks[1]! / peaks[0]!;
      results['flat'] = { runs, peakRatio: ratio };
      log(
        `flat: peak RSS ${mib(peaks[1]!)} at ${options.flatLargeItems} per mailbox, ${mib(peaks[0]!)} at ${options.flatSmallItems}: ${ratio.toFixed(2)}x`,
      );
    }
    results['peakRssBytes'] = peak;
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    log(`results: ${options.out}`);
    return 0;
  } finally {
    await storage.stop();
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }
}
