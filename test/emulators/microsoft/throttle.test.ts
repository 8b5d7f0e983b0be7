// The throttle's arithmetic: Microsoft's per-mailbox request window and concurrency limit, and a
// tenant resource-unit budget, each answering 429 with the code and Retry-After Graph sends.
import { describe, expect, it } from 'vitest';
import { GraphError } from './http/types.ts';
import { NO_LIMITS, Throttle } from './throttle.ts';

function refusal(fn: () => unknown): GraphError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GraphError) return err;
    throw err;
  }
  throw new Error('expected a 429');
}

describe('Throttle', () => {
  it('admits everything when off', () => {
    const t = new Throttle();
    for (let i = 0; i < 1000; i++) t.admit('app', 'mbx', 5);
    expect(t.stats.accepted).toBe(1000);
  });

  it('refuses the request over the mailbox window with ApplicationThrottled and Retry-After', () => {
    const t = new Throttle({ ...NO_LIMITS, mailboxRequests: 3, mailboxWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) t.admit('app', 'mbx', undefined)();
    const err = refusal(() => t.admit('app', 'mbx', undefined));
    expect(err.status).toBe(429);
    expect(err.code).toBe('ApplicationThrottled');
    const retry = Number(err.headers['Retry-After']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    // Other mailboxes and other apps have their own windows.
    t.admit('app', 'other', undefined)();
    t.admit('app2', 'mbx', undefined)();
  });

  it('counts mailboxes case-insensitively', () => {
    const t = new Throttle({ ...NO_LIMITS, mailboxRequests: 1 });
    t.admit('app', 'A@contoso.com', undefined)();
    expect(refusal(() => t.admit('app', 'a@contoso.com', undefined)).code).toBe('ApplicationThrottled');
  });

  it('allows 4 requests at once per mailbox and refuses the fifth with MailboxConcurrency', () => {
    const t = new Throttle({ ...NO_LIMITS, mailboxConcurrency: 4 });
    const releases = [1, 2, 3, 4].map(() => t.admit('app', 'mbx', undefined));
    const err = refusal(() => t.admit('app', 'mbx', undefined));
    expect(err.code).toBe('ApplicationThrottled');
    expect(err.message).toBe('Application is over its MailboxConcurrency limit.');
    expect(err.headers['Retry-After']).toBeDefined();
    releases[0]?.();
    releases[0]?.(); // releasing twice frees one slot only
    t.admit('app', 'mbx', undefined);
    expect(refusal(() => t.admit('app', 'mbx', undefined)).message).toMatch(/MailboxConcurrency/);
  });

  it('spends the tenant resource-unit budget', () => {
    const t = new Throttle({ ...NO_LIMITS, tenantResourceUnits: 10, tenantWindowMs: 60_000 });
    t.admit('app', undefined, 5)();
    t.admit('app', undefined, 5)();
    const err = refusal(() => t.admit('app', undefined, 1));
    expect(err.status).toBe(429);
    expect(Number(err.headers['Retry-After'])).toBeGreaterThan(0);
    expect(t.stats.rejectedResourceUnits).toBe(1);
    // Mail requests (no resource units) are not affected.
    t.admit('app', 'mbx', undefined)();
  });
});
