// The request-level modules against a small in-process HTTP server that answers like the
// apiserver: request shapes (paths, patch types, query), error mapping, and an informer that
// outlives the server going away and coming back.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isConflict, isNotFound } from './api-errors.ts';
import { addFinalizer, removeFinalizer } from './finalizers.ts';
import { createKubeInformer } from './informer.ts';
import { kubeLeaseStore } from './lease-store.ts';
import type { ResourceRef } from './resource.ts';
import { applyStatus } from './status.ts';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: unknown;
}

type Route = (req: Recorded, res: ServerResponse) => boolean;

class FakeApiserver {
  readonly requests: Recorded[] = [];
  routes: Route[] = [];
  #server: Server | undefined;
  port = 0;

  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // Plain HTTP is allowed by client-node only with skipTLSVerify.
      clusters: [{ name: 'test', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'test', token: 'secret-token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    return kc;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const url = new URL(req.url ?? '/', 'http://x');
    const recorded: Recorded = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers['content-type'],
      body: text ? JSON.parse(text) : undefined,
    };
    this.requests.push(recorded);
    if (!this.routes.some((route) => route(recorded, res))) reply(res, 404, status(404, 'NotFound'));
  }
}

function reply(res: ServerResponse, code: number, body: unknown): true {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

function status(code: number, reason: string, message = reason) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

const policies: ResourceRef = { group: 'saasbackup.io', version: 'v1alpha1', plural: 'backuppolicies' };
const policy = (name: string, resourceVersion: string, finalizers?: string[]) => ({
  apiVersion: 'saasbackup.io/v1alpha1',
  kind: 'BackupPolicy',
  metadata: { namespace: 'team-a', name, resourceVersion, ...(finalizers ? { finalizers } : {}) },
});

let apiserver: FakeApiserver;

afterEach(async () => {
  await apiserver.stop();
});

async function startApiserver(): Promise<FakeApiserver> {
  apiserver = new FakeApiserver();
  await apiserver.start();
  return apiserver;
}

describe('applyStatus', () => {
  it('server-side applies the status subresource as saasbackup-controller, forced', async () => {
    const server = await startApiserver();
    server.routes.push((req, res) => reply(res, 200, { ...policy('mail', '8'), status: (req.body as { status: unknown }).status }));
    const status = { observedGeneration: 2, conditions: [] };
    const stored = await applyStatus(server.kubeConfig(), { ...policies, kind: 'BackupPolicy', namespace: 'team-a', name: 'mail' }, status);

    const [req] = server.requests;
    expect(req?.method).toBe('PATCH');
    expect(req?.path).toBe('/apis/saasbackup.io/v1alpha1/namespaces/team-a/backuppolicies/mail/status');
    expect(req?.query.get('fieldManager')).toBe('saasbackup-controller');
    expect(req?.query.get('force')).toBe('true');
    expect(req?.contentType).toBe('application/apply-patch+yaml');
    expect(req?.body).toEqual({
      apiVersion: 'saasbackup.io/v1alpha1',
      kind: 'BackupPolicy',
      metadata: { name: 'mail', namespace: 'team-a' },
      status,
    });
    expect(stored).toMatchObject({ status });
  });

  it('raises the apiserver status as an error with its code', async () => {
    const server = await startApiserver();
    const err = await applyStatus(server.kubeConfig(), { ...policies, kind: 'BackupPolicy', namespace: 'team-a', name: 'gone' }, {}).catch(
      (e: unknown) => e,
    );
    expect(isNotFound(err)).toBe(true);
    expect(String(err)).toMatch(/HTTP 404/);
  });
});

describe('finalizers', () => {
  it('adds and removes with a merge patch guarded by resourceVersion, keeping other finalizers', async () => {
    const server = await startApiserver();
    server.routes.push((req, res) => reply(res, 200, { ...policy('mail', '9'), ...(req.body as object) }));
    const kc = server.kubeConfig();
    await addFinalizer(kc, policies, policy('mail', '7', ['other.io/keep']), 'saasbackup.io/repository');
    await removeFinalizer(kc, policies, policy('mail', '9', ['other.io/keep', 'saasbackup.io/repository']), 'saasbackup.io/repository');

    expect(server.requests.map((r) => [r.method, r.path, r.contentType, r.body])).toEqual([
      [
        'PATCH',
        '/apis/saasbackup.io/v1alpha1/namespaces/team-a/backuppolicies/mail',
        'application/merge-patch+json',
        { metadata: { resourceVersion: '7', finalizers: ['other.io/keep', 'saasbackup.io/repository'] } },
      ],
      [
        'PATCH',
        '/apis/saasbackup.io/v1alpha1/namespaces/team-a/backuppolicies/mail',
        'application/merge-patch+json',
        { metadata: { resourceVersion: '9', finalizers: ['other.io/keep'] } },
      ],
    ]);
  });

  it('sends nothing when there is nothing to change, and reports a stale object as a conflict', async () => {
    const server = await startApiserver();
    server.routes.push((_req, res) => reply(res, 409, status(409, 'Conflict')));
    const kc = server.kubeConfig();
    const unchanged = policy('mail', '7', ['saasbackup.io/repository']);
    expect(await addFinalizer(kc, policies, unchanged, 'saasbackup.io/repository')).toBe(unchanged);
    expect(server.requests).toHaveLength(0);
    const err = await addFinalizer(kc, policies, policy('mail', '6'), 'saasbackup.io/repository').catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
  });
});

describe('kubeLeaseStore', () => {
  it('reads a missing lease as undefined, creates it and replaces it by resourceVersion', async () => {
    const server = await startApiserver();
    let stored: { metadata: { resourceVersion: string } } | undefined;
    server.routes.push((req, res) => {
      if (req.method === 'GET') return stored ? reply(res, 200, stored) : reply(res, 404, status(404, 'NotFound'));
      const body = req.body as { metadata: { resourceVersion?: string } };
      if (req.method === 'PUT' && body.metadata.resourceVersion !== stored?.metadata.resourceVersion) {
        return reply(res, 409, status(409, 'Conflict'));
      }
      stored = {
        ...(req.body as object),
        metadata: { ...body.metadata, resourceVersion: String(server.requests.length) },
      } as typeof stored;
      return reply(res, req.method === 'POST' ? 201 : 200, stored);
    });
    const store = kubeLeaseStore(server.kubeConfig(), 'saasbackup-system', 'saasbackup-controller');
    const record = {
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-22T02:13:38.123000Z',
      renewTime: '2026-11-22T02:13:38.123000Z',
      leaseTransitions: 0,
    };

    expect(await store.get()).toBeUndefined();
    const created = await store.create(record);
    expect(server.requests[1]).toMatchObject({
      method: 'POST',
      path: '/apis/coordination.k8s.io/v1/namespaces/saasbackup-system/leases',
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec: record },
    });
    const renewed = await store.update({ ...record, renewTime: '2026-11-22T02:13:40.000000Z' }, created.resourceVersion);
    expect(renewed.record.renewTime).toBe('2026-11-22T02:13:40.000000Z');
    expect(server.requests[2]?.path).toBe('/apis/coordination.k8s.io/v1/namespaces/saasbackup-system/leases/saasbackup-controller');

    const released = await store.update({ ...record, holderIdentity: '', leaseDurationSeconds: 1 }, renewed.resourceVersion);
    expect(released.record.holderIdentity).toBe('');
    expect((server.requests[3]?.body as { spec: object }).spec).not.toHaveProperty('holderIdentity');

    const stale = await store.update(record, created.resourceVersion).catch((e: unknown) => e);
    expect(isConflict(stale)).toBe(true);
  });
});

/** A resource served with paging, a watch event log, and a compaction point for 410s. */
class PolicyCollection {
  objects = new Map<string, KubernetesObject>();
  log: { type: string; object: KubernetesObject; rv: number }[] = [];
  rv = 100;
  compactedBelow = 0;
  openWatches = new Set<{ res: ServerResponse; from: number }>();

  put(name: string): void {
    const object = policy(name, String(++this.rv));
    const type = this.objects.has(name) ? 'MODIFIED' : 'ADDED';
    this.objects.set(name, object);
    this.#publish(type, object);
  }

  remove(name: string): void {
    const object = this.objects.get(name);
    if (!object) return;
    this.objects.delete(name);
    this.#publish('DELETED', { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.rv) } });
  }

  route: Route = (req, res) => {
    if (req.path !== '/apis/saasbackup.io/v1alpha1/backuppolicies') return false;
    if (req.query.get('watch') !== 'true') {
      const limit = Number(req.query.get('limit') ?? 500);
      const start = Number(req.query.get('continue') ?? 0);
      const items = [...this.objects.values()].slice(start, start + limit);
      const more = start + limit < this.objects.size;
      return reply(res, 200, {
        apiVersion: 'saasbackup.io/v1alpha1',
        kind: 'BackupPolicyList',
        metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(start + limit) } : {}) },
        items,
      });
    }
    const from = Number(req.query.get('resourceVersion'));
    res.writeHead(200, { 'content-type': 'application/json' });
    if (from < this.compactedBelow) {
      res.end(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }) + '\n');
      return true;
    }
    for (const e of this.log) if (e.rv > from) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
    const watch = { res, from };
    this.openWatches.add(watch);
    res.on('close', () => this.openWatches.delete(watch));
    return true;
  };

  #publish(type: string, object: KubernetesObject): void {
    this.log.push({ type, object, rv: this.rv });
    for (const { res } of this.openWatches) res.write(JSON.stringify({ type, object }) + '\n');
  }
}

describe('informer over HTTP', () => {
  it('pages the list, follows the watch, and survives the apiserver restarting with a compacted history', async () => {
    const server = await startApiserver();
    const collection = new PolicyCollection();
    server.routes.push(collection.route);
    collection.put('mail');
    collection.put('drive');
    collection.put('calendar');

    const informer = createKubeInformer<KubernetesObject>(server.kubeConfig(), policies, {
      pageSize: 2,
      backoff: { baseMs: 5, maxMs: 20 },
    });
    const deleted: string[] = [];
    informer.onDelete((o) => deleted.push(o.metadata?.name ?? ''));
    informer.start();
    try {
      expect(await informer.waitForSync()).toBe(true);
      expect(
        informer
          .list()
          .map((o) => o.metadata?.name)
          .sort(),
      ).toEqual(['calendar', 'drive', 'mail']);
      const listCalls = server.requests.filter((r) => r.query.get('watch') === null);
      expect(listCalls.map((r) => r.query.get('continue'))).toEqual([null, '2']);

      await vi.waitFor(() => expect(collection.openWatches.size).toBe(1));
      const watchRequest = server.requests.find((r) => r.query.get('watch') === 'true');
      expect(watchRequest?.query.get('allowWatchBookmarks')).toBe('true');
      expect(watchRequest?.query.get('resourceVersion')).toBe('103');

      collection.put('mail');
      await vi.waitFor(() => expect(informer.get('team-a', 'mail')?.metadata?.resourceVersion).toBe('104'));

      // The apiserver goes away; the informer keeps retrying without crashing.
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 30));
      // Meanwhile objects change and the history is compacted, so resuming the watch gets 410.
      collection.remove('drive');
      collection.put('contacts');
      collection.compactedBelow = collection.rv;
      const requestsBeforeRestart = server.requests.length;
      await server.start();

      await vi.waitFor(() => expect(informer.get('team-a', 'contacts')).toBeDefined(), { timeout: 5_000 });
      expect(informer.get('team-a', 'drive')).toBeUndefined();
      expect(deleted).toEqual(['drive']);
      // It resumed the watch first (the cache was still good), got 410, and only then relisted.
      const afterRestart = server.requests.slice(requestsBeforeRestart);
      expect(afterRestart[0]?.query.get('watch')).toBe('true');
      expect(afterRestart[0]?.query.get('resourceVersion')).toBe('104');
      expect(afterRestart[1]?.query.get('watch')).toBeNull();
      expect(informer.resourceVersion).toBe(String(collection.rv));
    } finally {
      await informer.stop();
    }
  });

  it('stops cleanly while the apiserver is unreachable', async () => {
    const server = await startApiserver();
    const kc = server.kubeConfig();
    await server.stop();
    const informer = createKubeInformer<KubernetesObject>(kc, policies, { backoff: { baseMs: 5, maxMs: 10 } });
    informer.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(informer.hasSynced()).toBe(false);
    await informer.stop();
  });
});
