// When to try a SaaS request again, and after how long: the pure decision behind the providers'
// HTTP middleware. 429 and 503 wait what `Retry-After` says (seconds or an HTTP date); other
// 5xx, resets and timeouts back off exponentially with full jitter; 4xx other than 429 are final.

export interface RetryPolicy {
  maxAttempts: number;
  /** First backoff step, milliseconds. */
  baseMs: number;
  /** Largest backoff, milliseconds. */
  capMs: number;
  /** Largest Retry-After honoured; a longer one is capped (the request budget paces us anyway). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseMs: 500, capMs: 60_000, maxRetryAfterMs: 300_000 };

export interface Attempt {
  /** 1 for the first try. */
  attempt: number;
  /** HTTP status, when a response came back. */
  status?: number;
  /** Node/undici error code (ECONNRESET...) when no response came back. */
  errorCode?: string;
  retryAfter?: string | null;
  now: number;
  /** Uniform in [0, 1). */
  random: number;
}

export type RetryCause = 'throttled' | 'unavailable' | 'server' | 'network';

export type RetryDecision = { retry: true; delayMs: number; cause: RetryCause } | { retry: false };

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined if absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function backoff(attempt: number, policy: RetryPolicy, random: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling * random);
}

export function retryDecision(a: Attempt, policy: RetryPolicy = DEFAULT_RETRY): RetryDecision {
  if (a.attempt >= policy.maxAttempts) return { retry: false };
  if (a.status === undefined) {
    if (a.errorCode && NETWORK_CODES.has(a.errorCode))
      return { retry: true, delayMs: backoff(a.attempt, policy, a.random), cause: 'network' };
    return { retry: false };
  }
  if (a.status === 429 || a.status === 503) {
    const after = parseRetryAfter(a.retryAfter, a.now);
    const cause: RetryCause = a.status === 429 ? 'throttled' : 'unavailable';
    if (after !== undefined) return { retry: true, delayMs: Math.min(after, policy.maxRetryAfterMs), cause };
    return { retry: true, delayMs: backoff(a.attempt, policy, a.random), cause };
  }
  if (a.status === 500 || a.status === 502 || a.status === 504) {
    return { retry: true, delayMs: backoff(a.attempt, policy, a.random), cause: 'server' };
  }
  return { retry: false };
}
