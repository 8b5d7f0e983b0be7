// Which API resource an informer, a patch or a request is about, and its REST paths. One generic
// path builder serves custom resources and built-in kinds alike (Secrets, Jobs, Leases).

export interface ResourceRef {
  /** API group; '' for the core group (Secrets, ConfigMaps, Pods). */
  group: string;
  version: string;
  /** Lower-case plural resource name, as in the URL (`backuppolicies`, `jobs`, `secrets`). */
  plural: string;
}

export const secretsResource: ResourceRef = { group: '', version: 'v1', plural: 'secrets' };
export const jobsResource: ResourceRef = { group: 'batch', version: 'v1', plural: 'jobs' };
export const leasesResource: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

export function apiVersionOf(resource: ResourceRef): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** `/api/v1/namespaces/ns/secrets`, or across all namespaces when `namespace` is undefined. */
export function collectionPath(resource: ResourceRef, namespace?: string): string {
  const root = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const scope = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${root}${scope}/${resource.plural}`;
}

/** Path of one object, optionally of a subresource such as `status`. */
export function objectPath(resource: ResourceRef, namespace: string | undefined, name: string, subresource?: string): string {
  const path = `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
  return subresource === undefined ? path : `${path}/${subresource}`;
}
