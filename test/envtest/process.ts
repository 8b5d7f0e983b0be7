// Process plumbing shared by the envtest servers: free ports, child processes with log files,
// polling with deadlines, and clean-up of children and temp dirs however the run ends.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// ---------------------------------------------------------------------------------------------
// Clean-up registry: children are killed and temp dirs removed when this process exits or gets
// SIGINT/SIGTERM/SIGHUP, even if nobody called stop(). A detached watchdog per child also kills
// it if this process dies without running any handler (SIGKILL, OOM).

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function keepTempDirs(): boolean {
  const v = process.env['SAASBACKUP_ENVTEST_KEEP'];
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

function cleanUpNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  if (!keepTempDirs()) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  }
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanUpNow();
      // If nobody else (vitest) handles this signal, restore the default behaviour: die of it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
  // A vitest fork worker whose parent went away (Ctrl-C) is not necessarily killed: it may run
  // on, orphaned. Losing the IPC channel means nobody is listening any more, so stop the servers.
  if (typeof process.send === 'function') process.once('disconnect', cleanUpNow);
}

/** Creates a temp dir that is removed at process exit unless SAASBACKUP_ENVTEST_KEEP=1. */
export function makeTempDir(prefix: string, parent?: string): string {
  installHandlers();
  const base = parent ?? process.env['SAASBACKUP_ENVTEST_TMPDIR'] ?? tmpdir();
  const dir = mkdtempSync(join(base, prefix));
  tempDirs.add(dir);
  if (!keepTempDirs()) {
    // If this process dies without running exit handlers (SIGKILL), remove the dir anyway,
    // unless preserveTempDir() marked it.
    startWatchdog(`[ -e ${shellQuote(join(dir, KEEP_MARKER))} ] || rm -rf ${shellQuote(dir)}`);
  }
  return dir;
}

/** Removes a temp dir now (unless SAASBACKUP_ENVTEST_KEEP=1) and forgets it. */
export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  if (!keepTempDirs()) rmSync(dir, { recursive: true, force: true });
}

const KEEP_MARKER = '.keep';

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Keeps a temp dir (with its logs) after exit, e.g. because a start-up failed and we pointed at it. */
export function preserveTempDir(dir: string): void {
  tempDirs.delete(dir);
  writeFileSync(join(dir, KEEP_MARKER), 'kept: a start-up failed; see the logs\n');
}

// ---------------------------------------------------------------------------------------------
// Ports

/** Returns `count` distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

// ---------------------------------------------------------------------------------------------
// Polling

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with "timed out after N ms waiting for <what>" if `work` takes longer than `timeoutMs`. */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `check` until it returns a value other than undefined, or throws the last error after
 * `timeoutMs`. `check` may throw to mean "not yet"; `abort` is consulted before each try and
 * its Error is thrown at once (e.g. "the process exited").
 */
export async function poll<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  options: { intervalMs?: number; abort?: () => Error | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted !== undefined) throw aborted;
    try {
      // A single try must not outlive the deadline either (e.g. a request to a hung server).
      const result = await withTimeout(check(), Math.max(deadline - Date.now(), 1), what);
      if (result !== undefined) return result;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`, { cause: lastError });
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** Last lines of a log file, for error messages. */
export function tailFile(path: string, lines = 25): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n')
    .trimEnd();
}

export interface SpawnOptions {
  /** Short name used in messages, e.g. "kube-apiserver". */
  name: string;
  binary: string;
  args: string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A server process with its output going to a log file. */
export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  spawnError: Error | undefined;
  private hasExited = false;

  constructor(options: SpawnOptions) {
    installHandlers();
    this.name = options.name;
    this.logFile = options.logFile;
    const fd = openSync(options.logFile, 'a');
    try {
      this.child = spawn(options.binary, options.args, {
        stdio: ['ignore', fd, fd],
        env: options.env ?? process.env,
        cwd: options.cwd,
      });
    } finally {
      closeSync(fd);
    }
    liveChildren.add(this.child);
    this.exited = new Promise<void>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.hasExited) return;
        this.hasExited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        liveChildren.delete(this.child);
        resolve();
      };
      this.child.once('exit', done);
      this.child.once('error', (err) => {
        this.spawnError = err;
        done(null, null);
      });
    });
    const pid = this.child.pid;
    if (pid !== undefined) startWatchdog(`kill -KILL ${pid} 2>/dev/null`, pid);
  }

  get running(): boolean {
    return !this.hasExited;
  }

  /** An Error describing why the process is gone, or undefined while it runs. */
  exitError(): Error | undefined {
    if (!this.hasExited) return undefined;
    return this.failure(
      this.spawnError !== undefined
        ? `${this.name} could not be started: ${this.spawnError.message}`
        : this.exitSignal !== null
          ? `${this.name} was killed by ${this.exitSignal}`
          : `${this.name} exited with code ${this.exitCode}`,
    );
  }

  /** Builds an Error that points at the log file and quotes its tail. */
  failure(message: string): Error {
    const tail = tailFile(this.logFile);
    return new Error(`${message}; see log ${this.logFile}${tail === '' ? '' : `\n--- last lines of ${this.logFile} ---\n${tail}`}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.hasExited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!this.hasExited) this.child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

/**
 * Starts a detached shell that runs `onDeath` once this process has disappeared (even by
 * SIGKILL, when no handler runs). With `childPid`, it ends quietly as soon as that child is gone.
 */
function startWatchdog(onDeath: string, childPid?: number): void {
  const childGone = childPid === undefined ? '' : `kill -0 ${childPid} 2>/dev/null || exit 0; `;
  const script = `while kill -0 ${process.pid} 2>/dev/null; do ${childGone}sleep 1; done; ${onDeath}`;
  try {
    const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    watchdog.on('error', () => undefined);
    watchdog.unref();
  } catch {
    // best effort
  }
}

/**
 * Turns a failed readiness wait into the error to report, and makes sure the process is gone:
 * "<name> exited with code N; see log ..." if it died, else "<name> did not become ready ...".
 */
export async function startupFailure(proc: ManagedProcess, err: unknown): Promise<Error> {
  const exited = proc.exitError();
  await proc.stop(2_000);
  if (exited !== undefined) return exited;
  return proc.failure(`${proc.name} did not become ready (${err instanceof Error ? err.message : String(err)})`);
}

/** True if a log says the port was taken (a race between freePorts() and the server binding it). */
export function portInUse(logFile: string): boolean {
  return /address already in use/i.test(tailFile(logFile, 200));
}

/** Runs a command to completion, collecting output; rejects with the output on failure or timeout. */
export function run(
  binary: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; inheritStderr?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', options.inheritStderr === true ? 'inherit' : 'pipe'],
    });
    liveChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${binary} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(new Error(`could not run ${binary}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${binary} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})\n${stderr}${stdout}`));
    });
  });
}
