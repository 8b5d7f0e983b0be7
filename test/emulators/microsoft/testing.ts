// Contract-test support: starts the emulator in-process, makes this process trust its CA, and
// builds the real client libraries (msal-node, the Graph client) pointed at it through their
// endpoint overrides, exactly as the worker will.
import { ConfidentialClientApplication } from '@azure/msal-node';
import type { Configuration } from '@azure/msal-node';
import { AuthenticationHandler, Client, HTTPMessageHandler } from '@microsoft/microsoft-graph-client';
import type { Middleware } from '@microsoft/microsoft-graph-client';
import { trustCertificateAuthority } from '../shared/tls.ts';
import { MicrosoftEmulator } from './index.ts';
import type { MicrosoftEmulatorOptions } from './index.ts';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export async function startEmulator(options: MicrosoftEmulatorOptions = {}): Promise<MicrosoftEmulator> {
  const emulator = await MicrosoftEmulator.start(options);
  trustCertificateAuthority(emulator.caPem);
  return emulator;
}

/** The app registration and endpoints of an emulator, as a Connector gives them to the provider. */
export function connectionOf(emulator: MicrosoftEmulator) {
  const c = emulator.connection;
  return {
    tenantId: c.tenantId,
    clientId: c.clientId,
    credential: { clientSecret: c.clientSecret },
    endpoints: { authorityHost: c.authorityHost, graphBaseUrl: c.graphBaseUrl },
  };
}

type Credential = { clientSecret: string } | { clientCertificate: { thumbprintSha256: string; privateKey: string; x5c?: string } };

/** A confidential client for the emulator's tenant (a secret by default). */
export function msalClient(emulator: MicrosoftEmulator, credential?: Credential, tenant?: string): ConfidentialClientApplication {
  const c = emulator.connection;
  const host = new URL(c.authorityHost).host;
  const config: Configuration = {
    auth: {
      clientId: c.clientId,
      authority: `${c.authorityHost}/${tenant ?? c.tenantId}`,
      knownAuthorities: [host],
      ...(credential ?? { clientSecret: c.clientSecret }),
    },
  };
  return new ConfidentialClientApplication(config);
}

export async function accessToken(client: ConfidentialClientApplication): Promise<string> {
  const result = await client.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
  if (!result) throw new Error('no token');
  return result.accessToken;
}

/**
 * A Graph client on the emulator. `middleware` replaces the default chain (the retry handler
 * retries 429/503/504 three times by default; contract tests that look at a 429 pass a chain
 * without it).
 */
export function graphClient(
  emulator: MicrosoftEmulator,
  options: { client?: ConfidentialClientApplication; middleware?: Middleware[] } = {},
): Client {
  const msal = options.client ?? msalClient(emulator);
  const authProvider = { getAccessToken: () => accessToken(msal) };
  const base = {
    baseUrl: `${emulator.connection.graphBaseUrl}/`,
    customHosts: new Set([new URL(emulator.connection.graphBaseUrl).hostname]),
  };
  if (options.middleware) return Client.initWithMiddleware({ ...base, middleware: options.middleware });
  return Client.initWithMiddleware({ ...base, authProvider });
}

/** A Graph client that does not retry: each 429 or 5xx reaches the caller as a GraphError. */
export function graphClientWithoutRetry(emulator: MicrosoftEmulator, client?: ConfidentialClientApplication): Client {
  const msal = client ?? msalClient(emulator);
  const auth = new AuthenticationHandler({ getAccessToken: () => accessToken(msal) });
  auth.setNext(new HTTPMessageHandler());
  return graphClient(emulator, { client: msal, middleware: [auth] });
}
