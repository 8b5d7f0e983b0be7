// The directory workload (Entra ID objects through Graph v1.0): users with their default property
// set, `$select`, the `$filter` subset Entra answers without advanced queries, license details,
// mailbox settings (the `userPurpose` that tells a user mailbox from a shared one), group
// membership; groups with their members and owners; the organization and its subscribed SKUs.
// The directory does not change with `mutate()` (it returns no counts); `export()` lists it.
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link } from '../../http/odata.ts';
import type { Router } from '../../http/router.ts';
import { GraphError } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import type { Directory, Group, User } from '../../tenant/directory.ts';
import type { GenerateInput, Service } from '../service.ts';
import { compileFilter } from './filter.ts';
import type { FilterSchema, Predicate } from './filter.ts';

const USER_READ = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'] as const;
const GROUP_READ = [
  'Group.Read.All',
  'Group.ReadWrite.All',
  'GroupMember.Read.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
] as const;
const ORG_READ = ['Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'] as const;
/** Exchange's permissions for `/users/{id}/mailboxSettings`. */
const MAILBOX_SETTINGS_READ = ['MailboxSettings.Read', 'MailboxSettings.ReadWrite'] as const;

/** Entra's default page size for directory collections, and the largest `$top` it accepts. */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 999;

/** What `GET /users` returns without `$select` (Graph v1.0's default user property set). */
const USER_DEFAULT = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];
const USER_FIELDS = new Set([
  ...USER_DEFAULT,
  'accountEnabled',
  'userType',
  'createdDateTime',
  'assignedLicenses',
  'assignedPlans',
  'mailNickname',
  'proxyAddresses',
  'usageLocation',
  'otherMails',
  'department',
  'companyName',
  'onPremisesSyncEnabled',
  'deletedDateTime',
  'employeeId',
]);
const GROUP_FIELDS = new Set([
  'id',
  'deletedDateTime',
  'classification',
  'createdDateTime',
  'creationOptions',
  'description',
  'displayName',
  'expirationDateTime',
  'groupTypes',
  'isAssignableToRole',
  'mail',
  'mailEnabled',
  'mailNickname',
  'membershipRule',
  'membershipRuleProcessingState',
  'onPremisesSyncEnabled',
  'preferredDataLocation',
  'preferredLanguage',
  'proxyAddresses',
  'renewedDateTime',
  'resourceBehaviorOptions',
  'resourceProvisioningOptions',
  'securityEnabled',
  'securityIdentifier',
  'theme',
  'visibility',
]);

const USER_FILTER: FilterSchema<User> = {
  resource: 'User',
  scalars: {
    id: (u) => u.id,
    accountenabled: (u) => u.accountEnabled,
    usertype: (u) => u.userType,
    displayname: (u) => u.displayName,
    givenname: (u) => u.givenName,
    surname: (u) => u.surname,
    mail: (u) => u.mail,
    mailnickname: (u) => u.userPrincipalName.split('@')[0] ?? null,
    userprincipalname: (u) => u.userPrincipalName,
    jobtitle: (u) => u.jobTitle,
  },
  collections: {
    assignedlicenses: (u) => u.assignedLicenses,
    proxyaddresses: (u) => (u.mail ? [`SMTP:${u.mail}`] : []),
  },
};

const GROUP_FILTER: FilterSchema<Group> = {
  resource: 'Group',
  scalars: {
    id: (g) => g.id,
    displayname: (g) => g.displayName,
    mail: (g) => g.mail,
    mailenabled: (g) => g.mailEnabled,
    mailnickname: (g) => g.mailNickname,
    securityenabled: (g) => g.securityEnabled,
    visibility: (g) => g.visibility,
  },
  collections: {
    grouptypes: (g) => g.groupTypes,
    resourceprovisioningoptions: (g) => g.resourceProvisioningOptions,
    proxyaddresses: (g) => [`SMTP:${g.mail}`],
  },
};

interface PageToken {
  /** Offset of the next page in the (filtered) collection. */
  o: number;
  /** Page size. */
  n: number;
  s?: string;
  f?: string;
}

/** Entra's answer for an id that resolves to nothing. */
export function resourceNotFound(id: string): GraphError {
  return new GraphError(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function selection(raw: string | null | undefined, allowed: Set<string>, type: string): Set<string> | undefined {
  if (!raw) return undefined;
  const fields = new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  for (const f of fields) {
    // Entra's wording (the directory type name is the old AAD one).
    if (!allowed.has(f))
      throw new GraphError(
        400,
        'Request_BadRequest',
        `Could not find a property named '${f}' on type 'Microsoft.DirectoryServices.${type}'.`,
      );
  }
  return fields;
}

function pick(entity: Record<string, unknown>, fields: Iterable<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in entity) out[f] = entity[f];
  return out;
}

/** Query options the emulator does not implement get a 400 rather than being silently ignored. */
function refuseUnsupported(req: EmulatorRequest, resource: string): void {
  for (const option of ['$orderby', '$search', '$count', '$expand', '$skip']) {
    if (req.query.has(option)) {
      const detail =
        option === '$skip'
          ? `'${option}' is not supported by the service.`
          : `The query option '${option}' is not supported for resource '${resource}' by this emulator.`;
      throw new GraphError(400, 'Request_UnsupportedQuery', detail);
    }
  }
}

export class DirectoryService implements Service {
  readonly name = 'directory';
  private directory?: Directory;
  /** Groups each user belongs to (directory objects do not change after generation). */
  private readonly memberOf = new Map<string, Group[]>();
  /** Owners of each group: its first member, as a group created by that user has. */
  private readonly owners = new Map<string, string[]>();

  generate(input: GenerateInput): void {
    this.directory = input.directory;
    for (const group of input.directory.groups.values()) {
      for (const id of group.members) this.memberOf.set(id, [...(this.memberOf.get(id) ?? []), group]);
      this.owners.set(group.id, group.members.slice(0, 1));
    }
  }

  mutate(): [] {
    return [];
  }

  export(): unknown {
    const d = this.dir;
    return {
      tenantId: d.tenantId,
      users: [...d.users.values()].map((u) => ({
        id: u.id,
        userPrincipalName: u.userPrincipalName,
        mail: u.mail,
        displayName: u.displayName,
        accountEnabled: u.accountEnabled,
        mailboxType: u.mailboxType,
        licenses: u.assignedLicenses.map((l) => l.skuId),
      })),
      groups: [...d.groups.values()].map((g) => ({
        id: g.id,
        displayName: g.displayName,
        mail: g.mail,
        groupTypes: g.groupTypes,
        resourceProvisioningOptions: g.resourceProvisioningOptions,
        members: [...g.members],
        owners: this.owners.get(g.id) ?? [],
      })),
    };
  }

  expireDeltaTokens(): number {
    return 0;
  }

  private get dir(): Directory {
    if (!this.directory) throw new Error('directory not generated');
    return this.directory;
  }

  // -------------------------------------------------------------------------------------------
  // JSON

  userJson(u: User): Record<string, unknown> {
    const local = u.userPrincipalName.split('@')[0] ?? '';
    return {
      id: u.id,
      businessPhones: [],
      displayName: u.displayName,
      givenName: u.givenName,
      jobTitle: u.jobTitle,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: u.mailboxType === 'user' ? 'en-US' : null,
      surname: u.surname,
      userPrincipalName: u.userPrincipalName,
      accountEnabled: u.accountEnabled,
      userType: u.userType,
      createdDateTime: u.createdDateTime,
      deletedDateTime: null,
      assignedLicenses: u.assignedLicenses,
      assignedPlans: u.assignedLicenses.length
        ? this.dir.skus.flatMap((s) =>
            s.servicePlans.map((p) => ({
              assignedDateTime: u.createdDateTime,
              capabilityStatus: 'Enabled',
              service: p.servicePlanName,
              servicePlanId: p.servicePlanId,
            })),
          )
        : [],
      mailNickname: local,
      proxyAddresses: u.mail ? [`SMTP:${u.mail}`] : [],
      usageLocation: u.assignedLicenses.length ? 'US' : null,
      otherMails: [],
      department: null,
      companyName: null,
      onPremisesSyncEnabled: null,
      employeeId: null,
    };
  }

  private renderUser(u: User, fields: Set<string> | undefined): Record<string, unknown> {
    return pick(this.userJson(u), fields ? ['id', ...fields] : USER_DEFAULT);
  }

  groupJson(g: Group): Record<string, unknown> {
    return {
      id: g.id,
      deletedDateTime: null,
      classification: null,
      createdDateTime: g.createdDateTime,
      creationOptions: g.resourceProvisioningOptions.includes('Team') ? ['Team', 'ExchangeProvisioningFlags:3552'] : [],
      description: g.description,
      displayName: g.displayName,
      expirationDateTime: null,
      groupTypes: g.groupTypes,
      isAssignableToRole: null,
      mail: g.mail,
      mailEnabled: g.mailEnabled,
      mailNickname: g.mailNickname,
      membershipRule: null,
      membershipRuleProcessingState: null,
      onPremisesSyncEnabled: null,
      preferredDataLocation: null,
      preferredLanguage: null,
      proxyAddresses: [`SMTP:${g.mail}`],
      renewedDateTime: g.createdDateTime,
      resourceBehaviorOptions: [],
      resourceProvisioningOptions: g.resourceProvisioningOptions,
      securityEnabled: g.securityEnabled,
      securityIdentifier: `S-1-12-1-${parseInt(g.id.slice(0, 8), 16)}-${parseInt(g.id.slice(9, 13), 16)}`,
      theme: null,
      visibility: g.visibility,
    };
  }

  private renderGroup(g: Group, fields: Set<string> | undefined): Record<string, unknown> {
    const json = this.groupJson(g);
    return fields ? pick(json, ['id', ...fields]) : json;
  }

  private user(id: string): User {
    const u = this.dir.user(id);
    if (!u) throw resourceNotFound(id);
    return u;
  }

  private group(id: string): Group {
    const g = this.dir.groups.get(id);
    if (!g) throw resourceNotFound(id);
    return g;
  }

  // -------------------------------------------------------------------------------------------
  // Paging

  /**
   * One page of a directory collection: `$top` (1..999, else Entra's 400), `Prefer:
   * odata.maxpagesize`, `$filter` and `$select` carried in an opaque `$skiptoken`.
   */
  private page<T>(
    req: EmulatorRequest,
    all: () => Iterable<T>,
    options: {
      context: string;
      schema?: FilterSchema<T>;
      fields: Set<string>;
      type: string;
      render: (item: T, fields: Set<string> | undefined) => Record<string, unknown>;
    },
  ): EmulatorResponse {
    const skip = req.query.get('$skiptoken');
    const headers: Record<string, string> = {};
    let token: PageToken;
    if (skip) {
      token = decodeToken<PageToken>(skip);
      if (typeof token.o !== 'number' || typeof token.n !== 'number')
        throw new GraphError(
          400,
          'Request_BadRequest',
          'The specified page token value has expired and can no longer be included in your request.',
        );
    } else {
      refuseUnsupported(req, options.type);
      const top = req.query.get('$top');
      let n = DEFAULT_PAGE;
      if (top !== null) {
        n = Number(top);
        if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
          throw new GraphError(
            400,
            'Request_UnsupportedQuery',
            `Invalid page size specified: '${top}'. Must be between 1 and ${MAX_PAGE} inclusive.`,
          );
      }
      const m = /odata\.maxpagesize=(\d+)/i.exec(req.headers['prefer'] ?? '');
      if (m?.[1]) {
        n = Math.max(1, Math.min(MAX_PAGE, n, Number(m[1])));
        headers['Preference-Applied'] = `odata.maxpagesize=${n}`;
      }
      const s = req.query.get('$select') ?? undefined;
      const f = req.query.get('$filter') ?? undefined;
      token = { o: 0, n, ...(s ? { s } : {}), ...(f ? { f } : {}) };
    }
    const fields = selection(token.s, options.fields, options.type);
    let predicate: Predicate<T> | undefined;
    if (token.f) {
      if (!options.schema)
        throw new GraphError(400, 'Request_UnsupportedQuery', `The query option '$filter' is not supported for this collection.`);
      predicate = compileFilter(token.f, options.schema);
    }
    const value: Record<string, unknown>[] = [];
    let index = 0;
    let more = false;
    for (const item of all()) {
      if (predicate && !predicate(item)) continue;
      if (index++ < token.o) continue;
      if (value.length === token.n) {
        more = true;
        break;
      }
      value.push(options.render(item, fields));
    }
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, options.context), value };
    if (more)
      body['@odata.nextLink'] = link(req, req.path, { $skiptoken: encodeToken({ ...token, o: token.o + token.n } satisfies PageToken) });
    return { status: 200, headers, body };
  }

  // -------------------------------------------------------------------------------------------
  // Routes

  routes(router: Router, ctx: EmulatorContext): void {
    void ctx;
    const users = (kind: string): { kind: string; auth: 'graph'; permissions: readonly string[] } => ({
      kind: `directory.${kind}`,
      auth: 'graph',
      permissions: USER_READ,
    });
    const groups = (kind: string): { kind: string; auth: 'graph'; permissions: readonly string[] } => ({
      kind: `directory.${kind}`,
      auth: 'graph',
      permissions: GROUP_READ,
    });
    const org = (kind: string): { kind: string; auth: 'graph'; permissions: readonly string[] } => ({
      kind: `directory.${kind}`,
      auth: 'graph',
      permissions: ORG_READ,
    });

    router.get('/v1.0/users', users('users'), (req) =>
      this.page(req, () => this.dir.users.values(), {
        context: 'users',
        schema: USER_FILTER,
        fields: USER_FIELDS,
        type: 'User',
        render: (u, f) => this.renderUser(u, f),
      }),
    );
    router.get('/v1.0/users/:user/licenseDetails', users('licenseDetails'), (req) => {
      const u = this.user(req.params['user'] as string);
      const value = u.assignedLicenses.map((l) => {
        const sku = this.dir.skus.find((s) => s.skuId === l.skuId);
        return {
          // Graph's licenseDetails id is an opaque base64url string derived from the assignment.
          id: Buffer.from(`${u.id}:${l.skuId}`).toString('base64url'),
          skuId: l.skuId,
          skuPartNumber: sku?.skuPartNumber ?? null,
          servicePlans: (sku?.servicePlans ?? []).map((p) => ({
            ...p,
            provisioningStatus: l.disabledPlans.includes(p.servicePlanId) ? 'Disabled' : p.provisioningStatus,
          })),
        };
      });
      return { status: 200, body: { '@odata.context': contextUrl(req, `users('${u.id}')/licenseDetails`), value } };
    });
    // Served by Exchange: its 403 and 404 wording, not Entra's. `userPurpose` is how Graph tells
    // a user mailbox from a shared one; a user without a mailbox gets MailboxNotEnabledForRESTAPI.
    router.get(
      '/v1.0/users/:user/mailboxSettings',
      { kind: 'directory.mailboxSettings', auth: 'graph', mailbox: (p) => p['user'] },
      (req) => {
        if (!MAILBOX_SETTINGS_READ.some((p) => req.app?.roles.has(p)))
          throw new GraphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
        const u = this.user(req.params['user'] as string);
        if (u.mailboxType === 'none')
          throw new GraphError(
            404,
            'MailboxNotEnabledForRESTAPI',
            'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
          );
        const body: Record<string, unknown> = {
          '@odata.context': contextUrl(req, `users('${u.id}')/mailboxSettings`),
          archiveFolder: Buffer.from(`${u.id}/archive`).toString('base64url'),
          timeZone: 'UTC',
          delegateMeetingMessageDeliveryOptions: 'sendToDelegateOnly',
          dateFormat: 'M/d/yyyy',
          timeFormat: 'h:mm tt',
          userPurpose: u.mailboxType === 'shared' ? 'shared' : 'user',
          automaticRepliesSetting: {
            status: 'disabled',
            externalAudience: 'all',
            internalReplyMessage: '',
            externalReplyMessage: '',
            scheduledStartDateTime: { dateTime: '2024-01-01T00:00:00.0000000', timeZone: 'UTC' },
            scheduledEndDateTime: { dateTime: '2024-01-02T00:00:00.0000000', timeZone: 'UTC' },
          },
          language: { locale: 'en-US', displayName: 'English (United States)' },
          workingHours: {
            daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
            startTime: '08:00:00.0000000',
            endTime: '17:00:00.0000000',
            timeZone: { name: 'UTC' },
          },
        };
        const fields = selection(req.query.get('$select'), new Set(Object.keys(body).filter((k) => !k.startsWith('@'))), 'MailboxSettings');
        return { status: 200, body: fields ? { '@odata.context': body['@odata.context'], ...pick(body, fields) } : body };
      },
    );
    router.get('/v1.0/users/:user/memberOf', users('memberOf'), (req) => {
      const u = this.user(req.params['user'] as string);
      return this.page(req, () => this.memberOf.get(u.id) ?? [], {
        context: 'directoryObjects',
        fields: GROUP_FIELDS,
        type: 'DirectoryObject',
        render: (g, f) => ({ '@odata.type': '#microsoft.graph.group', ...this.renderGroup(g, f) }),
      });
    });
    router.get('/v1.0/users/:user', users('user'), (req) => {
      const u = this.user(req.params['user'] as string);
      const fields = selection(req.query.get('$select'), USER_FIELDS, 'User');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, fields ? `users(${[...fields].join(',')})/$entity` : 'users/$entity'),
          ...this.renderUser(u, fields),
        },
      };
    });

    router.get('/v1.0/groups', groups('groups'), (req) =>
      this.page(req, () => this.dir.groups.values(), {
        context: 'groups',
        schema: GROUP_FILTER,
        fields: GROUP_FIELDS,
        type: 'Group',
        render: (g, f) => this.renderGroup(g, f),
      }),
    );
    const memberList = (kind: string, ids: (g: Group) => string[]): void => {
      router.get(`/v1.0/groups/:group/${kind}`, groups(kind), (req) => {
        const g = this.group(req.params['group'] as string);
        return this.page(
          req,
          () =>
            ids(g)
              .map((id) => this.dir.users.get(id))
              .filter((u): u is User => !!u),
          {
            context: 'directoryObjects',
            fields: USER_FIELDS,
            type: 'DirectoryObject',
            schema: USER_FILTER,
            render: (u, f) => ({ '@odata.type': '#microsoft.graph.user', ...this.renderUser(u, f) }),
          },
        );
      });
    };
    memberList('members', (g) => g.members);
    // Groups hold only users here, so the transitive members are the members.
    memberList('transitiveMembers', (g) => g.members);
    memberList('owners', (g) => this.owners.get(g.id) ?? []);
    router.get('/v1.0/groups/:group', groups('group'), (req) => {
      const g = this.group(req.params['group'] as string);
      const fields = selection(req.query.get('$select'), GROUP_FIELDS, 'Group');
      return { status: 200, body: { '@odata.context': contextUrl(req, 'groups/$entity'), ...this.renderGroup(g, fields) } };
    });

    router.get('/v1.0/organization', org('organization'), (req) => {
      const d = this.dir;
      const org = {
        id: d.tenantId,
        deletedDateTime: null,
        businessPhones: [],
        city: 'Redmond',
        country: null,
        countryLetterCode: 'US',
        createdDateTime: '2023-01-10T00:00:00Z',
        displayName: d.displayName,
        tenantType: 'AAD',
        onPremisesSyncEnabled: null,
        preferredLanguage: 'en',
        assignedPlans: d.skus.flatMap((s) =>
          s.servicePlans.map((p) => ({
            assignedDateTime: '2023-01-10T00:00:00Z',
            capabilityStatus: 'Enabled',
            service: p.servicePlanName,
            servicePlanId: p.servicePlanId,
          })),
        ),
        verifiedDomains: [
          { capabilities: 'Email, OfficeCommunicationsOnline', isDefault: true, isInitial: true, name: d.domain, type: 'Managed' },
        ],
      };
      const fields = selection(req.query.get('$select'), new Set(Object.keys(org)), 'Organization');
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, 'organization'), value: [fields ? pick(org, ['id', ...fields]) : org] },
      };
    });
    router.get('/v1.0/subscribedSkus', org('subscribedSkus'), (req) => {
      const d = this.dir;
      const value = d.skus.map((s) => {
        const consumed = [...d.users.values()].filter((u) => u.assignedLicenses.some((l) => l.skuId === s.skuId)).length;
        return {
          accountName: d.displayName,
          accountId: d.tenantId,
          appliesTo: 'User',
          capabilityStatus: 'Enabled',
          consumedUnits: consumed,
          id: `${d.tenantId}_${s.skuId}`,
          skuId: s.skuId,
          skuPartNumber: s.skuPartNumber,
          subscriptionIds: [`${s.skuId.slice(0, 24)}${d.tenantId.slice(24)}`],
          prepaidUnits: { enabled: Math.max(25, consumed), suspended: 0, warning: 0, lockedOut: 0 },
          servicePlans: s.servicePlans,
        };
      });
      return { status: 200, body: { '@odata.context': contextUrl(req, 'subscribedSkus'), value } };
    });
  }
}
