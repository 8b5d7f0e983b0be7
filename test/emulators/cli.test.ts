// The emulator as the demo and the benchmarks start it: a separate process whose first line of
// standard output is the JSON a client connects with, that serves the real msal-node until it is
// told to stop, and that refuses arguments it does not understand.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { afterEach, describe, expect, it } from 'vitest';
import { trustCertificateAuthority } from './shared/tls.ts';
import type { EmulatorConnection } from './microsoft/index.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;
const children: ChildProcessWithoutNullStreams[] = [];

function start(args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' });
  children.push(child);
  return child;
}

async function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) return line;
  throw new Error('the emulator printed nothing');
}

async function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm run emulator -- microsoft', () => {
  it('prints the connection as its first line, serves msal-node and Graph, and exits 0 on SIGTERM', async () => {
    const child = start(['microsoft', '--seed', 'cli', '--users', '2', '--mail', '3', '--throttle', 'microsoft']);
    const connection = JSON.parse(await firstLine(child)) as EmulatorConnection;
    expect(connection.graphBaseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    trustCertificateAuthority(readFileSync(connection.caFile, 'utf8'));
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId: connection.clientId,
        clientSecret: connection.clientSecret,
        authority: `${connection.authorityHost}/${connection.tenantId}`,
        knownAuthorities: [new URL(connection.authorityHost).host],
      },
    });
    const token = await msal.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    const users = (await (
      await fetch(`${connection.graphBaseUrl}/v1.0/users?$select=userPrincipalName`, {
        headers: { Authorization: `Bearer ${token?.accessToken}` },
      })
    ).json()) as { value: { userPrincipalName: string }[] };
    expect(users.value.length).toBeGreaterThanOrEqual(2);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  });

  it('refuses an unknown option, a bad count and an unknown throttle preset, saying which', async () => {
    for (const [args, complaint] of [
      [['microsoft', '--userz', '2'], /unknown option '--userz'/],
      [['microsoft', '--users', 'many'], /expected a whole number/],
      [['microsoft', '--throttle', 'gentle'], /expected 'microsoft' or 'off'/],
    ] as const) {
      const { code, stderr } = await exitOf(start([...args]));
      expect(code, args.join(' ')).not.toBe(0);
      expect(stderr, args.join(' ')).toMatch(complaint);
    }
  });
});
