// The request pipeline every Graph and identity request goes through, over HTTPS and inside
// `$batch`: route match, request counters, authentication and permissions, throttling, injected
// faults, then the route handler. Responses carry Graph's headers and error body shape.
import { randomUUID } from 'node:crypto';
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorContext } from '../context.ts';
import type { Faults, FaultRule } from '../faults.ts';
import type { Identity } from '../identity.ts';
import type { Throttle } from '../throttle.ts';
import type { Route, Router } from './router.ts';
import { GraphError, isStream } from './types.ts';
import type { EmulatorRequest, EmulatorResponse } from './types.ts';

const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const MAX_BODY = 256 * 1024 * 1024;

export interface PipelineOptions {
  /** Added before every request is handled, milliseconds. */
  latencyMs: number;
}

export interface Outcome {
  response: EmulatorResponse;
  /** Called when the response has been sent (frees the throttle's concurrency slot). */
  release: () => void;
  /** The connection must be destroyed without an answer. */
  reset?: boolean;
  /** The JSON body must be cut short. */
  malformed?: boolean;
}

export function errorResponse(
  req: Pick<EmulatorRequest, 'headers'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): EmulatorResponse {
  const requestId = randomUUID();
  return {
    status,
    headers: { ...headers, 'request-id': requestId },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ''),
          'request-id': requestId,
          'client-request-id': req.headers['client-request-id'] ?? requestId,
        },
      },
    },
  };
}

function faultError(rule: FaultRule, route: Route): GraphError {
  switch (rule.kind) {
    case 'status500':
      return new GraphError(
        500,
        rule.code ?? 'generalException',
        rule.message ?? 'An internal server error occurred. The operation failed.',
      );
    case 'status503':
      return new GraphError(
        503,
        rule.code ?? 'serviceNotAvailable',
        rule.message ?? 'The service is temporarily unavailable. Please try again later.',
        { 'Retry-After': '1' },
      );
    case 'throttled':
      return new GraphError(429, rule.code ?? 'ApplicationThrottled', rule.message ?? 'Application is over its MailboxRequests limit.', {
        'Retry-After': String(rule.retryAfterSeconds ?? 1),
      });
    case 'status504':
      return new GraphError(504, rule.code ?? 'UnknownError', rule.message ?? 'Gateway timeout.');
    case 'notFound':
      return route.kind.startsWith('drive') || route.kind.startsWith('site')
        ? new GraphError(404, 'itemNotFound', 'The resource could not be found.')
        : new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    default:
      return new GraphError(
        rule.status ?? 500,
        rule.code ?? 'ErrorInternalServerError',
        rule.message ?? 'An internal server error occurred. The operation failed.',
      );
  }
}

export class Pipeline {
  private readonly ctx: EmulatorContext;
  private readonly router: Router;
  private readonly identity: Identity;
  private readonly throttle: Throttle;
  private readonly faults: Faults;
  readonly options: PipelineOptions;

  constructor(ctx: EmulatorContext, router: Router, identity: Identity, throttle: Throttle, faults: Faults, options: PipelineOptions) {
    this.ctx = ctx;
    this.router = router;
    this.identity = identity;
    this.throttle = throttle;
    this.faults = faults;
    this.options = options;
  }

  async dispatch(req: EmulatorRequest): Promise<Outcome> {
    let release = (): void => {};
    const stats = this.ctx.stats;
    try {
      const match = this.router.match(req.method, req.path);
      stats.total++;
      if (match === undefined) {
        // Graph checks the token before it looks at the path.
        if (req.path.toLowerCase().startsWith('/v1.0/')) this.identity.authenticate(req);
        const segment = req.path.split('/').filter(Boolean).pop() ?? '';
        throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`);
      }
      if (match === 'methodNotAllowed') {
        throw new GraphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
      }
      const { route, params } = match;
      req.params = params;
      stats.byKind[route.kind] = (stats.byKind[route.kind] ?? 0) + 1;
      if (req.inBatch) stats.batchParts++;
      if (route.auth === 'graph') {
        const app = this.identity.authenticate(req);
        req.app = app;
        if (route.permissions && !route.permissions.some((p) => app.roles.has(p))) {
          throw route.kind.startsWith('directory')
            ? new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
            : new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
        }
        const rawMailbox = route.mailbox?.(params);
        const mailbox = rawMailbox === undefined ? undefined : (this.ctx.directory.user(rawMailbox)?.id ?? rawMailbox);
        if (mailbox) stats.byMailbox[mailbox] = (stats.byMailbox[mailbox] ?? 0) + 1;
        try {
          release = this.throttle.admit(app.clientId, mailbox, route.resourceUnits);
        } catch (err) {
          stats.throttled++;
          throw err;
        }
      }
      const rule = this.faults.match(route.kind, req.method, req.path);
      let malformed = false;
      if (rule) {
        stats.faulted++;
        if (rule.kind === 'slow') await sleep(rule.delayMs ?? 5_000);
        else if (rule.kind === 'reset') return { response: { status: 0 }, release, reset: true };
        else if (rule.kind === 'malformedJson') malformed = true;
        else throw faultError(rule, route);
      }
      const response = await route.handler(req);
      return { response, release, malformed };
    } catch (err) {
      release();
      release = () => {};
      if (err instanceof GraphError) {
        return { response: errorResponse(req, err.status, err.code, err.message, err.headers), release };
      }
      console.error('emulator: handler failed', req.method, req.path, err);
      return { response: errorResponse(req, 500, 'generalException', 'An unexpected error occurred.'), release };
    }
  }
}

async function readBody(msg: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of msg) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY) throw new GraphError(413, 'RequestEntityTooLarge', 'The request body is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(msg: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(msg.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function send(res: ServerResponse, outcome: Outcome, req: EmulatorRequest): void {
  const { response } = outcome;
  const headers: Record<string, string> = {
    'request-id': randomUUID(),
    'client-request-id': req.headers['client-request-id'] ?? randomUUID(),
    ...response.headers,
  };
  res.once('close', outcome.release);
  const body = response.body;
  if (body === undefined || body === null) {
    res.writeHead(response.status, headers);
    res.end();
  } else if (Buffer.isBuffer(body)) {
    res.writeHead(response.status, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ...headers });
    res.end(body);
  } else if (isStream(body)) {
    res.writeHead(response.status, { 'Content-Type': 'application/octet-stream', ...headers });
    body.on('error', () => res.destroy());
    body.pipe(res);
  } else {
    let text = JSON.stringify(body);
    if (outcome.malformed) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    res.writeHead(response.status, { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }
}

export interface HttpsEndpoint {
  server: https.Server;
  origin: string;
  close(): Promise<void>;
}

/** Serves the pipeline over HTTPS on 127.0.0.1 (`port` 0 picks a free one). */
export async function listen(pipeline: Pipeline, tlsOptions: { cert: string; key: string }, port = 0): Promise<HttpsEndpoint> {
  let origin = '';
  const server = https.createServer({ ...tlsOptions, keepAlive: true }, (msg, res) => {
    void (async () => {
      const url = new URL(msg.url ?? '/', origin);
      let body: Buffer;
      try {
        body = await readBody(msg);
      } catch {
        res.writeHead(413).end();
        return;
      }
      const req: EmulatorRequest = {
        method: (msg.method ?? 'GET').toUpperCase(),
        path: url.pathname,
        params: {},
        query: url.searchParams,
        headers: headersOf(msg),
        body,
        origin,
        inBatch: false,
      };
      if (pipeline.options.latencyMs > 0) await sleep(pipeline.options.latencyMs);
      const outcome = await pipeline.dispatch(req);
      if (outcome.reset) {
        outcome.release();
        msg.socket.destroy();
        return;
      }
      send(res, outcome, req);
    })();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
