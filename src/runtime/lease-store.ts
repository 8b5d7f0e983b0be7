// Reads and writes the coordination.k8s.io/v1 Lease used for leader election. Writes carry the
// resourceVersion that was read, so of two replicas racing for the lease exactly one wins and the
// other gets 409 Conflict.
import type { KubeConfig } from '@kubernetes/client-node';
import { isNotFound } from './api-errors.ts';
import { kubeRequest } from './kube-request.ts';
import type { LeaseRecord } from './leader-election.ts';
import { collectionPath, leasesResource, objectPath } from './resource.ts';

export interface LeaseSnapshot {
  record: LeaseRecord;
  resourceVersion: string;
}

export interface LeaseStore {
  /** `namespace/name` of the Lease, for logs. */
  readonly description: string;
  /** The lease, or undefined when it does not exist yet. */
  get(signal?: AbortSignal): Promise<LeaseSnapshot | undefined>;
  /** Creates the lease; 409 when another replica created it first. */
  create(record: LeaseRecord, signal?: AbortSignal): Promise<LeaseSnapshot>;
  /** Replaces the spec if the lease is still at `resourceVersion`; 409 otherwise. */
  update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<LeaseSnapshot>;
}

/** A coordination.k8s.io/v1 Lease as the apiserver returns it. */
export interface LeaseObject {
  metadata?: { name?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export function kubeLeaseStore(kubeConfig: KubeConfig, namespace: string, name: string): LeaseStore {
  const toObject = (record: LeaseRecord, resourceVersion?: string): object => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
    spec: {
      // An empty holder is written as no holder, which every client reads as "free".
      ...(record.holderIdentity === '' ? {} : { holderIdentity: record.holderIdentity }),
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: record.acquireTime,
      renewTime: record.renewTime,
      leaseTransitions: record.leaseTransitions,
    },
  });

  return {
    description: `${namespace}/${name}`,
    async get(signal) {
      try {
        const lease = await kubeRequest<LeaseObject>(kubeConfig, {
          method: 'GET',
          path: objectPath(leasesResource, namespace, name),
          signal,
        });
        return toSnapshot(lease);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(record, signal) {
      const lease = await kubeRequest<LeaseObject>(kubeConfig, {
        method: 'POST',
        path: collectionPath(leasesResource, namespace),
        body: toObject(record),
        signal,
      });
      return toSnapshot(lease);
    },
    async update(record, resourceVersion, signal) {
      const lease = await kubeRequest<LeaseObject>(kubeConfig, {
        method: 'PUT',
        path: objectPath(leasesResource, namespace, name),
        body: toObject(record, resourceVersion),
        signal,
      });
      return toSnapshot(lease);
    },
  };
}

function toSnapshot(lease: LeaseObject): LeaseSnapshot {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: spec.acquireTime,
      renewTime: spec.renewTime,
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}
