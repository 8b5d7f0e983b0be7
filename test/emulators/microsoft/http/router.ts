// A small router: literal segments match case-insensitively (as Graph does), `:name` matches one
// segment, and a segment may carry OData function syntax such as `delta(token=':token')`.
import type { EmulatorRequest, EmulatorResponse } from './types.ts';

export type Handler = (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;

export interface RouteOptions {
  /**
   * What the request is, for the request counters, fault rules and throttling:
   * `mail.delta`, `mail.mime`, `drive.content`...
   */
  kind: string;
  /**
   * `graph`: needs a Graph access token, and one of `permissions` if given.
   * `none`: public (identity endpoints, pre-authenticated download URLs, the control API).
   */
  auth: 'graph' | 'none';
  /** Application permissions of which the token must hold at least one. */
  permissions?: readonly string[];
  /** The mailbox (user id or address) the request touches, for the per-mailbox limits. */
  mailbox?: (params: Record<string, string>) => string | undefined;
  /** Resource units the request costs against the tenant's OneDrive/SharePoint budget. */
  resourceUnits?: number;
}

export interface Route extends RouteOptions {
  method: string;
  pattern: string;
  handler: Handler;
  matcher: RegExp;
  names: string[];
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(pattern: string): { matcher: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) =>
      segment
        .split(/(:[A-Za-z]+)/)
        .map((part) => {
          if (part.startsWith(':')) {
            names.push(part.slice(1));
            return '([^/]+?)';
          }
          return escape(part);
        })
        .join(''),
    )
    .join('/');
  return { matcher: new RegExp(`^${source}/?$`, 'i'), names };
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, options: RouteOptions, handler: Handler): void {
    const { matcher, names } = compile(pattern);
    this.routes.push({ ...options, method: method.toUpperCase(), pattern, handler, matcher, names });
  }

  get(pattern: string, options: RouteOptions, handler: Handler): void {
    this.add('GET', pattern, options, handler);
  }

  post(pattern: string, options: RouteOptions, handler: Handler): void {
    this.add('POST', pattern, options, handler);
  }

  put(pattern: string, options: RouteOptions, handler: Handler): void {
    this.add('PUT', pattern, options, handler);
  }

  patch(pattern: string, options: RouteOptions, handler: Handler): void {
    this.add('PATCH', pattern, options, handler);
  }

  delete(pattern: string, options: RouteOptions, handler: Handler): void {
    this.add('DELETE', pattern, options, handler);
  }

  /** The route for `method` and `path`; `methodNotAllowed` when only the method differs. */
  match(method: string, path: string): RouteMatch | 'methodNotAllowed' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.matcher.exec(path);
      if (!m) continue;
      if (route.method !== method.toUpperCase()) {
        pathMatched = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { route, params };
    }
    return pathMatched ? 'methodNotAllowed' : undefined;
  }
}
