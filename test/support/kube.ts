// Test helpers for talking to the real apiserver the way kubectl does: server-side apply with
// strict field validation, reads, and polling until the world reaches a state.
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KINDS } from '../../src/api/kinds.ts';
import { GROUP, VERSION } from '../../src/api/kind.ts';
import { kubeRequest } from '../../src/runtime/kube-request.ts';
import { collectionPath, objectPath, type ResourceRef } from '../../src/runtime/resource.ts';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

interface ResourceInfo extends ResourceRef {
  namespaced: boolean;
}

const RESOURCES: Record<string, ResourceInfo> = {
  'v1/Namespace': { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  'v1/Secret': { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  'v1/ServiceAccount': { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
  'v1/Service': { group: '', version: 'v1', plural: 'services', namespaced: true },
  'apps/v1/Deployment': { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterroles',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/Role': { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    plural: 'rolebindings',
    namespaced: true,
  },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  ...Object.fromEntries(
    KINDS.map((kind) => [`${GROUP}/${VERSION}/${kind.kind}`, { group: GROUP, version: VERSION, plural: kind.plural, namespaced: true }]),
  ),
};

export function resourceOf(apiVersion: string, kind: string): ResourceInfo {
  const info = RESOURCES[`${apiVersion}/${kind}`];
  if (!info) throw new Error(`test support does not know ${apiVersion} ${kind}`);
  return info;
}

export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

/** The resource of a manifest, the namespace it goes to, and the body with that namespace set. */
function locate(manifest: Manifest, namespace: string | undefined) {
  const info = resourceOf(manifest.apiVersion, manifest.kind);
  const ns = info.namespaced ? (manifest.metadata.namespace ?? namespace) : undefined;
  if (info.namespaced && !ns) throw new Error(`${manifest.kind} ${manifest.metadata.name} needs a namespace`);
  return { info, ns, body: { ...manifest, metadata: { ...manifest.metadata, ...(ns ? { namespace: ns } : {}) } } };
}

/** Server-side apply, as `kubectl apply --server-side` does, with strict field validation. */
export async function apply<T = Manifest>(kc: KubeConfig, manifest: Manifest, namespace?: string): Promise<T> {
  const { info, ns, body } = locate(manifest, namespace);
  return kubeRequest<T>(kc, {
    method: 'PATCH',
    path: objectPath(info, ns, manifest.metadata.name),
    query: { fieldManager: 'kubectl', fieldValidation: 'Strict', force: true },
    contentType: 'application/apply-patch+yaml',
    body,
  });
}

/** Creates the object (POST), as `kubectl create` does, with strict field validation. */
export async function create<T = Manifest>(kc: KubeConfig, manifest: Manifest, namespace?: string): Promise<T> {
  const { info, ns, body } = locate(manifest, namespace);
  return kubeRequest<T>(kc, { method: 'POST', path: collectionPath(info, ns), query: { fieldValidation: 'Strict' }, body });
}

export async function get<T = Manifest>(
  kc: KubeConfig,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  name: string,
): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, { method: 'GET', path: objectPath(resourceOf(apiVersion, kind), namespace, name) });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

export async function remove(kc: KubeConfig, apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<void> {
  try {
    await kubeRequest(kc, { method: 'DELETE', path: objectPath(resourceOf(apiVersion, kind), namespace, name) });
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
}

/** Polls `probe` until it returns a value other than undefined/false, or fails with the last observation. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'condition'}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

let namespaceCounter = 0;

/** Creates a fresh namespace for one test file or test. */
export async function freshNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++namespaceCounter}-${Date.now().toString(36)}`.slice(0, 63);
  await apply(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export const API_VERSION = `${GROUP}/${VERSION}`;
