// Entra ID contract: the real msal-node gets tokens from the emulator with a client secret and
// with a certificate, and sees Entra's errors for each credential problem.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientCertificate } from '../shared/tls.ts';
import type { MicrosoftEmulator } from './index.ts';
import { accessToken, graphClient, msalClient, startEmulator } from './testing.ts';

let emulator: MicrosoftEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ tenant: { users: 2, sharedMailboxes: 0, unlicensedUsers: 0 } });
});

afterAll(async () => {
  await emulator?.close();
});

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function failure(promise: Promise<unknown>): Promise<{ errorCode?: string; errorMessage?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { errorCode?: string; errorMessage?: string; message: string };
  }
  throw new Error('expected the call to fail');
}

describe('Entra ID token endpoint', () => {
  it('issues an app token with the granted roles for a client secret, and msal caches it', async () => {
    const client = msalClient(emulator);
    const first = await client.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(first?.tokenType).toBe('Bearer');
    const c = claims(first?.accessToken ?? '');
    expect(c['tid']).toBe(emulator.connection.tenantId);
    expect(c['appid']).toBe(emulator.connection.clientId);
    expect(c['roles']).toContain('Mail.ReadWrite');
    const before = emulator.stats.byKind['identity.token'] ?? 0;
    const second = await client.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(second?.accessToken).toBe(first?.accessToken);
    expect(emulator.stats.byKind['identity.token'] ?? 0).toBe(before);
  });

  it('accepts the tenant by its domain name as well as its id', async () => {
    const token = await accessToken(msalClient(emulator, undefined, emulator.directory.domain));
    expect(claims(token)['tid']).toBe(emulator.connection.tenantId);
  });

  it('issues a token for a client assertion signed with a registered certificate (PS256 and x5t#S256)', async () => {
    const cert = createClientCertificate('saasbackup-test');
    emulator.addCertificate(cert.certPem, cert.thumbprintSha256);
    const client = msalClient(emulator, { clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.keyPem } });
    const token = await accessToken(client);
    expect(claims(token)['appid']).toBe(emulator.connection.clientId);
  });

  it('refuses a certificate that is not registered (AADSTS700027)', async () => {
    const cert = createClientCertificate('stranger');
    const client = msalClient(emulator, { clientCertificate: { thumbprintSha256: cert.thumbprintSha256, privateKey: cert.keyPem } });
    const err = await failure(accessToken(client));
    expect(err.errorCode).toBe('invalid_client');
    expect(err.errorMessage).toMatch(/AADSTS700027/);
  });

  it('refuses an assertion signed by another key than the registered certificate', async () => {
    const registered = createClientCertificate('registered');
    const other = createClientCertificate('other');
    emulator.addCertificate(registered.certPem, registered.thumbprintSha256);
    const client = msalClient(emulator, { clientCertificate: { thumbprintSha256: registered.thumbprintSha256, privateKey: other.keyPem } });
    const err = await failure(accessToken(client));
    expect(err.errorMessage).toMatch(/AADSTS700027: Client assertion failed signature validation/);
  });

  it('answers a wrong secret with AADSTS7000215', async () => {
    const err = await failure(accessToken(msalClient(emulator, { clientSecret: 'not-the-secret' })));
    expect(err.errorCode).toBe('invalid_client');
    expect(err.errorMessage).toMatch(/AADSTS7000215: Invalid client secret provided/);
    expect(err.errorMessage).not.toContain('not-the-secret');
  });

  it('answers an unknown tenant with AADSTS90002', async () => {
    const err = await failure(accessToken(msalClient(emulator, undefined, '00000000-0000-4000-a000-000000000000')));
    expect(`${err.errorMessage ?? ''} ${err.message}`).toMatch(/90002|endpoints_resolution_error|Tenant/);
  });

  it('answers an expired secret with AADSTS7000222', async () => {
    const secret = emulator.directory.app.secrets[0];
    if (!secret) throw new Error('no secret');
    const saved = secret.expiresAt;
    secret.expiresAt = new Date(Date.now() - 1000);
    try {
      const err = await failure(accessToken(msalClient(emulator)));
      expect(err.errorMessage).toMatch(/AADSTS7000222/);
    } finally {
      secret.expiresAt = saved;
    }
  });

  it('answers a missing admin consent with AADSTS65001', async () => {
    emulator.directory.app.consented = false;
    try {
      const err = await failure(accessToken(msalClient(emulator)));
      expect(err.errorCode).toBe('invalid_grant');
      expect(err.errorMessage).toMatch(/AADSTS65001/);
    } finally {
      emulator.directory.app.consented = true;
    }
  });
});

describe('Graph authentication', () => {
  it('refuses a request without a token, and one with a forged token', async () => {
    const url = `${emulator.connection.graphBaseUrl}/v1.0/users`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
    const token = await accessToken(msalClient(emulator));
    const [h, p] = token.split('.');
    const forged = await fetch(url, { headers: { Authorization: `Bearer ${h}.${p}.AAAA` } });
    expect(forged.status).toBe(401);
  });

  it('answers an unknown path the way Graph does', async () => {
    const err = await failure(graphClient(emulator).api('/nosuchthing').get());
    expect((err as unknown as { statusCode: number }).statusCode).toBe(400);
    expect((err as unknown as { code: string }).code).toBe('BadRequest');
  });
});
