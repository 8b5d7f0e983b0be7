// vitest globalSetup of the `integration` project: starts etcd + kube-apiserver + MinIO once,
// installs the CRDs from crds/, and provides connection details to the test files, which read
// them with inject('kubeconfigPath') etc. (see context.ts for ready-made helpers).
//
// It also serves a tiny control endpoint (envtestControlUrl) through which a test can stop,
// start or restart the shared kube-apiserver, which lives in this process, not in the worker.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import type { TestBinaries } from './binaries.ts';
import type { TestCerts } from './certs.ts';
import { startTestEnvironment } from './environment.ts';
import type { TestEnvironment } from './environment.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Temp dir of the environment; tests may write files here (removed at teardown). */
    envtestDir: string;
    /** Admin kubeconfig (system:masters client certificate). */
    kubeconfigPath: string;
    /** https://127.0.0.1:<port> */
    apiserverUrl: string;
    /** http://127.0.0.1:<port>, to start extra apiservers on the same etcd. */
    etcdUrl: string;
    /** --etcd-prefix of the shared apiserver (/registry); use another one for an isolated cluster. */
    etcdPrefix: string;
    /** CA, serving, admin and service-account key files, to start extra apiservers and build clients. */
    envtestCerts: TestCerts;
    envtestBinaries: TestBinaries;
    /** Base URL of the control endpoint: POST <url>/apiserver/{stop,start,restart}. */
    envtestControlUrl: string;
    /** CRDs installed from crds/ (Established). */
    crdNames: string[];
    /** http://127.0.0.1:<port> */
    minioEndpoint: string;
    minioHost: string;
    minioPort: number;
    minioAccessKey: string;
    minioSecretKey: string;
    minioRegion: string;
    /** Bucket with Object Lock and versioning enabled. */
    minioBucket: string;
  }
}

function startControlServer(env: TestEnvironment): Promise<{ url: string; close: () => Promise<void> }> {
  const secret = randomBytes(12).toString('hex');
  const actions: Record<string, () => Promise<void>> = {
    stop: () => env.apiserver.stop(),
    start: () => env.apiserver.start(),
    restart: () => env.apiserver.restart(),
  };
  // One action at a time, so concurrent requests cannot interleave stop and start.
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((req, res) => {
    const match = /^\/([0-9a-f]+)\/apiserver\/(stop|start|restart)$/.exec(req.url ?? '');
    const action = match?.[2] === undefined ? undefined : actions[match[2]];
    if (req.method !== 'POST' || match?.[1] !== secret || action === undefined) {
      res.writeHead(404).end();
      return;
    }
    const t0 = Date.now();
    const done = queue.then(action);
    queue = done.catch(() => undefined);
    done.then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ms: Date.now() - t0 })),
      (err: unknown) =>
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) })),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/${secret}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = await startTestEnvironment({ log: (m) => console.log(`[envtest] ${m}`) });
  const minio = env.minio;
  if (minio === undefined || minio.bucket === null) {
    await env.stop();
    throw new Error('envtest: MinIO did not start');
  }
  const control = await startControlServer(env);
  console.log(
    `[envtest] ready in ${env.timings['total']} ms: kube-apiserver ${env.apiserver.url}, etcd ${env.etcd.url}, ` +
      `minio ${minio.endpoint}, kubeconfig ${env.kubeconfigPath}, CRDs [${env.crdNames.join(', ')}]`,
  );

  project.provide('envtestDir', env.dir);
  project.provide('kubeconfigPath', env.kubeconfigPath);
  project.provide('apiserverUrl', env.apiserver.url);
  project.provide('etcdUrl', env.etcd.url);
  project.provide('etcdPrefix', env.apiserver.etcdPrefix);
  project.provide('envtestCerts', env.certs);
  project.provide('envtestBinaries', env.binaries);
  project.provide('envtestControlUrl', control.url);
  project.provide('crdNames', env.crdNames);
  project.provide('minioEndpoint', minio.endpoint);
  project.provide('minioHost', minio.host);
  project.provide('minioPort', minio.port);
  project.provide('minioAccessKey', minio.accessKey);
  project.provide('minioSecretKey', minio.secretKey);
  project.provide('minioRegion', minio.region);
  project.provide('minioBucket', minio.bucket);

  return async () => {
    const t0 = Date.now();
    await control.close();
    await env.stop();
    console.log(`[envtest] stopped in ${Date.now() - t0} ms`);
  };
}
