// Discovery of a Microsoft 365 tenant: users (licensed or not), shared mailboxes, groups with
// their members, SharePoint sites and teams, as provider-neutral accounts. Graph has no flag for
// a shared mailbox on the user object: a shared mailbox is an unlicensed user with a mailbox, and
// `mailboxSettings.userPurpose` says so when the app may read mailbox settings; without that
// permission, a probe of the mailbox's inbox tells a shared mailbox from a user without one.
import type { Account, Directory, Group } from '../provider.ts';
import { SourceError } from '../provider.ts';
import type { GraphSession } from './graph.ts';
import { mapLimit } from '../../concurrency/map-limit.ts';

interface GraphUser {
  id: string;
  displayName: string | null;
  mail: string | null;
  userPrincipalName: string;
  accountEnabled?: boolean;
  assignedLicenses?: { skuId: string }[];
}

interface GraphGroup {
  id: string;
  displayName: string;
  mail: string | null;
  resourceProvisioningOptions?: string[];
}

interface GraphSite {
  id: string;
  displayName?: string;
  name?: string;
  webUrl: string;
}

/** Unlicensed users probed at once (each costs one or two calls). */
const PROBES_AT_ONCE = 8;

async function mailboxKind(session: GraphSession, userId: string): Promise<'shared' | 'user' | 'none'> {
  try {
    const settings = await session.get<{ userPurpose?: string }>(`/users/${userId}/mailboxSettings?$select=userPurpose`);
    if (settings.userPurpose === 'shared') return 'shared';
    return settings.userPurpose ? 'user' : 'none';
  } catch (error) {
    if (!(error instanceof SourceError)) throw error;
    if (error.fatalReason) throw error;
    if (error.status === 404) return 'none';
    if (error.status !== 403) throw error;
  }
  // No MailboxSettings.Read: ask for the inbox instead.
  try {
    await session.get(`/users/${userId}/mailFolders/inbox?$select=id`);
    return 'shared';
  } catch (error) {
    if (error instanceof SourceError && !error.fatalReason && (error.status === 404 || error.status === 403)) return 'none';
    throw error;
  }
}

export interface DiscoveryOptions {
  /** Discover SharePoint sites (needs Sites.Read.All). */
  sites: boolean;
  /** Discover teams (groups provisioned as teams). */
  teams: boolean;
}

export async function discoverTenant(session: GraphSession, options: DiscoveryOptions): Promise<Directory> {
  const users = await session.all<GraphUser>(
    '/users?$select=id,displayName,mail,userPrincipalName,accountEnabled,assignedLicenses&$top=999',
  );
  const graphGroups = await session.all<GraphGroup>('/groups?$select=id,displayName,mail,resourceProvisioningOptions&$top=999');
  const memberOf = new Map<string, string[]>();
  await mapLimit(graphGroups, PROBES_AT_ONCE, async (g) => {
    for (const member of await session.all<{ id: string }>(`/groups/${g.id}/members?$select=id&$top=999`)) {
      const list = memberOf.get(member.id) ?? [];
      list.push(g.id, ...(g.mail ? [g.mail] : []));
      memberOf.set(member.id, list);
    }
  });
  const unlicensed = users.filter((u) => (u.assignedLicenses ?? []).length === 0);
  const kinds = new Map<string, 'shared' | 'user' | 'none'>();
  await mapLimit(unlicensed, PROBES_AT_ONCE, async (u) => kinds.set(u.id, await mailboxKind(session, u.id)));

  const accounts: Account[] = users.map((u) => {
    const licensed = (u.assignedLicenses ?? []).length > 0;
    const shared = kinds.get(u.id) === 'shared';
    return {
      id: u.id,
      address: (u.mail ?? u.userPrincipalName).toLowerCase(),
      displayName: u.displayName ?? u.userPrincipalName,
      kind: shared ? 'sharedMailbox' : 'user',
      licensed: licensed || shared,
      groups: memberOf.get(u.id) ?? [],
    };
  });
  if (options.teams) {
    for (const g of graphGroups.filter((group) => group.resourceProvisioningOptions?.includes('Team'))) {
      accounts.push({
        id: g.id,
        address: (g.mail ?? g.displayName).toLowerCase(),
        displayName: g.displayName,
        kind: 'team',
        licensed: true,
        groups: [g.id],
      });
    }
  }
  if (options.sites) {
    for (const s of await session.all<GraphSite>('/sites?search=*')) {
      accounts.push({
        id: s.id,
        address: s.webUrl,
        displayName: s.displayName ?? s.name ?? s.webUrl,
        kind: 'site',
        licensed: true,
        groups: [],
      });
    }
  }
  const groups: Group[] = graphGroups.map((g) => ({ id: g.id, displayName: g.displayName, ...(g.mail ? { mail: g.mail } : {}) }));
  return { accounts, groups };
}
