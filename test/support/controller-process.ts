// Runs the real controller (`saasbackup controller`) as a child process, the way a Deployment
// replica runs it, and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface ControllerProcessOptions {
  kubeconfigPath: string;
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  extraArgs?: string[];
  /** Entry point to run (default src/cli/main.ts) and its working directory (default the repository). */
  main?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class ControllerProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  constructor(options: ControllerProcessOptions) {
    const args = [
      options.main ?? MAIN,
      'controller',
      `--kubeconfig=${options.kubeconfigPath}`,
      `--identity=${options.identity}`,
      `--lease-namespace=${options.leaseNamespace}`,
      `--lease-name=${options.leaseName ?? 'saasbackup-controller'}`,
      `--lease-duration=${options.leaseDurationSeconds ?? 15}`,
      `--renew-deadline=${options.renewDeadlineSeconds ?? 10}`,
      `--retry-period=${options.retryPeriodSeconds ?? 2}`,
      '--port=0',
      '--bind-address=127.0.0.1',
      '--log-level=debug',
      ...(options.extraArgs ?? []),
    ];
    this.child = spawn(NODE, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (text) => this.#onLine(text));
    createInterface({ input: this.child.stderr! }).on('line', (text) => this.stderr.push(text));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  #onLine(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      this.stderr.push(text);
      return;
    }
    this.logs.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.predicate(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`controller log line not seen within ${timeoutMs} ms; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** The port of /healthz, /readyz and /metrics, once the server listens. */
  async port(): Promise<number> {
    const line = await this.waitForLog((l) => typeof l.port === 'number' && l.msg.includes('/metrics'));
    return line.port as number;
  }

  async get(pathname: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`http://127.0.0.1:${await this.port()}${pathname}`);
    return { status: response.status, body: await response.text() };
  }

  tail(lines = 15): string {
    return [...this.logs.slice(-lines).map((l) => JSON.stringify(l)), ...this.stderr.slice(-5)].join('\n');
  }

  /** Sends a signal and waits for exit (SIGKILL after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}
