// Test support for the Microsoft 365 provider: an emulator in-process and the worker's own Graph
// session (msal-node, the Graph client, our governor) pointed at it through the Connector's
// endpoint overrides, with a fast retry policy so fault tests do not wait for production backoff.
import { MicrosoftAuth } from '../../../src/providers/microsoft365/auth.ts';
import { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import type { GraphSessionOptions } from '../../../src/providers/microsoft365/graph.ts';
import type { RetryPolicy } from '../../../src/providers/http/retry.ts';
import type { MicrosoftEmulator, MicrosoftEmulatorOptions } from '../../emulators/microsoft/index.ts';
import { startEmulator } from '../../emulators/microsoft/testing.ts';

export const FAST_RETRY: RetryPolicy = { maxAttempts: 4, baseMs: 20, capMs: 200, maxRetryAfterMs: 2_000 };

export function authFor(emulator: MicrosoftEmulator): MicrosoftAuth {
  const c = emulator.connection;
  return new MicrosoftAuth({
    tenantId: c.tenantId,
    clientId: c.clientId,
    credential: { clientSecret: c.clientSecret },
    endpoints: { authorityHost: c.authorityHost, graphBaseUrl: c.graphBaseUrl },
  });
}

export function sessionFor(emulator: MicrosoftEmulator, options: GraphSessionOptions = {}): GraphSession {
  return new GraphSession(authFor(emulator), { retry: FAST_RETRY, ...options });
}

export async function startWithSession(options: MicrosoftEmulatorOptions = {}, session: GraphSessionOptions = {}): Promise<{ emulator: MicrosoftEmulator; session: GraphSession }> {
  const emulator = await startEmulator(options);
  return { emulator, session: sessionFor(emulator, session) };
}
