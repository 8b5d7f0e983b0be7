// What the image ships is enough: the compiled dist/ with production dependencies only (as the
// Dockerfile's last stage has them), run on Node 24, starts the controller and reconciles.
// There is no container engine here, so the image itself is not built; this checks its contents.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../envtest/context.ts';
import { ControllerProcess } from '../support/controller-process.ts';
import { API_VERSION, apply, eventually, freshNamespace, get, readManifests } from '../support/kube.ts';
import { CONTROLLER_NAMESPACE, controllerKubeconfigPath } from '../support/rbac.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const kc = adminKubeConfig();
let app: string;
let controller: ControllerProcess | undefined;

beforeAll(() => {
  app = mkdtempSync(path.join(tmpdir(), 'saasbackup-image-'));
  cpSync(path.join(ROOT, 'package.json'), path.join(app, 'package.json'));
  cpSync(path.join(ROOT, 'package-lock.json'), path.join(app, 'package-lock.json'));
  execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, stdio: 'pipe' });
  execFileSync(
    path.join(ROOT, 'node_modules/.bin/tsc'),
    ['-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(app, 'dist')],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
}, 300_000);

afterAll(async () => {
  await controller?.stop();
  rmSync(app, { recursive: true, force: true });
});

describe('the production layout of the image', () => {
  it('holds no development dependency', () => {
    for (const dev of ['typescript', 'vitest', 'eslint', 'node']) expect(existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
  });

  it("starts with the Dockerfile's entry point flags and environment (Node refuses unknown or misplaced V8 flags)", () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint[0]).toBe('node');
    const flags = entrypoint.slice(1, -1);
    expect(entrypoint.at(-1)).toBe('/app/dist/cli/main.js');
    const env = {
      ...process.env,
      NODE_OPTIONS: /NODE_OPTIONS=(\S+)/.exec(dockerfile)![1]!,
      MALLOC_ARENA_MAX: /MALLOC_ARENA_MAX=(\S+)/.exec(dockerfile)![1]!,
    };
    const out = execFileSync(process.execPath, [...flags, path.join(app, 'dist/cli/main.js'), '--help'], {
      cwd: app,
      env,
      encoding: 'utf8',
    });
    expect(out).toContain('Usage: saasbackup');
  });

  it('runs the controller from dist/ and reconciles', async () => {
    const namespace = await freshNamespace(kc, 'image');
    controller = new ControllerProcess({
      kubeconfigPath: await controllerKubeconfigPath(),
      identity: 'image-test',
      leaseNamespace: CONTROLLER_NAMESPACE,
      leaseName: 'image-test',
      main: path.join(app, 'dist/cli/main.js'),
      cwd: app,
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const samples = path.join(ROOT, 'config/samples');
    await apply(kc, readManifests(path.join(samples, 'secrets.yaml'))[0]!, namespace);
    await apply(kc, readManifests(path.join(samples, 'connector-microsoft365.yaml'))[0]!, namespace);
    const ready = await eventually(
      async () => {
        const connector = await get<{ status?: { conditions?: { type: string; status: string }[] } }>(
          kc,
          API_VERSION,
          'Connector',
          namespace,
          'contoso-m365',
        );
        return connector?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
      },
      { what: 'the Connector to be Ready', timeoutMs: 60_000 },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${controller?.tail()}`);
    });
    expect(ready).toBeDefined();
  });
});
