// Authentication to Microsoft 365: an msal-node confidential client (client secret or
// certificate) for the Connector's tenant, with token caching and refresh done by msal, national
// clouds, and endpoint overrides. Failures are classified into the reasons catalog with a
// message that says what to fix and never contains the credential.
import { X509Certificate } from 'node:crypto';
import { ConfidentialClientApplication } from '@azure/msal-node';
import type { Configuration } from '@azure/msal-node';
import type { Reason } from '../../api/reasons.ts';
import { isMicrosoftAuthority, resolveEndpoints } from './clouds.ts';
import type { MicrosoftCloud, MicrosoftEndpoints } from './clouds.ts';

export type MicrosoftCredential = { clientSecret: string } | { certificatePem: string; privateKeyPem: string };

export interface MicrosoftAuthOptions {
  tenantId: string;
  clientId: string;
  credential: MicrosoftCredential;
  cloud?: MicrosoftCloud;
  endpoints?: Partial<MicrosoftEndpoints>;
}

export class MicrosoftAuthError extends Error {
  readonly reason: Reason;
  /** The AADSTS code or msal error code, when there is one. */
  readonly code: string | undefined;

  constructor(reason: Reason, message: string, code?: string) {
    super(message);
    this.name = 'MicrosoftAuthError';
    this.reason = reason;
    this.code = code;
  }
}

export interface AccessToken {
  token: string;
  expiresOn: Date | null;
  /** Application permissions the token carries (its `roles` claim). */
  roles: string[];
}

function rolesOf(token: string): string[] {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

export class MicrosoftAuth {
  readonly endpoints: MicrosoftEndpoints;
  /** `<graph>/.default`: every application permission the app was granted. */
  readonly scope: string;
  readonly #client: ConfidentialClientApplication;
  readonly #options: MicrosoftAuthOptions;

  constructor(options: MicrosoftAuthOptions) {
    this.#options = options;
    this.endpoints = resolveEndpoints(options.cloud, options.endpoints);
    this.scope = `${this.endpoints.graphBaseUrl}/.default`;
    const credential = options.credential;
    const auth: Configuration['auth'] = {
      clientId: options.clientId,
      authority: `${this.endpoints.authorityHost}/${options.tenantId}`,
      // A host msal does not know (an override) is trusted as given instead of asking
      // login.microsoftonline.com for instance discovery.
      ...(isMicrosoftAuthority(this.endpoints.authorityHost) ? {} : { knownAuthorities: [new URL(this.endpoints.authorityHost).host] }),
    };
    if ('clientSecret' in credential) {
      auth.clientSecret = credential.clientSecret;
    } else {
      let thumbprintSha256: string;
      try {
        thumbprintSha256 = new X509Certificate(credential.certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();
      } catch {
        throw new MicrosoftAuthError(
          'InvalidConfiguration',
          'The certificate of the Connector is not a valid PEM certificate: check the tls.crt key of its Secret.',
        );
      }
      auth.clientCertificate = { thumbprintSha256, privateKey: credential.privateKeyPem, x5c: credential.certificatePem };
    }
    this.#client = new ConfidentialClientApplication({ auth });
  }

  /**
   * A Graph access token, from msal's cache while it is valid; `fresh` asks Entra ID for a new one
   * (after Graph refused the cached one: credentials revoked, consent withdrawn).
   */
  async token(fresh = false): Promise<AccessToken> {
    let result;
    try {
      result = await this.#client.acquireTokenByClientCredential({ scopes: [this.scope], ...(fresh ? { skipCache: true } : {}) });
    } catch (err) {
      throw classifyAuthError(err, this.#options);
    }
    if (!result?.accessToken) throw new MicrosoftAuthError('AuthenticationFailed', 'Entra ID returned no access token.');
    return { token: result.accessToken, expiresOn: result.expiresOn, roles: rolesOf(result.accessToken) };
  }
}

interface MsalLikeError {
  errorCode?: string;
  errorMessage?: string;
  message?: string;
  subError?: string;
}

/** Maps an msal-node failure to a catalog reason with a message that says what to fix. */
export function classifyAuthError(err: unknown, options: Pick<MicrosoftAuthOptions, 'tenantId' | 'clientId'>): MicrosoftAuthError {
  const e = (err ?? {}) as MsalLikeError;
  const text = `${e.errorMessage ?? ''} ${e.message ?? ''}`;
  const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
  const code = aadsts ? `AADSTS${aadsts}` : e.errorCode;
  const app = `app ${options.clientId}`;
  switch (aadsts) {
    case '7000215':
      return new MicrosoftAuthError(
        'AuthenticationFailed',
        `Entra ID refused the client secret of ${app} (${code}): put the secret's value (not its id) in the Connector's Secret.`,
        code,
      );
    case '7000222':
      return new MicrosoftAuthError(
        'AuthenticationFailed',
        `The client secret of ${app} has expired (${code}): create a new secret in Entra ID and update the Connector's Secret.`,
        code,
      );
    case '700027':
    case '700024':
    case '700023':
      return new MicrosoftAuthError(
        'AuthenticationFailed',
        `Entra ID refused the certificate of ${app} (${code}): upload this certificate to the app registration, or put the registered certificate and its key in the Connector's Secret.`,
        code,
      );
    case '700016':
      return new MicrosoftAuthError(
        'AuthenticationFailed',
        `Application ${options.clientId} was not found in tenant ${options.tenantId} (${code}): check spec.microsoft365.clientId, and that an administrator consented to the app in this tenant.`,
        code,
      );
    case '90002':
    case '900023':
      return new MicrosoftAuthError(
        'TenantNotFound',
        `Tenant ${options.tenantId} was not found (${code}): check spec.microsoft365.tenantId and the national cloud.`,
        code,
      );
    case '65001':
      return new MicrosoftAuthError(
        'InsufficientPermissions',
        `An administrator has not consented to ${app} (${code}): grant admin consent for its application permissions in Entra ID.`,
        code,
      );
    case '7000218':
      return new MicrosoftAuthError(
        'AuthenticationFailed',
        `No credential was sent for ${app} (${code}): set clientSecretRef or certificateRef on the Connector.`,
        code,
      );
    default:
      break;
  }
  if (e.errorCode === 'endpoints_resolution_error' || /openid-configuration|Endpoints cannot be resolved/i.test(text)) {
    return new MicrosoftAuthError(
      'TenantNotFound',
      `The authority for tenant ${options.tenantId} could not be resolved: check spec.microsoft365.tenantId, the national cloud and the authority host.`,
      e.errorCode,
    );
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|network|socket|5\d\d/i.test(text)) {
    return new MicrosoftAuthError(
      'AuthorizationServerUnavailable',
      'Entra ID could not be reached or answered with an error; a new attempt is made automatically.',
      e.errorCode,
    );
  }
  return new MicrosoftAuthError('AuthenticationFailed', `Entra ID refused the credentials of ${app}${code ? ` (${code})` : ''}.`, code);
}
