// Runs one tool process and measures it: wall time from spawn to exit, and the peak resident set
// of that process alone. Peak RSS and CPU time come from GNU time (`%M %U %S`, the child's
// rusage) when /usr/bin/time is installed; without it peak RSS is polled from /proc/<pid>/status
// VmHWM every 50 ms and CPU time is unknown.
import { spawn } from 'node:child_process';
import { accessSync, appendFileSync, constants, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const GNU_TIME = '/usr/bin/time';

export interface MeasureOptions {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stderr (and stdout lines that onStdoutLine does not consume) are appended here. */
  logFile: string;
  /** Called with every stdout line; return true if the line was consumed (not logged). */
  onStdoutLine?: (line: string) => boolean;
  timeoutMs?: number;
}

export interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  /** Undefined if it could not be measured. */
  peakRssBytes: number | undefined;
  /** user + system CPU seconds of the process (GNU time only). */
  cpuSeconds: number | undefined;
  rssSource: 'gnu-time' | 'proc-vmhwm';
}

let gnuTimeAvailable: boolean | undefined;

// Each measured process runs in its own process group (GNU time does not pass signals on to the
// tool), so stopping one means killing its group. Groups still running when this process exits,
// or when killMeasured() is called (the orchestrator's signal handler), are killed.
const liveGroups = new Set<number>();

export function killMeasured(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
}

process.on('exit', killMeasured);

export function hasGnuTime(): boolean {
  if (gnuTimeAvailable === undefined) {
    try {
      accessSync(GNU_TIME, constants.X_OK);
      gnuTimeAvailable = true;
    } catch {
      gnuTimeAvailable = false;
    }
  }
  return gnuTimeAvailable;
}

function vmHwmBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

export async function runMeasured(options: MeasureOptions): Promise<Measured> {
  const useTime = hasGnuTime();
  const rssFile = `${options.logFile}.rss`;
  const [command, args] = useTime
    ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, options.command, ...options.args]]
    : [options.command, options.args];
  appendFileSync(options.logFile, `\n$ ${options.command} ${options.args.join(' ')}\n`);
  const started = performance.now();
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = child.pid;
  if (pgid !== undefined) liveGroups.add(pgid);
  const killGroup = (): void => {
    try {
      if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  let peakPolled: number | undefined;
  const poller = useTime
    ? undefined
    : setInterval(() => {
        if (child.pid === undefined) return;
        const v = vmHwmBytes(child.pid);
        if (v !== undefined) peakPolled = Math.max(peakPolled ?? 0, v);
      }, 50);
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          appendFileSync(options.logFile, `\n[bench] timed out after ${options.timeoutMs} ms, killing\n`);
          killGroup();
        }, options.timeoutMs);

  child.stderr.on('data', (d: Buffer) => appendFileSync(options.logFile, d));
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const consumed = options.onStdoutLine?.(line) ?? false;
    if (!consumed) appendFileSync(options.logFile, `${line}\n`);
  });
  const stdoutDone = new Promise<void>((resolve) => lines.once('close', resolve));

  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  }).finally(() => {
    if (poller !== undefined) clearInterval(poller);
    if (timer !== undefined) clearTimeout(timer);
    if (pgid !== undefined) liveGroups.delete(pgid);
  });
  const seconds = (performance.now() - started) / 1000;
  await stdoutDone;

  let peakRssBytes = peakPolled;
  let cpuSeconds: number | undefined;
  if (useTime) {
    try {
      // On failure GNU time writes "Command exited with non-zero status N" before the figures.
      const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
      const [kib, user, sys] = last.split(' ').map(Number);
      peakRssBytes = kib !== undefined && Number.isFinite(kib) && last !== '' ? kib * 1024 : undefined;
      cpuSeconds = user !== undefined && sys !== undefined && Number.isFinite(user + sys) ? user + sys : undefined;
    } catch {
      peakRssBytes = undefined;
    }
    rmSync(rssFile, { force: true });
  }
  return { code, signal, seconds, peakRssBytes, cpuSeconds, rssSource: useTime ? 'gnu-time' : 'proc-vmhwm' };
}
