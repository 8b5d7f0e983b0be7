// The Connector checks for Microsoft 365, through the real msal-node against the emulator's
// Entra ID: each credential problem becomes the catalog reason a user sees, and the message never
// contains the secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MicrosoftAuth } from '../../../src/providers/microsoft365/auth.ts';
import type { MicrosoftCredential } from '../../../src/providers/microsoft365/auth.ts';
import { checkMicrosoftConnector } from '../../../src/providers/microsoft365/checks.ts';
import { ALL_APPLICATION_PERMISSIONS } from '../../emulators/microsoft/tenant/directory.ts';
import { createClientCertificate } from '../../emulators/shared/tls.ts';
import type { MicrosoftEmulator } from '../../emulators/microsoft/index.ts';
import { connectionOf, startEmulator } from '../../emulators/microsoft/testing.ts';

let emulator: MicrosoftEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ tenant: { users: 1, sharedMailboxes: 0, unlicensedUsers: 0, groups: 0, sites: 0, teams: 0 } });
});

afterAll(async () => {
  await emulator?.close();
});

function auth(credential?: MicrosoftCredential, tenantId?: string): MicrosoftAuth {
  return new MicrosoftAuth({
    ...connectionOf(emulator),
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(credential === undefined ? {} : { credential }),
  });
}

describe('Microsoft 365 connector checks', () => {
  it('is Ready with a client secret when every permission is granted', async () => {
    const check = await checkMicrosoftConnector(auth());
    expect(check).toMatchObject({ ready: true, reason: 'Ready', missing: [] });
    expect(check.granted).toContain('Mail.ReadWrite');
  });

  it('is Ready with a registered certificate', async () => {
    const cert = createClientCertificate('connector');
    emulator.addCertificate(cert.certPem, cert.thumbprintSha256);
    const check = await checkMicrosoftConnector(auth({ certificatePem: cert.certPem, privateKeyPem: cert.keyPem }));
    expect(check.ready).toBe(true);
  });

  it('names the unregistered certificate', async () => {
    const cert = createClientCertificate('unknown');
    const check = await checkMicrosoftConnector(auth({ certificatePem: cert.certPem, privateKeyPem: cert.keyPem }));
    expect(check).toMatchObject({ ready: false, reason: 'AuthenticationFailed' });
    expect(check.message).toMatch(/AADSTS700027.*upload this certificate/);
  });

  it('gives AuthenticationFailed for a wrong secret, without the secret in the message', async () => {
    const check = await checkMicrosoftConnector(auth({ clientSecret: 'wrong-secret-value-123' }));
    expect(check).toMatchObject({ ready: false, reason: 'AuthenticationFailed' });
    expect(check.message).toMatch(/AADSTS7000215/);
    expect(check.message).not.toContain('wrong-secret-value-123');
  });

  it('gives AuthenticationFailed naming the expiry for an expired secret', async () => {
    const secret = emulator.directory.app.secrets[0];
    if (!secret) throw new Error('no secret');
    const saved = secret.expiresAt;
    secret.expiresAt = new Date(Date.now() - 1);
    try {
      const check = await checkMicrosoftConnector(auth());
      expect(check.reason).toBe('AuthenticationFailed');
      expect(check.message).toMatch(/expired/);
    } finally {
      secret.expiresAt = saved;
    }
  });

  it('gives TenantNotFound for an unknown tenant', async () => {
    const check = await checkMicrosoftConnector(auth(undefined, '11111111-2222-4333-8444-555555555555'));
    expect(check).toMatchObject({ ready: false, reason: 'TenantNotFound' });
    expect(check.message).toContain('11111111-2222-4333-8444-555555555555');
  });

  it('gives InsufficientPermissions when admin consent is missing', async () => {
    emulator.directory.app.consented = false;
    try {
      const check = await checkMicrosoftConnector(auth());
      expect(check).toMatchObject({ ready: false, reason: 'InsufficientPermissions' });
      expect(check.message).toMatch(/consent/);
    } finally {
      emulator.directory.app.consented = true;
    }
  });

  it('lists the permissions still to grant', async () => {
    emulator.directory.app.grantedRoles = new Set(
      ALL_APPLICATION_PERMISSIONS.filter((p) => p !== 'Mail.ReadWrite' && p !== 'ChannelMessage.Read.All'),
    );
    try {
      const check = await checkMicrosoftConnector(auth());
      expect(check).toMatchObject({ ready: false, reason: 'InsufficientPermissions', missing: ['Mail.Read', 'ChannelMessage.Read.All'] });
      expect(check.message).toContain('Mail.Read, ChannelMessage.Read.All');
      const mailless = await checkMicrosoftConnector(auth(), ['onedrive', 'sharepoint']);
      expect(mailless.ready).toBe(true);
    } finally {
      emulator.directory.app.grantedRoles = new Set(ALL_APPLICATION_PERMISSIONS);
    }
  });

  it('gives AuthenticationFailed after the credentials are revoked', async () => {
    const a = auth();
    expect((await checkMicrosoftConnector(a)).ready).toBe(true);
    emulator.revokeCredentials();
    const check = await checkMicrosoftConnector(auth());
    expect(check.reason).toBe('AuthenticationFailed');
  });
});
