// Reads which keys referenced Secrets have. Secrets are fetched one by one (never listed or
// cached: the controller has `get` on Secrets and nothing more), and their values are dropped
// at once: only key names leave this function.
import { secretsResource, objectPath } from '../runtime/resource.ts';
import { kubeRequest } from '../runtime/kube-request.ts';
import { isNotFound } from '../runtime/api-errors.ts';
import type { SecretKeys } from './verdict.ts';
import type { ControllerContext } from './context.ts';

interface SecretObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export async function loadSecretKeys(
  context: ControllerContext,
  namespace: string,
  names: Iterable<string>,
  signal: AbortSignal,
): Promise<SecretKeys> {
  const keys = new Map<string, ReadonlySet<string>>();
  for (const name of new Set(names)) {
    try {
      const secret = await kubeRequest<SecretObject>(context.kubeConfig, {
        method: 'GET',
        path: objectPath(secretsResource, namespace, name),
        signal,
      });
      keys.set(name, new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return (name) => keys.get(name);
}
