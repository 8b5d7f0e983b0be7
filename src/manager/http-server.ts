// The controller's one HTTP port: /healthz (the process is alive), /readyz (every informer cache
// has synced, so reconciles would read a complete world) and /metrics (Prometheus text format).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Ready when every cache has synced; the message says what is still missing. */
  readiness(): { ready: boolean; message: string };
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  health: HealthSource;
}): Promise<HttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const { ready, message } = options.health.readiness();
      response.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${message}\n`);
      return;
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => response.writeHead(200, { 'Content-Type': options.registry.contentType }).end(text))
        .catch((error: Error) => response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error.message}\n`));
      return;
    }
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
