// The integration-test control plane: etcd + kube-apiserver (+ MinIO), an admin kubeconfig, the
// project's CRDs installed and Established; plus kubeconfig helpers for the admin and for
// ServiceAccounts (TokenRequest tokens), usable with a TestEnvironment or with the plain values
// global-setup.ts provides to test workers.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { KubernetesObject, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { resolveBinaries } from './binaries.ts';
import type { TestBinaries } from './binaries.ts';
import { generateCerts } from './certs.ts';
import type { TestCerts } from './certs.ts';
import { startEtcd } from './etcd.ts';
import type { EtcdServer } from './etcd.ts';
import { startKubeApiserver } from './kube-apiserver.ts';
import type { KubeApiserver } from './kube-apiserver.ts';
import { startMinio } from './minio.ts';
import type { MinioServer } from './minio.ts';
import { makeTempDir, poll, preserveTempDir, removeTempDir, withTimeout } from './process.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_CRD_DIR = join(REPO_ROOT, 'crds');
export const FIELD_MANAGER = 'saasbackup-envtest';

/** What the kubeconfig helpers need: plain values, so tests can rebuild it from inject(). */
export interface ClusterAccess {
  /** https://127.0.0.1:<port> */
  server: string;
  certs: Pick<TestCerts, 'caCert' | 'adminCert' | 'adminKey'>;
  /** Directory where kubeconfig files are written. */
  dir: string;
}

export interface TestEnvironmentOptions {
  /** Start MinIO with the Object Lock bucket (default true). */
  minio?: boolean;
  /** Directory whose *.yaml / *.yml CRDs are installed (default <repo>/crds; missing or empty = none). */
  crdDir?: string | null;
  /** --etcd-prefix of the apiserver (default /registry). */
  etcdPrefix?: string;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /** Parent of the temp dir (default $SAASBACKUP_ENVTEST_TMPDIR or the OS temp dir). */
  tmpDir?: string;
  /** Per-server start-up timeout (defaults of each server otherwise). */
  startTimeoutMs?: number;
  /** Progress messages (default silent). */
  log?: (message: string) => void;
}

export interface TestEnvironment extends ClusterAccess {
  binaries: TestBinaries;
  certs: TestCerts;
  etcd: EtcdServer;
  apiserver: KubeApiserver;
  minio: MinioServer | undefined;
  /** Admin kubeconfig (client certificate, CA embedded). */
  kubeconfigPath: string;
  /** Names of the CRDs installed from crdDir. */
  crdNames: string[];
  /** Milliseconds spent in each start-up phase, and "total". */
  timings: Record<string, number>;
  /** Stops every process and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Kubeconfigs

type KubeUser = { 'client-certificate-data': string; 'client-key-data': string } | { token: string };

function kubeconfigYaml(server: string, caFile: string, userName: string, user: KubeUser, namespace?: string): string {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'envtest', cluster: { server, 'certificate-authority-data': b64(caFile) } }],
    users: [{ name: userName, user }],
    contexts: [{ name: userName, context: { cluster: 'envtest', user: userName, ...(namespace ? { namespace } : {}) } }],
    'current-context': userName,
  });
}

function adminKubeconfigYaml(access: ClusterAccess): string {
  return kubeconfigYaml(access.server, access.certs.caCert, 'envtest-admin', {
    'client-certificate-data': readFileSync(access.certs.adminCert).toString('base64'),
    'client-key-data': readFileSync(access.certs.adminKey).toString('base64'),
  });
}

/** Writes the admin kubeconfig (CA, client cert and key embedded) to `path`. */
export function writeAdminKubeconfig(access: ClusterAccess, path: string): string {
  writeFileSync(path, adminKubeconfigYaml(access), { mode: 0o600 });
  return path;
}

/** An admin (system:masters) KubeConfig for the environment's apiserver. */
export function kubeConfigFor(access: ClusterAccess): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(adminKubeconfigYaml(access));
  return kc;
}

function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

export interface ServiceAccountKubeConfig {
  kubeConfig: KubeConfig;
  /** kubeconfig file with the bearer token and the CA. */
  kubeconfigPath: string;
  token: string;
  /** RBAC user name of the account: system:serviceaccount:<ns>:<name>. */
  userName: string;
}

/**
 * Creates the namespace and ServiceAccount if needed, requests a token through TokenRequest
 * (POST serviceaccounts/<sa>/token) and returns a KubeConfig using it (written to
 * <dir>/kubeconfig-<namespace>-<sa>.yaml). The account has no permissions until RBAC grants some.
 */
export async function serviceAccountKubeConfig(
  access: ClusterAccess,
  namespace: string,
  saName: string,
  options: { expirationSeconds?: number; audiences?: string[]; path?: string } = {},
): Promise<ServiceAccountKubeConfig> {
  const core = kubeConfigFor(access).makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
  }
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: saName, namespace } } });
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
  }
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name: saName,
    namespace,
    body: {
      spec: {
        audiences: options.audiences ?? [],
        expirationSeconds: options.expirationSeconds ?? 24 * 3600,
      },
    },
  });
  const token = tokenRequest.status?.token;
  if (token === undefined || token === '') {
    throw new Error(`TokenRequest for ${namespace}/${saName} returned no token: ${JSON.stringify(tokenRequest.status)}`);
  }
  const userName = `system:serviceaccount:${namespace}:${saName}`;
  const yaml = kubeconfigYaml(access.server, access.certs.caCert, userName, { token }, namespace);
  const kubeconfigPath = options.path ?? join(access.dir, `kubeconfig-${namespace}-${saName}.yaml`);
  writeFileSync(kubeconfigPath, yaml, { mode: 0o600 });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(yaml);
  return { kubeConfig, kubeconfigPath, token, userName };
}

// ---------------------------------------------------------------------------------------------
// CRDs

/** Every CustomResourceDefinition document in the *.yaml / *.yml files of `dir` (sorted by file). */
export function readCrdFiles(dir: string): V1CustomResourceDefinition[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, file)}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (obj === null || obj === undefined) continue;
      if (obj.kind !== 'CustomResourceDefinition') {
        throw new Error(`${join(dir, file)}: expected only CustomResourceDefinition documents, found kind ${obj.kind}`);
      }
      crds.push(obj as V1CustomResourceDefinition);
    }
  }
  return crds;
}

/**
 * Polls until the CRD has condition Established=True and a LIST of each served version answers
 * 200. (Right after Established the apiserver answers LIST with 429 "storage is (re)initializing"
 * until its watch cache is ready, and client-node, unlike client-go, does not retry 429.
 * Note: CREATEs within 2 s of Established are delayed 2 s by the apiserver on purpose.)
 */
export async function waitForCrdEstablished(kc: KubeConfig, name: string, timeoutMs = 30_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crd = await poll(
    `CRD ${name} Established=True`,
    timeoutMs,
    async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      const conditions = crd.status?.conditions ?? [];
      const names = conditions.find((c) => c.type === 'NamesAccepted');
      if (names?.status === 'False') {
        throw new Error(`CRD ${name} names not accepted: ${names.reason}: ${names.message}`);
      }
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return crd;
      throw new Error(`conditions ${JSON.stringify(conditions)}`);
    },
    { intervalMs: 50 },
  );
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const version of crd.spec.versions.filter((v) => v.served)) {
    await poll(
      `LIST of ${crd.spec.names.plural}.${crd.spec.group}/${version.name}`,
      timeoutMs,
      async () => {
        await custom.listClusterCustomObject({
          group: crd.spec.group,
          version: version.name,
          plural: crd.spec.names.plural,
          limit: 1,
        });
        return true;
      },
      { intervalMs: 50 },
    );
  }
}

/**
 * Server-side applies the CRDs (field manager saasbackup-envtest, forced) and waits until each is
 * Established. Returns their names.
 */
export async function installCrds(kc: KubeConfig, crds: V1CustomResourceDefinition[], timeoutMs = 30_000): Promise<string[]> {
  const names: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata?.name;
    if (name === undefined) throw new Error('CRD without metadata.name');
    try {
      // Sent as the YAML says, not through client-node's typed serializer, which silently drops
      // schema keys it maps under other names (`default`, `x-kubernetes-validations`, ...).
      await withTimeout(
        kubeRequest(kc, {
          method: 'PATCH',
          path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`,
          query: { fieldManager: FIELD_MANAGER, force: true },
          contentType: 'application/apply-patch+yaml',
          body: crd,
          signal: AbortSignal.timeout(timeoutMs),
        }),
        timeoutMs + 1_000,
        `server-side apply of CRD ${name}`,
      );
    } catch (err) {
      const body = err instanceof ApiException ? `: ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}` : '';
      throw new Error(`applying CRD ${name} failed${body}`, { cause: err });
    }
    names.push(name);
  }
  await Promise.all(names.map((n) => waitForCrdEstablished(kc, n, timeoutMs)));
  return names;
}

/** installCrds() for every CRD in the YAML files of `dir`. */
export async function installCrdsFromDir(kc: KubeConfig, dir = DEFAULT_CRD_DIR, timeoutMs = 30_000): Promise<string[]> {
  return installCrds(kc, readCrdFiles(dir), timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// The environment

/**
 * Starts etcd, kube-apiserver and (unless `minio: false`) MinIO in a fresh temp dir, writes the
 * admin kubeconfig and installs the CRDs. On failure everything started is stopped and the
 * temp dir is kept (minus data) so the logs named in the error can be read.
 */
export async function startTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(phase: string, work: Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const result = await work;
    timings[phase] = Date.now() - t0;
    return result;
  };
  const wantMinio = options.minio ?? true;
  const binaries = await timed('binaries', resolveBinaries({ minio: wantMinio }));
  const dir = makeTempDir('saasbackup-envtest-', options.tmpDir);
  log(`envtest dir ${dir}`);

  let etcd: EtcdServer | undefined;
  let apiserver: KubeApiserver | undefined;
  let minio: MinioServer | undefined;
  const stopAll = async (): Promise<void> => {
    await apiserver?.stop(5_000);
    await Promise.all([etcd?.stop(), minio?.stop()]);
  };

  // Everything started in parallel, so a failure can wait for the others before stopping them.
  const pending: Promise<unknown>[] = [];
  try {
    const timeout = options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs };
    const minioStarted =
      wantMinio && binaries.minio !== undefined
        ? timed('minio', startMinio({ binary: binaries.minio, dir, ...timeout })).then((m) => (minio = m))
        : Promise.resolve(undefined);
    // Keep the MinIO promise from being an unhandled rejection while the control plane starts.
    minioStarted.catch(() => undefined);
    const certsMade = timed('certs', generateCerts(join(dir, 'certs')));
    const etcdStarted = timed('etcd', startEtcd({ binary: binaries.etcd, dir, ...timeout })).then((e) => (etcd = e));
    pending.push(minioStarted, certsMade, etcdStarted);
    const [certs, etcdServer] = await Promise.all([certsMade, etcdStarted]);
    apiserver = await timed(
      'kube-apiserver',
      startKubeApiserver({
        binary: binaries.kubeApiserver,
        certs,
        etcdUrl: etcdServer.url,
        dir,
        ...(options.etcdPrefix === undefined ? {} : { etcdPrefix: options.etcdPrefix }),
        ...(options.apiserverArgs === undefined ? {} : { extraArgs: options.apiserverArgs }),
        ...timeout,
      }),
    );
    const access: ClusterAccess = { server: apiserver.url, certs, dir };
    const kubeconfigPath = writeAdminKubeconfig(access, join(dir, 'admin.kubeconfig'));
    const crdDir = options.crdDir === undefined ? DEFAULT_CRD_DIR : options.crdDir;
    const crdNames = crdDir === null ? [] : await timed('crds', installCrdsFromDir(kubeConfigFor(access), crdDir));
    await minioStarted;
    timings['total'] = Date.now() - started;
    log(`envtest started in ${timings['total']} ms ${JSON.stringify(timings)}`);

    const runningApiserver = apiserver;
    const runningEtcd = etcdServer;
    let stopped = false;
    return {
      ...access,
      binaries,
      certs,
      etcd: runningEtcd,
      apiserver: runningApiserver,
      minio,
      kubeconfigPath,
      crdNames,
      timings,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopAll();
        removeTempDir(dir);
      },
    };
  } catch (err) {
    await Promise.allSettled(pending);
    await stopAll().catch(() => undefined);
    // Keep the logs the error points at; drop the (large) data dirs.
    preserveTempDir(dir);
    for (const data of ['etcd-data', 'minio-data']) rmSync(join(dir, data), { recursive: true, force: true });
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`envtest failed to start (logs kept in ${dir}): ${message}`, { cause: err });
  }
}
