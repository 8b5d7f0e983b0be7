import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, parseRetryAfter, retryDecision } from './retry.ts';

const now = Date.UTC(2026, 10, 22, 8, 0, 0);

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('retryDecision', () => {
  const cases: [string, Parameters<typeof retryDecision>[0], ReturnType<typeof retryDecision>][] = [
    [
      '429 waits Retry-After',
      { attempt: 1, status: 429, retryAfter: '12', now, random: 0.5 },
      { retry: true, delayMs: 12_000, cause: 'throttled' },
    ],
    [
      '503 waits Retry-After',
      { attempt: 2, status: 503, retryAfter: '3', now, random: 0.5 },
      { retry: true, delayMs: 3000, cause: 'unavailable' },
    ],
    [
      '429 without Retry-After backs off',
      { attempt: 3, status: 429, now, random: 0.5 },
      { retry: true, delayMs: 1000, cause: 'throttled' },
    ],
    [
      'an absurd Retry-After is capped',
      { attempt: 1, status: 429, retryAfter: '86400', now, random: 0 },
      { retry: true, delayMs: DEFAULT_RETRY.maxRetryAfterMs, cause: 'throttled' },
    ],
    ['500 backs off with jitter', { attempt: 1, status: 500, now, random: 0.5 }, { retry: true, delayMs: 250, cause: 'server' }],
    ['504 backs off', { attempt: 4, status: 504, now, random: 1 - Number.EPSILON }, { retry: true, delayMs: 4000, cause: 'server' }],
    ['backoff is capped', { attempt: 7, status: 502, now, random: 0.999999 }, { retry: true, delayMs: 32_000, cause: 'server' }],
    [
      'a reset is retried',
      { attempt: 1, errorCode: 'ECONNRESET', now, random: 1 - Number.EPSILON },
      { retry: true, delayMs: 500, cause: 'network' },
    ],
    ['an unknown error is final', { attempt: 1, errorCode: 'ERR_SOMETHING', now, random: 0.5 }, { retry: false }],
    ['404 is final', { attempt: 1, status: 404, now, random: 0.5 }, { retry: false }],
    ['401 is final', { attempt: 1, status: 401, now, random: 0.5 }, { retry: false }],
    ['the last attempt is final', { attempt: DEFAULT_RETRY.maxAttempts, status: 503, retryAfter: '1', now, random: 0.5 }, { retry: false }],
  ];
  it.each(cases)('%s', (_name, attempt, expected) => {
    expect(retryDecision(attempt)).toEqual(expected);
  });
});
