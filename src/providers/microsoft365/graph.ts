// What every Microsoft 365 service module uses to talk to Graph: JSON GETs, paging to the end of
// a collection or a delta round, raw downloads, and the mapping of Graph's failures to the
// provider-neutral SourceError. Throttling, retries and pacing happen below, in the governor
// (graph-http.ts); this layer adds one thing the governor cannot know: a 401 means the cached
// token was refused, so a new one is fetched once, and if Entra ID refuses that too the run stops
// with the catalog reason (credentials revoked, tenant gone). A request of a stopped run rejects
// with the run's abort reason, unchanged: it is not a failure of the source.
import { GraphError, ResponseType } from '@microsoft/microsoft-graph-client';
import type { Client } from '@microsoft/microsoft-graph-client';
import { SourceError } from '../provider.ts';
import { MicrosoftAuthError } from './auth.ts';
import type { MicrosoftAuth } from './auth.ts';
import { createGraphClient, GraphGovernor } from './graph-http.ts';
import type { GraphGovernorOptions } from './graph-http.ts';

/** One page of a collection or delta round. */
export interface GraphPage<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/**
 * Pacing, retries, the run's signal, and the clock, timers and randomness behind them (see
 * GraphGovernorOptions). Once `signal` aborts, every request rejects with its reason.
 */
export type GraphSessionOptions = GraphGovernorOptions;

function graphIssue(err: GraphError): { code: string; message: string } {
  let body = err.body as unknown;
  // A failed download leaves Graph's JSON error as the raw bytes the download asked for.
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body))
    body = Buffer.from(body instanceof ArrayBuffer ? body : body.buffer).toString('utf8');
  let code = err.code ?? undefined;
  let message = err.message;
  // The client leaves the parsed error in `body` (sometimes as a JSON string) when it cannot map it.
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
      code ??= parsed.error?.code;
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      // not JSON: keep the client's message
    }
  }
  return { code: code ?? `HTTP${err.statusCode}`, message: message || `HTTP ${err.statusCode}` };
}

/** A Graph or network failure as the object report shows it. */
export function toSourceError(err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  if (err instanceof MicrosoftAuthError) {
    return new SourceError({ source: 'graph', code: err.code ?? err.reason, message: err.message }, { fatalReason: err.reason });
  }
  if (err instanceof GraphError) {
    const { code, message } = graphIssue(err);
    return new SourceError({ source: 'graph', code, message }, { status: err.statusCode });
  }
  if (err instanceof SyntaxError) {
    return new SourceError({
      source: 'graph',
      code: 'MalformedResponse',
      message: `Graph answered with a body that is not valid JSON: ${err.message}`,
    });
  }
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code ?? 'NetworkError';
  return new SourceError({ source: 'internal', code, message: e?.cause?.message ?? e?.message ?? String(err) });
}

export class GraphSession {
  readonly governor: GraphGovernor;
  readonly auth: MicrosoftAuth;
  readonly #client: Client;
  readonly #signal: AbortSignal | undefined;
  /** Set after a 401: the next token comes from Entra ID, not from msal's cache. */
  #refreshToken = false;
  #refreshing: Promise<void> | undefined;
  /**
   * The Graph client turns an error of the token callback into a GraphError that keeps only its
   * name and text; the original (with its catalog reason) is kept here to be thrown instead.
   */
  #authFailure: MicrosoftAuthError | undefined;

  constructor(auth: MicrosoftAuth, options: GraphSessionOptions = {}) {
    this.auth = auth;
    this.#signal = options.signal;
    this.governor = new GraphGovernor(options);
    this.#client = createGraphClient(auth, this.governor, async () => {
      const fresh = this.#refreshToken;
      this.#refreshToken = false;
      try {
        return (await auth.token(fresh)).token;
      } catch (error) {
        if (error instanceof MicrosoftAuthError) this.#authFailure = error;
        throw error;
      }
    });
  }

  /**
   * Runs a request; a refused token is replaced once, and a failure becomes a SourceError. Once
   * the run's signal has aborted, the signal's reason is thrown instead: the Graph client wraps
   * whatever the governor threw in a GraphError, so the reason is taken from the signal itself.
   */
  async #call<T>(request: () => Promise<T>): Promise<T> {
    this.#signal?.throwIfAborted();
    try {
      return await request();
    } catch (err) {
      this.#signal?.throwIfAborted();
      if (err instanceof GraphError && err.code === 'MicrosoftAuthError' && this.#authFailure) throw toSourceError(this.#authFailure);
      if (!(err instanceof GraphError) || err.statusCode !== 401) throw toSourceError(err);
      await this.#renewToken();
      this.#signal?.throwIfAborted();
      try {
        return await request();
      } catch (again) {
        this.#signal?.throwIfAborted();
        if (again instanceof GraphError && again.code === 'MicrosoftAuthError' && this.#authFailure) throw toSourceError(this.#authFailure);
        const failure = toSourceError(again);
        if (again instanceof GraphError && again.statusCode === 401) {
          throw new SourceError(failure.issue, {
            status: 401,
            fatalReason: /tenant/i.test(failure.issue.message) ? 'TenantNotFound' : 'AuthenticationFailed',
          });
        }
        throw failure;
      }
    }
  }

  /** Asks Entra ID for a new token (once, for all requests that were refused together). */
  async #renewToken(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        await this.auth.token(true);
      } catch (err) {
        throw toSourceError(err);
      } finally {
        setTimeout(() => (this.#refreshing = undefined), 1000).unref();
      }
    })();
    await this.#refreshing;
  }

  /** GET of a JSON resource; `path` is relative to /v1.0 or an absolute link Graph gave. */
  get<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
    return this.#call(() => this.#client.api(path).headers(headers).get() as Promise<T>);
  }

  post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.#call(() => this.#client.api(path).headers(headers).post(body) as Promise<T>);
  }

  /** Every page of a collection (following @odata.nextLink), the last one with its delta link. */
  async *pages<T>(path: string, headers: Record<string, string> = {}): AsyncGenerator<GraphPage<T>> {
    let next: string | undefined = path;
    while (next) {
      const page: GraphPage<T> = await this.get<GraphPage<T>>(next, headers);
      yield page;
      next = page['@odata.nextLink'];
    }
  }

  /** Every item of a collection. */
  async all<T>(path: string, headers: Record<string, string> = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages<T>(path, headers)) out.push(...page.value);
    return out;
  }

  /** The bytes of a download (`$value`, drive content through its redirect). */
  async bytes(path: string): Promise<Buffer> {
    const data = await this.#call(() => this.#client.api(path).responseType(ResponseType.ARRAYBUFFER).get() as Promise<ArrayBuffer>);
    return Buffer.from(data);
  }

  /** A download as a stream of pieces, for content too large to hold (files). */
  async stream(path: string): Promise<AsyncIterable<Uint8Array>> {
    const response = await this.#call(async () => {
      const raw = (await this.#client.api(path).responseType(ResponseType.RAW).get()) as Response;
      if (!raw.ok) {
        const text = await raw.text().catch(() => '');
        const error = new GraphError(raw.status, text || raw.statusText);
        error.body = text;
        try {
          error.code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
        } catch {
          error.code = null;
        }
        throw error;
      }
      return raw;
    });
    if (!response.body) return (async function* () {})();
    return response.body as unknown as AsyncIterable<Uint8Array>;
  }
}
