// Teams contract: the real Graph client discovers teams through the groups filter, lists channels,
// pages root messages and replies, runs the channel messages delta across a mutation (edited,
// soft-deleted and new messages, replies touching their root) with exact counts, gets the 410
// after the tokens expire, imports messages and replies under Teamwork.Migrate.All and reads them
// back, and sees Graph's errors for missing permissions and injected faults.
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { ALL_APPLICATION_PERMISSIONS } from '../../tenant/directory.ts';
import type { User } from '../../tenant/directory.ts';
import { graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';

let emulator: MicrosoftEmulator;
let client: Client;
let noRetry: Client;
let teamId: string;

interface Page {
  value: Record<string, unknown>[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface ExportedMessage {
  id: string;
  replyToId: string | null;
  etag: string;
  deletedDateTime: string | null;
  sha256: string;
  size: number;
}

interface ExportedChannel {
  id: string;
  displayName: string;
  messages: ExportedMessage[];
}

function exported(): ExportedChannel[] {
  const teams = (emulator.export()['teams'] as { teams: { id: string; channels: ExportedChannel[] }[] }).teams;
  return teams.find((t) => t.id === teamId)?.channels ?? [];
}

function channelExport(id: string): ExportedChannel {
  const c = exported().find((x) => x.id === id);
  if (!c) throw new Error('channel not exported');
  return c;
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
): Promise<{ items: Record<string, unknown>[]; pages: Page[]; deltaLink?: string }> {
  const items: Record<string, unknown>[] = [];
  const pages: Page[] = [];
  let next: string | undefined = url;
  while (next) {
    let request = c.api(next);
    if (maxPageSize) request = request.header('Prefer', `odata.maxpagesize=${maxPageSize}`);
    const page = (await request.get()) as Page;
    pages.push(page);
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, pages, deltaLink: page['@odata.deltaLink'] };
    next = page['@odata.nextLink'];
  }
  return { items, pages };
}

function path(channelId: string, rest = ''): string {
  return `/teams/${teamId}/channels/${encodeURIComponent(channelId)}${rest}`;
}

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: {
      seed: 'teams-contract',
      users: 4,
      unlicensedUsers: 0,
      sharedMailboxes: 0,
      groups: 3,
      sites: 0,
      teams: 1,
      mailFolders: 0,
      items: { mail: 0, events: 0, contacts: 0, files: 0, siteFiles: 0, channelMessages: 45 },
    },
  });
  client = graphClient(emulator);
  noRetry = graphClientWithoutRetry(emulator);
  const teams = (await client
    .api('/groups')
    .filter("resourceProvisioningOptions/Any(x:x eq 'Team')")
    .select(['id', 'displayName'])
    .get()) as Page;
  expect(teams.value.length).toBe(1);
  teamId = teams.value[0]?.['id'] as string;
});

afterAll(async () => {
  await emulator?.close();
});

describe('teams and channels', () => {
  it('gets the team discovered through the groups filter, and 404s a group without a team', async () => {
    const team = (await client.api(`/teams/${teamId}`).get()) as Record<string, unknown>;
    expect(team['id']).toBe(teamId);
    expect(team['internalId']).toMatch(/^19:.+@thread\.tacv2$/);
    const sel = (await client.api(`/teams/${teamId}`).select(['displayName']).get()) as Record<string, unknown>;
    expect(
      Object.keys(sel)
        .filter((k) => !k.startsWith('@'))
        .sort(),
    ).toEqual(['displayName', 'id']);
    const plain = [...emulator.directory.groups.values()].find((g) => !g.resourceProvisioningOptions.includes('Team'));
    const err = await failure(noRetry.api(`/teams/${plain?.id ?? ''}`).get());
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('NotFound');
  });

  it('lists General and the standard channels, and gets one', async () => {
    const channels = (await client.api(`/teams/${teamId}/channels`).get()) as Page;
    expect(channels.value.length).toBe(3);
    expect(channels.value[0]?.['displayName']).toBe('General');
    for (const c of channels.value) {
      expect(c['id']).toMatch(/^19:[0-9a-f]+@thread\.tacv2$/);
      expect(c['membershipType']).toBe('standard');
    }
    const id = channels.value[1]?.['id'] as string;
    const one = (await client.api(path(id)).get()) as Record<string, unknown>;
    expect(one['displayName']).toBe(channels.value[1]?.['displayName']);
    // Clients also send the thread id unencoded.
    const raw = (await client.api(`/teams/${teamId}/channels/${id}`).select(['displayName']).get()) as Record<string, unknown>;
    expect(raw['id']).toBe(id);
    const members = (await client.api(`/teams/${teamId}/members`).get()) as Page;
    expect(members.value.map((m) => m['userId'])).toEqual(emulator.directory.groups.get(teamId)?.members);
  });
});

describe('messages', () => {
  let general: string;

  beforeAll(async () => {
    general = ((await client.api(`/teams/${teamId}/channels`).get()) as Page).value[0]?.['id'] as string;
  });

  it('pages root messages newest first (default 20, $top up to 50, maxpagesize) with the chatMessage shape', async () => {
    const roots = channelExport(general).messages.filter((m) => m.replyToId === null);
    expect(roots.length).toBe(45);
    const first = (await client.api(path(general, '/messages')).get()) as Page;
    expect(first.value.length).toBe(20);
    expect(first['@odata.nextLink']).toContain('?$skiptoken=');
    const byDefault = await readAll(path(general, '/messages'));
    expect(byDefault.pages.map((p) => p.value.length)).toEqual([20, 20, 5]);
    const ids = byDefault.items.map((m) => m['id'] as string);
    expect(ids).toEqual(roots.map((m) => m.id).reverse());
    const top = await readAll(path(general, '/messages?$top=50'));
    expect(top.pages.length).toBe(1);
    const capped = await readAll(path(general, '/messages?$top=500'));
    expect(capped.pages.length).toBe(1);
    const pref = await readAll(path(general, '/messages'), 7);
    expect(pref.pages.length).toBe(7);
    expect(pref.items.map((m) => m['id'])).toEqual(ids);
    const m = byDefault.items[0] as Record<string, unknown>;
    expect(m['messageType']).toBe('message');
    expect(m['replyToId']).toBeNull();
    expect(m['etag']).toBe(String(Date.parse(m['lastModifiedDateTime'] as string)));
    expect(m['channelIdentity']).toEqual({ teamId, channelId: general });
    expect((m['body'] as { contentType: string }).contentType).toBe('html');
    expect((m['from'] as { user: { userIdentityType: string } }).user.userIdentityType).toBe('aadUser');
    expect(m['webUrl']).toContain(`groupId=${teamId}`);
    const sel = (await client.api(path(general, '/messages')).select(['body', 'from']).top(2).get()) as Page;
    for (const x of sel.value) expect(Object.keys(x).sort()).toEqual(['body', 'from', 'id']);
  });

  it('pages the replies of a message, gets one reply, and expands replies on the root', async () => {
    const all = channelExport(general).messages;
    const counts = new Map<string, number>();
    for (const m of all) if (m.replyToId) counts.set(m.replyToId, (counts.get(m.replyToId) ?? 0) + 1);
    const [rootId, n] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    expect(n).toBeGreaterThan(2);
    const { items, pages } = await readAll(path(general, `/messages/${rootId}/replies?$top=2`));
    expect(pages.length).toBe(Math.ceil(n / 2));
    expect(items.map((r) => r['id'])).toEqual(
      all
        .filter((m) => m.replyToId === rootId)
        .map((m) => m.id)
        .reverse(),
    );
    for (const r of items) expect(r['replyToId']).toBe(rootId);
    const reply = (await client.api(path(general, `/messages/${rootId}/replies/${items[0]?.['id'] as string}`)).get()) as Record<
      string,
      unknown
    >;
    expect(reply['body']).toEqual(items[0]?.['body']);
    const root = (await client
      .api(path(general, `/messages/${rootId}`))
      .expand('replies')
      .get()) as Record<string, unknown>;
    expect((root['replies'] as unknown[]).length).toBe(n);
    // A root's lastModifiedDateTime moves with its replies.
    expect(Date.parse(root['lastModifiedDateTime'] as string)).toBeGreaterThanOrEqual(Date.parse(items[0]?.['createdDateTime'] as string));
    const missing = await failure(noRetry.api(path(general, '/messages/1234/replies')).get());
    expect(missing.statusCode).toBe(404);
  });

  it('runs delta rounds across a mutation: edited, soft-deleted and new roots, exact counts, then 410 after expiry', async () => {
    const channels = ((await client.api(`/teams/${teamId}/channels`).get()) as Page).value.map((c) => c['id'] as string);
    const links = new Map<string, string>();
    for (const id of channels) {
      const round = await readAll(path(id, '/messages/delta?$top=10'));
      const roots = channelExport(id).messages.filter((m) => m.replyToId === null);
      expect(round.items.length).toBe(roots.length);
      expect(round.pages.length).toBe(Math.ceil(roots.length / 10) || 1);
      expect(round.deltaLink).toContain('?$deltatoken=');
      links.set(id, round.deltaLink as string);
    }
    const before = new Map(channels.map((id) => [id, new Map(channelExport(id).messages.map((m) => [m.id, m]))]));
    const counts = emulator.mutate({ add: 0.1, change: 0.05, remove: 0.05 }).filter((c) => c.service === 'teams');
    expect(counts.map((c) => c.account)).toEqual([teamId]);
    const count = counts[0];
    if (!count) throw new Error('no counts');
    let added = 0;
    let changed = 0;
    let removed = 0;
    for (const id of channels) {
      const old = before.get(id) as Map<string, ExportedMessage>;
      const now = channelExport(id).messages;
      const byId = new Map(now.map((m) => [m.id, m]));
      for (const m of now) {
        const was = old.get(m.id);
        if (!was) added++;
        else if (m.deletedDateTime && !was.deletedDateTime) removed++;
        else if (m.sha256 !== was.sha256) changed++;
      }
      // The next round gives exactly the roots whose etag moved (their own change or a reply's).
      const expected = now
        .filter((m) => m.replyToId === null && old.get(m.id)?.etag !== m.etag)
        .map((m) => m.id)
        .sort();
      const round = await readAll(links.get(id) as string);
      expect(round.items.map((m) => m['id']).sort()).toEqual(expected);
      for (const m of round.items) {
        const ex = byId.get(m['id'] as string) as ExportedMessage;
        expect(m['etag']).toBe(ex.etag);
        if (ex.deletedDateTime) {
          expect(m['deletedDateTime']).toBe(ex.deletedDateTime);
          expect((m['body'] as { content: string }).content).toBe('');
        }
        expect(m['@removed']).toBeUndefined();
      }
      const again = await readAll(round.deltaLink as string);
      expect(again.items).toEqual([]);
      links.set(id, again.deltaLink as string);
    }
    expect({ added, changed, removed }).toEqual({ added: count.added, changed: count.changed, removed: count.removed });
    expect(count.added + count.changed + count.removed).toBeGreaterThan(0);
    expect(emulator.expireDeltaTokens(teamId, 'teams', channels[0])).toBe(1);
    const expired = await failure(noRetry.api(links.get(channels[0] as string) as string).get());
    expect(expired.statusCode).toBe(410);
    expect(expired.code).toBe('SyncStateNotFound');
    const other = await readAll(links.get(channels[1] as string) as string);
    expect(other.items).toEqual([]);
    const fresh = await readAll(path(channels[0] as string, '/messages/delta'));
    expect(fresh.items.length).toBe(channelExport(channels[0] as string).messages.filter((m) => m.replyToId === null).length);
  });
});

describe('writes', () => {
  let channelId: string;
  let author: User;

  beforeAll(async () => {
    channelId = ((await client.api(`/teams/${teamId}/channels`).get()) as Page).value[2]?.['id'] as string;
    author = emulator.directory.users.get(emulator.directory.groups.get(teamId)?.members[0] ?? '') as User;
  });

  it('imports a back-dated message and reply under Teamwork.Migrate.All and reads them back', async () => {
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set([...granted, 'Teamwork.Migrate.All']);
      const c = graphClientWithoutRetry(emulator, msalClient(emulator));
      const start = await readAll(path(channelId, '/messages/delta'));
      const created = '2023-03-04T05:06:07.890Z';
      const from = { user: { id: author.id, displayName: author.displayName, userIdentityType: 'aadUser' } };
      const root = (await c.api(path(channelId, '/messages')).post({
        createdDateTime: created,
        from,
        subject: 'Restored',
        body: { contentType: 'html', content: '<p>restored root</p>' },
      })) as Record<string, unknown>;
      expect(root['createdDateTime']).toBe(created);
      expect(root['id']).toBe(String(Date.parse(created)));
      expect((root['from'] as { user: { id: string } }).user.id).toBe(author.id);
      const reply = (await c
        .api(path(channelId, `/messages/${root['id'] as string}/replies`))
        .post({ createdDateTime: '2023-03-04T06:00:00Z', from, body: { contentType: 'text', content: 'restored reply' } })) as Record<
        string,
        unknown
      >;
      expect(reply['replyToId']).toBe(root['id']);
      const back = (await client.api(path(channelId, `/messages/${root['id'] as string}`)).get()) as Record<string, unknown>;
      expect(back['subject']).toBe('Restored');
      expect((back['body'] as { content: string }).content).toBe('<p>restored root</p>');
      const replies = (await client.api(path(channelId, `/messages/${root['id'] as string}/replies`)).get()) as Page;
      expect(replies.value.map((r) => (r['body'] as { content: string }).content)).toEqual(['restored reply']);
      const ex = channelExport(channelId).messages.find((m) => m.id === root['id']);
      expect(ex?.size).toBe('<p>restored root</p>'.length);
      const next = await readAll(start.deltaLink as string);
      expect(next.items.map((m) => m['id'])).toEqual([root['id']]);
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
  });

  it('refuses posts without a write permission, and import fields without Teamwork.Migrate.All', async () => {
    const denied = await failure(noRetry.api(path(channelId, '/messages')).post({ body: { content: 'hi' } }));
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe('ErrorAccessDenied');
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set([...granted, 'ChannelMessage.Send']);
      const c = graphClientWithoutRetry(emulator, msalClient(emulator));
      const importing = await failure(
        c.api(path(channelId, '/messages')).post({ createdDateTime: '2023-01-01T00:00:00Z', body: { content: 'old' } }),
      );
      expect(importing.statusCode).toBe(403);
      expect(importing.message).toMatch(/only for import purposes/);
      const plain = (await c.api(path(channelId, '/messages')).post({ body: { content: 'hello' } })) as Record<string, unknown>;
      expect((plain['from'] as { application: { id: string } }).application.id).toBe(emulator.connection.clientId);
      const empty = await failure(c.api(path(channelId, '/messages')).post({ body: { content: '' } }));
      expect(empty.statusCode).toBe(400);
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
  });

  it('refuses reads without ChannelMessage.Read.All or Group.Read.All', async () => {
    const granted = emulator.directory.app.grantedRoles;
    try {
      emulator.directory.app.grantedRoles = new Set(
        ALL_APPLICATION_PERMISSIONS.filter((p) => !['ChannelMessage.Read.All', 'Group.Read.All'].includes(p)),
      );
      const c = graphClientWithoutRetry(emulator, msalClient(emulator));
      const err = await failure(c.api(path(channelId, '/messages')).get());
      expect(err.statusCode).toBe(403);
      expect(((await c.api(`/teams/${teamId}/channels`).get()) as Page).value.length).toBe(3);
    } finally {
      emulator.directory.app.grantedRoles = granted;
    }
  });
});

describe('faults', () => {
  it('retries a transient 503, and surfaces an always-failing message, a 404 race and a cut body', async () => {
    const channelId = ((await client.api(`/teams/${teamId}/channels`).get()) as Page).value[0]?.['id'] as string;
    const ids = channelExport(channelId)
      .messages.filter((m) => m.replyToId === null)
      .map((m) => m.id);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'status503', routeKind: 'teams.messages', times: 2 });
    expect(((await client.api(path(channelId, '/messages')).top(3).get()) as Page).value.length).toBe(3);
    expect(emulator.faults.fired[0]).toBe(2);
    emulator.faults.clear();
    emulator.faults.add({
      kind: 'error',
      routeKind: 'teams.message',
      path: `${ids[0] ?? ''}$`,
      status: 500,
      code: 'InternalServerError',
      message: 'Failed to process request.',
    });
    expect((await failure(noRetry.api(path(channelId, `/messages/${ids[0] ?? ''}`)).get())).statusCode).toBe(500);
    expect(((await client.api(path(channelId, `/messages/${ids[1] ?? ''}`)).get()) as { id: string }).id).toBe(ids[1]);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'notFound', routeKind: 'teams.replies', times: 1 });
    expect((await failure(noRetry.api(path(channelId, `/messages/${ids[1] ?? ''}/replies`)).get())).statusCode).toBe(404);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'teams.delta', times: 1 });
    await expect(noRetry.api(path(channelId, '/messages/delta')).get()).rejects.toThrow();
    emulator.faults.clear();
  });
});
