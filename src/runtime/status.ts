// Status is written only through the /status subresource with server-side apply under the
// operator's own field manager: the operator owns status and nothing else, spec stays the users'
// (no drift for Argo CD), and force=true takes over fields a previous writer may have left.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { kubeRequest } from './kube-request.ts';
import { apiVersionOf, objectPath, type ResourceRef } from './resource.ts';

export const FIELD_MANAGER = 'saasbackup-controller';

const APPLY_PATCH = 'application/apply-patch+yaml';

export interface StatusTarget extends ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

/** The apply configuration: identity of the object plus the full status this manager owns. */
export function statusApplyConfiguration(target: StatusTarget, status: object): object {
  return {
    apiVersion: apiVersionOf(target),
    kind: target.kind,
    metadata: { name: target.name, namespace: target.namespace },
    status,
  };
}

/**
 * Applies `status` as the whole status owned by `saasbackup-controller`: fields it set before and
 * leaves out now are removed. Returns the object as stored. Throws ApiException (404 when the
 * object is gone).
 */
export async function applyStatus<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  target: StatusTarget,
  status: object,
  signal?: AbortSignal,
): Promise<T> {
  return kubeRequest<T>(kubeConfig, {
    method: 'PATCH',
    path: objectPath(target, target.namespace, target.name, 'status'),
    query: { fieldManager: FIELD_MANAGER, force: true },
    // JSON is valid YAML, so the apply patch is sent as JSON.
    contentType: APPLY_PATCH,
    body: statusApplyConfiguration(target, status),
    signal,
  });
}
