// The controller outlives a restart of the kube-apiserver: its watches come back and it keeps
// reconciling, and an informer's cache ends up current (adds and deletes) afterwards. These tests
// restart the SHARED apiserver; each waits until it is ready again (controlSharedApiserver does).
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/kind.ts';
import { createKubeInformer, type Informer } from '../../src/runtime/informer.ts';
import type { Logger } from '../../src/runtime/logger.ts';
import { adminKubeConfig, controlSharedApiserver, startExtraApiserver, type ExtraApiserver } from '../envtest/context.ts';
import { API_VERSION, apply, eventually, freshNamespace, get, remove } from '../support/kube.ts';
import { controllerKubeconfigPath } from '../support/rbac.ts';
import {
  ControllerFleet,
  LEASE_NAMESPACE,
  condition,
  connectorManifest,
  createConnectorWithSecret,
  deleteLease,
  readLease,
  uniqueLeaseName,
  waitForConnectorReady,
  waitForHolder,
} from './support.ts';

// Long enough that the leader keeps its lease through the restart (renews may fail meanwhile):
// this file is about watches, not failover.
const TIMINGS = { leaseDurationSeconds: 60, renewDeadlineSeconds: 40, retryPeriodSeconds: 2 };

/** A Logger that keeps what the informer logs, for the output of a failed test. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push(
        `${new Date().toISOString()} ${level} ${message} ${JSON.stringify(fields, (_, v: unknown) => (v instanceof Error ? v.message : v))}`,
      );
    };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const names = (informer: Informer<KubernetesObject>, namespace: string): string[] =>
  informer
    .list(namespace)
    .map((o) => o.metadata?.name ?? '')
    .sort();

describe('kube-apiserver restart', () => {
  const admin = adminKubeConfig();
  const fleet = new ControllerFleet();
  const leaseName = uniqueLeaseName('watch-restart');
  const namespaces: string[] = [];
  const informers: Informer<KubernetesObject>[] = [];
  const extras: ExtraApiserver[] = [];
  const loggers: { lines: string[] }[] = [];
  let kubeconfigPath: string;

  beforeAll(async () => {
    kubeconfigPath = await controllerKubeconfigPath();
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      console.log(fleet.tails());
      for (const logger of loggers) console.log(logger.lines.slice(-40).join('\n'));
    }
    loggers.length = 0;
    await fleet.stopAll();
    await Promise.all(informers.splice(0).map((informer) => informer.stop()));
    await Promise.all(extras.splice(0).map((extra) => extra.stop()));
    // Leave the shared apiserver running for whatever comes next, even after a failure.
    await controlSharedApiserver('start');
  });

  afterAll(async () => {
    await fleet.stopAll();
    await deleteLease(admin, leaseName);
    for (const namespace of namespaces) await remove(admin, 'v1', 'Namespace', undefined, namespace);
  });

  async function namespaceFor(prefix: string): Promise<string> {
    const namespace = await freshNamespace(admin, prefix);
    namespaces.push(namespace);
    return namespace;
  }

  it('a running controller keeps reconciling after the apiserver restarts', async () => {
    const namespace = await namespaceFor('watch-restart');
    const identity = `${leaseName}-a`;
    const controller = fleet.start({ kubeconfigPath, identity, leaseNamespace: LEASE_NAMESPACE, leaseName, ...TIMINGS });
    await waitForHolder(admin, leaseName, identity, 60_000);
    await controller.waitForLog((l) => l.msg === 'became leader; reconciling');

    await createConnectorWithSecret(admin, namespace, 'before-restart');
    await waitForConnectorReady(admin, namespace, 'before-restart');

    const restartMs = await controlSharedApiserver('restart');
    console.log(`[watch-restart] shared kube-apiserver restarted in ${restartMs} ms`);
    // Precondition of this test: the restart was shorter than the renew deadline, so the
    // controller is expected to stay leader (a longer outage would rightly make it exit).
    expect(restartMs).toBeLessThan(TIMINGS.renewDeadlineSeconds * 1000);

    // A new object, and a change to an old one, both made after the restart, are reconciled.
    const createdAt = Date.now();
    await createConnectorWithSecret(admin, namespace, 'after-restart');
    await apply(admin, connectorManifest('before-restart', namespace, 'no-such-secret'));
    await waitForConnectorReady(admin, namespace, 'after-restart', 90_000);
    await eventually(
      async () => {
        const ready = await condition(admin, namespace, 'before-restart');
        return ready?.status === 'False' && ready.reason === 'SecretNotFound' ? ready : undefined;
      },
      { timeoutMs: 90_000, what: 'Connector before-restart Ready=False SecretNotFound after its update' },
    );
    console.log(`[watch-restart] reconciled objects written after the restart within ${Date.now() - createdAt} ms`);

    // Still the same, single leader: the controller neither exited nor lost its lease.
    expect(controller.child.exitCode).toBeNull();
    expect((await readLease(admin, leaseName))?.spec?.holderIdentity).toBe(identity);
    expect(controller.logs.map((l) => l.msg)).not.toContain('lost leadership; stopping');
    expect(await controller.get('/readyz')).toEqual({ status: 200, body: 'ok (leader)\n' });
    // The outage was noticed by the informers, not hidden.
    expect(controller.logs.some((l) => l.msg === 'list or watch failed; retrying' || l.msg === 'watch ended; resuming')).toBe(true);
  });

  it('an informer sees objects created, and a delete made, after the apiserver restarts', async () => {
    const namespace = await namespaceFor('informer-restart');
    await apply(admin, connectorManifest('existing', namespace, 'app'));
    await apply(admin, connectorManifest('doomed', namespace, 'app'));

    const logger = recordingLogger();
    loggers.push(logger);
    const informer = createKubeInformer<KubernetesObject>(
      admin,
      { group: GROUP, version: VERSION, plural: 'connectors' },
      { namespace, logger },
    );
    informers.push(informer);
    const added: string[] = [];
    const deleted: string[] = [];
    informer.onAdd((o) => added.push(o.metadata?.name ?? ''));
    informer.onDelete((o) => deleted.push(o.metadata?.name ?? ''));
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    expect(names(informer, namespace)).toEqual(['doomed', 'existing']);

    await controlSharedApiserver('restart');
    // Written right away, possibly before the informer has reconnected.
    await remove(admin, API_VERSION, 'Connector', namespace, 'doomed');
    await apply(admin, connectorManifest('created-after', namespace, 'app'));

    await eventually(async () => (names(informer, namespace).join() === 'created-after,existing' ? true : undefined), {
      timeoutMs: 90_000,
      what: `informer cache [created-after, existing], has [${names(informer, namespace).join(', ')}]`,
    });
    expect(deleted).toEqual(['doomed']);
    // Each object was added once: the restart did not replay the unchanged one as new.
    expect([...added].sort()).toEqual(['created-after', 'doomed', 'existing']);

    // The watch keeps delivering afterwards (not just a one-off relist).
    await apply(admin, connectorManifest('later', namespace, 'app'));
    await eventually(async () => informer.get(namespace, 'later') !== undefined, {
      timeoutMs: 30_000,
      what: 'informer sees Connector later',
    });
    const stored = await get<KubernetesObject>(admin, API_VERSION, 'Connector', namespace, 'later');
    expect(informer.get(namespace, 'later')?.metadata?.uid).toBe(stored?.metadata?.uid);
  });

  it('an informer catches up with a create and a delete made while its apiserver was down', async () => {
    const namespace = await namespaceFor('informer-down');
    await apply(admin, connectorManifest('gone-while-down', namespace, 'app'));

    const logger = recordingLogger();
    loggers.push(logger);
    const informer = createKubeInformer<KubernetesObject>(
      admin,
      { group: GROUP, version: VERSION, plural: 'connectors' },
      { namespace, logger },
    );
    informers.push(informer);
    const deleted: string[] = [];
    informer.onDelete((o) => deleted.push(o.metadata?.name ?? ''));
    informer.start();
    expect(await informer.waitForSync()).toBe(true);
    expect(names(informer, namespace)).toEqual(['gone-while-down']);

    // Another apiserver on the same etcd data stands in while the shared one is down.
    const other = await startExtraApiserver({ etcdPrefix: inject('etcdPrefix') });
    extras.push(other);
    await controlSharedApiserver('stop');
    await remove(other.kubeConfig(), API_VERSION, 'Connector', namespace, 'gone-while-down');
    await apply(other.kubeConfig(), connectorManifest('made-while-down', namespace, 'app'));
    await controlSharedApiserver('start');

    await eventually(async () => (names(informer, namespace).join() === 'made-while-down' ? true : undefined), {
      timeoutMs: 90_000,
      what: `informer cache [made-while-down], has [${names(informer, namespace).join(', ')}]`,
    });
    expect(deleted).toEqual(['gone-while-down']);
  });
});
