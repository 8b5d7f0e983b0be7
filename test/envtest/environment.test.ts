// Smoke test of the integration-test environment started by global-setup.ts: the real
// kube-apiserver (admin access, RBAC, TokenRequest, CRDs, restart) and the real MinIO (versioning,
// Object Lock refusing deletes).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiException,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { S3Error } from 'minio';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { pinnedVersions } from './binaries.ts';
import {
  adminKubeConfig,
  controlSharedApiserver,
  sharedMinio,
  sharedMinioClient,
  sharedServiceAccountKubeConfig,
  startExtraApiserver,
} from './context.ts';
import { installCrdsFromDir, waitForCrdEstablished } from './environment.ts';
import { getObjectLockConfig } from './minio.ts';
import { poll } from './process.ts';

const suffix = (): string => randomBytes(3).toString('hex');

/** The built binary is pinned; one from KUBEBUILDER_ASSETS may be any v1.x. */
const expectedVersion = process.env['KUBEBUILDER_ASSETS']
  ? /^v1\.\d+\.\d+/
  : new RegExp(`^${pinnedVersions().kubernetes.replaceAll('.', '\\.')}$`);

/** Awaits a delete that Object Lock must refuse; returns the S3 error. */
async function refusal(call: Promise<unknown>): Promise<S3Error> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'MinIO accepted the delete').toBeInstanceOf(S3Error);
  // MinIO answers ObjectLocked with 400 InvalidRequest (AWS S3 uses 403 AccessDenied).
  expect((err as S3Error).message).toMatch(/WORM protected/);
  return err as S3Error;
}

/** 200 if the client-node call succeeds, else the HTTP status of its ApiException. */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('kube-apiserver', () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  it('answers /version as the admin, also through the provided kubeconfig file', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(expectedVersion);

    const fromFile = new KubeConfig();
    fromFile.loadFromFile(inject('kubeconfigPath'));
    expect(fromFile.getCurrentCluster()?.server).toBe(inject('apiserverUrl'));
    const namespaces = await fromFile.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('default');
  });

  it('enforces RBAC on a ServiceAccount token until a RoleBinding grants access', async () => {
    const namespace = `envtest-rbac-${suffix()}`;
    const sa = await sharedServiceAccountKubeConfig(namespace, 'tester');

    // The token really is the ServiceAccount's (TokenRequest works without a controller-manager).
    const review = await sa.kubeConfig.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:tester`);

    const saCore = sa.kubeConfig.makeApiClient(CoreV1Api);
    expect(await statusOf(saCore.listNamespace())).toBe(403);
    expect(await statusOf(saCore.listNamespacedConfigMap({ namespace }))).toBe(403);

    // (Aggregated ClusterRoles like `view` stay empty here: no controller-manager aggregates them.)
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'tester-configmap-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'tester', namespace }],
      },
    });
    // The RBAC authorizer reads through an informer: allow it a moment to see the binding.
    await poll('RoleBinding to take effect', 10_000, async () =>
      (await statusOf(saCore.listNamespacedConfigMap({ namespace }))) === 200 ? true : undefined,
    );
    // A RoleBinding is namespaced: cluster-scoped namespaces stay forbidden.
    expect(await statusOf(saCore.listNamespace())).toBe(403);
    expect(await statusOf(saCore.listNamespacedConfigMap({ namespace: 'default' }))).toBe(403);

    await core.deleteNamespace({ name: namespace });
  });

  it('installs a CRD with the harness and serves it once Established', async () => {
    const group = 'envtest.saasbackup.io';
    const dir = join(inject('envtestDir'), `crds-${suffix()}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'widgets.yaml'),
      stringify({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', required: ['size'], properties: { size: { type: 'integer', minimum: 1 } } },
                    status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  },
                },
              },
            },
          ],
        },
      }),
    );
    expect(await installCrdsFromDir(kc, dir)).toEqual([`widgets.${group}`]);
    // Applying again is idempotent (server-side apply).
    expect(await installCrdsFromDir(kc, dir)).toEqual([`widgets.${group}`]);
    const custom = kc.makeApiClient(CustomObjectsApi);
    // Usable at once: no 429 "storage is (re)initializing" on LIST.
    const empty = (await custom.listNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
    })) as { items: unknown[] };
    expect(empty.items).toEqual([]);

    const created = (await custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: `w-${suffix()}` }, spec: { size: 3 } },
    })) as { metadata: { name: string }; spec: { size: number } };
    expect(created.spec.size).toBe(3);
    // The structural schema is enforced.
    const invalid = custom.createNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: `w-${suffix()}` }, spec: { size: 0 } },
    });
    expect(await statusOf(invalid)).toBe(422);
  });

  const crdNames = inject('crdNames');
  it.skipIf(crdNames.length === 0)(`has the project CRDs from crds/ Established (${crdNames.length})`, async () => {
    for (const name of crdNames) await waitForCrdEstablished(kc, name, 5_000);
  });

  it('restarts on the same URL with its data, and a watch carries on after list+watch', async () => {
    const namespace = `envtest-restart-${suffix()}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const path = `/api/v1/namespaces/${namespace}/configmaps`;
    const seen: string[] = [];
    let resourceVersion = '';
    let expired = false;
    let watchEnded = (): void => undefined;
    // What an informer does: list, watch from the list's resourceVersion, watch again from the
    // last one seen when the connection drops, relist when that is too old (410 Expired).
    const listAndWatch = async (relist: boolean): Promise<AbortController> => {
      if (relist) {
        const list = await core.listNamespacedConfigMap({ namespace });
        resourceVersion = list.metadata?.resourceVersion ?? '';
      }
      return new Watch(kc).watch(
        path,
        { resourceVersion, allowWatchBookmarks: true },
        (phase: string, obj: V1ConfigMap & { code?: number }) => {
          if (phase === 'ERROR') {
            expired = obj.code === 410;
            return;
          }
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
          if (phase !== 'BOOKMARK') seen.push(`${phase} ${obj.metadata?.name}`);
        },
        () => watchEnded(),
      );
    };
    const ended = new Promise<void>((resolve) => (watchEnded = resolve));
    const first = await listAndWatch(true);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'before' } } });
    await poll('ADDED before', 10_000, async () => (seen.includes('ADDED before') ? true : undefined));

    const url = inject('apiserverUrl');
    const ms = await controlSharedApiserver('restart');
    console.log(`[envtest] shared kube-apiserver restarted in ${ms} ms`);
    await ended; // the stopping server closed the watch
    first.abort();

    // Same URL, same data.
    expect(adminKubeConfig().getCurrentCluster()?.server).toBe(url);
    expect((await kc.makeApiClient(VersionApi).getCode()).gitVersion).toMatch(expectedVersion);
    await core.readNamespacedConfigMap({ namespace, name: 'before' });

    // Watch again from the last resourceVersion; the new watch cache may call it too old.
    watchEnded = () => undefined;
    let second = await listAndWatch(false);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'after' } } });
    await poll('ADDED after, or 410 Expired', 10_000, async () => (seen.includes('ADDED after') || expired ? true : undefined));
    if (!seen.includes('ADDED after')) {
      second.abort();
      second = await listAndWatch(true);
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'after-relist' } } });
      await poll('ADDED after-relist', 10_000, async () => (seen.includes('ADDED after-relist') ? true : undefined));
    }
    second.abort();
    expect(seen[0]).toBe('ADDED before');
    expect(seen.filter((e) => e === 'ADDED before')).toHaveLength(1);

    await core.deleteNamespace({ name: namespace });
  });

  it('runs an extra apiserver on the shared etcd: isolated by prefix, restartable on its URL', async () => {
    const started = await Promise.allSettled([startExtraApiserver(), startExtraApiserver({ etcdPrefix: inject('etcdPrefix') })]);
    const [isolated, shared] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    if (isolated === undefined || shared === undefined) {
      await Promise.all([isolated?.stop(), shared?.stop()]);
      throw started.map((r) => (r.status === 'rejected' ? r.reason : undefined)).find((e) => e !== undefined);
    }
    try {
      const namespace = `envtest-extra-${suffix()}`;
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      // Same prefix: same cluster data. Own prefix: an empty cluster.
      expect(await statusOf(shared.kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: namespace }))).toBe(200);
      const isolatedCore = isolated.kubeConfig().makeApiClient(CoreV1Api);
      expect(await statusOf(isolatedCore.readNamespace({ name: namespace }))).toBe(404);

      const url = isolated.apiserver.url;
      await isolated.apiserver.restart();
      expect(isolated.apiserver.url).toBe(url);
      expect((await isolated.kubeConfig().makeApiClient(VersionApi).getCode()).major).toBe('1');
      expect(await statusOf(isolatedCore.readNamespace({ name: 'default' }))).toBe(200);
      await core.deleteNamespace({ name: namespace });
    } finally {
      await Promise.all([isolated.stop(), shared.stop()]);
    }
  });
});

describe('MinIO', () => {
  const minio = sharedMinio();
  const client = sharedMinioClient();
  const bucket = minio.bucket;
  const retainUntil = (): string => new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const names: string[] = [];

  afterAll(() => {
    // Locked versions cannot be removed; they go with the environment's temp dir.
    console.log(`[envtest] left ${names.length} locked test objects in ${bucket}`);
  });

  it('has the bucket with versioning and Object Lock enabled', async () => {
    expect(await client.bucketExists(bucket)).toBe(true);
    expect((await client.getBucketVersioning(bucket)).Status).toBe('Enabled');
    expect(await getObjectLockConfig(client, bucket)).toMatchObject({ objectLockEnabled: 'Enabled' });
  });

  it('refuses to delete a GOVERNANCE-locked version unless governance is bypassed', async () => {
    const name = `envtest/governance-${suffix()}.txt`;
    const put = await client.putObject(bucket, name, Buffer.from('locked'));
    const versionId = put.versionId;
    expect(versionId).toBeTruthy();
    await client.putObjectRetention(bucket, name, { versionId: versionId!, mode: 'GOVERNANCE', retainUntilDate: retainUntil() });
    expect(await client.getObjectRetention(bucket, name, { versionId: versionId! })).toMatchObject({ mode: 'GOVERNANCE' });

    await refusal(client.removeObject(bucket, name, { versionId: versionId! }));
    expect((await client.statObject(bucket, name, { versionId: versionId! })).versionId).toBe(versionId);

    // The root user may bypass GOVERNANCE explicitly.
    await client.removeObject(bucket, name, { versionId: versionId!, governanceBypass: true });
    await expect(client.statObject(bucket, name, { versionId: versionId! })).rejects.toThrow();
  });

  it('refuses to delete a COMPLIANCE-locked version even with governance bypass', async () => {
    const name = `envtest/compliance-${suffix()}.txt`;
    names.push(name);
    const put = await client.putObject(bucket, name, Buffer.from('locked for good'));
    const versionId = put.versionId!;
    await client.putObjectRetention(bucket, name, { versionId, mode: 'COMPLIANCE', retainUntilDate: retainUntil() });

    await refusal(client.removeObject(bucket, name, { versionId }));
    await refusal(client.removeObject(bucket, name, { versionId, governanceBypass: true }));
    // A plain delete only adds a delete marker; the locked version stays readable.
    await client.removeObject(bucket, name);
    expect((await client.statObject(bucket, name, { versionId })).versionId).toBe(versionId);
  });
});
