// saasbackup's repository as the tool under test: each step runs bench/ingest/saasbackup-runner.ts
// in its own Node process (so its peak RSS is its own), `init` once, then `backup` per run with
// parent "latest". The runner prints its figures as one JSON line on stdout; the wall time and the
// GNU time figure are measured here as for restic.
import { fileURLToPath } from 'node:url';
import { BENCH_NODE_FLAGS, IMAGE_ENV, IMAGE_NODE_FLAGS } from './image-runtime.ts';
import type { BenchStorage } from './minio.ts';
import { runMeasured } from './measure.ts';

export const RUNNER = fileURLToPath(new URL('../ingest/saasbackup-runner.ts', import.meta.url));
export const SAASBACKUP_KEY = 'bench-password';

export interface RunnerReport {
  items: number;
  bytesIn: number;
  seconds: number;
  peakRssBytes: number;
  snapshot?: { id: string; stats: Record<string, unknown> };
}

export interface SaasbackupTarget {
  storage: BenchStorage;
  prefix: string;
}

export interface SaasbackupBackupResult {
  /** Wall time of the runner process, spawn to exit. */
  seconds: number;
  /** From GNU time / VmHWM, to cross-check the runner's own figure. */
  measuredPeakRssBytes: number | undefined;
  cpuSeconds: number | undefined;
  report: RunnerReport;
}

function runnerEnv(target: SaasbackupTarget): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BENCH_S3_ENDPOINT: target.storage.endpoint,
    BENCH_S3_REGION: target.storage.region,
    BENCH_S3_BUCKET: target.storage.bucket,
    BENCH_S3_PREFIX: target.prefix,
    BENCH_S3_ACCESS_KEY: target.storage.accessKey,
    BENCH_S3_SECRET_KEY: target.storage.secretKey,
    BENCH_REPOSITORY_KEY: SAASBACKUP_KEY,
  };
}

async function runRunner(
  target: SaasbackupTarget,
  args: string[],
  logFile: string,
  timeoutMs: number,
): Promise<{ seconds: number; peak: number | undefined; cpu: number | undefined; last: string | undefined }> {
  let last: string | undefined;
  const r = await runMeasured({
    command: process.execPath,
    args: [...IMAGE_NODE_FLAGS, ...BENCH_NODE_FLAGS, RUNNER, ...args],
    env: { ...runnerEnv(target), ...IMAGE_ENV },
    logFile,
    timeoutMs,
    onStdoutLine: (line) => {
      // The report is the last stdout line that is a JSON object with the report's fields.
      if (line.startsWith('{') && line.includes('"peakRssBytes"')) last = line;
      return false;
    },
  });
  if (r.code !== 0) throw new Error(`saasbackup runner ${args[0] ?? ''} failed (exit ${r.code ?? r.signal}); see ${logFile}`);
  return { seconds: r.seconds, peak: r.peakRssBytes, cpu: r.cpuSeconds, last };
}

export async function saasbackupInit(target: SaasbackupTarget, logFile: string): Promise<void> {
  await runRunner(target, ['init'], logFile, 5 * 60_000);
}

export async function saasbackupBackup(
  target: SaasbackupTarget,
  options: { dir: string; service: 'mail' | 'onedrive'; run: string; concurrency: number },
  logFile: string,
  timeoutMs: number,
): Promise<SaasbackupBackupResult> {
  const r = await runRunner(
    target,
    ['backup', '--dir', options.dir, '--service', options.service, '--run', options.run, '--concurrency', String(options.concurrency)],
    logFile,
    timeoutMs,
  );
  if (r.last === undefined) throw new Error(`saasbackup runner printed no report; see ${logFile}`);
  const report = JSON.parse(r.last) as RunnerReport;
  return { seconds: r.seconds, measuredPeakRssBytes: r.peak, cpuSeconds: r.cpu, report };
}
