// Kubernetes Events on the objects the operator manages (`kubectl describe` and `kubectl events`
// show them; the audit trail of who changed what stays in the apiserver's audit log). Events
// are best effort: failing to record one is logged and never fails a reconcile.
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from './kube-request.ts';
import type { Logger } from './logger.ts';
import { collectionPath } from './resource.ts';
import type { Clock } from './types.ts';

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(subject: EventSubject, type: EventType, reason: string, message: string): Promise<void>;
}

export const REPORTING_CONTROLLER = 'saasbackup.io/controller';

/** Builds the core/v1 Event (pure, so its shape is unit-tested). */
export function buildEvent(subject: EventSubject, type: EventType, reason: string, message: string, now: Date, instance: string) {
  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${subject.metadata.name}.`, namespace: subject.metadata.namespace },
    involvedObject: {
      apiVersion: subject.apiVersion,
      kind: subject.kind,
      name: subject.metadata.name,
      namespace: subject.metadata.namespace,
      uid: subject.metadata.uid,
      resourceVersion: subject.metadata.resourceVersion,
    },
    type,
    reason,
    // The apiserver limits an Event message to 1 KiB.
    message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
    source: { component: 'saasbackup-controller' },
    reportingComponent: REPORTING_CONTROLLER,
    reportingInstance: instance,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}

export function kubeEventRecorder(kubeConfig: KubeConfig, options: { clock: Clock; logger: Logger; instance: string }): EventRecorder {
  return {
    async record(subject, type, reason, message) {
      const event = buildEvent(subject, type, reason, message, options.clock.now(), options.instance);
      try {
        await kubeRequest(kubeConfig, {
          method: 'POST',
          path: collectionPath({ group: '', version: 'v1', plural: 'events' }, subject.metadata.namespace),
          body: event,
        });
      } catch (error) {
        options.logger.warn(
          { err: (error as Error).message, kind: subject.kind, namespace: subject.metadata.namespace, name: subject.metadata.name, reason },
          'could not record event',
        );
      }
    },
  };
}
