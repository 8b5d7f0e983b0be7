// Finds the real server binaries the integration tests run: etcd and kube-apiserver
// (KUBEBUILDER_ASSETS, else the build cache) and MinIO (MINIO_BINARY, else the build cache).
// Missing cached binaries are built by build-binaries.sh, which prints the cache root.
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './process.ts';

export interface TestBinaries {
  etcd: string;
  kubeApiserver: string;
  /** Undefined only when resolveBinaries() was told MinIO is not needed. */
  minio?: string;
}

export interface ResolveBinariesOptions {
  /** Default true. */
  minio?: boolean;
  /** How long build-binaries.sh may take on a cold cache (default 45 min). */
  buildTimeoutMs?: number;
}

export const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'build-binaries.sh');

/** Pinned versions, read from build-binaries.sh so the cache layout has one source of truth. */
export function pinnedVersions(): { kubernetes: string; etcd: string; minio: string } {
  const script = readFileSync(BUILD_SCRIPT, 'utf8');
  const get = (name: string): string => {
    const m = new RegExp(`^${name}=(\\S+)`, 'm').exec(script);
    if (m?.[1] === undefined) throw new Error(`${name} not found in ${BUILD_SCRIPT}`);
    return m[1];
  };
  return { kubernetes: get('KUBERNETES_VERSION'), etcd: get('ETCD_VERSION'), minio: get('MINIO_VERSION') };
}

export function defaultCacheRoot(): string {
  return process.env['SAASBACKUP_BIN_CACHE'] ?? join(homedir(), '.cache', 'saasbackup', 'test-bin');
}

function cachePaths(cacheRoot: string): TestBinaries & { minio: string } {
  const v = pinnedVersions();
  const k8sDir = join(cacheRoot, `kubernetes-${v.kubernetes}-etcd-${v.etcd}`);
  return {
    etcd: join(k8sDir, 'etcd'),
    kubeApiserver: join(k8sDir, 'kube-apiserver'),
    minio: join(cacheRoot, `minio-${v.minio}`, 'minio'),
  };
}

function isExecutable(path: string | undefined): path is string {
  if (path === undefined || path === '') return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromEnvironment(): { etcd?: string; kubeApiserver?: string; minio?: string } {
  const assets = process.env['KUBEBUILDER_ASSETS'];
  const result: { etcd?: string; kubeApiserver?: string; minio?: string } = {};
  if (assets !== undefined && assets !== '') {
    const etcd = join(assets, 'etcd');
    const apiserver = join(assets, 'kube-apiserver');
    if (!isExecutable(etcd) || !isExecutable(apiserver)) {
      throw new Error(`KUBEBUILDER_ASSETS=${assets} must contain executable etcd and kube-apiserver`);
    }
    result.etcd = etcd;
    result.kubeApiserver = apiserver;
  }
  const minio = process.env['MINIO_BINARY'];
  if (minio !== undefined && minio !== '') {
    if (!isExecutable(minio)) throw new Error(`MINIO_BINARY=${minio} is not an executable file`);
    result.minio = minio;
  }
  return result;
}

/**
 * Paths of etcd, kube-apiserver and (unless `minio: false`) minio. Environment overrides win;
 * otherwise the cache is used and, if something is missing there, build-binaries.sh runs first
 * (its progress goes to stderr; a cold build takes several minutes).
 */
export async function resolveBinaries(options: ResolveBinariesOptions = {}): Promise<TestBinaries> {
  const wantMinio = options.minio ?? true;
  const env = fromEnvironment();
  let cached = cachePaths(defaultCacheRoot());
  const missing = (): boolean =>
    (env.etcd === undefined && !(isExecutable(cached.etcd) && isExecutable(cached.kubeApiserver))) ||
    (wantMinio && env.minio === undefined && !isExecutable(cached.minio));

  // A cached kube-apiserver from before build-binaries.sh stamped versions reports v0.0.0-master;
  // the script rebuilds (relinks) it.
  const stale = async (): Promise<boolean> => {
    if (env.kubeApiserver !== undefined || !isExecutable(cached.kubeApiserver)) return false;
    const version = await run(cached.kubeApiserver, ['--version'], { timeoutMs: 30_000 }).catch(() => '');
    return version.trim() !== `Kubernetes ${pinnedVersions().kubernetes}`;
  };

  if (missing() || (await stale())) {
    console.error(`[envtest] test binaries missing or outdated; running ${BUILD_SCRIPT} (first run only, several minutes)`);
    const stdout = await run('bash', [BUILD_SCRIPT], {
      timeoutMs: options.buildTimeoutMs ?? 45 * 60_000,
      inheritStderr: true,
    });
    const root = stdout.trim().split('\n').pop()?.trim();
    if (root === undefined || root === '') throw new Error(`${BUILD_SCRIPT} printed no cache directory`);
    cached = cachePaths(root);
    if (missing()) throw new Error(`${BUILD_SCRIPT} finished but binaries are still missing under ${root}`);
  }

  const result: TestBinaries = {
    etcd: env.etcd ?? cached.etcd,
    kubeApiserver: env.kubeApiserver ?? cached.kubeApiserver,
  };
  if (wantMinio) result.minio = env.minio ?? cached.minio;
  return result;
}
