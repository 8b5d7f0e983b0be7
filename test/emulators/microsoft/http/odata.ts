// OData conventions Graph follows: `$select`, `$top`, `Prefer: odata.maxpagesize`, server-driven
// paging with `@odata.nextLink` carrying an opaque `$skiptoken`, and `@odata.context`.
import { GraphError } from './types.ts';
import type { EmulatorRequest, EmulatorResponse } from './types.ts';

export function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeToken<T>(token: string, what = 'skip token'): T {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as T;
  } catch {
    throw new GraphError(400, 'BadRequest', `The ${what} is malformed.`);
  }
}

/** `$select=a,b` as a set, or undefined when absent. */
export function selectedFields(query: URLSearchParams): Set<string> | undefined {
  const raw = query.get('$select');
  if (!raw) return undefined;
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** Keeps `id`, OData annotations and the selected fields, as Graph does for `$select`. */
export function project<T extends object>(entity: T, fields: Set<string> | undefined): Partial<T> {
  if (!fields) return entity;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entity)) {
    if (key === 'id' || key.startsWith('@') || fields.has(key)) out[key] = value;
  }
  return out as Partial<T>;
}

export interface PageSize {
  size: number;
  /** The `Preference-Applied` header value when the client's `odata.maxpagesize` was honoured. */
  applied?: string;
}

/**
 * The page size for a request: `Prefer: odata.maxpagesize=N` (capped at `max`), else `$top`,
 * else `fallback`.
 */
export function pageSize(req: EmulatorRequest, fallback: number, max: number): PageSize {
  const prefer = req.headers['prefer'] ?? '';
  const m = /odata\.maxpagesize=(\d+)/i.exec(prefer);
  if (m?.[1]) {
    const size = Math.max(1, Math.min(max, Number(m[1])));
    return { size, applied: `odata.maxpagesize=${size}` };
  }
  const top = req.query.get('$top');
  if (top !== null) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1) throw new GraphError(400, 'BadRequest', `Invalid value '${top}' for $top query option.`);
    return { size: Math.min(max, n) };
  }
  return { size: fallback };
}

/**
 * A next or delta link as Graph writes it: the OData system query options keep their literal `$`
 * (`?$skiptoken=...`, `?$deltatoken=...`, `?$top=10&$skip=10`), values are percent-encoded. Either
 * form is accepted on input: the query is read decoded.
 */
export function link(req: EmulatorRequest, path: string, query: Record<string, string>): string {
  const q = Object.entries(query)
    .map(([k, v]) => `${k.startsWith('$') ? `$${encodeURIComponent(k.slice(1))}` : encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `${req.origin}${path}${q ? `?${q}` : ''}`;
}

export function contextUrl(req: EmulatorRequest, fragment: string): string {
  return `${req.origin}/v1.0/$metadata#${fragment}`;
}

interface ListToken {
  o: number;
  n: number;
  s?: string;
}

/**
 * Server-driven paging over a list that does not change while it is read: `$skiptoken` carries
 * the offset, the page size and `$select`.
 */
export function listPage<T extends object>(
  req: EmulatorRequest,
  items: readonly T[],
  options: { context: string; defaultSize?: number; maxSize?: number },
): EmulatorResponse {
  const skip = req.query.get('$skiptoken');
  let offset = 0;
  let size: number;
  let select = req.query.get('$select') ?? undefined;
  const headers: Record<string, string> = {};
  if (skip) {
    const token = decodeToken<ListToken>(skip);
    offset = token.o;
    size = token.n;
    select = token.s;
  } else {
    const ps = pageSize(req, options.defaultSize ?? 100, options.maxSize ?? 999);
    size = ps.size;
    if (ps.applied) headers['Preference-Applied'] = ps.applied;
  }
  const fields = select ? new Set(select.split(',')) : undefined;
  const value = items.slice(offset, offset + size).map((item) => project(item, fields));
  const body: Record<string, unknown> = { '@odata.context': contextUrl(req, options.context), value };
  if (offset + size < items.length) {
    const token: ListToken = { o: offset + size, n: size, ...(select ? { s: select } : {}) };
    body['@odata.nextLink'] = link(req, req.path, { $skiptoken: encodeToken(token) });
  }
  return { status: 200, headers, body };
}
