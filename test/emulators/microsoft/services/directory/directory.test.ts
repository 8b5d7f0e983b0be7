// Directory contract: the real Graph client pages users and groups ($top, Prefer maxpagesize and
// the default page), selects and filters them as Entra allows (and gets Entra's 400s otherwise),
// reads license details, mailbox settings (user, shared, no mailbox), membership, the
// organization and its SKUs, and sees Entra's 403 without permission and the injected faults.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { ALL_APPLICATION_PERMISSIONS, E3_SKU } from '../../tenant/directory.ts';
import type { User } from '../../tenant/directory.ts';
import { graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';

let emulator: MicrosoftEmulator;
let client: Client;
let noRetry: Client;
let licensed: User;
let shared: User;
let unlicensed: User;

interface Page {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
}

async function failure(promise: Promise<unknown>): Promise<{ statusCode: number; code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { statusCode: number; code: string; message: string };
  }
  throw new Error('expected the call to fail');
}

async function readAll(
  url: string,
  maxPageSize?: number,
  c: Client = client,
): Promise<{ items: Record<string, unknown>[]; pages: Page[] }> {
  const items: Record<string, unknown>[] = [];
  const pages: Page[] = [];
  let next: string | undefined = url;
  while (next) {
    let request = c.api(next);
    if (maxPageSize) request = request.header('Prefer', `odata.maxpagesize=${maxPageSize}`);
    const page = (await request.get()) as Page;
    pages.push(page);
    items.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return { items, pages };
}

function keys(o: Record<string, unknown>): string[] {
  return Object.keys(o)
    .filter((k) => !k.startsWith('@'))
    .sort();
}

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: {
      seed: 'directory-contract',
      users: 120,
      unlicensedUsers: 3,
      sharedMailboxes: 2,
      groups: 4,
      sites: 0,
      teams: 2,
      mailFolders: 0,
      items: { mail: 0, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 1 },
    },
  });
  client = graphClient(emulator);
  noRetry = graphClientWithoutRetry(emulator);
  const users = [...emulator.directory.users.values()];
  licensed = users.find((u) => u.mailboxType === 'user') as User;
  shared = users.find((u) => u.mailboxType === 'shared') as User;
  unlicensed = users.find((u) => u.mailboxType === 'none') as User;
});

afterAll(async () => {
  await emulator?.close();
});

describe('users', () => {
  it('pages every user with the default page of 100 and the default property set', async () => {
    const total = emulator.directory.users.size;
    const first = (await client.api('/users').get()) as Page;
    expect(first.value.length).toBe(100);
    expect(first['@odata.nextLink']).toMatch(/\/v1\.0\/users\?\$skiptoken=/);
    expect(keys(first.value[0] as Record<string, unknown>)).toEqual([
      'businessPhones',
      'displayName',
      'givenName',
      'id',
      'jobTitle',
      'mail',
      'mobilePhone',
      'officeLocation',
      'preferredLanguage',
      'surname',
      'userPrincipalName',
    ]);
    const { items, pages } = await readAll('/users');
    expect(pages.length).toBe(2);
    expect(items.length).toBe(total);
    expect(new Set(items.map((u) => u['id'])).size).toBe(total);
  });

  it('pages with $top and with Prefer: odata.maxpagesize, carrying $select in the skip token', async () => {
    const total = emulator.directory.users.size;
    const top = await readAll('/users?$top=50&$select=id,userPrincipalName,accountEnabled');
    expect(top.pages.map((p) => p.value.length)).toEqual([50, 50, total - 100]);
    for (const u of top.items) expect(keys(u)).toEqual(['accountEnabled', 'id', 'userPrincipalName']);
    const pref = await readAll('/users', 30);
    expect(pref.pages.length).toBe(Math.ceil(total / 30));
    expect(pref.items.map((u) => u['id'])).toEqual(top.items.map((u) => u['id']));
    const err = await failure(noRetry.api('/users?$top=1000').get());
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('Request_UnsupportedQuery');
    const bad = await failure(noRetry.api('/users').select(['nosuchproperty']).get());
    expect(bad.statusCode).toBe(400);
    expect(bad.code).toBe('Request_BadRequest');
  });

  it('filters as Entra does without advanced queries', async () => {
    const users = [...emulator.directory.users.values()];
    const enabled = await readAll('/users?$filter=accountEnabled eq true&$select=id,accountEnabled&$top=40');
    expect(enabled.items.length).toBe(users.filter((u) => u.accountEnabled).length);
    expect(enabled.items.every((u) => u['accountEnabled'] === true)).toBe(true);
    const members = await readAll(`/users?$filter=${encodeURIComponent("userType eq 'Member'")}`);
    expect(members.items.length).toBe(users.length);
    const prefix = licensed.displayName.slice(0, 3);
    const starts = await readAll(`/users?$filter=${encodeURIComponent(`startswith(displayName,'${prefix}')`)}`);
    expect(starts.items.length).toBe(users.filter((u) => u.displayName.toLowerCase().startsWith(prefix.toLowerCase())).length);
    const byMail = await readAll(`/users?$filter=${encodeURIComponent(`mail eq '${licensed.mail ?? ''}'`)}`);
    expect(byMail.items.map((u) => u['id'])).toEqual([licensed.id]);
    const withE3 = await readAll(`/users?$filter=${encodeURIComponent(`assignedLicenses/any(x:x/skuId eq ${E3_SKU.skuId})`)}&$select=id`);
    expect(withE3.items.length).toBe(users.filter((u) => u.assignedLicenses.length > 0).length);
    for (const f of ["department ne 'x'", 'createdDateTime gt 2020-01-01T00:00:00Z', "nosuchprop eq 'x'"]) {
      const err = await failure(noRetry.api(`/users?$filter=${encodeURIComponent(f)}`).get());
      expect(err.statusCode).toBe(400);
      expect(err.code).toBe('Request_UnsupportedQuery');
    }
    const syntax = await failure(noRetry.api(`/users?$filter=${encodeURIComponent("displayName eq 'x")}`).get());
    expect(syntax.statusCode).toBe(400);
  });

  it('gets one user by id or UPN, with $select, and 404s an unknown one with Entra wording', async () => {
    const byUpn = (await client.api(`/users/${licensed.userPrincipalName}`).get()) as Record<string, unknown>;
    expect(byUpn['id']).toBe(licensed.id);
    const sel = (await client.api(`/users/${licensed.id}`).select(['assignedLicenses', 'accountEnabled']).get()) as Record<string, unknown>;
    expect(keys(sel)).toEqual(['accountEnabled', 'assignedLicenses', 'id']);
    expect(sel['assignedLicenses']).toEqual([{ skuId: E3_SKU.skuId, disabledPlans: [] }]);
    const err = await failure(noRetry.api('/users/nobody@contoso.onmicrosoft.com').get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('Request_ResourceNotFound');
    expect(err.message).toBe(
      "Resource 'nobody@contoso.onmicrosoft.com' does not exist or one of its queried reference-property objects are not present.",
    );
  });

  it('lists license details: E3 for a licensed user, none for the unlicensed and shared ones', async () => {
    const l = (await client.api(`/users/${licensed.id}/licenseDetails`).get()) as Page;
    expect(l.value.length).toBe(1);
    expect(l.value[0]?.['skuPartNumber']).toBe('SPE_E3');
    expect((l.value[0]?.['servicePlans'] as { servicePlanName: string }[]).map((p) => p.servicePlanName)).toContain(
      'EXCHANGE_S_ENTERPRISE',
    );
    for (const u of [unlicensed, shared]) expect(((await client.api(`/users/${u.id}/licenseDetails`).get()) as Page).value).toEqual([]);
  });

  it('tells user and shared mailboxes apart by userPurpose, and answers MailboxNotEnabledForRESTAPI without a mailbox', async () => {
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set([...granted, 'MailboxSettings.Read']);
      const c = graphClientWithoutRetry(emulator, msalClient(emulator));
      const user = (await c.api(`/users/${licensed.userPrincipalName}/mailboxSettings`).get()) as Record<string, unknown>;
      expect(user['userPurpose']).toBe('user');
      expect(user['timeZone']).toEqual(expect.any(String));
      const sharedSettings = (await c.api(`/users/${shared.id}/mailboxSettings`).select(['userPurpose']).get()) as Record<string, unknown>;
      expect(keys(sharedSettings)).toEqual(['userPurpose']);
      expect(sharedSettings['userPurpose']).toBe('shared');
      const none = await failure(c.api(`/users/${unlicensed.id}/mailboxSettings`).get());
      expect(none.statusCode).toBe(404);
      expect(none.code).toBe('MailboxNotEnabledForRESTAPI');
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
    // Without MailboxSettings.Read, Exchange refuses.
    const denied = await failure(
      graphClientWithoutRetry(emulator, msalClient(emulator)).api(`/users/${licensed.id}/mailboxSettings`).get(),
    );
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe('ErrorAccessDenied');
  });

  it("lists a user's groups with memberOf", async () => {
    const groups = [...emulator.directory.groups.values()].filter((g) => g.members.includes(licensed.id));
    const { items } = await readAll(`/users/${licensed.id}/memberOf`);
    expect(items.map((g) => g['id']).sort()).toEqual(groups.map((g) => g.id).sort());
    for (const g of items) expect(g['@odata.type']).toBe('#microsoft.graph.group');
  });
});

describe('groups', () => {
  it('pages groups and filters Unified groups, teams and mail-enabled groups', async () => {
    const all = [...emulator.directory.groups.values()];
    const { items, pages } = await readAll('/groups?$top=3');
    expect(pages.length).toBe(Math.ceil(all.length / 3));
    expect(items.map((g) => g['id'])).toEqual(all.map((g) => g.id));
    const unified = await readAll(`/groups?$filter=${encodeURIComponent("groupTypes/any(c:c eq 'Unified')")}`);
    expect(unified.items.length).toBe(all.length);
    const teams = await readAll(
      `/groups?$filter=${encodeURIComponent("resourceProvisioningOptions/Any(x:x eq 'Team')")}&$select=id,displayName,resourceProvisioningOptions`,
    );
    expect(teams.items.length).toBe(2);
    for (const t of teams.items) {
      expect(keys(t)).toEqual(['displayName', 'id', 'resourceProvisioningOptions']);
      expect(t['resourceProvisioningOptions']).toEqual(['Team']);
    }
    const mail = await readAll('/groups?$filter=mailEnabled eq true');
    expect(mail.items.length).toBe(all.filter((g) => g.mailEnabled).length);
    const err = await failure(noRetry.api(`/groups?$filter=${encodeURIComponent("groupTypes/all(c:c eq 'Unified')")}`).get());
    expect(err.code).toBe('Request_UnsupportedQuery');
  });

  it('gets a group, its members (typed, paged), transitive members and owners; 404 for an unknown group', async () => {
    const group = [...emulator.directory.groups.values()].sort((a, b) => b.members.length - a.members.length)[0];
    if (!group) throw new Error('no group');
    const g = (await client.api(`/groups/${group.id}`).get()) as Record<string, unknown>;
    expect(g['mail']).toBe(group.mail);
    expect(g['groupTypes']).toEqual(['Unified']);
    const members = await readAll(`/groups/${group.id}/members?$top=7&$select=id,userPrincipalName`);
    expect(members.pages.length).toBe(Math.ceil(group.members.length / 7));
    expect(members.items.map((m) => m['id'])).toEqual(group.members);
    for (const m of members.items) {
      expect(m['@odata.type']).toBe('#microsoft.graph.user');
      expect(keys(m)).toEqual(['id', 'userPrincipalName']);
    }
    const transitive = await readAll(`/groups/${group.id}/transitiveMembers`);
    expect(transitive.items.length).toBe(group.members.length);
    const owners = (await client.api(`/groups/${group.id}/owners`).get()) as Page;
    expect(owners.value.map((o) => o['id'])).toEqual(group.members.slice(0, 1));
    const err = await failure(noRetry.api('/groups/00000000-0000-4000-a000-000000000000/members').get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('Request_ResourceNotFound');
  });
});

describe('organization', () => {
  it('gives the tenant, its verified domain and its SKUs with consumed units', async () => {
    const org = (await client.api('/organization').get()) as Page;
    expect(org.value.length).toBe(1);
    expect(org.value[0]?.['id']).toBe(emulator.connection.tenantId);
    expect(org.value[0]?.['verifiedDomains']).toEqual([
      expect.objectContaining({ name: emulator.directory.domain, isDefault: true, isInitial: true }),
    ]);
    const skus = (await client.api('/subscribedSkus').get()) as Page;
    expect(skus.value.map((s) => s['skuPartNumber'])).toEqual(['SPE_E3']);
    expect(skus.value[0]?.['consumedUnits']).toBe([...emulator.directory.users.values()].filter((u) => u.assignedLicenses.length).length);
  });
});

describe('errors and faults', () => {
  it('refuses an app without directory permissions with Authorization_RequestDenied', async () => {
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set(
        ALL_APPLICATION_PERMISSIONS.filter(
          (p) => !['User.Read.All', 'Directory.Read.All', 'Group.Read.All', 'GroupMember.Read.All'].includes(p),
        ),
      );
      const c = graphClientWithoutRetry(emulator, msalClient(emulator));
      for (const path of ['/users', `/groups/${[...emulator.directory.groups.keys()][0] ?? ''}/members`, '/organization']) {
        const err = await failure(c.api(path).get());
        expect(err.statusCode).toBe(403);
        expect(err.code).toBe('Authorization_RequestDenied');
        expect(err.message).toBe('Insufficient privileges to complete the operation.');
      }
      emulator.directory.app.grantedRoles = new Set(['GroupMember.Read.All']);
      const members = graphClientWithoutRetry(emulator, msalClient(emulator));
      expect(((await members.api('/groups').get()) as Page).value.length).toBe(emulator.directory.groups.size);
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
  });

  it('retries a transient 503, and surfaces an object that always fails, a 404 race and a cut body', async () => {
    emulator.faults.clear();
    emulator.faults.add({ kind: 'status503', routeKind: 'directory.users', times: 1 });
    const page = (await client.api('/users').top(5).get()) as Page;
    expect(page.value.length).toBe(5);
    expect(emulator.faults.fired[0]).toBe(1);
    emulator.faults.clear();
    emulator.faults.add({
      kind: 'error',
      routeKind: 'directory.user',
      path: licensed.id,
      status: 500,
      code: 'generalException',
      message: 'boom',
    });
    const always = await failure(noRetry.api(`/users/${licensed.id}`).get());
    expect(always.statusCode).toBe(500);
    expect(((await client.api(`/users/${shared.id}`).get()) as { id: string }).id).toBe(shared.id);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'notFound', routeKind: 'directory.licenseDetails', times: 1 });
    expect((await failure(noRetry.api(`/users/${licensed.id}/licenseDetails`).get())).statusCode).toBe(404);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'directory.groups', times: 1 });
    await expect(noRetry.api('/groups').get()).rejects.toThrow();
    emulator.faults.clear();
  });

  it('exports users and groups with their members', () => {
    const ex = emulator.export()['directory'] as {
      users: { id: string; mailboxType: string }[];
      groups: { id: string; members: string[] }[];
    };
    expect(ex.users.length).toBe(emulator.directory.users.size);
    expect(ex.users.filter((u) => u.mailboxType === 'shared').length).toBe(2);
    expect(ex.groups.map((g) => g.members.length)).toEqual([...emulator.directory.groups.values()].map((g) => g.members.length));
    expect(emulator.mutate().filter((c) => c.service === 'directory')).toEqual([]);
  });
});
