// The HTTP layer every Microsoft Graph call of the worker goes through: the real Graph client
// with our middleware in place of its default retry handler. Throttling and faults are handled
// here, in one place: at most 4 requests in flight per mailbox and a per-mailbox request budget
// below Microsoft's 10,000 per 10 minutes, a tenant-wide resource-unit budget for OneDrive and
// SharePoint, Retry-After honoured (and the whole mailbox paused, since Microsoft throttles the
// mailbox, not the request), exponential backoff with jitter for 5xx and connection resets.
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthenticationHandler, Client, HTTPMessageHandler } from '@microsoft/microsoft-graph-client';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { KeyedLimiter } from '../http/limiter.ts';
import { DEFAULT_RETRY, retryDecision } from '../http/retry.ts';
import type { RetryCause, RetryPolicy } from '../http/retry.ts';
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
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.cause?.code ?? e?.code;
}

export class GraphGovernor implements Middleware {
  readonly stats: GraphHttpStats = { requests: 0, retries: { throttled: 0, unavailable: 0, server: 0, network: 0 }, throttled: 0 };
  /** Requests Microsoft lets run side by side per mailbox, as this governor keeps them. */
  readonly mailboxConcurrency: number;
  private readonly mailboxes: KeyedLimiter;
  private readonly tenantUnits: KeyedLimiter;
  private readonly tenant: KeyedLimiter;
  private readonly retry: RetryPolicy;
  private next: Middleware | undefined;

  constructor(budget: Partial<GraphBudget> = {}, retry: RetryPolicy = DEFAULT_RETRY) {
    const b = { ...DEFAULT_GRAPH_BUDGET, ...budget };
    this.mailboxConcurrency = b.mailboxConcurrency;
    this.mailboxes = new KeyedLimiter({ concurrency: b.mailboxConcurrency, budget: b.mailboxRequests, windowMs: b.mailboxWindowMs });
    this.tenantUnits = new KeyedLimiter({ concurrency: 0, budget: b.tenantResourceUnits, windowMs: b.tenantWindowMs });
    this.tenant = new KeyedLimiter({ concurrency: b.tenantConcurrency, budget: 0, windowMs: 1 });
    this.retry = retry;
  }

  /** Holds a mailbox's requests back (a 429 inside a batch answer says so, part by part). */
  pauseMailbox(mailbox: string, ms: number): void {
    this.mailboxes.pause(mailbox.toLowerCase(), ms);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    if (!this.next) throw new Error('GraphGovernor needs a next middleware');
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const pacing = pacingOfRequest(url, context.options?.body);
    for (let attempt = 1; ; attempt++) {
      const releases: (() => void)[] = [];
      if (pacing.resourceUnits) releases.push(await this.tenantUnits.acquire('tenant', pacing.resourceUnits));
      for (const m of pacing.mailboxes) releases.push(await this.mailboxes.acquire(m.mailbox, m.cost, m.slots));
      releases.push(await this.tenant.acquire('tenant'));
      let status: number | undefined;
      let code: string | undefined;
      let failure: unknown;
      this.stats.requests++;
      try {
        context.response = undefined;
        await this.next.execute(context);
        status = (context.response as Response | undefined)?.status;
      } catch (err) {
        failure = err;
        code = errorCode(err);
      } finally {
        for (const release of releases) release();
      }
      if (status === 429) this.stats.throttled++;
      const decision = retryDecision(
        {
          attempt,
          ...(status !== undefined ? { status } : {}),
          ...(code ? { errorCode: code } : {}),
          retryAfter: context.response?.headers.get('retry-after'),
          now: Date.now(),
          random: Math.random(),
        },
        this.retry,
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
        if (!pacing.mailboxes.length && pacing.resourceUnits) this.tenantUnits.pause('tenant', decision.delayMs);
      }
      await sleep(decision.delayMs);
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
