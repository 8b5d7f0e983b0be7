import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../runtime/fake-clock.ts';
import { GraphGovernor, pacingOf } from './graph-http.ts';

describe('pacingOf', () => {
  it.each([
    ['https://graph.microsoft.com/v1.0/users/Ann@Contoso.com/mailFolders/inbox/messages/delta', { mailbox: 'ann@contoso.com' }],
    ['https://graph.microsoft.com/v1.0/users/1234/calendarView/delta?startDateTime=x', { mailbox: '1234' }],
    ['https://graph.microsoft.com/v1.0/users/1234/drive/root/delta', { resourceUnits: 2 }],
    ['https://graph.microsoft.com/v1.0/drives/b!x/root/delta?token=abc', { resourceUnits: 1 }],
    ['https://graph.microsoft.com/v1.0/sites/root', { resourceUnits: 1 }],
    ['https://graph.microsoft.com/v1.0/users?$top=999', {}],
    ['https://graph.microsoft.com/v1.0/users/1234', {}],
    ['not a url', {}],
  ])('%s', (url, expected) => {
    expect(pacingOf(url)).toEqual(expected);
  });
});

/** A stand-in for the transport: answers each request with what the test says, and counts them. */
class FakeTransport implements Middleware {
  sent: string[] = [];
  answer: (context: Context, n: number) => Promise<Response> | Response = () => new Response('{}', { status: 200 });

  async execute(context: Context): Promise<void> {
    this.sent.push(typeof context.request === 'string' ? context.request : context.request.url);
    context.response = await this.answer(context, this.sent.length);
  }

  setNext(): void {}
}

const MAILBOX_URL = 'https://graph.microsoft.com/v1.0/users/ann@contoso.com/mailFolders/inbox/messages/delta';

function context(url = MAILBOX_URL): Context {
  return { request: url, options: { method: 'GET' } };
}

const throttled = (seconds: number) =>
  new Response('{"error":{"code":"ApplicationThrottled"}}', { status: 429, headers: { 'Retry-After': String(seconds) } });

/** Lets every callback that can run without time passing run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function watch(promise: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const seen: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (seen.state = 'resolved'),
    (error: unknown) => Object.assign(seen, { state: 'rejected', error }),
  );
  return seen;
}

describe('GraphGovernor', () => {
  function governed(options: { signal?: AbortSignal; random?: () => number } = {}) {
    const clock = new FakeClock();
    const transport = new FakeTransport();
    const governor = new GraphGovernor({ clock, timers: clock, random: options.random ?? (() => 0.5), ...options });
    governor.setNext(transport);
    return { clock, transport, governor };
  }

  it('waits what Retry-After says on a 429, then sends again', async () => {
    const { clock, transport, governor } = governed();
    transport.answer = (_c, n) => (n === 1 ? throttled(300) : new Response('{}', { status: 200 }));
    const request = context();
    const done = watch(governor.execute(request));
    await settle();
    expect(transport.sent).toHaveLength(1);
    expect(governor.stats.waitingToRetry).toBe(1);
    await clock.advance(299_999);
    expect(transport.sent).toHaveLength(1);
    await clock.advance(1);
    expect(transport.sent).toHaveLength(2);
    expect(done.state).toBe('resolved');
    expect(request.response?.status).toBe(200);
    expect(governor.stats).toMatchObject({ throttled: 1, waitingToRetry: 0, retries: { throttled: 1 } });
  });

  it('backs off a 503 without Retry-After by the injected randomness', async () => {
    const { clock, transport, governor } = governed({ random: () => 0.5 });
    transport.answer = (_c, n) => new Response('', { status: n === 1 ? 503 : 200 });
    const done = watch(governor.execute(context()));
    await settle();
    // First backoff: up to DEFAULT_RETRY.baseMs (500 ms), times 0.5.
    await clock.advance(249);
    expect(transport.sent).toHaveLength(1);
    await clock.advance(1);
    expect(transport.sent).toHaveLength(2);
    expect(done.state).toBe('resolved');
  });

  it('abandons the Retry-After of 300 s when the signal aborts, and rejects with its reason; the paused mailbox sends nothing more', async () => {
    const controller = new AbortController();
    const { clock, transport, governor } = governed({ signal: controller.signal });
    transport.answer = () => throttled(300);
    const first = watch(governor.execute(context()));
    await settle();
    expect(governor.stats.waitingToRetry).toBe(1);
    // Another request of the same mailbox waits behind the pause in the limiter.
    const second = watch(governor.execute(context(`${MAILBOX_URL}?$deltatoken=abc`)));
    await clock.advance(60_000);
    expect(transport.sent).toHaveLength(1);
    expect([first.state, second.state]).toEqual(['pending', 'pending']);

    controller.abort();
    await settle();
    // 240 s of the Retry-After are left on the clock: the waits were abandoned, not served.
    expect(first.state).toBe('rejected');
    expect(first.error).toBe(controller.signal.reason);
    expect((first.error as Error).name).toBe('AbortError');
    expect(second.state).toBe('rejected');
    expect(second.error).toBe(controller.signal.reason);
    expect(governor.stats.waitingToRetry).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    // A request of a stopped run is not sent, and neither are the retries time would have brought.
    await expect(governor.execute(context())).rejects.toBe(controller.signal.reason);
    await clock.advance(600_000);
    expect(transport.sent).toHaveLength(1);
  });

  it('gives up a request waiting for a slot, and aborts one in flight, with the reason the caller gave', async () => {
    const controller = new AbortController();
    const { transport, governor } = governed({ signal: controller.signal });
    const signals: AbortSignal[] = [];
    // Never answers by itself: only the request's abort signal ends it, as fetch does.
    transport.answer = (c) => {
      const signal = c.options?.signal as AbortSignal;
      signals.push(signal);
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    };
    const inFlight = [1, 2, 3, 4].map(() => watch(governor.execute(context())));
    const queued = watch(governor.execute(context()));
    await settle();
    expect(transport.sent).toHaveLength(4);
    const reason = new DOMException('The run passed its deadline.', 'TimeoutError');
    controller.abort(reason);
    await settle();
    for (const r of [...inFlight, queued]) {
      expect(r.state).toBe('rejected');
      expect(r.error).toBe(reason);
    }
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(transport.sent).toHaveLength(4);
  });
});
