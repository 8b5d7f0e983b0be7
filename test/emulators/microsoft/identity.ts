// Entra ID (the Microsoft identity platform, v2.0 endpoints) for the client-credentials flow:
// OpenID discovery metadata and instance discovery (what msal-node fetches for an authority), and
// the token endpoint taking a client secret or a client assertion signed with a registered
// certificate. Errors are the AADSTS answers Entra gives. Access tokens are RS256 JWTs signed by
// the emulator, with the granted application permissions in `roles`; Graph routes verify them.
import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { EmulatorContext } from './context.ts';
import type { Router } from './http/router.ts';
import { GraphError } from './http/types.ts';
import type { AppPrincipal, EmulatorRequest, EmulatorResponse } from './http/types.ts';

export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

interface JwtParts {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

function parseJwt(token: string): JwtParts | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    return {
      header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
      payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
      signingInput: `${h}.${p}`,
      signature: Buffer.from(s, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/** An Entra error body: `{error, error_description, error_codes, timestamp, trace_id, correlation_id, error_uri}`. */
function entraError(req: EmulatorRequest, status: number, error: string, code: number, description: string): EmulatorResponse {
  const trace = randomUUID();
  const correlation = req.headers['client-request-id'] ?? randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `${req.origin}/error?code=${code}`,
    },
  };
}

export class Identity {
  private readonly ctx: EmulatorContext;
  private readonly signingKey: KeyObject;
  private readonly verifyKey: KeyObject;
  /** Payloads of tokens whose signature was checked, by token. */
  private readonly verified = new Map<string, Record<string, unknown>>();
  private readonly keyId = randomUUID();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = pair.privateKey;
    this.verifyKey = pair.publicKey;
  }

  private knownTenant(name: string): boolean {
    const d = this.ctx.directory;
    if (this.ctx.switches.tenantGone) return false;
    return name === d.tenantId || name.toLowerCase() === d.domain || name === 'organizations' || name === 'common';
  }

  routes(router: Router): void {
    const open = { auth: 'none' as const };
    router.get('/common/discovery/instance', { ...open, kind: 'identity.instance' }, (req) => this.instanceDiscovery(req));
    router.get('/:tenant/v2.0/.well-known/openid-configuration', { ...open, kind: 'identity.metadata' }, (req) => this.metadata(req));
    router.get('/:tenant/discovery/v2.0/keys', { ...open, kind: 'identity.keys' }, () => this.keys());
    router.post('/:tenant/oauth2/v2.0/token', { ...open, kind: 'identity.token' }, (req) => this.token(req));
  }

  private instanceDiscovery(req: EmulatorRequest): EmulatorResponse {
    const host = new URL(req.origin).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${req.origin}/${this.ctx.directory.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }

  private metadata(req: EmulatorRequest): EmulatorResponse {
    const tenant = req.params['tenant'] ?? '';
    if (!this.knownTenant(tenant)) {
      return entraError(
        req,
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const tid = this.ctx.directory.tenantId;
    const base = `${req.origin}/${tenant}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${req.origin}/${tid}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${req.origin}/${tid}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${req.origin}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'roles'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: new URL(req.origin).host,
      },
    };
  }

  private keys(): EmulatorResponse {
    const jwk = this.verifyKey.export({ format: 'jwk' });
    return { status: 200, body: { keys: [{ kty: 'RSA', use: 'sig', kid: this.keyId, n: jwk.n, e: jwk.e }] } };
  }

  private token(req: EmulatorRequest): EmulatorResponse {
    const tenant = req.params['tenant'] ?? '';
    if (!this.knownTenant(tenant)) {
      return entraError(
        req,
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const form = new URLSearchParams(req.body.toString('utf8'));
    const grant = form.get('grant_type');
    if (grant !== 'client_credentials') {
      return entraError(req, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant ?? ''}'.`);
    }
    const app = this.ctx.directory.app;
    const clientId = form.get('client_id') ?? '';
    if (clientId !== app.clientId) {
      return entraError(
        req,
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${this.ctx.directory.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.split(' ').find((s) => s.endsWith('/.default'));
    if (!resource) {
      return entraError(
        req,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      const now = Date.now();
      const match = app.secrets.find((s) => s.value === secret);
      if (!match) {
        return entraError(
          req,
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
        );
      }
      if (match.expiresAt.getTime() <= now) {
        return entraError(
          req,
          401,
          'invalid_client',
          7000222,
          `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
        );
      }
    } else if (assertion !== null) {
      const failure = this.checkAssertion(req, assertion, form.get('client_assertion_type'));
      if (failure) return failure;
    } else {
      return entraError(
        req,
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (!app.consented) {
      return entraError(
        req,
        400,
        'invalid_grant',
        65001,
        `The user or administrator has not consented to use the application with ID '${app.clientId}' named '${app.displayName}'. Send an interactive authorization request for this user and resource.`,
      );
    }
    const lifetime = this.ctx.switches.tokenLifetimeSeconds;
    const access = this.issue(app.clientId, resource.slice(0, -'/.default'.length), lifetime);
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: access },
    };
  }

  private checkAssertion(req: EmulatorRequest, assertion: string, type: string | null): EmulatorResponse | undefined {
    const app = this.ctx.directory.app;
    if (type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return entraError(req, 400, 'invalid_request', 50027, `Invalid client_assertion_type '${type ?? ''}'.`);
    }
    const jwt = parseJwt(assertion);
    if (!jwt) return entraError(req, 400, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    const x5tS256 =
      typeof jwt.header['x5t#S256'] === 'string' ? Buffer.from(jwt.header['x5t#S256'], 'base64url').toString('hex') : undefined;
    const x5t = typeof jwt.header['x5t'] === 'string' ? Buffer.from(jwt.header['x5t'], 'base64url').toString('hex') : undefined;
    const cert = app.certificates.find((c) => {
      if (x5tS256) return c.thumbprintSha256 === x5tS256;
      if (x5t) return createHash('sha1').update(new X509Certificate(c.certPem).raw).digest('hex') === x5t;
      return false;
    });
    if (!cert) {
      return entraError(
        req,
        401,
        'invalid_client',
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${(x5tS256 ?? x5t ?? '').toUpperCase()}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]`,
      );
    }
    const key = createPublicKey(cert.certPem);
    const alg = jwt.header['alg'];
    let valid = false;
    if (alg === 'RS256') valid = verify('sha256', Buffer.from(jwt.signingInput), key, jwt.signature);
    else if (alg === 'PS256') valid = verify('sha256', Buffer.from(jwt.signingInput), { key, padding: 6, saltLength: 32 }, jwt.signature);
    if (!valid) {
      return entraError(req, 401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    const now = Math.floor(Date.now() / 1000);
    const p = jwt.payload;
    if (p['iss'] !== app.clientId || p['sub'] !== app.clientId) {
      return entraError(req, 401, 'invalid_client', 700023, 'Client assertion audience claim does not match Realm issuer.');
    }
    const expectedAudience = `${req.origin}${req.path}`;
    if (typeof p['aud'] !== 'string' || p['aud'].replace(/\/$/, '') !== expectedAudience) {
      return entraError(
        req,
        401,
        'invalid_client',
        700038,
        `Client assertion audience claim '${String(p['aud'])}' does not match the token endpoint '${expectedAudience}'.`,
      );
    }
    if (typeof p['exp'] !== 'number' || p['exp'] < now || (typeof p['nbf'] === 'number' && p['nbf'] > now + 300)) {
      return entraError(req, 401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.');
    }
    if (cert.expiresAt.getTime() <= Date.now()) {
      return entraError(req, 401, 'invalid_client', 700027, 'The certificate used to sign the client assertion has expired.');
    }
    return undefined;
  }

  /** An access token for the app, with its granted permissions as `roles`. */
  issue(clientId: string, audience: string, lifetimeSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const tid = this.ctx.directory.tenantId;
    const header = { typ: 'JWT', alg: 'RS256', kid: this.keyId };
    const payload = {
      aud: audience,
      iss: `https://sts.windows.net/${tid}/`,
      iat: now,
      nbf: now,
      exp: now + lifetimeSeconds,
      // Milliseconds too, so a revocation in the same second as the issue is still ordered.
      iat_ms: Date.now(),
      aio: randomUUID(),
      app_displayname: this.ctx.directory.app.displayName,
      appid: clientId,
      appidacr: '1',
      idtyp: 'app',
      oid: clientId,
      roles: [...this.ctx.directory.app.grantedRoles].sort(),
      sub: clientId,
      tid,
      uti: randomUUID(),
      ver: '1.0',
    };
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${sign('sha256', Buffer.from(input), this.signingKey).toString('base64url')}`;
  }

  /** The caller of a Graph request, or the 401 Graph answers. */
  authenticate(req: EmulatorRequest): AppPrincipal {
    const header = req.headers['authorization'] ?? '';
    if (!header) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const token = m?.[1] ?? '';
    // A token's signature is checked once (an RSA verification per request would cost the
    // emulator more CPU than serving the request); lifetime, revocation and audience every time.
    let p = this.verified.get(token);
    if (!p) {
      const jwt = token ? parseJwt(token) : undefined;
      if (!jwt) throw new GraphError(401, 'InvalidAuthenticationToken', 'IDX14100: JWT is not well formed, there are no dots (.).');
      if (!verify('sha256', Buffer.from(jwt.signingInput), this.verifyKey, jwt.signature)) {
        throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid signature.');
      }
      p = jwt.payload;
      if (this.verified.size >= 256) this.verified.clear();
      this.verified.set(token, p);
    }
    if (this.ctx.switches.tenantGone) {
      throw new GraphError(401, 'InvalidAuthenticationToken', `Access token validation failure. Tenant '${String(p['tid'])}' not found.`);
    }
    if (typeof p['exp'] !== 'number' || p['exp'] * 1000 <= Date.now()) {
      throw new GraphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    }
    if (typeof p['iat_ms'] !== 'number' || p['iat_ms'] < this.ctx.switches.tokensRevokedBefore) {
      throw new GraphError(
        401,
        'InvalidAuthenticationToken',
        'Access token validation failure. The application credentials used to get this token were revoked.',
      );
    }
    const aud = String(p['aud']).replace(/\/$/, '');
    if (aud !== GRAPH_AUDIENCE && aud !== req.origin) {
      throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    }
    return {
      tenantId: String(p['tid']),
      clientId: String(p['appid']),
      roles: new Set(Array.isArray(p['roles']) ? (p['roles'] as string[]) : []),
    };
  }
}
