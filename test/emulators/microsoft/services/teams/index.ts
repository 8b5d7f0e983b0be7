// The Teams workload (Graph v1.0): teams (groups provisioned with `Team`, discovered through
// `/groups?$filter=resourceProvisioningOptions/Any(x:x eq 'Team')`), their channels, channel
// root messages (paged, newest first), the channel messages delta function, replies, and the
// message import a restore needs (POST with `createdDateTime` and `from` under
// Teamwork.Migrate.All). Deleted messages stay listed with `deletedDateTime` set and an empty
// body (Teams soft-deletes); the delta function reports them the same way, never as `@removed`.
import { sha256Hex } from '../../tenant/content.ts';
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { TextGen } from '../../../../../bench/corpus/text.ts';
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link, pageSize } from '../../http/odata.ts';
import type { Router } from '../../http/router.ts';
import { GraphError, parseJson } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import { ChangeLog, ExpiredDeltaToken } from '../../tenant/changelog.ts';
import type { DeltaCursor, Sequence } from '../../tenant/changelog.ts';
import type { Directory, User } from '../../tenant/directory.ts';
import { guid } from '../../tenant/directory.ts';
import type { MutationCounts, TenantSpec } from '../../tenant/spec.ts';
import type { GenerateInput, MutateInput, Service } from '../service.ts';
import { bump, freeId, insertionIndex, insertSorted, iso } from './model.ts';
import type { Author, Channel, ChatMessage, Team } from './model.ts';

const TEAM_READ = [
  'Team.ReadBasic.All',
  'TeamSettings.Read.All',
  'TeamSettings.ReadWrite.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
] as const;
const CHANNEL_READ = [
  'Channel.ReadBasic.All',
  'ChannelSettings.Read.All',
  'ChannelSettings.ReadWrite.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
] as const;
const MESSAGE_READ = ['ChannelMessage.Read.All', 'ChannelMessage.ReadWrite.All', 'Group.Read.All', 'Group.ReadWrite.All'] as const;
const MEMBER_READ = [
  'TeamMember.Read.All',
  'TeamMember.ReadWrite.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
] as const;
/** Application context posts only for import (Teamwork.Migrate.All); ChannelMessage.Send is accepted as a plain post. */
const MESSAGE_WRITE = ['Teamwork.Migrate.All', 'ChannelMessage.Send'] as const;
const MIGRATE = 'Teamwork.Migrate.All';

/** Channel messages and replies: 20 per page by default, `$top` up to 50. */
const DEFAULT_PAGE = 20;
const MAX_PAGE = 50;
/** Teams refuses messages above about 28 KiB of HTML. */
const MAX_CONTENT = 28 * 1024;

const CHANNEL_NAMES = ['Announcements', 'Projects', 'Random', 'Support', 'Planning', 'Design', 'Releases'];
const REACTIONS = ['like', 'heart', 'laugh', 'surprised'];

const MESSAGE_FIELDS = new Set([
  'id',
  'replyToId',
  'etag',
  'messageType',
  'createdDateTime',
  'lastModifiedDateTime',
  'lastEditedDateTime',
  'deletedDateTime',
  'subject',
  'summary',
  'chatId',
  'importance',
  'locale',
  'webUrl',
  'policyViolation',
  'eventDetail',
  'from',
  'body',
  'channelIdentity',
  'attachments',
  'mentions',
  'reactions',
  'messageHistory',
  'replies',
]);
const CHANNEL_FIELDS = new Set([
  'id',
  'createdDateTime',
  'displayName',
  'description',
  'isFavoriteByDefault',
  'email',
  'tenantId',
  'webUrl',
  'membershipType',
  'isArchived',
]);
const TEAM_FIELDS = new Set([
  'id',
  'createdDateTime',
  'displayName',
  'description',
  'internalId',
  'classification',
  'specialization',
  'visibility',
  'webUrl',
  'isArchived',
  'tenantId',
  'isMembershipLimitedToOwners',
  'memberSettings',
  'guestSettings',
  'messagingSettings',
  'funSettings',
  'discoverySettings',
  'summary',
]);

interface ListToken {
  /** Last id returned (pages go to older messages). */
  c: number;
  n: number;
  s?: string;
  x?: boolean;
}

interface DeltaToken {
  c: DeltaCursor;
  n?: number;
  s?: string;
  /** `$filter=lastModifiedDateTime gt` of the first request, epoch ms. */
  f?: number;
}

function notFound(what = 'Resource not found.'): GraphError {
  return new GraphError(404, 'NotFound', what);
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
    if (!allowed.has(f))
      throw new GraphError(400, 'BadRequest', `Could not find a property named '${f}' on type 'microsoft.graph.${type}'.`);
  }
  return fields;
}

function project(entity: Record<string, unknown>, fields: Set<string> | undefined): Record<string, unknown> {
  if (!fields) return entity;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) if (k === 'id' || k.startsWith('@') || fields.has(k)) out[k] = v;
  return out;
}

function pickDistinct(rng: Prng, n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const count = Math.min(n, k);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i] as number;
    idx[i] = idx[j] as number;
    idx[j] = t;
  }
  return idx.slice(0, count);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export class TeamsService implements Service {
  readonly name = 'teams';
  private readonly teams = new Map<string, Team>();
  private directory?: Directory;
  private sequence?: Sequence;
  private spec?: TenantSpec;
  private readonly started = Date.UTC(2024, 0, 1);

  // -------------------------------------------------------------------------------------------
  // Data

  generate(input: GenerateInput): void {
    const { spec, directory } = input;
    this.directory = directory;
    this.sequence = input.sequence;
    this.spec = spec;
    for (const group of directory.groups.values()) {
      if (!group.resourceProvisioningOptions.includes('Team')) continue;
      const rng = input.rng(`team/${group.id}`);
      const team: Team = { group, internalId: `19:${rng.hex(16)}@thread.tacv2`, channels: [], channelById: new Map() };
      this.teams.set(group.id, team);
      const created = Date.parse(group.createdDateTime);
      const names = ['General', ...pickDistinct(rng, CHANNEL_NAMES.length, 2).map((i) => CHANNEL_NAMES[i] as string)];
      names.forEach((name, i) => {
        // The General channel's id is the team's thread id.
        const id = i === 0 ? team.internalId : `19:${rng.hex(16)}@thread.tacv2`;
        this.addChannel(team, id, name, i === 0 ? null : `${name} for ${group.displayName}`, iso(created + i * 60_000));
      });
      const members = group.members.map((id) => directory.users.get(id)).filter((u): u is User => !!u);
      for (const channel of team.channels) {
        const crng = input.rng(`channel/${channel.id}`);
        let t = this.started + crng.int(30 * 86_400_000);
        for (let i = 0; i < spec.items.channelMessages; i++) {
          t += Math.round(-Math.log(1 - crng.float()) * 6 * 3_600_000) + 1;
          const root = this.newMessage(channel, crng, members, t, null);
          const replies = crng.weighted([
            [0, 35],
            [1, 25],
            [2, 15],
            [3, 10],
            [5, 10],
            [8, 5],
          ] as const);
          let rt = t;
          for (let r = 0; r < replies; r++) {
            rt += Math.round(-Math.log(1 - crng.float()) * 3_600_000) + 1;
            this.newMessage(channel, crng, members, rt, root);
          }
          channel.log.put(root.id, root);
        }
      }
    }
  }

  private addChannel(team: Team, id: string, displayName: string, description: string | null, createdDateTime: string): Channel {
    const channel: Channel = {
      id,
      teamId: team.group.id,
      displayName,
      description,
      createdDateTime,
      membershipType: 'standard',
      log: new ChangeLog<ChatMessage>(this.sequence as Sequence),
      roots: [],
      byId: new Map(),
    };
    team.channels.push(channel);
    team.channelById.set(id, channel);
    return channel;
  }

  /** A generated message at `ms` (a reply when `root` is given), stored in the channel. */
  private newMessage(channel: Channel, rng: Prng, members: User[], ms: number, root: ChatMessage | null): ChatMessage {
    const spec = this.spec as TenantSpec;
    const text = new TextGen(rng);
    const author = members.length ? rng.pick(members) : undefined;
    const size = Math.max(20, Math.min(MAX_CONTENT, spec.sizes.maxBytes, Math.round(rng.logNormal(root ? 160 : 400, 0.8))));
    const paragraphs = text.paragraphs(size).map((p) => `<p>${escapeHtml(p)}</p>`);
    const mentions: ChatMessage['mentions'] = [];
    const other = members.length > 1 ? rng.pick(members.filter((m) => m !== author)) : undefined;
    if (other && rng.chance(0.2)) {
      mentions.push({ id: 0, mentionText: other.displayName, userId: other.id, displayName: other.displayName });
      paragraphs[0] = `<p><at id="0">${escapeHtml(other.displayName)}</at> ${(paragraphs[0] ?? '').slice(3)}`;
    }
    const { id, ms: createdMs } = freeId(channel, ms);
    const m: ChatMessage = {
      id,
      replyToId: root?.id ?? null,
      createdMs,
      modifiedMs: createdMs,
      editedMs: null,
      deletedMs: null,
      subject: !root && rng.chance(0.3) ? text.title() : null,
      importance: rng.weighted([
        ['normal', 90],
        ['high', 8],
        ['urgent', 2],
      ] as const),
      from: author
        ? { kind: 'user', id: author.id, displayName: author.displayName }
        : { kind: 'application', id: guid(rng), displayName: 'Workflows' },
      contentType: 'html',
      content: paragraphs.join(''),
      mentions,
      reactions: other && rng.chance(0.25) ? [{ reactionType: rng.pick(REACTIONS), createdMs: createdMs + 60_000, userId: other.id }] : [],
    };
    this.store(channel, m, root);
    return m;
  }

  private store(channel: Channel, m: ChatMessage, root: ChatMessage | null): void {
    channel.byId.set(m.id, m);
    if (root) {
      insertSorted((root.replies ??= []), m);
      bump(root, m.createdMs);
    } else {
      m.replies ??= [];
      insertSorted(channel.roots, m);
    }
  }

  mutate(input: MutateInput): MutationCounts[] {
    const out: MutationCounts[] = [];
    const now = Date.now();
    const directory = this.directory as Directory;
    for (const team of this.teams.values()) {
      const counts: MutationCounts = {
        account: team.group.id,
        service: this.name,
        added: 0,
        changed: 0,
        moved: 0,
        removed: 0,
        foldersAdded: 0,
        foldersRemoved: 0,
      };
      const members = team.group.members.map((id) => directory.users.get(id)).filter((u): u is User => !!u);
      for (const channel of team.channels) {
        const rng = input.rng(`channel/${channel.id}`);
        const text = new TextGen(rng);
        const live = [...channel.byId.values()].filter((m) => m.deletedMs === null);
        const nChange = Math.round(input.mutation.change * live.length);
        const nRemove = Math.round(input.mutation.remove * live.length);
        const nAdd = Math.round(input.mutation.add * live.length);
        const touched = new Set<ChatMessage>();
        const picked = pickDistinct(rng, live.length, nChange + nRemove).map((i) => live[i] as ChatMessage);
        picked.forEach((m, i) => {
          const root = m.replyToId ? (channel.byId.get(m.replyToId) as ChatMessage) : m;
          if (i < nChange) {
            // An edit: new text, lastEditedDateTime and lastModifiedDateTime (hence etag) move.
            m.content = `${m.content}<p>${escapeHtml(text.sentence())}</p>`;
            bump(m, now);
            m.editedMs = m.modifiedMs;
            counts.changed++;
          } else {
            // Teams soft-deletes: the message stays, with deletedDateTime set and an empty body.
            bump(m, now);
            m.deletedMs = m.modifiedMs;
            m.content = '';
            m.mentions = [];
            m.reactions = [];
            counts.removed++;
          }
          if (root !== m) bump(root, now);
          touched.add(root);
        });
        const roots = channel.roots.filter((r) => r.deletedMs === null);
        for (let i = 0; i < nAdd; i++) {
          const root = roots.length && rng.chance(0.5) ? rng.pick(roots) : null;
          const m = this.newMessage(channel, rng, members, now - (nAdd - i) * 1000, root);
          touched.add(root ?? m);
          counts.added++;
        }
        for (const root of touched) channel.log.put(root.id, root);
      }
      out.push(counts);
    }
    return out;
  }

  export(): unknown {
    const teams = [];
    for (const team of this.teams.values()) {
      teams.push({
        id: team.group.id,
        displayName: team.group.displayName,
        channels: team.channels.map((c) => ({
          id: c.id,
          displayName: c.displayName,
          path: `${team.group.displayName}/${c.displayName}`,
          messages: c.roots
            .flatMap((r) => [r, ...(r.replies ?? [])])
            .map((m) => ({
              id: m.id,
              replyToId: m.replyToId,
              path: `${team.group.displayName}/${c.displayName}`,
              etag: String(m.modifiedMs),
              createdDateTime: iso(m.createdMs),
              lastModifiedDateTime: iso(m.modifiedMs),
              deletedDateTime: m.deletedMs === null ? null : iso(m.deletedMs),
              from: m.from.id,
              subject: m.subject,
              size: Buffer.byteLength(m.content),
              sha256: sha256Hex(Buffer.from(m.content, 'utf8')),
            })),
        })),
      });
    }
    return { teams };
  }

  expireDeltaTokens(account: string, container?: string): number {
    const team = this.teams.get(account);
    if (!team) return 0;
    let n = 0;
    for (const channel of team.channels) {
      if (container && channel.id !== container) continue;
      channel.log.expire();
      n++;
    }
    return n;
  }

  /** A team by group id, for tests. */
  team(id: string): Team | undefined {
    return this.teams.get(id);
  }

  // -------------------------------------------------------------------------------------------
  // JSON

  private webUrl(c: Channel, m: ChatMessage): string {
    const d = this.directory as Directory;
    return `https://teams.microsoft.com/l/message/${encodeURIComponent(c.id)}/${m.id}?groupId=${c.teamId}&tenantId=${d.tenantId}&createdTime=${m.id}&parentMessageId=${m.replyToId ?? m.id}`;
  }

  private fromJson(a: Author): Record<string, unknown> {
    const tenantId = (this.directory as Directory).tenantId;
    if (a.kind === 'application') {
      return {
        application: {
          '@odata.type': '#microsoft.graph.teamworkApplicationIdentity',
          id: a.id,
          displayName: a.displayName,
          applicationIdentityType: 'bot',
        },
        device: null,
        user: null,
      };
    }
    return {
      application: null,
      device: null,
      user: {
        '@odata.type': '#microsoft.graph.teamworkUserIdentity',
        id: a.id,
        displayName: a.displayName,
        userIdentityType: 'aadUser',
        tenantId,
      },
    };
  }

  messageJson(c: Channel, m: ChatMessage, fields?: Set<string>, expandReplies = false): Record<string, unknown> {
    const directory = this.directory as Directory;
    const json: Record<string, unknown> = {
      id: m.id,
      replyToId: m.replyToId,
      etag: String(m.modifiedMs),
      messageType: 'message',
      createdDateTime: iso(m.createdMs),
      lastModifiedDateTime: iso(m.modifiedMs),
      lastEditedDateTime: m.editedMs === null ? null : iso(m.editedMs),
      deletedDateTime: m.deletedMs === null ? null : iso(m.deletedMs),
      subject: m.subject,
      summary: null,
      chatId: null,
      importance: m.importance,
      locale: 'en-us',
      webUrl: this.webUrl(c, m),
      policyViolation: null,
      eventDetail: null,
      from: this.fromJson(m.from),
      body: { contentType: m.contentType, content: m.content },
      channelIdentity: { teamId: c.teamId, channelId: c.id },
      attachments: [],
      mentions: m.mentions.map((x) => ({
        id: x.id,
        mentionText: x.mentionText,
        mentioned: {
          application: null,
          device: null,
          conversation: null,
          tag: null,
          user: {
            '@odata.type': '#microsoft.graph.teamworkUserIdentity',
            id: x.userId,
            displayName: x.displayName,
            userIdentityType: 'aadUser',
            tenantId: directory.tenantId,
          },
        },
      })),
      reactions: m.reactions.map((r) => ({
        reactionType: r.reactionType,
        displayName: null,
        reactionContentUrl: null,
        createdDateTime: iso(r.createdMs),
        user: {
          application: null,
          device: null,
          user: { '@odata.type': '#microsoft.graph.teamworkUserIdentity', id: r.userId, displayName: null, userIdentityType: 'aadUser' },
        },
      })),
      messageHistory: [],
    };
    if (expandReplies && !m.replyToId) {
      json['replies'] = [...(m.replies ?? [])].reverse().map((r) => this.messageJson(c, r, fields));
    }
    return project(json, fields);
  }

  private channelJson(team: Team, c: Channel): Record<string, unknown> {
    const d = this.directory as Directory;
    return {
      id: c.id,
      createdDateTime: c.createdDateTime,
      displayName: c.displayName,
      description: c.description,
      isFavoriteByDefault: null,
      isArchived: false,
      email: `${team.group.mailNickname}.${c.displayName.toLowerCase()}@${d.domain}`,
      tenantId: d.tenantId,
      webUrl: `https://teams.microsoft.com/l/channel/${encodeURIComponent(c.id)}/${encodeURIComponent(c.displayName)}?groupId=${team.group.id}&tenantId=${d.tenantId}`,
      membershipType: c.membershipType,
    };
  }

  private teamJson(team: Team): Record<string, unknown> {
    const d = this.directory as Directory;
    const g = team.group;
    return {
      id: g.id,
      createdDateTime: g.createdDateTime,
      displayName: g.displayName,
      description: g.description,
      internalId: team.internalId,
      classification: null,
      specialization: 'none',
      visibility: g.visibility.toLowerCase(),
      webUrl: `https://teams.microsoft.com/l/team/${encodeURIComponent(team.internalId)}/conversations?groupId=${g.id}&tenantId=${d.tenantId}`,
      isArchived: false,
      tenantId: d.tenantId,
      isMembershipLimitedToOwners: false,
      memberSettings: {
        allowCreateUpdateChannels: true,
        allowCreatePrivateChannels: true,
        allowDeleteChannels: true,
        allowAddRemoveApps: true,
        allowCreateUpdateRemoveTabs: true,
        allowCreateUpdateRemoveConnectors: true,
      },
      guestSettings: { allowCreateUpdateChannels: false, allowDeleteChannels: false },
      messagingSettings: {
        allowUserEditMessages: true,
        allowUserDeleteMessages: true,
        allowOwnerDeleteMessages: true,
        allowTeamMentions: true,
        allowChannelMentions: true,
      },
      funSettings: { allowGiphy: true, giphyContentRating: 'moderate', allowStickersAndMemes: true, allowCustomMemes: true },
      discoverySettings: { showInTeamsSearchAndSuggestions: false },
      summary: { ownersCount: Math.min(1, g.members.length), membersCount: g.members.length, guestsCount: 0 },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  private teamOf(params: Record<string, string>): Team {
    const id = params['team'] as string;
    const team = this.teams.get(id);
    // Graph's answer for a group id without a team (or no group at all).
    if (!team) throw notFound(`No team found with Group Id ${id}`);
    return team;
  }

  private channelOf(params: Record<string, string>): Channel {
    const team = this.teamOf(params);
    const channel = team.channelById.get(params['channel'] as string);
    if (!channel) throw notFound('Channel not found');
    return channel;
  }

  private rootOf(channel: Channel, id: string): ChatMessage {
    const m = channel.byId.get(id);
    if (!m || m.replyToId !== null) throw notFound();
    return m;
  }

  // -------------------------------------------------------------------------------------------
  // Lists

  /** Newest first, keyset-paged on the id (creation instant) so writes between pages skip nothing older. */
  private listNewestFirst(
    req: EmulatorRequest,
    list: readonly ChatMessage[],
    context: string,
    render: (m: ChatMessage, fields: Set<string> | undefined, expand: boolean) => Record<string, unknown>,
  ): EmulatorResponse {
    const skip = req.query.get('$skiptoken');
    const headers: Record<string, string> = {};
    let token: ListToken;
    if (skip) {
      token = decodeToken<ListToken>(skip);
    } else {
      const ps = pageSize(req, DEFAULT_PAGE, MAX_PAGE);
      if (ps.applied) headers['Preference-Applied'] = ps.applied;
      const s = req.query.get('$select') ?? undefined;
      const expand = req.query.get('$expand');
      if (expand && expand.trim().toLowerCase() !== 'replies')
        throw new GraphError(400, 'BadRequest', `Expand of '${expand}' is not supported.`);
      token = { c: Number.MAX_SAFE_INTEGER, n: ps.size, ...(s ? { s } : {}), ...(expand ? { x: true } : {}) };
    }
    const fields = selection(token.s, MESSAGE_FIELDS, 'chatMessage');
    const value: Record<string, unknown>[] = [];
    let i = insertionIndex(list, token.c) - 1;
    let last = token.c;
    for (; i >= 0 && value.length < token.n; i--) {
      const m = list[i] as ChatMessage;
      value.push(render(m, fields, !!token.x));
      last = Number(m.id);
    }
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, context), '@odata.count': value.length, value };
    if (i >= 0) body['@odata.nextLink'] = link(req, req.path, { $skiptoken: encodeToken({ ...token, c: last } satisfies ListToken) });
    return { status: 200, headers, body };
  }

  private delta(req: EmulatorRequest, channel: Channel): EmulatorResponse {
    const skip = req.query.get('$skiptoken');
    const deltaToken = req.query.get('$deltatoken');
    const token = skip ? decodeToken<DeltaToken>(skip) : deltaToken ? decodeToken<DeltaToken>(deltaToken, 'delta token') : undefined;
    if (!token && req.query.has('$filter')) {
      // Only `lastModifiedDateTime gt <instant>` is documented for the channel messages delta.
      const f = req.query.get('$filter') ?? '';
      if (!/^\s*lastModifiedDateTime\s+gt\s+\S+\s*$/i.test(f))
        throw new GraphError(400, 'BadRequest', `Invalid filter clause: '${f}' is not supported for delta.`);
    }
    const select = token ? token.s : (req.query.get('$select') ?? undefined);
    const fields = selection(select, MESSAGE_FIELDS, 'chatMessage');
    const ps = pageSize(req, token?.n ?? DEFAULT_PAGE, MAX_PAGE);
    let page;
    try {
      const cursor = skip && token ? token.c : deltaToken && token ? channel.log.resume(token.c) : channel.log.start();
      page = channel.log.read(cursor, ps.size);
    } catch (err) {
      if (err instanceof ExpiredDeltaToken) {
        // The sync state behind the token is gone: the client must start a full round again.
        // (Teams does not document its wording; this follows Graph's delta conventions.)
        throw new GraphError(
          410,
          'SyncStateNotFound',
          'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
        );
      }
      throw err;
    }
    const since = token ? token.f : this.filterSince(req);
    const value = page.changes
      .filter((c) => c.item !== undefined && (since === undefined || c.item.modifiedMs > since))
      .map((c) => ({ '@odata.type': '#microsoft.graph.chatMessage', ...this.messageJson(channel, c.item as ChatMessage, fields) }));
    const carry = (c: DeltaCursor): string =>
      encodeToken({ c, ...(select ? { s: select } : {}), ...(since !== undefined ? { f: since } : {}), n: ps.size } satisfies DeltaToken);
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, 'Collection(chatMessage)'), value };
    if (page.next) body['@odata.nextLink'] = link(req, req.path, { $skiptoken: carry(page.next) });
    else if (page.delta) body['@odata.deltaLink'] = link(req, req.path, { $deltatoken: carry(page.delta) });
    return { status: 200, headers: ps.applied ? { 'Preference-Applied': ps.applied } : {}, body };
  }

  private filterSince(req: EmulatorRequest): number | undefined {
    const m = /lastModifiedDateTime\s+gt\s+(\S+)/i.exec(req.query.get('$filter') ?? '');
    if (!m?.[1]) return undefined;
    const t = Date.parse(m[1]);
    if (Number.isNaN(t)) throw new GraphError(400, 'BadRequest', `Invalid filter clause: '${m[1]}' is not a valid DateTimeOffset.`);
    return t;
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  private post(req: EmulatorRequest, channel: Channel, root: ChatMessage | null): EmulatorResponse {
    const body = parseJson<{
      body?: { contentType?: string; content?: string };
      subject?: string | null;
      importance?: string;
      createdDateTime?: string;
      from?: { user?: { id?: string; displayName?: string; userIdentityType?: string } | null };
    }>(req);
    const content = body.body?.content;
    if (typeof content !== 'string' || content.length === 0) throw new GraphError(400, 'BadRequest', 'Message body cannot be empty.');
    if (Buffer.byteLength(content) > MAX_CONTENT)
      throw new GraphError(413, 'RequestEntityTooLarge', 'Message size exceeds the limit of 28 KB.');
    const contentType = (body.body?.contentType ?? 'text').toLowerCase();
    if (contentType !== 'html' && contentType !== 'text')
      throw new GraphError(400, 'BadRequest', `Invalid contentType '${body.body?.contentType ?? ''}'.`);
    const importing = body.createdDateTime !== undefined || body.from !== undefined;
    if (importing && !req.app?.roles.has(MIGRATE)) {
      // What Graph answers an application that sets createdDateTime/from without the import permission.
      throw new GraphError(
        403,
        'Forbidden',
        'Message POST is allowed in application-only context only for import purposes. Refer to https://docs.microsoft.com/microsoftteams/platform/graph-api/import-messages/import-external-messages-to-teams for more details.',
      );
    }
    const now = Date.now();
    let created = now;
    if (body.createdDateTime !== undefined) {
      created = Date.parse(body.createdDateTime);
      if (Number.isNaN(created)) throw new GraphError(400, 'BadRequest', `Invalid value '${body.createdDateTime}' for createdDateTime.`);
      if (created > now + 60_000) throw new GraphError(400, 'BadRequest', 'createdDateTime cannot be in the future.');
    }
    let from: Author;
    if (body.from !== undefined) {
      const uid = body.from?.user?.id;
      const user = uid ? this.directory?.user(uid) : undefined;
      if (!user) throw new GraphError(400, 'BadRequest', `The from user '${uid ?? ''}' is not a valid user of this tenant.`);
      from = { kind: 'user', id: user.id, displayName: body.from?.user?.displayName ?? user.displayName };
    } else {
      const app = this.directory?.app;
      from = { kind: 'application', id: req.app?.clientId ?? app?.clientId ?? '', displayName: app?.displayName ?? 'app' };
    }
    const importance = body.importance ?? 'normal';
    if (!['normal', 'high', 'urgent'].includes(importance)) throw new GraphError(400, 'BadRequest', `Invalid importance '${importance}'.`);
    const { id, ms } = freeId(channel, created);
    const m: ChatMessage = {
      id,
      replyToId: root?.id ?? null,
      createdMs: ms,
      modifiedMs: Math.max(ms, now),
      editedMs: null,
      deletedMs: null,
      subject: root ? null : (body.subject ?? null),
      importance: importance as ChatMessage['importance'],
      from,
      contentType: contentType as ChatMessage['contentType'],
      content,
      mentions: [],
      reactions: [],
    };
    this.store(channel, m, root);
    if (root) bump(root, now);
    channel.log.put((root ?? m).id, root ?? m);
    const context = root
      ? `teams('${channel.teamId}')/channels('${channel.id}')/messages('${root.id}')/replies/$entity`
      : `teams('${channel.teamId}')/channels('${channel.id}')/messages/$entity`;
    return {
      status: 201,
      headers: { Location: `${req.origin}${req.path}/${m.id}` },
      body: { '@odata.context': contextUrl(req, context), ...this.messageJson(channel, m) },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Routes

  routes(router: Router, ctx: EmulatorContext): void {
    void ctx;
    const opts = (kind: string, permissions: readonly string[]): { kind: string; auth: 'graph'; permissions: readonly string[] } => ({
      kind: `teams.${kind}`,
      auth: 'graph',
      permissions,
    });
    const base = '/v1.0/teams/:team';
    const ch = `${base}/channels/:channel`;

    router.get(`${base}/channels`, opts('channels', CHANNEL_READ), (req) => {
      const team = this.teamOf(req.params);
      const fields = selection(req.query.get('$select'), CHANNEL_FIELDS, 'channel');
      const value = team.channels.map((c) => project(this.channelJson(team, c), fields));
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, `teams('${team.group.id}')/channels`), '@odata.count': value.length, value },
      };
    });
    router.get(`${base}/members`, opts('members', MEMBER_READ), (req) => {
      const team = this.teamOf(req.params);
      const d = this.directory as Directory;
      const value = team.group.members.map((uid, i) => {
        const u = d.users.get(uid);
        return {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          id: Buffer.from(`${team.internalId}##${uid}`).toString('base64url'),
          roles: i === 0 ? ['owner'] : [],
          displayName: u?.displayName ?? null,
          visibleHistoryStartDateTime: '0001-01-01T00:00:00Z',
          userId: uid,
          email: u?.mail ?? null,
          tenantId: d.tenantId,
        };
      });
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, `teams('${team.group.id}')/members`), '@odata.count': value.length, value },
      };
    });
    router.get(`${ch}/messages/delta`, opts('delta', MESSAGE_READ), (req) => this.delta(req, this.channelOf(req.params)));
    router.get(`${ch}/messages/:message/replies/:reply`, opts('reply', MESSAGE_READ), (req) => {
      const c = this.channelOf(req.params);
      const root = this.rootOf(c, req.params['message'] as string);
      const m = c.byId.get(req.params['reply'] as string);
      if (!m || m.replyToId !== root.id) throw notFound();
      const fields = selection(req.query.get('$select'), MESSAGE_FIELDS, 'chatMessage');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `teams('${c.teamId}')/channels('${c.id}')/messages('${root.id}')/replies/$entity`),
          ...this.messageJson(c, m, fields),
        },
      };
    });
    router.get(`${ch}/messages/:message/replies`, opts('replies', MESSAGE_READ), (req) => {
      const c = this.channelOf(req.params);
      const root = this.rootOf(c, req.params['message'] as string);
      return this.listNewestFirst(
        req,
        root.replies ?? [],
        `teams('${c.teamId}')/channels('${c.id}')/messages('${root.id}')/replies`,
        (m, f) => this.messageJson(c, m, f),
      );
    });
    router.post(`${ch}/messages/:message/replies`, opts('postReply', MESSAGE_WRITE), (req) => {
      const c = this.channelOf(req.params);
      return this.post(req, c, this.rootOf(c, req.params['message'] as string));
    });
    router.get(`${ch}/messages/:message`, opts('message', MESSAGE_READ), (req) => {
      const c = this.channelOf(req.params);
      const m = this.rootOf(c, req.params['message'] as string);
      const fields = selection(req.query.get('$select'), MESSAGE_FIELDS, 'chatMessage');
      const expand = req.query.get('$expand');
      if (expand && expand.trim().toLowerCase() !== 'replies')
        throw new GraphError(400, 'BadRequest', `Expand of '${expand}' is not supported.`);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `teams('${c.teamId}')/channels('${c.id}')/messages/$entity`),
          ...this.messageJson(c, m, fields, !!expand),
        },
      };
    });
    router.get(`${ch}/messages`, opts('messages', MESSAGE_READ), (req) => {
      const c = this.channelOf(req.params);
      return this.listNewestFirst(req, c.roots, `teams('${c.teamId}')/channels('${c.id}')/messages`, (m, f, x) =>
        this.messageJson(c, m, f, x),
      );
    });
    router.post(`${ch}/messages`, opts('post', MESSAGE_WRITE), (req) => this.post(req, this.channelOf(req.params), null));
    router.get(ch, opts('channel', CHANNEL_READ), (req) => {
      const team = this.teamOf(req.params);
      const c = this.channelOf(req.params);
      const fields = selection(req.query.get('$select'), CHANNEL_FIELDS, 'channel');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `teams('${team.group.id}')/channels/$entity`),
          ...project(this.channelJson(team, c), fields),
        },
      };
    });
    router.get(base, opts('team', TEAM_READ), (req) => {
      const team = this.teamOf(req.params);
      const fields = selection(req.query.get('$select'), TEAM_FIELDS, 'team');
      return { status: 200, body: { '@odata.context': contextUrl(req, 'teams/$entity'), ...project(this.teamJson(team), fields) } };
    });
  }
}
