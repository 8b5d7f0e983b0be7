// What every reconciler is given: caches to read from, and the ways it may write to the world.
import type { KubeConfig } from '@kubernetes/client-node';
import type { BackupPolicy } from '../api/backup-policy.ts';
import type { BackupRun } from '../api/backup-run.ts';
import type { Connector } from '../api/connector.ts';
import type { ObjectExclusion } from '../api/object-exclusion.ts';
import type { RestoreRequest } from '../api/restore-request.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Clock } from '../runtime/types.ts';

/** A read-only view of an informer cache. */
export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

export interface Caches {
  connectors: ObjectCache<Connector>;
  policies: ObjectCache<BackupPolicy>;
  runs: ObjectCache<BackupRun>;
  restores: ObjectCache<RestoreRequest>;
  exclusions: ObjectCache<ObjectExclusion>;
}

export interface ControllerContext {
  kubeConfig: KubeConfig;
  caches: Caches;
  events: EventRecorder;
  clock: Clock;
  logger: Logger;
}

/**
 * How long to wait before looking again at something the operator cannot watch: Secrets (the
 * controller may only `get` them). Short, because `kubectl apply -f dir/` often creates a Secret
 * just after the object that names it; one GET per interval per broken object is cheap.
 */
export const RECHECK_AFTER_MS = 10_000;
