// Adding and removing a finalizer. The merge patch carries the resourceVersion that was read, so
// it replaces the finalizer list only if nobody changed the object since (409 Conflict otherwise,
// and the reconcile retries with fresh data); other controllers' finalizers are never lost.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from './kube-request.ts';
import { objectPath, type ResourceRef } from './resource.ts';

const MERGE_PATCH = 'application/merge-patch+json';

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** The merge patch that sets `finalizers`, guarded by the object's resourceVersion. */
export function finalizersPatch(obj: KubernetesObject, finalizers: string[]): object {
  const resourceVersion = obj.metadata?.resourceVersion;
  if (!resourceVersion) throw new Error('object has no resourceVersion; read it from the apiserver first');
  return { metadata: { resourceVersion, finalizers } };
}

/** Adds `finalizer` unless present. Returns the stored object (or `obj` when nothing changed). */
export async function addFinalizer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  resource: ResourceRef,
  obj: T,
  finalizer: string,
  signal?: AbortSignal,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  const finalizers = [...(obj.metadata?.finalizers ?? []), finalizer];
  return patchFinalizers(kubeConfig, resource, obj, finalizers, signal);
}

/** Removes `finalizer` if present. Returns the stored object (or `obj` when nothing changed). */
export async function removeFinalizer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  resource: ResourceRef,
  obj: T,
  finalizer: string,
  signal?: AbortSignal,
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  const finalizers = (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
  return patchFinalizers(kubeConfig, resource, obj, finalizers, signal);
}

function patchFinalizers<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  resource: ResourceRef,
  obj: T,
  finalizers: string[],
  signal?: AbortSignal,
): Promise<T> {
  const name = obj.metadata?.name;
  if (!name) throw new Error('object has no metadata.name');
  return kubeRequest<T>(kubeConfig, {
    method: 'PATCH',
    path: objectPath(resource, obj.metadata?.namespace, name),
    contentType: MERGE_PATCH,
    body: finalizersPatch(obj, finalizers),
    signal,
  });
}
