// One generic, authenticated request to the apiserver by path. It reuses client-node's
// authentication and TLS setup (applySecurityAuthentication), so the same code works for any
// resource, custom or built-in, without a typed API class per kind, and it accepts an AbortSignal.
import { ApiException, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from '@kubernetes/client-node';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the server URL, e.g. from `objectPath`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Content-Type of the body; JSON unless a patch type is given. */
  contentType?: string;
  signal?: AbortSignal;
}

const http = new IsomorphicFetchHttpLibrary();

/** Sends the request and returns the parsed JSON body; a non-2xx answer throws ApiException. */
export async function kubeRequest<T>(kubeConfig: KubeConfig, request: KubeRequest): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + request.path);
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }

  const context = new RequestContext(url.toString(), request.method);
  context.setHeaderParam('Accept', 'application/json');
  if (request.body !== undefined) {
    context.setHeaderParam('Content-Type', request.contentType ?? 'application/json');
    context.setBody(JSON.stringify(request.body));
  }
  if (request.signal) context.setSignal(request.signal);
  await kubeConfig.applySecurityAuthentication(context);

  const response = await http.send(context).toPromise();
  const text = await response.body.text();
  const parsed = parseJson(text);
  if (response.httpStatusCode < 200 || response.httpStatusCode >= 300) {
    const message = (parsed as { message?: string } | undefined)?.message ?? text;
    throw new ApiException(
      response.httpStatusCode,
      `${request.method} ${request.path}: HTTP ${response.httpStatusCode}: ${message}`,
      parsed ?? text,
      response.headers,
    );
  }
  return parsed as T;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
