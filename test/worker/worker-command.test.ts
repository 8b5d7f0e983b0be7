// `saasbackup worker backup` as a process, the way a person or a Job runs it: Secrets mounted the
// way the kubelet mounts them (each key a link into `..data/`), a result file for every outcome,
// and the exit codes of `--help`: 0 Successful, 2 a manifest or Secret it cannot use (the message
// names the field), 3 a run that did not succeed. Hostile manifests that never went through the
// apiserver are refused by the worker itself, and it never reads a file outside a Secret's mount.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.ts';
import { S3Storage } from '../../src/repository/storage/s3.ts';
import type { MicrosoftEmulator } from '../emulators/microsoft/index.ts';
import { startEmulator } from '../emulators/microsoft/testing.ts';
import { sharedMinio } from '../envtest/context.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const KEY = 'worker-command-test-key';
const minio = sharedMinio();

interface Result {
  outcome: string;
  reason: string;
  message: string;
  snapshot?: string;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The result file as written. */
  resultText: string;
  result: Result;
}

/** Writes a Secret the way the kubelet mounts it: the values in a timestamped folder, `..data` linking to it, each key linking into `..data`. */
function mountSecret(dir: string, values: Record<string, string>): void {
  const version = '..2026_12_01_00_00_00.000000001';
  mkdirSync(path.join(dir, version), { recursive: true });
  for (const [key, value] of Object.entries(values)) writeFileSync(path.join(dir, version, key), value);
  symlinkSync(version, path.join(dir, '..data'));
  for (const key of Object.keys(values)) symlinkSync(path.join('..data', key), path.join(dir, key));
}

describe('saasbackup worker backup: outcomes, results and exit codes', () => {
  let emulator: MicrosoftEmulator;
  let dir: string;
  let cases = 0;

  beforeAll(async () => {
    emulator = await startEmulator({
      tenant: {
        seed: 'worker-command',
        users: 2,
        sharedMailboxes: 0,
        unlicensedUsers: 0,
        groups: 1,
        sites: 0,
        teams: 0,
        items: { mail: 6, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 0 },
      },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-worker-command-'));
  });

  afterAll(async () => {
    await emulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Layout {
    home: string;
    prefix: string;
    secrets: string;
    args: string[];
    policy: { metadata: { name: string }; spec: { storage: Record<string, Record<string, unknown>> } };
  }

  /** A valid Connector, BackupPolicy and mounted Secrets; `change` edits the policy before it is written. */
  function layout(change: (policy: Layout['policy']) => void = () => {}, repositoryKey = KEY): Layout {
    const home = path.join(dir, `case-${++cases}`);
    const secrets = path.join(home, 'secrets');
    const prefix = `worker-command-${process.pid}-${cases}`;
    mountSecret(path.join(secrets, 'connector'), { 'client-secret': `${emulator.connection.clientSecret}\n` });
    mountSecret(path.join(secrets, 'storage'), { AWS_ACCESS_KEY_ID: minio.accessKey, AWS_SECRET_ACCESS_KEY: minio.secretKey });
    mountSecret(path.join(secrets, 'repository-key'), { 'repository-key': repositoryKey });
    const c = emulator.connection;
    const connector = {
      apiVersion: 'saasbackup.io/v1alpha1',
      kind: 'Connector',
      metadata: { name: 'contoso', namespace: 'backup' },
      spec: {
        provider: 'microsoft365',
        microsoft365: {
          tenantId: c.tenantId,
          clientId: c.clientId,
          clientSecretRef: { name: 'contoso-app' },
          endpoints: { authorityHost: c.authorityHost, graphBaseUrl: c.graphBaseUrl },
        },
      },
    };
    const policy: Layout['policy'] = {
      metadata: { name: 'contoso-mail' },
      spec: {
        storage: {
          s3: {
            endpoint: minio.endpoint,
            bucket: minio.bucket,
            prefix,
            region: minio.region,
            credentialsSecretRef: { name: 'bucket' },
          },
          encryptionKeySecretRef: { name: 'repo-key' },
        },
      },
    };
    change(policy);
    const manifest = {
      apiVersion: 'saasbackup.io/v1alpha1',
      kind: 'BackupPolicy',
      metadata: { ...policy.metadata, namespace: 'backup' },
      spec: { connectorRef: { name: 'contoso' }, services: ['mail'], run: { concurrency: 1 }, ...policy.spec },
    };
    writeFileSync(path.join(home, 'connector.json'), JSON.stringify(connector));
    writeFileSync(path.join(home, 'policy.json'), JSON.stringify(manifest));
    return {
      home,
      prefix,
      secrets,
      policy,
      args: [
        '--connector',
        path.join(home, 'connector.json'),
        '--policy',
        path.join(home, 'policy.json'),
        '--secrets-dir',
        secrets,
        '--result-file',
        path.join(home, 'result.json'),
        '--progress-file',
        path.join(home, 'progress.json'),
        '--run',
        'contoso-mail-202612010000',
      ],
    };
  }

  function worker(at: Layout): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(NODE, [CLI, 'worker', 'backup', ...at.args], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: emulator.connection.caFile, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        const resultText = readFileSync(path.join(at.home, 'result.json'), 'utf8');
        resolve({ code, stdout, stderr, resultText, result: JSON.parse(resultText) as Result });
      });
    });
  }

  function expectNoSecrets(run: Run, ...more: string[]): void {
    for (const secret of [emulator.connection.clientSecret, minio.secretKey, KEY, ...more]) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
      expect(run.resultText).not.toContain(secret);
    }
  }

  it('backs up from Secrets mounted as the kubelet mounts them, and ends every file and line it writes with a newline', async () => {
    const at = layout();
    // A key no manifest names is never read, even one that leads outside the mount.
    writeFileSync(path.join(dir, 'outside'), 'not a secret of this Connector');
    symlinkSync(path.join(dir, 'outside'), path.join(at.secrets, 'connector', 'unrelated'));
    const run = await worker(at);
    expect(run.code, run.stderr).toBe(0);
    expect(run.result).toMatchObject({ outcome: 'Successful' });
    expect(run.result.snapshot).toBeDefined();
    expect(run.resultText.endsWith('}\n')).toBe(true);
    const progress = readFileSync(path.join(at.home, 'progress.json'), 'utf8');
    expect(progress.endsWith('}\n')).toBe(true);
    expect(JSON.parse(progress)).toMatchObject({ accountsDone: 2, accountsTotal: 2 });
    expect(run.stdout.endsWith('\n')).toBe(true);
    for (const line of run.stdout.trimEnd().split('\n')) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expectNoSecrets(run);
  });

  it('refuses a bucket S3 would refuse, naming the field, with exit code 2 and a result', async () => {
    const run = await worker(layout((policy) => (policy.spec.storage.s3!.bucket = '192.168.1.1')));
    expect(run.code).toBe(2);
    const problem = 'spec.storage.s3.bucket: a bucket name must not be formatted as an IP address';
    expect(run.stderr).toContain(problem);
    expect(run.stderr.endsWith('\n')).toBe(true);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'InvalidConfiguration' });
    expect(run.result.message).toContain(problem);
    expect(run.result.message).toContain('Fix the field named in the message');
    expect(run.resultText.endsWith('}\n')).toBe(true);
    expectNoSecrets(run);
  });

  it('refuses a Secret key whose file leads outside the mount, and never reads it', async () => {
    const at = layout();
    const outside = path.join(dir, 'stolen-key');
    writeFileSync(outside, 'a file the worker must not read');
    const mount = path.join(at.secrets, 'repository-key');
    rmSync(path.join(mount, 'repository-key'));
    symlinkSync(outside, path.join(mount, 'repository-key'));
    const run = await worker(at);
    expect(run.code).toBe(2);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'InvalidConfiguration' });
    for (const text of [run.stderr, run.result.message]) {
      expect(text).toContain('the repository key (spec.storage.encryptionKeySecretRef.key)');
      expect(text).toContain(`${path.join(mount, 'repository-key')} leads outside the Secret's mount ${mount}`);
    }
    expectNoSecrets(run, 'a file the worker must not read');
  });

  it('refuses a Secret key that climbs out of the mount in a hand-written manifest', async () => {
    const run = await worker(layout((policy) => (policy.spec.storage.encryptionKeySecretRef!.key = '../storage/AWS_SECRET_ACCESS_KEY')));
    expect(run.code).toBe(2);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'InvalidConfiguration' });
    expect(run.stderr).toContain(
      "spec.storage.encryptionKeySecretRef.key: a Secret key must use only letters, digits, '-', '_' and '.', and must not be '.' or start with '..' (no '/')",
    );
    expectNoSecrets(run);
  });

  it('reports a missing Secret key as SecretNotFound, with exit code 2', async () => {
    const at = layout();
    rmSync(path.join(at.secrets, 'connector', 'client-secret'));
    const run = await worker(at);
    expect(run.code).toBe(2);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'SecretNotFound' });
    expect(run.result.message).toContain('the client secret of the Connector: the mounted Secret has no key client-secret');
    expect(run.result.message).toContain('add the key to the Secret contoso-app, or correct spec.microsoft365.clientSecretRef.key');
  });

  it('reports a repository key that does not open the repository as RepositoryKeyInvalid, with exit code 2', async () => {
    const at = layout(undefined, 'not-the-repository-key');
    const storage = new S3Storage({
      endpoint: minio.endpoint,
      region: minio.region,
      bucket: minio.bucket,
      prefix: at.prefix,
      accessKey: minio.accessKey,
      secretKey: minio.secretKey,
    });
    await (await Repository.init(storage, { key: KEY })).close();
    const run = await worker(at);
    expect(run.code).toBe(2);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'RepositoryKeyInvalid' });
    expect(run.result.message).toContain('Restore the original key into the Secret');
    expect(run.resultText.endsWith('}\n')).toBe(true);
    expectNoSecrets(run, 'not-the-repository-key');
  });

  it('reports storage it cannot reach as StorageUnavailable, with exit code 3', async () => {
    const run = await worker(layout((policy) => (policy.spec.storage.s3!.endpoint = 'http://127.0.0.1:1')));
    expect(run.code).toBe(3);
    expect(run.result).toMatchObject({ outcome: 'Unsuccessful', reason: 'StorageUnavailable' });
    expect(run.result.message).toContain('127.0.0.1:1');
    expectNoSecrets(run);
  });
});
