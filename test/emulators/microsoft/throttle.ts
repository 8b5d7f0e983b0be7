// Throttling as Microsoft documents it for Outlook resources (per app and mailbox: 10,000 requests
// in a 10-minute window and 4 concurrent requests) and for OneDrive/SharePoint (a per-tenant budget
// of resource units per window). A refused request gets 429 with `Retry-After` in seconds and the
// error Graph sends: code ApplicationThrottled for both the request rate and the concurrency limit
// (the message names the limit: "Application is over its MailboxConcurrency limit."). Everything
// is configurable and off by default.
import { GraphError } from './http/types.ts';

export interface ThrottleOptions {
  /** Requests per app and mailbox per window; 0 turns the rate limit off. */
  mailboxRequests: number;
  mailboxWindowMs: number;
  /** Concurrent requests per app and mailbox; 0 turns the limit off. */
  mailboxConcurrency: number;
  /** Resource units per tenant per window for OneDrive/SharePoint; 0 turns the budget off. */
  tenantResourceUnits: number;
  tenantWindowMs: number;
}

export const MICROSOFT_LIMITS: ThrottleOptions = {
  mailboxRequests: 10_000,
  mailboxWindowMs: 600_000,
  mailboxConcurrency: 4,
  tenantResourceUnits: 18_750,
  tenantWindowMs: 300_000,
};

export const NO_LIMITS: ThrottleOptions = {
  mailboxRequests: 0,
  mailboxWindowMs: 600_000,
  mailboxConcurrency: 0,
  tenantResourceUnits: 0,
  tenantWindowMs: 300_000,
};

/** Timestamps of accepted requests in a sliding window (a ring that grows as needed). */
class SlidingWindow {
  private times: number[] = [];
  private head = 0;
  private weights: number[] = [];
  private total = 0;

  used(now: number, windowMs: number): number {
    while (this.head < this.times.length && (this.times[this.head] as number) <= now - windowMs) {
      this.total -= this.weights[this.head] as number;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.weights = this.weights.slice(this.head);
      this.head = 0;
    }
    return this.total;
  }

  add(now: number, weight: number): void {
    this.times.push(now);
    this.weights.push(weight);
    this.total += weight;
  }

  /** Milliseconds until `weight` more fits under `limit`. */
  waitFor(now: number, windowMs: number, limit: number, weight: number): number {
    let excess = this.total + weight - limit;
    for (let i = this.head; i < this.times.length; i++) {
      excess -= this.weights[i] as number;
      if (excess <= 0) return Math.max(0, (this.times[i] as number) + windowMs - now);
    }
    return windowMs;
  }
}

export interface ThrottleStats {
  accepted: number;
  rejectedRate: number;
  rejectedConcurrency: number;
  rejectedResourceUnits: number;
}

export class Throttle {
  options: ThrottleOptions;
  readonly stats: ThrottleStats = { accepted: 0, rejectedRate: 0, rejectedConcurrency: 0, rejectedResourceUnits: 0 };
  private readonly windows = new Map<string, SlidingWindow>();
  private readonly inFlight = new Map<string, number>();
  private readonly tenant = new SlidingWindow();

  constructor(options: ThrottleOptions = NO_LIMITS) {
    this.options = options;
  }

  /**
   * Admits a request or throws the 429 Graph answers. Returns a release function to call when
   * the response has been sent.
   */
  admit(appId: string, mailbox: string | undefined, resourceUnits: number | undefined): () => void {
    const o = this.options;
    const now = Date.now();
    const releases: (() => void)[] = [];
    if (resourceUnits && o.tenantResourceUnits > 0) {
      const used = this.tenant.used(now, o.tenantWindowMs);
      if (used + resourceUnits > o.tenantResourceUnits) {
        this.stats.rejectedResourceUnits++;
        const wait = this.tenant.waitFor(now, o.tenantWindowMs, o.tenantResourceUnits, resourceUnits);
        throw new GraphError(429, 'activityLimitReached', 'The request has been throttled', retryAfter(wait));
      }
    }
    if (mailbox) {
      const key = `${appId}/${mailbox.toLowerCase()}`;
      if (o.mailboxConcurrency > 0) {
        const n = this.inFlight.get(key) ?? 0;
        if (n >= o.mailboxConcurrency) {
          this.stats.rejectedConcurrency++;
          throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': '1' });
        }
      }
      if (o.mailboxRequests > 0) {
        let window = this.windows.get(key);
        if (!window) {
          window = new SlidingWindow();
          this.windows.set(key, window);
        }
        if (window.used(now, o.mailboxWindowMs) + 1 > o.mailboxRequests) {
          this.stats.rejectedRate++;
          const wait = window.waitFor(now, o.mailboxWindowMs, o.mailboxRequests, 1);
          throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxRequests limit.', retryAfter(wait));
        }
        window.add(now, 1);
      }
      if (o.mailboxConcurrency > 0) {
        this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
        let released = false;
        releases.push(() => {
          if (released) return;
          released = true;
          const left = (this.inFlight.get(key) ?? 1) - 1;
          if (left <= 0) this.inFlight.delete(key);
          else this.inFlight.set(key, left);
        });
      }
    }
    if (resourceUnits && o.tenantResourceUnits > 0) this.tenant.add(now, resourceUnits);
    this.stats.accepted++;
    return () => {
      for (const release of releases) release();
    };
  }
}

function retryAfter(waitMs: number): Record<string, string> {
  return { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) };
}
