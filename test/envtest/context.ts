// Helpers for integration tests, built on what global-setup.ts provides (vitest inject()).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Client } from 'minio';
import { inject } from 'vitest';
import { installCrdsFromDir, kubeConfigFor, serviceAccountKubeConfig, writeAdminKubeconfig } from './environment.ts';
import type { ClusterAccess, ServiceAccountKubeConfig } from './environment.ts';
import { startKubeApiserver } from './kube-apiserver.ts';
import type { KubeApiserver } from './kube-apiserver.ts';
import { minioClient } from './minio.ts';
import type { MinioConnection } from './minio.ts';
import { makeTempDir, removeTempDir } from './process.ts';

/** The shared apiserver as ClusterAccess (for kubeConfigFor / serviceAccountKubeConfig). */
export function sharedCluster(): ClusterAccess {
  return { server: inject('apiserverUrl'), certs: inject('envtestCerts'), dir: inject('envtestDir') };
}

/** Admin (system:masters) KubeConfig for the shared apiserver. */
export function adminKubeConfig(): KubeConfig {
  return kubeConfigFor(sharedCluster());
}

/** KubeConfig of a ServiceAccount on the shared apiserver (created if needed; token via TokenRequest). */
export function sharedServiceAccountKubeConfig(
  namespace: string,
  saName: string,
  options?: { expirationSeconds?: number; audiences?: string[] },
): Promise<ServiceAccountKubeConfig> {
  return serviceAccountKubeConfig(sharedCluster(), namespace, saName, options);
}

/** The shared MinIO and its Object Lock bucket. */
export function sharedMinio(): MinioConnection & { bucket: string } {
  const port = inject('minioPort');
  return {
    endpoint: inject('minioEndpoint'),
    host: inject('minioHost'),
    port,
    consolePort: 0,
    useSSL: false,
    accessKey: inject('minioAccessKey'),
    secretKey: inject('minioSecretKey'),
    region: inject('minioRegion'),
    bucket: inject('minioBucket'),
  };
}

/** A minio npm client for the shared MinIO (root credentials). */
export function sharedMinioClient(): Client {
  return minioClient(sharedMinio());
}

/**
 * Stops, starts or restarts the shared kube-apiserver (same URL, same etcd data). Resolves when
 * done (after restart/start: /readyz is OK) with the milliseconds it took.
 */
export async function controlSharedApiserver(action: 'stop' | 'start' | 'restart', timeoutMs = 120_000): Promise<number> {
  const res = await fetch(`${inject('envtestControlUrl')}/apiserver/${action}`, {
    method: 'POST',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { ms?: number; error?: string };
  if (!res.ok) throw new Error(`envtest: ${action} of the shared kube-apiserver failed: ${body.error ?? res.status}`);
  return body.ms ?? 0;
}

export interface ExtraApiserver {
  apiserver: KubeApiserver;
  access: ClusterAccess;
  /** Admin kubeconfig file for this apiserver. */
  kubeconfigPath: string;
  kubeConfig(): KubeConfig;
  /** Stops it and removes its dir. */
  stop(): Promise<void>;
}

/**
 * Starts another kube-apiserver (own port, own log) on the shared etcd. By default it uses a
 * fresh --etcd-prefix, i.e. an empty, isolated cluster, and installs the CRDs from crds/ into it;
 * pass `etcdPrefix: inject('etcdPrefix')` to serve the same data as the shared apiserver.
 */
export async function startExtraApiserver(
  options: { etcdPrefix?: string; installCrds?: boolean; extraArgs?: string[] } = {},
): Promise<ExtraApiserver> {
  const dir = makeTempDir('apiserver-', inject('envtestDir'));
  // On failure the dir (with the log the error names) stays until the environment's teardown.
  const apiserver = await startKubeApiserver({
    binary: inject('envtestBinaries').kubeApiserver,
    certs: inject('envtestCerts'),
    etcdUrl: inject('etcdUrl'),
    etcdPrefix: options.etcdPrefix ?? `/registry-${randomBytes(4).toString('hex')}`,
    dir,
    ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
  });
  const access: ClusterAccess = { server: apiserver.url, certs: inject('envtestCerts'), dir };
  const kubeconfigPath = writeAdminKubeconfig(access, join(dir, 'admin.kubeconfig'));
  if (options.installCrds ?? options.etcdPrefix === undefined) {
    try {
      await installCrdsFromDir(kubeConfigFor(access));
    } catch (err) {
      await apiserver.stop(5_000);
      throw err;
    }
  }
  return {
    apiserver,
    access,
    kubeconfigPath,
    kubeConfig: () => kubeConfigFor(access),
    stop: async () => {
      await apiserver.stop(5_000);
      removeTempDir(dir);
    },
  };
}
