// The request and response shapes every route handler sees. Handlers return a response object
// instead of writing to the socket, so that `$batch` can run the same handlers for its parts.
import type { Readable } from 'node:stream';

export interface AppPrincipal {
  tenantId: string;
  clientId: string;
  /** Application permissions in the access token's `roles` claim. */
  roles: ReadonlySet<string>;
}

export interface EmulatorRequest {
  method: string;
  /** Path without the query, for example `/v1.0/users/abc/mailFolders`. */
  path: string;
  /** Named segments of the matched route pattern, decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** `https://127.0.0.1:port`: what links in responses start with. */
  origin: string;
  /** The caller, when the route needs a Graph access token. */
  app?: AppPrincipal;
  /** True for a part of a `$batch` request. */
  inBatch: boolean;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a Buffer or stream as is. */
  body?: unknown;
}

/** A Graph error: `{"error": {"code", "message", "innerError"}}` with the given status. */
export class GraphError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, headers, body };
}

export function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';
}

export function parseJson<T = Record<string, unknown>>(req: EmulatorRequest): T {
  if (req.body.length === 0) throw new GraphError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
  try {
    return JSON.parse(req.body.toString('utf8')) as T;
  } catch {
    throw new GraphError(
      400,
      'BadRequest',
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    );
  }
}
