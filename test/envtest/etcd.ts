// A single-member etcd on free 127.0.0.1 ports, data in a temp dir, log in <dir>/etcd.log.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, ManagedProcess, poll, portInUse, startupFailure } from './process.ts';

export interface EtcdOptions {
  binary: string;
  /** Working dir: data goes to <dir>/etcd-data, the log to <dir>/etcd.log. */
  dir: string;
  /** Time allowed to become healthy (default 30 s). */
  startTimeoutMs?: number;
}

export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:40123 (pass to --etcd-servers). */
  url: string;
  dataDir: string;
  logFile: string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<true | undefined> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
  const body = (await res.json()) as { health?: string };
  return res.ok && body.health === 'true' ? true : undefined;
}

export async function startEtcd(options: EtcdOptions): Promise<EtcdServer> {
  const dataDir = join(options.dir, 'etcd-data');
  const logFile = join(options.dir, 'etcd.log');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  for (let attempt = 1; ; attempt++) {
    const [clientPort, peerPort] = await freePorts(2);
    const url = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const proc = new ManagedProcess({
      name: 'etcd',
      binary: options.binary,
      logFile,
      args: [
        '--name=envtest',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=envtest=${peerUrl}`,
        '--initial-cluster-state=new',
        // Throw-away data: skip fsync, which dominates apiserver bootstrap time on real disks.
        '--unsafe-no-fsync=true',
        '--quota-backend-bytes=8589934592',
        '--log-level=warn',
        // Single member: elect itself quickly.
        '--heartbeat-interval=10',
        '--election-timeout=50',
      ],
    });
    try {
      await poll('etcd /health', options.startTimeoutMs ?? 30_000, () => healthy(url), {
        intervalMs: 50,
        abort: () => proc.exitError(),
      });
    } catch (err) {
      const failure = await startupFailure(proc, err);
      if (attempt < 3 && portInUse(logFile)) continue;
      throw failure;
    }
    return {
      url,
      dataDir,
      logFile,
      stop: () => proc.stop(5_000),
    };
  }
}
