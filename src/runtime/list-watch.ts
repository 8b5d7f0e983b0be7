// LIST and WATCH of one resource against the apiserver, behind the small `ListWatch` interface the
// informer consumes (and tests fake). Works for any resource path: custom objects, Secrets, Jobs,
// Leases; all namespaces or one.
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { WatchError } from './api-errors.ts';
import { kubeRequest } from './kube-request.ts';
import { collectionPath, type ResourceRef } from './resource.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface ListResult<T> {
  items: T[];
  /** The list's resourceVersion, to watch from. */
  resourceVersion: string;
}

export interface ListWatch<T> {
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /**
   * Streams the changes after `resourceVersion`. Resolves when the server ends the watch normally;
   * rejects when it fails, with a status code of 410 when the resourceVersion is too old.
   * `onEvent` must not throw.
   */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export interface KubeListWatchOptions {
  /** Only this namespace; all namespaces when undefined. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per LIST page. */
  pageSize?: number;
  /** Longest a LIST request may take before it counts as failed. */
  listTimeoutMs?: number;
}

interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

const WATCH_EVENT_TYPES = new Set<string>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);

export function kubeListWatch<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  resource: ResourceRef,
  options: KubeListWatchOptions = {},
): ListWatch<T> {
  const path = collectionPath(resource, options.namespace);
  const selectors = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };

  return {
    async list(signal) {
      const items: T[] = [];
      let continueToken: string | undefined;
      let resourceVersion: string;
      do {
        const page = await kubeRequest<ListPage<T>>(kubeConfig, {
          method: 'GET',
          path,
          query: { ...selectors, limit: options.pageSize ?? 500, continue: continueToken },
          signal: AbortSignal.any([signal, AbortSignal.timeout(options.listTimeoutMs ?? 60_000)]),
        });
        // Items of a built-in list carry no apiVersion/kind; fill them in so that every cached
        // object looks like one read by GET or WATCH.
        const kind = page.kind?.replace(/List$/, '');
        for (const item of page.items ?? []) items.push({ apiVersion: page.apiVersion, kind, ...item });
        resourceVersion = page.metadata?.resourceVersion ?? '';
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken);
      return { items, resourceVersion };
    },

    watch(resourceVersion, onEvent, signal) {
      return new Promise<void>((resolve, reject) => {
        let request: AbortController | undefined;
        let settled = false;
        const finish = (err?: unknown): void => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          request?.abort();
          if (err) reject(err);
          else resolve();
        };
        const onAbort = (): void => finish(new Error('watch stopped'));
        signal.addEventListener('abort', onAbort, { once: true });

        const query = {
          ...selectors,
          resourceVersion,
          allowWatchBookmarks: true,
          // Like client-go, spread reconnections of many watches over 5 to 10 minutes.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        };
        const onLine = (type: string, object: unknown): void => {
          if (settled) return;
          if (type === 'ERROR') return finish(new WatchError(object as ConstructorParameters<typeof WatchError>[0]));
          if (WATCH_EVENT_TYPES.has(type)) onEvent({ type: type as WatchEventType, object: object as T });
        };
        const onDone = (err: unknown): void => {
          // The client closes a watch that has been silent for 30 s; that is a normal end, and the
          // informer resumes from the last resourceVersion it saw.
          if ((err as { name?: unknown } | null)?.name === 'TimeoutError') return finish();
          finish(err ?? undefined);
        };
        new Watch(kubeConfig)
          .watch(path, query, onLine, onDone)
          .then((controller) => {
            request = controller;
            if (settled) controller.abort();
          })
          .catch(finish);
      });
    },
  };
}
