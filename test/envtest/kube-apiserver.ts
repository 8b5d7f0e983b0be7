// A kube-apiserver on a free 127.0.0.1 port, configured like controller-runtime's envtest:
// client-certificate auth for the admin, RBAC authorization, service-account tokens (TokenRequest)
// signed with the test key, no ServiceAccount admission (there is no controller-manager).
// Several can run at once against one etcd, each on its own port and optionally its own
// --etcd-prefix for isolation.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { TestCerts } from './certs.ts';
import { freePorts, ManagedProcess, poll, portInUse, startupFailure } from './process.ts';

export interface KubeApiserverOptions {
  binary: string;
  certs: TestCerts;
  /** e.g. http://127.0.0.1:2379 */
  etcdUrl: string;
  /** Key prefix in etcd (default /registry). Use a distinct prefix for an isolated cluster. */
  etcdPrefix?: string;
  /** The log goes to <dir>/<name>.log. */
  dir: string;
  /** Default "kube-apiserver"; also the log file name. */
  name?: string;
  /** Fixed port; default a free one. */
  port?: number;
  /** Appended after the defaults (for a repeated flag the last value wins). */
  extraArgs?: string[];
  /** Time allowed to answer /readyz (default 90 s). */
  startTimeoutMs?: number;
}

export interface KubeApiserver {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  etcdPrefix: string;
  logFile: string;
  certs: TestCerts;
  /** The full command-line arguments (for diagnostics). */
  args: readonly string[];
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s). */
  stop(graceMs?: number): Promise<void>;
  /** After stop(): starts it again with the same flags on the same port and waits for /readyz. */
  start(): Promise<void>;
  /** stop() then start(): same URL, same etcd data, so clients can reconnect and resume watches. */
  restart(): Promise<void>;
}

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc';
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

function apiserverArgs(o: KubeApiserverOptions, port: number, etcdPrefix: string): string[] {
  return [
    `--etcd-servers=${o.etcdUrl}`,
    `--etcd-prefix=${etcdPrefix}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${join(o.dir, `${o.name ?? 'kube-apiserver'}-certs`)}`,
    `--tls-cert-file=${o.certs.servingCert}`,
    `--tls-private-key-file=${o.certs.servingKey}`,
    `--client-ca-file=${o.certs.caCert}`,
    '--authorization-mode=Node,RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${o.certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${o.certs.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    // No controller-manager runs, so nothing would create the token Secrets it expects.
    '--disable-admission-plugins=ServiceAccount',
    '--profiling=false',
    // Stop fast: no delay before closing the listener, do not linger for watches.
    '--shutdown-delay-duration=0s',
    '--shutdown-watch-termination-grace-period=2s',
    ...(o.extraArgs ?? []),
  ];
}

/** GET `path` as the admin (client certificate); resolves with status and body. */
export function adminGet(
  server: string,
  certs: Pick<TestCerts, 'caCert' | 'adminCert' | 'adminKey'>,
  path: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server),
      {
        method: 'GET',
        ca: readFileSync(certs.caCert),
        cert: readFileSync(certs.adminCert),
        key: readFileSync(certs.adminKey),
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function waitReady(proc: ManagedProcess, url: string, certs: TestCerts, timeoutMs: number): Promise<void> {
  await poll(
    'kube-apiserver /readyz',
    timeoutMs,
    async () => {
      const res = await adminGet(url, certs, '/readyz', 5_000);
      if (res.status === 200) return true;
      throw new Error(`/readyz answered ${res.status}: ${res.body.slice(0, 2_000)}`);
    },
    { intervalMs: 100, abort: () => proc.exitError() },
  );
}

export async function startKubeApiserver(options: KubeApiserverOptions): Promise<KubeApiserver> {
  const name = options.name ?? 'kube-apiserver';
  const logFile = join(options.dir, `${name}.log`);
  const etcdPrefix = options.etcdPrefix ?? '/registry';
  const timeoutMs = options.startTimeoutMs ?? 90_000;

  const launch = (args: string[]): ManagedProcess => new ManagedProcess({ name, binary: options.binary, args, logFile });

  let port = 0;
  let args: string[] = [];
  let proc: ManagedProcess | undefined;
  for (let attempt = 1; proc === undefined; attempt++) {
    port = options.port ?? (await freePorts(1))[0]!;
    args = apiserverArgs(options, port, etcdPrefix);
    const candidate = launch(args);
    try {
      await waitReady(candidate, `https://127.0.0.1:${port}`, options.certs, timeoutMs);
      proc = candidate;
    } catch (err) {
      const failure = await startupFailure(candidate, err);
      if (attempt < 3 && options.port === undefined && portInUse(logFile)) continue;
      throw failure;
    }
  }

  const url = `https://127.0.0.1:${port}`;
  let current: ManagedProcess = proc;
  // Relaunches with the same flags on the same port (the port was just released; a few quick
  // retries cover a slow socket teardown).
  const start = async (): Promise<void> => {
    if (current.running) return;
    for (let attempt = 1; ; attempt++) {
      current = launch(args);
      try {
        await waitReady(current, url, options.certs, timeoutMs);
        return;
      } catch (err) {
        const failure = await startupFailure(current, err);
        if (attempt < 5 && portInUse(logFile)) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        throw failure;
      }
    }
  };
  const stop = (graceMs = 10_000): Promise<void> => current.stop(graceMs);
  return {
    url,
    port,
    etcdPrefix,
    logFile,
    certs: options.certs,
    args,
    get running() {
      return current.running;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
