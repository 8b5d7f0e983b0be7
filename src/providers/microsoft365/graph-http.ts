// The HTTP layer every Microsoft Graph call of the worker goes through: the real Graph client
// with our middleware in place of its default retry handler. Throttling and faults are handled
// here, in one place: at most 4 requests in flight per mailbox and a per-mailbox request budget
// below Microsoft's 10,000 per 10 minutes, a tenant-wide resource-unit budget for OneDrive and
// SharePoint, Retry-After honoured (and the whole mailbox paused, since Microsoft throttles the
// mailbox, not the request), exponential backoff with jitter for 5xx and connection resets.
// Every one of those waits ends when the run's signal aborts.
import { AuthenticationHandler, Client, HTTPMessageHandler } from '@microsoft/microsoft-graph-client';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { KeyedLimiter } from '../http/limiter.ts';
import { DEFAULT_RETRY, retryDecision } from '../http/retry.ts';
import type { RetryCause, RetryPolicy } from '../http/retry.ts';
import { sleep, systemTimers } from '../../time/timers.ts';
import type { Timers } from '../../time/timers.ts';
import { systemClock } from '../../time/clock.ts';
import type { Clock } from '../../time/clock.ts';
import type { MicrosoftAuth } from './auth.ts';

export interface GraphBudget {
  /** Requests in flight per mailbox (Microsoft allows 4). */
  mailboxConcurrency: number;
  /** Requests per mailbox per window (Microsoft allows 10,000 per 10 minutes; keep a margin). */
  mailboxRequests: number;
  mailboxWindowMs: number;
  /** Resource units per tenant per window for OneDrive and SharePoint; 0 for no limit. */
  tenantResourceUnits: number;
  tenantWindowMs: number;
  /** Requests in flight for the whole tenant, all mailboxes together. */
  tenantConcurrency: number;
}

export const DEFAULT_GRAPH_BUDGET: GraphBudget = {
  mailboxConcurrency: 4,
  mailboxRequests: 9_500,
  mailboxWindowMs: 600_000,
  tenantResourceUnits: 0,
  tenantWindowMs: 300_000,
  tenantConcurrency: 64,
};

export interface GraphHttpStats {
  requests: number;
  retries: Record<RetryCause, number>;
  /** Responses 429 from the source (what the throttling metric counts). */
  throttled: number;
  /** Requests sleeping right now before their next attempt (Retry-After or backoff). */
  waitingToRetry: number;
}

/** How a Graph URL is paced: the mailbox it touches, or the tenant's resource-unit budget. */
export function pacingOf(url: string): { mailbox?: string; resourceUnits?: number } {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return {};
  }
  const segments = path.split('/').filter(Boolean);
  const rest = segments[0]?.toLowerCase().startsWith('v1') || segments[0] === 'beta' ? segments.slice(1) : segments;
  const [root, id, child] = rest.map((s) => decodeURIComponent(s));
  const lowerRoot = root?.toLowerCase();
  if (lowerRoot === 'drives' || lowerRoot === 'sites' || (lowerRoot === 'users' && child?.toLowerCase().startsWith('drive'))) {
    const isDelta = /\/delta/i.test(path);
    const withToken = /token=/i.test(url);
    return { resourceUnits: isDelta && !withToken ? 2 : 1 };
  }
  if (lowerRoot === 'users' && id && child) return { mailbox: id.toLowerCase() };
  return {};
}

/** What one request (or every part of a `$batch`) costs: per mailbox, budget units and slots; tenant resource units. */
export interface Pacing {
  mailboxes: { mailbox: string; cost: number; slots: number }[];
  resourceUnits: number;
}

interface BatchBody {
  requests?: { url?: string; dependsOn?: string[] }[];
}

/**
 * The pacing of a request. A `$batch` is paced by its parts, as Graph evaluates them: each part
 * spends its mailbox's budget, and the parts that do not depend on another run side by side at
 * the service, so each of those takes one of the mailbox's concurrent slots.
 */
export function pacingOfRequest(url: string, body: unknown): Pacing {
  let isBatch = false;
  try {
    isBatch = /\/\$batch$/i.test(new URL(url).pathname);
  } catch {
    // not a URL: paced as nothing in particular
  }
  if (!isBatch || typeof body !== 'string') {
    const single = pacingOf(url);
    return { mailboxes: single.mailbox ? [{ mailbox: single.mailbox, cost: 1, slots: 1 }] : [], resourceUnits: single.resourceUnits ?? 0 };
  }
  let parts: BatchBody['requests'] = [];
  try {
    parts = (JSON.parse(body) as BatchBody).requests ?? [];
  } catch {
    // Graph refuses it with 400; nothing to pace
  }
  const base = new URL(url);
  const mailboxes = new Map<string, { mailbox: string; cost: number; slots: number }>();
  let resourceUnits = 0;
  for (const part of parts ?? []) {
    const p = pacingOf(
      new URL(`${base.pathname.replace(/\/\$batch$/i, '')}${part.url?.startsWith('/') ? '' : '/'}${part.url ?? ''}`, base).toString(),
    );
    resourceUnits += p.resourceUnits ?? 0;
    if (!p.mailbox) continue;
    const m = mailboxes.get(p.mailbox) ?? { mailbox: p.mailbox, cost: 0, slots: 0 };
    m.cost++;
    if (!part.dependsOn?.length) m.slots++;
    mailboxes.set(p.mailbox, m);
  }
  // Always in the same order, so two batches over the same mailboxes cannot hold each other's slots.
  return { mailboxes: [...mailboxes.values()].sort((a, b) => a.mailbox.localeCompare(b.mailbox)), resourceUnits };
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = e?.cause?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface GraphGovernorOptions {
  budget?: Partial<GraphBudget>;
  retry?: RetryPolicy;
  /**
   * The run's signal: once it aborts, no request is sent any more, requests in flight are
   * aborted, and every wait (a slot, the budget, a paused mailbox, Retry-After, backoff) ends at
   * once. The request then rejects with the signal's reason (a DOMException named AbortError
   * unless the caller gave another), which callers pass on unchanged.
   */
  signal?: AbortSignal;
  clock?: Clock;
  timers?: Timers;
  /** Uniform in [0, 1), for the backoff's jitter. */
  random?: () => number;
}

export class GraphGovernor implements Middleware {
  readonly stats: GraphHttpStats = {
    requests: 0,
    retries: { throttled: 0, unavailable: 0, server: 0, network: 0 },
    throttled: 0,
    waitingToRetry: 0,
  };
  /** Requests Microsoft lets run side by side per mailbox, as this governor keeps them. */
  readonly mailboxConcurrency: number;
  readonly #mailboxes: KeyedLimiter;
  readonly #tenantUnits: KeyedLimiter;
  readonly #tenant: KeyedLimiter;
  readonly #retry: RetryPolicy;
  readonly #signal: AbortSignal | undefined;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #random: () => number;
  #next: Middleware | undefined;

  constructor(options: GraphGovernorOptions = {}) {
    const b = { ...DEFAULT_GRAPH_BUDGET, ...options.budget };
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? systemTimers;
    this.#random = options.random ?? Math.random;
    this.#signal = options.signal;
    const time = { clock: this.#clock, timers: this.#timers };
    this.mailboxConcurrency = b.mailboxConcurrency;
    this.#mailboxes = new KeyedLimiter({ concurrency: b.mailboxConcurrency, budget: b.mailboxRequests, windowMs: b.mailboxWindowMs }, time);
    this.#tenantUnits = new KeyedLimiter({ concurrency: 0, budget: b.tenantResourceUnits, windowMs: b.tenantWindowMs }, time);
    this.#tenant = new KeyedLimiter({ concurrency: b.tenantConcurrency, budget: 0, windowMs: 1 }, time);
    this.#retry = options.retry ?? DEFAULT_RETRY;
  }

  /** Holds a mailbox's requests back (a 429 inside a batch answer says so, part by part). */
  pauseMailbox(mailbox: string, ms: number): void {
    this.#mailboxes.pause(mailbox.toLowerCase(), ms);
  }

  setNext(next: Middleware): void {
    this.#next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.#next;
    if (!next) throw new Error('GraphGovernor needs a next middleware');
    const signal = this.#signal;
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const pacing = pacingOfRequest(url, context.options?.body);
    if (signal) {
      // A signal of its own per request: fetch listens on it, and the run's signal only holds it weakly.
      const own = context.options?.signal;
      context.options = { ...context.options, signal: AbortSignal.any(own ? [signal, own] : [signal]) };
    }
    for (let attempt = 1; ; attempt++) {
      const releases = await this.#admit(pacing);
      let status: number | undefined;
      let code: string | undefined;
      let failure: unknown;
      this.stats.requests++;
      try {
        context.response = undefined;
        await next.execute(context);
        status = (context.response as Response | undefined)?.status;
      } catch (err) {
        failure = err;
        code = errorCode(err);
      } finally {
        for (const release of releases) release();
      }
      // Whatever went wrong, a stopped run is what the caller must hear about.
      if (failure !== undefined) signal?.throwIfAborted();
      if (status === 429) this.stats.throttled++;
      const decision = retryDecision(
        {
          attempt,
          ...(status !== undefined ? { status } : {}),
          ...(code ? { errorCode: code } : {}),
          retryAfter: context.response?.headers.get('retry-after'),
          now: this.#clock.now().getTime(),
          random: this.#random(),
        },
        this.#retry,
      );
      if (!decision.retry) {
        if (failure) throw failure;
        return;
      }
      this.stats.retries[decision.cause]++;
      // Drain the refused response so its connection can be reused.
      await context.response?.arrayBuffer().catch(() => undefined);
      if (decision.cause === 'throttled') {
        for (const m of pacing.mailboxes) this.pauseMailbox(m.mailbox, decision.delayMs);
        if (!pacing.mailboxes.length && pacing.resourceUnits) this.#tenantUnits.pause('tenant', decision.delayMs);
      }
      this.stats.waitingToRetry++;
      try {
        await sleep(this.#timers, decision.delayMs, signal);
      } finally {
        this.stats.waitingToRetry--;
      }
      signal?.throwIfAborted();
    }
  }

  /** Takes what the request needs from every limiter, or nothing when the run stops meanwhile. */
  async #admit(pacing: Pacing): Promise<(() => void)[]> {
    const signal = this.#signal;
    const releases: (() => void)[] = [];
    try {
      signal?.throwIfAborted();
      if (pacing.resourceUnits) releases.push(await this.#tenantUnits.acquire('tenant', pacing.resourceUnits, 1, signal));
      for (const m of pacing.mailboxes) releases.push(await this.#mailboxes.acquire(m.mailbox, m.cost, m.slots, signal));
      releases.push(await this.#tenant.acquire('tenant', 1, 1, signal));
      // Granted in the same turn as the abort: not sent.
      signal?.throwIfAborted();
      return releases;
    } catch (err) {
      for (const release of releases) release();
      throw err;
    }
  }
}

/** A Graph client for the worker: msal tokens (or `accessToken`), our governor, Node's fetch. */
export function createGraphClient(
  auth: MicrosoftAuth,
  governor: GraphGovernor,
  accessToken: () => Promise<string> = async () => (await auth.token()).token,
): Client {
  const authentication = new AuthenticationHandler({ getAccessToken: accessToken });
  const transport = new HTTPMessageHandler();
  authentication.setNext(governor);
  governor.setNext(transport);
  return Client.initWithMiddleware({
    baseUrl: `${auth.endpoints.graphBaseUrl}/`,
    customHosts: new Set([new URL(auth.endpoints.graphBaseUrl).hostname]),
    middleware: authentication,
  });
}
