// The directory part of a tenant: the app registration, users (licensed, unlicensed, shared
// mailboxes), groups with members, and the SKUs. Services hang their data off these accounts.
import { Prng } from '../../../../bench/corpus/prng.ts';
import { person } from '../../../../bench/corpus/text.ts';
import type { TenantSpec } from './spec.ts';

export interface ClientSecret {
  /** The value a client sends (Entra shows it once). */
  value: string;
  /** The secret's id (what people paste by mistake). */
  keyId: string;
  expiresAt: Date;
}

export interface ClientCertificate {
  /** SHA-256 thumbprint, lower-case hex. */
  thumbprintSha256: string;
  certPem: string;
  expiresAt: Date;
}

export interface AppRegistration {
  clientId: string;
  displayName: string;
  secrets: ClientSecret[];
  certificates: ClientCertificate[];
  /** Application permissions the admin granted (consented). */
  grantedRoles: Set<string>;
  /** False until an administrator consents: token requests fail with AADSTS65001. */
  consented: boolean;
}

export interface Sku {
  skuId: string;
  skuPartNumber: string;
  servicePlans: { servicePlanId: string; servicePlanName: string; provisioningStatus: string; appliesTo: string }[];
}

export interface User {
  id: string;
  userPrincipalName: string;
  mail: string | null;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  jobTitle: string | null;
  accountEnabled: boolean;
  userType: 'Member';
  createdDateTime: string;
  assignedLicenses: { skuId: string; disabledPlans: string[] }[];
  /** `user`: licensed mailbox; `shared`: shared mailbox (no license, sign-in blocked); `none`: no mailbox. */
  mailboxType: 'user' | 'shared' | 'none';
  /** Whether the user has a OneDrive. */
  hasDrive: boolean;
}

export interface Group {
  id: string;
  displayName: string;
  description: string;
  mail: string;
  mailNickname: string;
  mailEnabled: boolean;
  securityEnabled: boolean;
  groupTypes: string[];
  visibility: 'Private' | 'Public';
  createdDateTime: string;
  resourceProvisioningOptions: string[];
  /** Member user ids. */
  members: string[];
}

export const ALL_APPLICATION_PERMISSIONS = [
  'User.Read.All',
  'Group.Read.All',
  'GroupMember.Read.All',
  'Directory.Read.All',
  'Mail.ReadWrite',
  'Calendars.ReadWrite',
  'Contacts.ReadWrite',
  'Files.ReadWrite.All',
  'Sites.ReadWrite.All',
  'Team.ReadBasic.All',
  'Channel.ReadBasic.All',
  'ChannelMessage.Read.All',
] as const;

export const E3_SKU: Sku = {
  skuId: '05e9a617-0261-4cee-bb44-138d3ef5d965',
  skuPartNumber: 'SPE_E3',
  servicePlans: [
    {
      servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0',
      servicePlanName: 'EXCHANGE_S_ENTERPRISE',
      provisioningStatus: 'Success',
      appliesTo: 'User',
    },
    {
      servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72',
      servicePlanName: 'SHAREPOINTENTERPRISE',
      provisioningStatus: 'Success',
      appliesTo: 'User',
    },
    { servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1', provisioningStatus: 'Success', appliesTo: 'User' },
  ],
};

/** A GUID from a deterministic stream. */
export function guid(rng: Prng): string {
  const h = rng.hex(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Directory {
  readonly tenantId: string;
  readonly domain: string;
  readonly displayName: string;
  readonly app: AppRegistration;
  readonly users = new Map<string, User>();
  readonly groups = new Map<string, Group>();
  readonly skus: Sku[] = [E3_SKU];

  constructor(spec: TenantSpec) {
    const rng = new Prng(`${spec.seed}/directory`);
    this.tenantId = guid(rng);
    this.domain = 'contoso.onmicrosoft.com';
    this.displayName = 'Contoso';
    this.app = {
      clientId: guid(rng),
      displayName: 'saasbackup',
      secrets: [{ value: `emu~${rng.hex(20)}`, keyId: guid(rng), expiresAt: new Date(Date.now() + 365 * 86_400_000) }],
      certificates: [],
      grantedRoles: new Set(ALL_APPLICATION_PERMISSIONS),
      consented: true,
    };
    const created = Date.UTC(2023, 0, 10);
    const seen = new Set<string>();
    const addUser = (kind: User['mailboxType'], licensed: boolean, index: number): void => {
      const p = person(rng, this.domain);
      let local = `${p.first}.${p.last}`.toLowerCase();
      if (seen.has(local)) local = `${local}${index}`;
      seen.add(local);
      if (kind === 'shared')
        local = `shared-${['sales', 'support', 'info', 'hr', 'finance', 'legal'][index % 6]}${index >= 6 ? index : ''}`;
      const address = `${local}@${this.domain}`;
      const user: User = {
        id: guid(rng),
        userPrincipalName: address,
        mail: kind === 'none' ? null : address,
        displayName: kind === 'shared' ? `Shared ${local.slice(7)}` : p.display,
        givenName: kind === 'shared' ? null : p.first,
        surname: kind === 'shared' ? null : p.last,
        jobTitle: kind === 'shared' ? null : rng.pick(['Engineer', 'Accountant', 'Sales Manager', 'Designer', 'Analyst']),
        accountEnabled: kind !== 'shared',
        userType: 'Member',
        createdDateTime: new Date(created + index * 3_600_000).toISOString().replace('.000', ''),
        assignedLicenses: licensed ? [{ skuId: E3_SKU.skuId, disabledPlans: [] }] : [],
        mailboxType: kind,
        hasDrive: licensed,
      };
      this.users.set(user.id, user);
    };
    for (let i = 0; i < spec.users; i++) addUser('user', true, i);
    for (let i = 0; i < spec.unlicensedUsers; i++) addUser('none', false, i);
    for (let i = 0; i < spec.sharedMailboxes; i++) addUser('shared', false, i);
    const members = [...this.users.values()].filter((u) => u.mailboxType === 'user').map((u) => u.id);
    for (let i = 0; i < spec.groups; i++) {
      const name = rng.pick(['Marketing', 'Engineering', 'Finance', 'Operations', 'Legal', 'Research']) + (i >= 6 ? ` ${i}` : '');
      const nick = name.toLowerCase().replaceAll(' ', '-') + `-${i}`;
      const isTeam = i < spec.teams;
      const groupMembers = members.filter(() => rng.chance(0.6));
      if (groupMembers.length === 0 && members[0]) groupMembers.push(members[0]);
      const group: Group = {
        id: guid(rng),
        displayName: name,
        description: `${name} group`,
        mail: `${nick}@${this.domain}`,
        mailNickname: nick,
        mailEnabled: true,
        securityEnabled: false,
        groupTypes: ['Unified'],
        visibility: 'Private',
        createdDateTime: new Date(created + i * 86_400_000).toISOString().replace('.000', ''),
        resourceProvisioningOptions: isTeam ? ['Team'] : [],
        members: groupMembers,
      };
      this.groups.set(group.id, group);
    }
  }

  /** A user by id or user principal name (case-insensitive), as `/users/{id | upn}` resolves. */
  user(idOrUpn: string): User | undefined {
    const byId = this.users.get(idOrUpn);
    if (byId) return byId;
    const lower = idOrUpn.toLowerCase();
    for (const user of this.users.values()) {
      if (user.userPrincipalName.toLowerCase() === lower || user.mail?.toLowerCase() === lower) return user;
    }
    return undefined;
  }

  mailboxes(): User[] {
    return [...this.users.values()].filter((u) => u.mailboxType !== 'none');
  }
}
