// Connector: one SaaS tenant and how to authenticate to it.
import { AGE_COLUMN, conditionColumn, type KindDefinition, type Resource } from './kind.ts';
import {
  cel,
  Conditions,
  HttpsUrl,
  Int64,
  ObservedGeneration,
  SecretKey,
  SecretKeyReference,
  SecretName,
  StringEnum,
  StringMap,
  Timestamp,
  Type,
  type Static,
} from './schema.ts';

export const PROVIDERS = ['microsoft365', 'google'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const MICROSOFT_CLOUDS = ['Global', 'USGovernment', 'USGovernmentDoD', 'China'] as const;

const Microsoft365 = Type.Object(
  {
    tenantId: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[a-zA-Z0-9][-a-zA-Z0-9.]*\\.[a-zA-Z]{2,})$',
      description: 'Directory (tenant) id as a GUID, or the tenant domain such as contoso.onmicrosoft.com.',
    }),
    clientId: Type.String({
      maxLength: 36,
      pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
      description: 'Application (client) id of the app registration, a GUID.',
    }),
    clientSecretRef: Type.Optional(SecretKeyReference('client secret of the app registration', 'client-secret')),
    certificateRef: Type.Optional(
      Type.Object(
        {
          name: SecretName('Name of a kubernetes.io/tls Secret in the same namespace.'),
          certificateKey: SecretKey('Key of the PEM certificate.', 'tls.crt'),
          privateKeyKey: SecretKey('Key of the PEM private key.', 'tls.key'),
        },
        { description: 'Certificate credential of the app registration (preferred over a client secret).' },
      ),
    ),
    cloud: Type.Optional(StringEnum(MICROSOFT_CLOUDS, { default: 'Global', description: 'National cloud of the tenant.' })),
    endpoints: Type.Optional(
      Type.Object(
        {
          authorityHost: Type.Optional(HttpsUrl('Entra ID authority host, for example https://login.microsoftonline.com.')),
          graphBaseUrl: Type.Optional(HttpsUrl('Microsoft Graph base URL, for example https://graph.microsoft.com.')),
        },
        { description: 'Endpoint overrides; take precedence over the national cloud defaults.' },
      ),
    ),
  },
  {
    description: 'Microsoft 365 tenant and app registration (application permissions, admin consent).',
    ...cel({
      rule: 'has(self.clientSecretRef) != has(self.certificateRef)',
      message: 'set exactly one of clientSecretRef or certificateRef',
    }),
  },
);

const Google = Type.Object(
  {
    domain: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[a-zA-Z0-9][-a-zA-Z0-9.]*\\.[a-zA-Z]{2,}$',
      description: 'Primary domain of the Google Workspace account, such as example.com.',
    }),
    customerId: Type.Optional(
      Type.String({ maxLength: 64, pattern: '^(my_customer|C[0-9a-z]+)$', default: 'my_customer', description: 'Workspace customer id.' }),
    ),
    adminEmail: Type.String({
      maxLength: 254,
      pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
      description: 'Super admin that the service account impersonates for directory calls.',
    }),
    serviceAccountKeyRef: SecretKeyReference('JSON key of the service account with domain-wide delegation', 'service-account.json'),
    endpoints: Type.Optional(
      Type.Object(
        {
          oauthTokenUrl: Type.Optional(HttpsUrl('OAuth 2.0 token endpoint, for example https://oauth2.googleapis.com/token.')),
          apiBaseUrl: Type.Optional(HttpsUrl('Root URL of the Google APIs, for example https://www.googleapis.com.')),
        },
        { description: 'Endpoint overrides for Google APIs.' },
      ),
    ),
  },
  { description: 'Google Workspace domain and service account with domain-wide delegation.' },
);

export const ConnectorSpec = Type.Object(
  {
    provider: StringEnum(PROVIDERS, { description: 'SaaS provider of the tenant.' }),
    microsoft365: Type.Optional(Microsoft365),
    google: Type.Optional(Google),
    discovery: Type.Optional(
      Type.Object(
        {
          autoAddUsers: Type.Boolean({ default: true, description: 'Protect newly found users automatically.' }),
          autoAddSharedMailboxes: Type.Boolean({ default: true, description: 'Protect newly found shared mailboxes.' }),
          includeUnlicensed: Type.Boolean({ default: false, description: 'Also add users without a license.' }),
          intervalMinutes: Type.Integer({ minimum: 5, maximum: 10080, default: 60, description: 'How often to rediscover accounts.' }),
        },
        { default: {}, description: 'How accounts are discovered in the tenant.' },
      ),
    ),
  },
  cel(
    {
      rule: "self.provider != 'microsoft365' || (has(self.microsoft365) && !has(self.google))",
      message: 'provider microsoft365 needs spec.microsoft365 and no spec.google',
    },
    {
      rule: "self.provider != 'google' || (has(self.google) && !has(self.microsoft365))",
      message: 'provider google needs spec.google and no spec.microsoft365',
    },
  ),
);

export const ConnectorStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  accounts: Type.Optional(
    Type.Object(
      {
        total: Int64({ minimum: 0 }),
        byType: Type.Optional(
          StringMap(Int64({ minimum: 0 }), { maxProperties: 16, description: 'Accounts by type (user, sharedMailbox, group, site).' }),
        ),
      },
      { description: 'Accounts found by the last discovery.' },
    ),
  ),
  permissions: Type.Optional(
    Type.Object(
      {
        required: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 64 }),
        granted: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 256 }),
        missing: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 64 }),
      },
      { description: 'API permissions the enabled services need, and what the tenant granted.' },
    ),
  ),
  lastDiscoveryTime: Type.Optional(Timestamp('When accounts were last discovered.')),
});

export type ConnectorSpec = Static<typeof ConnectorSpec>;
export type ConnectorStatus = Static<typeof ConnectorStatus>;
export type Connector = Resource<ConnectorSpec, ConnectorStatus>;

export const connectorKind: KindDefinition = {
  kind: 'Connector',
  plural: 'connectors',
  singular: 'connector',
  shortNames: ['sbconn'],
  description: 'A SaaS tenant (Microsoft 365 or Google Workspace) and the credentials to reach it.',
  spec: ConnectorSpec,
  status: ConnectorStatus,
  printerColumns: [
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider' },
    conditionColumn('Ready', 'Ready', 'status'),
    conditionColumn('Reason', 'Ready', 'reason'),
    { name: 'Accounts', type: 'integer', jsonPath: '.status.accounts.total' },
    { name: 'Discovered', type: 'date', jsonPath: '.status.lastDiscoveryTime', priority: 1 },
    AGE_COLUMN,
  ],
};
