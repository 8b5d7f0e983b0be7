// The ingest benchmark: saasbackup's repository side by side with restic, on a mail-like corpus
// (many small messages in mailbox directories) and a file-like corpus (a few large files), each
// backed up twice: the first version, then a changed version (mail: 1% of messages added, changed
// or deleted; files: edited in place, bytes inserted, appended, one deleted, one added). Both tools
// write into one private MinIO, each under its own prefix; results go to bench/results/ingest.json
// and a table with the saasbackup/restic ratios is printed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join } from 'node:path';
import { changeFilesCorpus, generateFilesCorpus } from './corpus/files.ts';
import { changeMailCorpus, generateMailCorpus } from './corpus/mail.ts';
import { listFiles, totals } from './corpus/walk.ts';
import type { CorpusTotals } from './corpus/walk.ts';
import { cpuBetween, cpuMark, waitForQuiet } from './tools/cpu.ts';
import { hasGnuTime, killMeasured } from './tools/measure.ts';
import { startBenchMinio } from './tools/minio.ts';
import type { BenchStorage } from './tools/minio.ts';
import { RESTIC_BACKUP_FLAGS, resticBackup, resticInit, resticRepo, resticRepositoryVersion, resticVersion } from './tools/restic.ts';
import type { ResticRepo } from './tools/restic.ts';
import { saasbackupBackup, saasbackupInit } from './tools/saasbackup.ts';
import type { SaasbackupTarget } from './tools/saasbackup.ts';

export const TOOLS = ['restic', 'saasbackup'] as const;
export const CORPORA = ['mail', 'files'] as const;
export type Tool = (typeof TOOLS)[number];
export type CorpusName = (typeof CORPORA)[number];
export type RunName = 'first' | 'changed';

const MiB = 1024 * 1024;
/** A run during which other processes used more than this many CPUs on average is flagged. */
const DISTURBED_CORES = 0.15;

export interface IngestOptions {
  items: number;
  filesMib: number;
  files: number;
  seed: string;
  /** Mail: percentage of messages added/changed/deleted for the changed run. */
  changePercent: number;
  tools: Tool[];
  corpora: CorpusName[];
  /** saasbackup: addItem calls in flight. */
  concurrency: number;
  /** Parent of the work directory (corpus, MinIO data, logs); default the OS temp dir. */
  workDir: string | undefined;
  keep: boolean;
  out: string;
  restic: string;
  timeoutMinutes: number;
  /** Before each run, wait up to this long for other processes to leave the CPUs alone. */
  quietWaitSeconds: number;
}

export interface RunResult {
  tool: Tool;
  corpus: CorpusName;
  run: RunName;
  items: number;
  bytesIn: number;
  seconds: number;
  itemsPerSec: number;
  mibPerSec: number;
  /** Sum of the sizes of all objects under the tool's prefix after this run (cumulative). */
  bytesStored: number;
  peakRssBytes: number | null;
  details: Record<string, unknown>;
}

interface Failure {
  tool: Tool;
  corpus: CorpusName;
  step: string;
  error: string;
}

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function gitDescribe(): { commit: string | null; repositoryDirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src/repository'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { commit, repositoryDirty: status.trim() !== '' };
  } catch {
    return { commit: null, repositoryDirty: null };
  }
}

class Bench {
  readonly options: IngestOptions;
  readonly storage: BenchStorage;
  readonly work: string;
  readonly runs: RunResult[] = [];
  readonly failures: Failure[] = [];
  readonly resticRepos = new Map<CorpusName, ResticRepo>();
  resticRepositoryVersion: number | undefined;
  /** Set by the signal handler: no further step starts. */
  interrupted = false;

  constructor(options: IngestOptions, storage: BenchStorage, work: string) {
    this.options = options;
    this.storage = storage;
    this.work = work;
  }

  #logFile(tool: Tool, corpus: CorpusName): string {
    return join(this.work, 'logs', `${tool}-${corpus}.log`);
  }

  prefix(tool: Tool, corpus: CorpusName): string {
    return `${tool}-${corpus}`;
  }

  async init(tool: Tool, corpus: CorpusName): Promise<void> {
    const logFile = this.#logFile(tool, corpus);
    if (tool === 'restic') {
      const repo = resticRepo(this.options.restic, this.storage, this.prefix(tool, corpus), join(this.work, 'restic-cache'));
      await resticInit(repo, logFile);
      this.resticRepositoryVersion ??= await resticRepositoryVersion(repo, logFile);
      this.resticRepos.set(corpus, repo);
    } else {
      await saasbackupInit(this.#target(corpus), logFile);
    }
  }

  #target(corpus: CorpusName): SaasbackupTarget {
    return { storage: this.storage, prefix: this.prefix('saasbackup', corpus) };
  }

  async backup(tool: Tool, corpus: CorpusName, run: RunName, dir: string, expected: CorpusTotals): Promise<RunResult> {
    const logFile = this.#logFile(tool, corpus);
    const timeoutMs = this.options.timeoutMinutes * 60_000;
    const prefix = this.prefix(tool, corpus);
    const before = await this.storage.stored(prefix);
    const quiet =
      this.options.quietWaitSeconds > 0 ? await waitForQuiet(this.storage.pid, this.options.quietWaitSeconds * 1000) : undefined;
    if (quiet !== undefined && !quiet.quiet) {
      log(
        `WARNING: other processes still use ${quiet.otherCores.toFixed(2)} CPUs after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s; running anyway`,
      );
    }
    const mark = cpuMark(this.storage.pid);
    let items: number;
    let bytesIn: number;
    let seconds: number;
    let peakRssBytes: number | undefined;
    let toolCpu: number | undefined;
    let details: Record<string, unknown>;
    if (tool === 'restic') {
      const repo = this.resticRepos.get(corpus);
      if (repo === undefined) throw new Error(`restic repository for ${corpus} was not initialised`);
      const r = await resticBackup(repo, dir, logFile, timeoutMs);
      items = r.summary.total_files_processed;
      bytesIn = r.summary.total_bytes_processed;
      seconds = r.seconds;
      peakRssBytes = r.peakRssBytes;
      toolCpu = r.cpuSeconds;
      details = { toolSeconds: r.summary.total_duration, summary: r.summary };
    } else {
      const r = await saasbackupBackup(
        this.#target(corpus),
        { dir, service: corpus === 'mail' ? 'mail' : 'onedrive', run, concurrency: this.options.concurrency },
        logFile,
        timeoutMs,
      );
      items = r.report.items;
      bytesIn = r.report.bytesIn;
      seconds = r.seconds;
      peakRssBytes = r.report.peakRssBytes;
      toolCpu = r.cpuSeconds;
      details = {
        toolSeconds: r.report.seconds,
        measuredPeakRssBytes: r.measuredPeakRssBytes ?? null,
        snapshot: r.report.snapshot ?? null,
      };
    }
    const cpu = cpuBetween(mark, cpuMark(this.storage.pid));
    const other = toolCpu === undefined ? null : Math.max(0, cpu.machine - cpu.minio - cpu.orchestrator - toolCpu);
    details['cpuSeconds'] = {
      tool: toolCpu === undefined ? null : round(toolCpu, 2),
      minio: round(cpu.minio, 2),
      // Everything else the machine did meanwhile: kernel writeback, and other people's processes.
      other: other === null ? null : round(other, 2),
    };
    if (other !== null && other > DISTURBED_CORES * seconds) {
      details['disturbed'] = `other processes used ${other.toFixed(1)} CPU-seconds during the ${seconds.toFixed(1)} s run`;
      log(`WARNING ${tool} ${corpus} ${run}: ${String(details['disturbed'])}; the figures are not clean`);
    }
    const after = await this.storage.stored(prefix);
    if (items !== expected.items || bytesIn !== expected.bytes) {
      details['warning'] = `tool saw ${items} items / ${bytesIn} bytes, the corpus has ${expected.items} / ${expected.bytes}`;
      log(`WARNING ${tool} ${corpus} ${run}: ${String(details['warning'])}`);
    }
    details['bytesStoredDelta'] = after.bytes - before.bytes;
    details['objectsStored'] = after.objects;
    details['logFile'] = logFile;
    return {
      tool,
      corpus,
      run,
      items,
      bytesIn,
      seconds: round(seconds, 3),
      itemsPerSec: round(items / seconds, 1),
      mibPerSec: round(bytesIn / MiB / seconds, 2),
      bytesStored: after.bytes,
      peakRssBytes: peakRssBytes ?? null,
      details,
    };
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function runCorpus(bench: Bench, corpus: CorpusName, corpusInfo: Record<string, unknown>): Promise<void> {
  const o = bench.options;
  const dir = join(bench.work, `corpus-${corpus}`);
  mkdirSync(dir, { recursive: true });
  log(`${corpus}: generating the first version (seed ${o.seed})`);
  const first =
    corpus === 'mail'
      ? generateMailCorpus({ dir, items: o.items, seed: o.seed })
      : generateFilesCorpus({ dir, seed: o.seed, totalMiB: o.filesMib, files: o.files });
  log(`${corpus}: ${first.items} items, ${mib(first.bytes)} in ${first.generationSeconds.toFixed(1)} s`);
  const info: Record<string, unknown> = { first };
  corpusInfo[corpus] = info;

  const active: Tool[] = [];
  for (const tool of o.tools) {
    try {
      await bench.init(tool, corpus);
      active.push(tool);
    } catch (err) {
      log(`${tool} ${corpus}: init failed: ${errorText(err)}`);
      bench.failures.push({ tool, corpus, step: 'init', error: errorText(err) });
    }
  }

  for (const run of ['first', 'changed'] as const) {
    if (bench.interrupted) return;
    if (run === 'changed') {
      log(`${corpus}: making the changed version`);
      const changed =
        corpus === 'mail'
          ? changeMailCorpus({ dir, items: o.items, seed: o.seed, percent: o.changePercent })
          : changeFilesCorpus({ dir, seed: o.seed, totalMiB: o.filesMib, files: o.files });
      info['changed'] = changed;
      log(`${corpus}: changed version: ${changed.items} items, ${mib(changed.bytes)}`);
    }
    const expected = totals(listFiles(dir));
    for (const tool of [...active]) {
      if (bench.interrupted) return;
      log(`${tool} ${corpus} ${run}: backing up ${expected.items} items, ${mib(expected.bytes)}`);
      try {
        const r = await bench.backup(tool, corpus, run, dir, expected);
        bench.runs.push(r);
        log(
          `${tool} ${corpus} ${run}: ${r.seconds.toFixed(1)} s, ${r.itemsPerSec} items/s, ${r.mibPerSec} MiB/s, ` +
            `stored ${mib(r.bytesStored)}, peak RSS ${r.peakRssBytes === null ? '?' : mib(r.peakRssBytes)}`,
        );
      } catch (err) {
        log(`${tool} ${corpus} ${run}: FAILED: ${errorText(err)}`);
        bench.failures.push({ tool, corpus, step: run, error: errorText(err) });
        active.splice(active.indexOf(tool), 1);
      }
    }
  }
  if (!o.keep) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Table

function fmtBytes(b: number | null): string {
  if (b === null) return '?';
  if (b >= 1024 * MiB) return `${(b / (1024 * MiB)).toFixed(2)} GiB`;
  return `${(b / MiB).toFixed(1)} MiB`;
}

function ratio(a: number | null, b: number | null): string {
  if (a === null || b === null || b === 0) return '-';
  return (a / b).toFixed(2);
}

export function formatTable(runs: readonly RunResult[]): string {
  const header = ['corpus', 'run', 'tool', 'items', 'MiB in', 'seconds', 'items/s', 'MiB/s', 'stored', 'peak RSS', 'CPU s'];
  const cpuOf = (r: RunResult): number | null => {
    const c = r.details['cpuSeconds'] as { tool?: number | null } | undefined;
    return c?.tool ?? null;
  };
  const rows: string[][] = [header];
  const keys = new Set(runs.map((r) => `${r.corpus}/${r.run}`));
  for (const key of keys) {
    const group = runs.filter((r) => `${r.corpus}/${r.run}` === key);
    for (const r of group) {
      rows.push([
        r.corpus,
        r.run,
        r.details['disturbed'] === undefined ? r.tool : `${r.tool} (!)`,
        String(r.items),
        (r.bytesIn / MiB).toFixed(1),
        r.seconds.toFixed(1),
        r.itemsPerSec.toFixed(1),
        r.mibPerSec.toFixed(1),
        fmtBytes(r.bytesStored),
        fmtBytes(r.peakRssBytes),
        cpuOf(r)?.toFixed(1) ?? '?',
      ]);
    }
    const s = group.find((r) => r.tool === 'saasbackup');
    const x = group.find((r) => r.tool === 'restic');
    if (s !== undefined && x !== undefined) {
      rows.push([
        s.corpus,
        s.run,
        'ratio s/r',
        '',
        '',
        ratio(s.seconds, x.seconds),
        ratio(s.itemsPerSec, x.itemsPerSec),
        ratio(s.mibPerSec, x.mibPerSec),
        ratio(s.bytesStored, x.bytesStored),
        ratio(s.peakRssBytes, x.peakRssBytes),
        ratio(cpuOf(s), cpuOf(x)),
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r, ri) => {
      const line = r.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
      return ri === 0 ? `${line}\n${'-'.repeat(line.length)}` : line;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------

export async function runIngest(o: IngestOptions): Promise<number> {
  const resticVer = o.tools.includes('restic') ? await resticVersion(o.restic) : null;
  const parent = o.workDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, 'saasbackup-bench-'));
  mkdirSync(join(work, 'logs'));
  log(`work directory ${work}${o.keep ? ' (kept)' : ''}`);
  if (!hasGnuTime()) log('GNU time (/usr/bin/time) not found: peak RSS is polled from /proc/<pid>/status VmHWM');
  // Ctrl-C / SIGTERM: kill the tool running now, stop MinIO, remove the work directory.
  const running: { storage?: BenchStorage; bench?: Bench } = {};
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping`);
    if (running.bench !== undefined) running.bench.interrupted = true;
    killMeasured();
    void (running.storage?.stop() ?? Promise.resolve()).finally(() => {
      if (!o.keep) rmSync(work, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, onSignal);

  const started = new Date();
  const storage = await startBenchMinio(work);
  running.storage = storage;
  log(`MinIO ${storage.version} at ${storage.endpoint}, bucket ${storage.bucket}`);
  const bench = new Bench(o, storage, work);
  running.bench = bench;
  const corpusInfo: Record<string, unknown> = {};
  try {
    for (const corpus of o.corpora) if (!bench.interrupted) await runCorpus(bench, corpus, corpusInfo);
  } finally {
    await storage.stop();
    for (const signal of signals) process.removeListener(signal, onSignal);
  }
  const finished = new Date();

  const cpu = cpus();
  const results = {
    date: started.toISOString(),
    totalSeconds: round((finished.getTime() - started.getTime()) / 1000, 1),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      os: `${osType()} ${release()}`,
      node: process.version,
    },
    parameters: {
      items: o.items,
      filesMib: o.filesMib,
      files: o.files,
      seed: o.seed,
      changePercent: o.changePercent,
      tools: o.tools,
      corpora: o.corpora,
    },
    tools: {
      restic:
        resticVer === null
          ? null
          : {
              version: resticVer,
              repositoryVersion: bench.resticRepositoryVersion ?? null,
              settings:
                `restic init (defaults); restic backup --json ${RESTIC_BACKUP_FLAGS.join(' ')} <dir>: default chunker and ` +
                '16 MiB packs, zstd compression auto, local metadata cache (RESTIC_CACHE_DIR in the work dir); ' +
                'the changed run backs up the same path again, so the first snapshot is its parent',
            },
      saasbackup: o.tools.includes('saasbackup')
        ? {
            ...gitDescribe(),
            settings:
              `bench/ingest/saasbackup-runner.ts: Repository.open + snapshotWriter({ parent: 'latest' }); each account opened from the parent (openAccount), ` +
              `files whose size, mtime and folder are those stored kept without a call, new or changed ones added with ${o.concurrency} addItem calls in flight, ` +
              'vanished ones removed, each account finished when its last item is stored; content read whole in one read (streamed in 1 MiB pieces above 1 MiB); ' +
              'repository defaults (FastCDC 512 KiB/1 MiB/8 MiB, zstd level 1, 16 MiB packs, 2 uploads in flight)',
            concurrency: o.concurrency,
          }
        : null,
    },
    storage: {
      server: storage.version,
      bucket: 'one plain bucket (no versioning, no Object Lock) on a single-drive MinIO on 127.0.0.1, same machine',
      bytesStored: 'sum of the sizes of the objects under the tool prefix after the run (cumulative over runs)',
    },
    measurement: {
      seconds: 'wall time of the tool process, spawn to exit (includes start-up and opening the repository)',
      items: 'items in the snapshot (whole corpus as of that run), as reported by the tool',
      peakRssBytes: `restic: ${hasGnuTime() ? 'GNU time %M' : '/proc VmHWM'} of the restic process; saasbackup: process.resourceUsage().maxRSS of the runner process`,
      cpuSeconds:
        'tool: user+system CPU of the tool process (GNU time); minio: from /proc/<pid>/stat; other: the machine busy time ' +
        'minus tool, MinIO and this orchestrator (kernel writeback and any other process); a run where other exceeds ' +
        `${DISTURBED_CORES} x seconds is marked "disturbed"; before each run the orchestrator waits up to ${o.quietWaitSeconds} s for a quiet machine`,
      pageCache: 'the corpus is written just before the runs and fits in RAM: reads come from the page cache for both tools',
      order: `tools run one after the other in the order ${o.tools.join(', ')}, corpus by corpus`,
    },
    corpora: corpusInfo,
    runs: bench.runs,
    failures: bench.failures,
    workDir: o.keep ? work : null,
  };
  const workKept = o.keep || bench.failures.length > 0;
  if (!workKept) for (const r of bench.runs) delete r.details['logFile'];
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(results, null, 2)}\n`);

  if (!o.keep) {
    if (bench.failures.length === 0) {
      rmSync(work, { recursive: true, force: true });
    } else {
      // Keep the logs the failures point at; drop the bulky data.
      for (const d of ['minio', 'restic-cache']) rmSync(join(work, d), { recursive: true, force: true });
      log(`logs kept in ${join(work, 'logs')}`);
    }
  }
  console.log('');
  console.log(
    `Ingest benchmark, ${results.date}, ${cpu.length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM` +
      (resticVer === null ? '' : `; ${resticVer.split(' compiled')[0] ?? resticVer}`),
  );
  console.log(formatTable(bench.runs));
  console.log('(ratio s/r = saasbackup / restic: above 1 is better for items/s and MiB/s, worse for seconds, stored, RSS and CPU;');
  console.log(' CPU s = user+system CPU seconds of the tool process, MinIO not included)');
  if (bench.runs.some((r) => r.details['disturbed'] !== undefined))
    console.log('(!) other processes used the CPUs during this run: its figures are not clean');
  console.log(`results: ${o.out}`);
  if (bench.failures.length > 0) {
    console.log(`${bench.failures.length} failure(s):`);
    for (const f of bench.failures) console.log(`  ${f.tool} ${f.corpus} ${f.step}: ${f.error}`);
    return 1;
  }
  return 0;
}
