// The controller process: informer caches for every kind (on every replica, so a standby is warm),
// one Controller per kind that runs only while this replica holds the Lease, the HTTP port for
// probes and metrics, and an orderly shutdown.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { backupPolicyKind } from '../api/backup-policy.ts';
import { backupRunKind } from '../api/backup-run.ts';
import { connectorKind } from '../api/connector.ts';
import { GROUP, VERSION, type KindDefinition } from '../api/kind.ts';
import { objectExclusionKind } from '../api/object-exclusion.ts';
import { restoreRequestKind } from '../api/restore-request.ts';
import { BackupPolicyReconciler } from '../controllers/backup-policy/reconciler.ts';
import { BackupRunReconciler } from '../controllers/backup-run/reconciler.ts';
import { ConnectorReconciler } from '../controllers/connector/reconciler.ts';
import type { Caches, ControllerContext } from '../controllers/context.ts';
import { ObjectExclusionReconciler } from '../controllers/object-exclusion/reconciler.ts';
import { RestoreRequestReconciler } from '../controllers/restore-request/reconciler.ts';
import { Controller } from '../runtime/controller.ts';
import { kubeEventRecorder } from '../runtime/events.ts';
import { createKubeInformer, type Informer } from '../runtime/informer.ts';
import { LeaderElector } from '../runtime/leader-elector.ts';
import { kubeLeaseStore } from '../runtime/lease-store.ts';
import type { Logger } from '../runtime/logger.ts';
import { createControllerMetrics } from '../runtime/metrics.ts';
import { systemClock, type Reconciler } from '../runtime/types.ts';
import { startHttpServer, type HttpServer } from './http-server.ts';
import { wakeUps, type Kind } from './watches.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Unique per replica (the pod name). */
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Reconciles in flight at most, per kind. */
  concurrency?: number;
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one. */
  port?: number;
  host?: string;
  /** How long in-flight reconciles may finish on shutdown. */
  shutdownGraceMs?: number;
}

const KIND_DEFINITIONS: Record<Kind, KindDefinition> = {
  connectors: connectorKind,
  policies: backupPolicyKind,
  runs: backupRunKind,
  restores: restoreRequestKind,
  exclusions: objectExclusionKind,
};

export class Manager {
  readonly registry = new Registry();
  readonly #options: ManagerOptions;
  readonly #logger: Logger;
  readonly #informers: Record<Kind, Informer<KubernetesObject>>;
  readonly #controllers: Record<Kind, Controller>;
  readonly #elector: LeaderElector;
  readonly #electorAbort = new AbortController();
  readonly #leaderGauge: Gauge;
  readonly #syncedGauge: Gauge<'resource'>;
  #server: HttpServer | undefined;
  #election: Promise<void> | undefined;
  #stopping = false;
  /** Resolves when leadership is lost (not on shutdown): the process must then exit. */
  readonly leadershipLost: Promise<void>;
  #resolveLeadershipLost!: () => void;

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.#logger = options.logger;
    const { kubeConfig } = options;
    collectDefaultMetrics({ register: this.registry, prefix: 'saasbackup_controller_' });
    const metrics = createControllerMetrics(this.registry);
    this.#leaderGauge = new Gauge({
      name: 'saasbackup_controller_leader',
      help: '1 while this replica holds the leader Lease.',
      registers: [this.registry],
    });
    this.#syncedGauge = new Gauge({
      name: 'saasbackup_controller_cache_synced',
      help: '1 once the informer cache of a kind has synced.',
      labelNames: ['resource'] as const,
      registers: [this.registry],
    });
    this.leadershipLost = new Promise((resolve) => (this.#resolveLeadershipLost = resolve));

    const informer = (kind: KindDefinition) =>
      createKubeInformer<KubernetesObject>(kubeConfig, { group: GROUP, version: VERSION, plural: kind.plural }, { logger: this.#logger });
    this.#informers = {
      connectors: informer(connectorKind),
      policies: informer(backupPolicyKind),
      runs: informer(backupRunKind),
      restores: informer(restoreRequestKind),
      exclusions: informer(objectExclusionKind),
    };
    const caches = this.#informers as unknown as Caches;
    const context: ControllerContext = {
      kubeConfig,
      caches,
      events: kubeEventRecorder(kubeConfig, { clock: systemClock, logger: this.#logger, instance: options.identity }),
      clock: systemClock,
      logger: this.#logger,
    };
    const controller = (reconciler: Reconciler) =>
      new Controller({ reconciler, maxConcurrentReconciles: options.concurrency ?? 4, metrics, logger: this.#logger });
    this.#controllers = {
      connectors: controller(new ConnectorReconciler(context)),
      policies: controller(new BackupPolicyReconciler(context)),
      runs: controller(new BackupRunReconciler(context)),
      restores: controller(new RestoreRequestReconciler(context)),
      exclusions: controller(new ObjectExclusionReconciler(context)),
    };
    for (const kind of Object.keys(this.#informers) as Kind[]) {
      metrics.registerController(this.#controllers[kind].name);
      this.#syncedGauge.set({ resource: KIND_DEFINITIONS[kind].plural }, 0);
      const wake = (object: KubernetesObject) => {
        for (const { kind: target, key } of wakeUps(kind, object, caches)) this.#controllers[target].enqueue(key);
      };
      this.#informers[kind].onAdd(wake);
      this.#informers[kind].onUpdate((_, object) => wake(object));
      this.#informers[kind].onDelete(wake);
    }

    this.#elector = new LeaderElector({
      store: kubeLeaseStore(kubeConfig, options.leaseNamespace, options.leaseName ?? 'saasbackup-controller'),
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs,
      logger: this.#logger,
      callbacks: {
        onStartedLeading: () => {
          this.#leaderGauge.set(1);
          this.#logger.info({ identity: options.identity }, 'became leader; reconciling');
          for (const controller of Object.values(this.#controllers)) controller.start();
        },
        onStoppedLeading: () => {
          this.#leaderGauge.set(0);
          // Stop at once: another replica may already be reconciling the same objects.
          for (const controller of Object.values(this.#controllers)) controller.stop('leadership lost');
          if (!this.#stopping) {
            this.#logger.error({ identity: options.identity }, 'lost leadership; stopping');
            this.#resolveLeadershipLost();
          }
        },
        onNewLeader: (leader) => this.#logger.info({ leader, identity: options.identity }, 'leader observed'),
      },
    });
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  get port(): number | undefined {
    return this.#server?.port;
  }

  readiness(): { ready: boolean; message: string } {
    const waiting = (Object.keys(this.#informers) as Kind[]).filter((kind) => !this.#informers[kind].hasSynced());
    if (waiting.length > 0)
      return { ready: false, message: `waiting for caches: ${waiting.map((k) => KIND_DEFINITIONS[k].plural).join(', ')}` };
    return { ready: true, message: this.isLeader ? 'ok (leader)' : 'ok (standby)' };
  }

  async start(): Promise<void> {
    this.#server = await startHttpServer({
      port: this.#options.port ?? 8080,
      host: this.#options.host,
      registry: this.registry,
      health: this,
    });
    this.#logger.info({ port: this.#server.port, identity: this.#options.identity }, 'serving /healthz, /readyz and /metrics');
    for (const [kind, informer] of Object.entries(this.#informers) as [Kind, Informer<KubernetesObject>][]) {
      informer.start();
      void informer.waitForSync(this.#electorAbort.signal).then((synced) => {
        if (synced) this.#syncedGauge.set({ resource: KIND_DEFINITIONS[kind].plural }, 1);
      });
    }
    // Campaign only once every cache is complete, so the first reconciles see the whole world.
    await Promise.all(Object.values(this.#informers).map((informer) => informer.waitForSync(this.#electorAbort.signal)));
    if (this.#electorAbort.signal.aborted) return;
    this.#logger.info({}, 'caches synced; campaigning for leadership');
    this.#election = this.#elector.run(this.#electorAbort.signal);
  }

  /** SIGTERM: take no new work, let in-flight reconciles finish, release the Lease, stop watching. */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const grace = this.#options.shutdownGraceMs ?? 10_000;
    this.#logger.info({ graceMs: grace }, 'shutting down');
    const reports = await Promise.all(Object.values(this.#controllers).map((controller) => controller.shutDown(grace)));
    const unfinished = reports.flatMap((report) => report.unfinished);
    if (unfinished.length > 0) this.#logger.warn({ unfinished }, 'reconciles still running at the end of the grace period were aborted');
    this.#electorAbort.abort();
    await this.#election;
    await Promise.all(Object.values(this.#informers).map((informer) => informer.stop()));
    await this.#server?.close();
    this.#logger.info({}, 'stopped');
  }
}
