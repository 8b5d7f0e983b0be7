// Shared pieces of the controller process tests (leader election, watch restart, process):
// controller processes that are always stopped, the leader Lease as an SRE reads it, Connector
// fixtures, Prometheus text, and a gate in front of the apiserver.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { LeaseObject } from '../../src/runtime/lease-store.ts';
import { collectionPath, leasesResource, objectPath } from '../../src/runtime/resource.ts';
import { adminKubeConfig } from '../envtest/context.ts';
import { ControllerProcess, type ControllerProcessOptions } from '../support/controller-process.ts';
import { API_VERSION, apply, eventually, freshNamespace, get, readManifests, remove, type Manifest } from '../support/kube.ts';
import { CONTROLLER_NAMESPACE, controllerKubeconfigPath } from '../support/rbac.ts';

export type { LeaseObject };

export const LEASE_NAMESPACE = CONTROLLER_NAMESPACE;

/** Short lease timings so that failover tests take seconds. */
export const FAST_LEASE = { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 1 } as const;

/** A unique Lease name per test, so that tests and files never share (or inherit) a Lease. */
export function uniqueLeaseName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/**
 * Starts controller processes and stops every one of them in `stopAll` (call it in afterEach),
 * whatever state the test left them in.
 */
export class ControllerFleet {
  readonly #processes: ControllerProcess[] = [];

  start(options: ControllerProcessOptions): ControllerProcess {
    const controller = new ControllerProcess(options);
    this.#processes.push(controller);
    return controller;
  }

  /** Log tails of every process, for the output of a failed test. */
  tails(lines = 40): string {
    return this.#processes
      .map((p) => `--- controller pid ${p.child.pid} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}):\n${p.tail(lines)}`)
      .join('\n');
  }

  async stopAll(): Promise<void> {
    const processes = this.#processes.splice(0);
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 15_000)));
  }
}

export async function readLease(kc: KubeConfig, name: string): Promise<LeaseObject | undefined> {
  try {
    return await kubeRequest<LeaseObject>(kc, { method: 'GET', path: objectPath(leasesResource, LEASE_NAMESPACE, name) });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export async function deleteLease(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(leasesResource, LEASE_NAMESPACE, name) });
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
}

/** Polls the Lease until its holder is `identity` (or any holder, when undefined). */
export async function waitForHolder(kc: KubeConfig, name: string, identity: string | undefined, timeoutMs = 30_000): Promise<LeaseObject> {
  return eventually(
    async () => {
      const lease = await readLease(kc, name);
      const holder = lease?.spec?.holderIdentity;
      if (holder === undefined || holder === '') return undefined;
      return identity === undefined || holder === identity ? lease : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `Lease ${LEASE_NAMESPACE}/${name} held by ${identity ?? 'anyone'}` },
  );
}

// --- Connector fixtures -------------------------------------------------------------------------

const SAMPLE = fileURLToPath(new URL('../../config/samples/connector-microsoft365.yaml', import.meta.url));

/** The shipped Microsoft 365 sample Connector, renamed, referencing Secret `secretName`. */
export function connectorManifest(name: string, namespace: string, secretName: string, key = 'client-secret'): Manifest {
  const [sample] = readManifests(SAMPLE);
  if (!sample) throw new Error(`no manifest in ${SAMPLE}`);
  const spec = structuredClone(sample['spec']) as { microsoft365: { clientSecretRef: { name: string; key: string } } };
  spec.microsoft365.clientSecretRef = { name: secretName, key };
  return { ...sample, metadata: { name, namespace }, spec };
}

export function secretManifest(name: string, namespace: string, data: Record<string, string>): Manifest {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', stringData: data };
}

/** Creates Secret `<name>-app` and Connector `<name>` that references it. */
export async function createConnectorWithSecret(kc: KubeConfig, namespace: string, name: string, secretValue = 's3cr3t'): Promise<void> {
  await apply(kc, secretManifest(`${name}-app`, namespace, { 'client-secret': secretValue }));
  await apply(kc, connectorManifest(name, namespace, `${name}-app`));
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

interface StatusObject {
  metadata: { generation?: number };
  status?: { conditions?: Condition[] };
}

export async function condition(kc: KubeConfig, namespace: string, name: string, type = 'Ready'): Promise<Condition | undefined> {
  const connector = await get<StatusObject>(kc, API_VERSION, 'Connector', namespace, name);
  return connector?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the Connector has condition Ready=True reason Ready for its current generation. */
export async function waitForConnectorReady(kc: KubeConfig, namespace: string, name: string, timeoutMs = 30_000): Promise<Condition> {
  return eventually(
    async () => {
      const connector = await get<StatusObject>(kc, API_VERSION, 'Connector', namespace, name);
      const ready = connector?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True' || ready.reason !== 'Ready') return undefined;
      return ready.observedGeneration === connector?.metadata.generation ? ready : undefined;
    },
    { timeoutMs, what: `Connector ${namespace}/${name} Ready=True` },
  );
}

export interface EventObject {
  type: string;
  reason: string;
  message: string;
  reportingComponent?: string;
  reportingInstance?: string;
  involvedObject: { kind: string; name: string; namespace: string };
}

export async function listEvents(kc: KubeConfig, namespace: string): Promise<EventObject[]> {
  const list = await kubeRequest<{ items: EventObject[] }>(kc, {
    method: 'GET',
    path: collectionPath({ group: '', version: 'v1', plural: 'events' }, namespace),
  });
  return list.items;
}

/** Events about one Connector, oldest first as the apiserver lists them. */
export async function connectorEvents(kc: KubeConfig, namespace: string, name: string): Promise<EventObject[]> {
  return (await listEvents(kc, namespace)).filter((e) => e.involvedObject.kind === 'Connector' && e.involvedObject.name === name);
}

/** The log lines of a controller that are about the object `namespace/name` (any field). */
export function linesAbout(controller: ControllerProcess, namespace: string, name: string): object[] {
  return controller.logs.filter(
    (line) => (line['namespace'] === namespace && line['name'] === name) || line['key'] === `${namespace}/${name}`,
  );
}

// --- Prometheus text ----------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match?.[1] || match[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (label[1] !== undefined && label[2] !== undefined) labels[label[1]] = label[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Samples named `name` whose labels include `labels`. */
export function samplesOf(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample named `name` with `labels`; undefined when there is none. */
export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

export async function scrape(controller: ControllerProcess): Promise<Sample[]> {
  const { status, body } = await controller.get('/metrics');
  if (status !== 200) throw new Error(`/metrics answered ${status}: ${body}`);
  return parseMetrics(body);
}

// --- A gate in front of the apiserver -----------------------------------------------------------

/**
 * A TCP proxy to the apiserver that holds every connection (accepted, nothing forwarded) until
 * `open()`: a controller behind it is alive but cannot list anything yet. TLS passes through, so
 * the apiserver certificate (issued for 127.0.0.1) still verifies.
 */
export class ApiserverGate {
  readonly #server: Server;
  readonly #upstream: { host: string; port: number };
  readonly #held: Socket[] = [];
  readonly #sockets = new Set<Socket>();
  #open = false;

  private constructor(server: Server, upstream: { host: string; port: number }) {
    this.#server = server;
    this.#upstream = upstream;
  }

  static async start(apiserverUrl: string): Promise<ApiserverGate> {
    const url = new URL(apiserverUrl);
    const server = createServer();
    const gate = new ApiserverGate(server, { host: url.hostname, port: Number(url.port) });
    server.on('connection', (socket) => gate.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return gate;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Connections accepted and still waiting for the gate to open. */
  get waiting(): number {
    return this.#held.length;
  }

  open(): void {
    this.#open = true;
    for (const socket of this.#held.splice(0)) this.#forward(socket);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (this.#open) this.#forward(socket);
    else this.#held.push(socket);
  }

  #forward(socket: Socket): void {
    if (socket.destroyed) return;
    const upstream = connect(this.#upstream.port, this.#upstream.host);
    this.#sockets.add(upstream);
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
  }
}

/** Writes a copy of a kubeconfig file whose clusters point at `server`. */
export function kubeconfigWithServer(kubeconfigPath: string, server: string): string {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const cluster of config.clusters) cluster.cluster.server = server;
  const copy = path.join(path.dirname(kubeconfigPath), `gated-${randomBytes(3).toString('hex')}-${path.basename(kubeconfigPath)}`);
  writeFileSync(copy, stringify(config), { mode: 0o600 });
  return copy;
}

/**
 * The hooks every controller-process test file needs: the controller ServiceAccount kubeconfig,
 * a namespace of its own, every process stopped after each test (log tails printed on failure),
 * and every Lease and the namespace removed at the end.
 */
export function controllerSuite(namespacePrefix: string) {
  const admin = adminKubeConfig();
  const fleet = new ControllerFleet();
  const leases: string[] = [];
  let kubeconfigPath = '';
  let namespace = '';

  beforeAll(async () => {
    kubeconfigPath = await controllerKubeconfigPath();
    namespace = await freshNamespace(admin, namespacePrefix);
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') console.log(fleet.tails());
    await fleet.stopAll();
  });

  afterAll(async () => {
    await fleet.stopAll();
    for (const lease of leases) await deleteLease(admin, lease);
    if (namespace) await remove(admin, 'v1', 'Namespace', undefined, namespace);
  });

  return {
    admin,
    fleet,
    kubeconfigPath: () => kubeconfigPath,
    namespace: () => namespace,
    /** A Lease name unique to one test, deleted at the end. */
    newLease(prefix: string): string {
      const name = uniqueLeaseName(prefix);
      leases.push(name);
      return name;
    },
  };
}
