// JSON batching (`POST /v1.0/$batch`): up to 20 requests, run through the same pipeline as
// single requests (each part is authenticated, throttled and can fault on its own), in parallel
// unless `dependsOn` orders them; a part whose dependency failed gets 424. Binary bodies come back
// base64-encoded, JSON bodies inline, as Graph does.
import { isStream } from './types.ts';
import { GraphError, parseJson } from './types.ts';
import type { EmulatorRequest, EmulatorResponse } from './types.ts';
import type { Router } from './router.ts';
import { errorResponse } from './server.ts';
import type { Pipeline } from './server.ts';

export const MAX_BATCH_REQUESTS = 20;

interface BatchPart {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

interface BatchPartResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

async function streamToBuffer(body: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

export function registerBatch(router: Router, pipeline: () => Pipeline): void {
  router.post('/v1.0/$batch', { kind: 'batch', auth: 'graph' }, async (req) => {
    const payload = parseJson<{ requests?: BatchPart[] }>(req);
    const parts = payload.requests;
    if (!Array.isArray(parts) || parts.length === 0) {
      throw new GraphError(400, 'BadRequest', 'Invalid batch payload format.');
    }
    if (parts.length > MAX_BATCH_REQUESTS) {
      throw new GraphError(400, 'BadRequest', `Number of batch request steps exceeds the maximum of ${MAX_BATCH_REQUESTS}.`);
    }
    // Ids are not case-sensitive (Graph's JSON batching docs): `A` and `a` are the same request.
    const byId = new Map<string, BatchPart>();
    for (const part of parts) {
      if (typeof part.id !== 'string' || !part.id || typeof part.method !== 'string' || typeof part.url !== 'string') {
        throw new GraphError(400, 'BadRequest', 'Each batch request needs an id, a method and a url.');
      }
      if (byId.has(part.id.toLowerCase())) throw new GraphError(400, 'BadRequest', `Batch request id '${part.id}' is used more than once.`);
      byId.set(part.id.toLowerCase(), part);
    }
    for (const part of parts) {
      for (const dep of part.dependsOn ?? []) {
        if (!byId.has(String(dep).toLowerCase()))
          throw new GraphError(400, 'BadRequest', `Request '${part.id}' depends on '${dep}', which is not in the batch.`);
      }
    }
    // A cycle would never run: refuse it like any other malformed batch.
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (part: BatchPart): void => {
      const key = part.id.toLowerCase();
      if (state.get(key) === 'done') return;
      if (state.get(key) === 'visiting')
        throw new GraphError(400, 'BadRequest', `Request '${part.id}' depends on itself through dependsOn.`);
      state.set(key, 'visiting');
      for (const dep of part.dependsOn ?? []) visit(byId.get(String(dep).toLowerCase()) as BatchPart);
      state.set(key, 'done');
    };
    parts.forEach(visit);
    const results = new Map<string, Promise<BatchPartResponse>>();
    const run = (part: BatchPart): Promise<BatchPartResponse> => {
      let promise = results.get(part.id);
      if (promise) return promise;
      promise = (async () => {
        const deps = await Promise.all((part.dependsOn ?? []).map((d) => run(byId.get(String(d).toLowerCase()) as BatchPart)));
        if (deps.some((d) => d.status >= 400)) {
          const failed = errorResponse(req, 424, 'FailedDependency', 'A request this request depends on failed.');
          return { id: part.id, status: 424, headers: { 'Content-Type': 'application/json' }, body: failed.body };
        }
        return runPart(pipeline(), req, part);
      })();
      results.set(part.id, promise);
      return promise;
    };
    const responses = await Promise.all(parts.map(run));
    return { status: 200, body: { responses } } satisfies EmulatorResponse;
  });
}

async function runPart(pipeline: Pipeline, batch: EmulatorRequest, part: BatchPart): Promise<BatchPartResponse> {
  const relative = part.url.startsWith('/') ? part.url : `/${part.url}`;
  const url = new URL(`/v1.0${relative}`, batch.origin);
  const headers: Record<string, string> = { authorization: batch.headers['authorization'] ?? '' };
  for (const [k, v] of Object.entries(part.headers ?? {})) headers[k.toLowerCase()] = v;
  let body = Buffer.alloc(0);
  if (part.body !== undefined) {
    const type = headers['content-type'] ?? '';
    body =
      typeof part.body === 'string' && !type.includes('json') ? Buffer.from(part.body, 'base64') : Buffer.from(JSON.stringify(part.body));
  }
  const outcome = await pipeline.dispatch({
    method: part.method.toUpperCase(),
    path: url.pathname,
    params: {},
    query: url.searchParams,
    headers,
    body,
    origin: batch.origin,
    inBatch: true,
  });
  try {
    if (outcome.reset) {
      const failed = errorResponse({ headers }, 500, 'generalException', 'The request failed.');
      return { id: part.id, status: 500, headers: {}, body: failed.body };
    }
    const { response } = outcome;
    const out: BatchPartResponse = { id: part.id, status: response.status, headers: { ...response.headers } };
    let payload = response.body;
    if (isStream(payload)) payload = await streamToBuffer(payload);
    if (Buffer.isBuffer(payload)) {
      out.body = payload.toString('base64');
      out.headers['Content-Type'] ??= 'application/octet-stream';
    } else if (payload !== undefined && payload !== null) {
      out.body = payload;
      out.headers['Content-Type'] ??= 'application/json';
    }
    return out;
  } finally {
    outcome.release();
  }
}
