// An informer: a local cache of one resource kept current by LIST then WATCH, with change
// handlers. Like client-go's reflector it relists when the resourceVersion is too old (410 Gone),
// resumes the watch after it ends, and backs off (1 s doubling to 30 s) while the apiserver is
// unreachable, so the controller outlives apiserver restarts.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { isGone, statusCodeOf } from './api-errors.ts';
import { exponentialDelay, type BackoffOptions } from './backoff.ts';
import { kubeListWatch, type KubeListWatchOptions, type ListWatch, type WatchEvent } from './list-watch.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { ResourceRef } from './resource.ts';
import { sleep, systemTimers, type Timers } from '../time/timers.ts';
import { systemClock, type Clock } from './types.ts';

export interface InformerOptions<T> {
  listWatch: ListWatch<T>;
  /** Names the informer in logs, for example the resource plural. */
  name: string;
  /** Delays between failed attempts; default 1 s doubling to 30 s. */
  backoff?: BackoffOptions;
  logger?: Logger;
  clock?: Clock;
  timers?: Timers;
}

// A watch that delivered events or stayed open this long was healthy: resume it without delay.
const HEALTHY_WATCH_MS = 1_000;
const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 30_000, jitter: 0.1 };

export class Informer<T extends KubernetesObject> {
  readonly name: string;
  readonly #listWatch: ListWatch<T>;
  readonly #backoff: BackoffOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #stop = new AbortController();

  #cache = new Map<string, T>();
  #resourceVersion = '';
  #synced = false;
  #syncWaiters: ((synced: boolean) => void)[] = [];
  #running: Promise<void> | undefined;
  readonly #addHandlers: ((obj: T) => void)[] = [];
  readonly #updateHandlers: ((oldObj: T, newObj: T) => void)[] = [];
  readonly #deleteHandlers: ((obj: T) => void)[] = [];

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.#listWatch = options.listWatch;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
  }

  /** Also called at once for every cached object when added after the cache has synced. */
  onAdd(handler: (obj: T) => void): void {
    this.#addHandlers.push(handler);
    if (this.#synced) for (const obj of this.#cache.values()) this.#call(handler, obj);
  }

  onUpdate(handler: (oldObj: T, newObj: T) => void): void {
    this.#updateHandlers.push(handler);
  }

  /** Called with the object's last state. */
  onDelete(handler: (obj: T) => void): void {
    this.#deleteHandlers.push(handler);
  }

  start(): void {
    if (this.#running) return;
    if (this.#stop.signal.aborted) throw new Error(`informer ${this.name} was stopped`);
    // #run never rejects; the catch is a last guard against an unhandled rejection.
    this.#running = this.#run().catch((err: unknown) => {
      this.#logger.error({ informer: this.name, err }, 'informer stopped unexpectedly');
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#resolveSyncWaiters(false);
    await this.#running;
  }

  /** True once the first LIST has filled the cache (and from then on). */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once synced, or false if the informer stops or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (this.#stop.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push((synced) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      });
    });
  }

  /** The resourceVersion the cache is current to. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** A cached object; `namespace` is undefined for cluster-scoped resources. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(cacheKey(namespace, name));
  }

  /** Cached objects, of one namespace or of all. */
  list(namespace?: string): T[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((obj) => obj.metadata?.namespace === namespace);
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let mustList = true;
    let failures = 0;
    while (!signal.aborted) {
      const startedMs = this.#clock.now().getTime();
      let sawEvents = false;
      try {
        if (mustList) {
          await this.#relist(signal);
          mustList = false;
        }
        await this.#listWatch.watch(
          this.#resourceVersion,
          (event) => {
            sawEvents = true;
            this.#apply(event);
          },
          signal,
        );
        this.#logger.debug({ informer: this.name, resourceVersion: this.#resourceVersion }, 'watch ended; resuming');
      } catch (err) {
        if (signal.aborted) break;
        // 410: the resourceVersion is compacted away. Any other apiserver answer (a 504 "too
        // large resource version" after an etcd reset, a 500) also relists, to be safe; a network
        // error only resumes the watch, as the cache is still good.
        mustList = mustList || statusCodeOf(err) !== undefined;
        const message = isGone(err) ? 'resource version too old; relisting' : 'list or watch failed; retrying';
        this.#logger[isGone(err) ? 'info' : 'warn']({ informer: this.name, err, failures }, message);
      }
      if (sawEvents || this.#clock.now().getTime() - startedMs >= HEALTHY_WATCH_MS) failures = 0;
      // The first retry after a healthy spell is immediate (a 410 relists at once); a watch that
      // keeps failing or ending at once backs off.
      if (failures > 0) await sleep(this.#timers, exponentialDelay(failures - 1, this.#backoff), signal);
      failures++;
    }
  }

  /** LIST, then replace the cache, emitting what changed since the previous state. */
  async #relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.#listWatch.list(signal);
    if (signal.aborted) return;
    const previous = this.#cache;
    const next = new Map<string, T>();
    for (const obj of items) next.set(objectKey(obj), obj);
    this.#cache = next;
    this.#resourceVersion = resourceVersion;

    for (const [key, old] of previous) {
      if (!next.has(key)) this.#emitDelete(old);
    }
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) this.#emitAdd(obj);
      // Unchanged objects stay quiet, so a relist after an apiserver restart does not wake every
      // reconciler at once.
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emitUpdate(old, obj);
    }
    if (!this.#synced) {
      this.#synced = true;
      this.#logger.info({ informer: this.name, objects: next.size }, 'cache synced');
      this.#resolveSyncWaiters(true);
    }
  }

  #apply(event: WatchEvent<T>): void {
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (resourceVersion) this.#resourceVersion = resourceVersion;
      return;
    }
    const key = objectKey(event.object);
    const old = this.#cache.get(key);
    if (event.type === 'DELETED') {
      this.#cache.delete(key);
      this.#emitDelete(event.object);
    } else {
      this.#cache.set(key, event.object);
      if (old) this.#emitUpdate(old, event.object);
      else this.#emitAdd(event.object);
    }
    if (resourceVersion) this.#resourceVersion = resourceVersion;
  }

  #emitAdd(obj: T): void {
    for (const handler of this.#addHandlers) this.#call(handler, obj);
  }

  #emitUpdate(oldObj: T, newObj: T): void {
    for (const handler of this.#updateHandlers) this.#call(handler, oldObj, newObj);
  }

  #emitDelete(obj: T): void {
    for (const handler of this.#deleteHandlers) this.#call(handler, obj);
  }

  /** A throwing handler is logged; it must not break the cache or the other handlers. */
  #call<A extends unknown[]>(handler: (...args: A) => void, ...args: A): void {
    try {
      handler(...args);
    } catch (err) {
      this.#logger.error({ informer: this.name, err }, 'informer event handler threw');
    }
  }

  #resolveSyncWaiters(synced: boolean): void {
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const resolve of waiters) resolve(synced);
  }
}

/** An informer over the apiserver for `resource` (custom or built-in), in one namespace or all. */
export function createKubeInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  resource: ResourceRef,
  options: KubeListWatchOptions & Omit<InformerOptions<T>, 'listWatch' | 'name'> & { name?: string } = {},
): Informer<T> {
  return new Informer<T>({
    ...options,
    name: options.name ?? resource.plural,
    listWatch: kubeListWatch<T>(kubeConfig, resource, options),
  });
}

function cacheKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function objectKey(obj: KubernetesObject): string {
  return cacheKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
}
