// Teams channel conversations: one container per channel of the team, one item per root message
// holding the message and its replies as one JSON document (what a restore re-imports together).
// Its id is `<channel id>/<message id>`, as message ids are unique within a channel only.
//
// Change detection is the channel messages delta (one round per channel, delta.ts). It returns
// root messages only, but a reply added, edited or deleted moves its root's lastModifiedDateTime
// and etag, so the root comes again in the next round: a new reply on an old message is found
// without listing the replies of unchanged messages. For every root the delta reports, the
// replies are listed (one request per 50 replies): the document and its exact size must be known
// before the upsert, and the version combines the root's etag with its replies' ids and etags, so
// it changes with any reply even if a root's etag ever did not. The cost is one replies request
// per reported root: on a full round (first backup, expired token, renamed channel) that is one
// per root message of the channel; on an incremental round, one per changed conversation.
//
// Teams soft-deletes: a deleted root stays in the delta with `deletedDateTime` set and an empty
// body, which is a `remove` here (as is an `@removed` entry, should Graph send one). Deleted
// replies are left out of the document. Graph's delta only reaches back about eight months;
// older root messages are not in a full round.
import { createHash } from 'node:crypto';
import type { Account, AccountKind, BackupService, Change, ItemMetadata, ServiceRun, SourceItem } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import { mapLimit } from '../../../concurrency/map-limit.ts';
import { containersCursor } from './container-cursor.ts';
import type { ContainerState, PreviousContainers } from './container-cursor.ts';
import { containerRound, removedContainers } from './delta.ts';
import type { ContainerRound } from './delta.ts';
import { canonicalJson, graphEntity } from './graph-json.ts';
import type { ServiceFactory } from './service-factory.ts';

/** Graph's page limit for channel messages and replies. */
const PAGE_SIZE = 50;
/** Replies listings of one delta page run at most this many at once. */
const REPLIES_CONCURRENCY = 4;
/** A message without subject is named by this many words of its text. */
const NAME_WORDS = 8;
const NAME_MAX_CHARS = 80;

interface GraphChannel {
  id: string;
  displayName?: string;
  membershipType?: string;
}

interface GraphIdentity {
  id?: string | null;
  displayName?: string | null;
}

/** A chatMessage as the delta and the replies listing give it; kept whole in the document. */
export interface GraphChatMessage {
  id: string;
  replyToId?: string | null;
  etag?: string | null;
  createdDateTime?: string | null;
  lastModifiedDateTime?: string | null;
  deletedDateTime?: string | null;
  subject?: string | null;
  importance?: string | null;
  webUrl?: string | null;
  from?: { user?: GraphIdentity | null; application?: GraphIdentity | null; device?: GraphIdentity | null } | null;
  body?: { contentType?: string | null; content?: string | null } | null;
  '@removed'?: { reason?: string };
  [field: string]: unknown;
}

function channelPath(teamId: string, channelId: string): string {
  return `/teams/${encodeURIComponent(teamId)}/channels/${encodeURIComponent(channelId)}`;
}

/**
 * The item id of a conversation. Teams message ids are the creation instant in milliseconds,
 * unique within a channel only: two channels can hold a message with the same id.
 */
export function conversationId(channelId: string, messageId: string): string {
  return `${channelId}/${messageId}`;
}

function isDeleted(message: GraphChatMessage): boolean {
  return message['@removed'] !== undefined || !!message.deletedDateTime;
}

/** Plain text of a message body (Teams bodies are mostly HTML). */
export function bodyText(message: GraphChatMessage): string {
  const content = message.body?.content ?? '';
  const text =
    message.body?.contentType === 'text'
      ? content
      : content
          .replace(/<[^>]*>/g, ' ')
          .replace(/&nbsp;/g, ' ')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&amp;/g, '&');
  return text.replace(/\s+/g, ' ').trim();
}

/** What a person recognises a conversation by: its subject, or its first words. */
export function messageName(message: GraphChatMessage): string {
  const subject = message.subject?.trim();
  if (subject) return subject;
  const words = bodyText(message).split(' ').slice(0, NAME_WORDS).join(' ').slice(0, NAME_MAX_CHARS).trim();
  return words || `message ${message.id}`;
}

function senderOf(message: GraphChatMessage): string | undefined {
  const from = message.from;
  return from?.user?.displayName ?? from?.application?.displayName ?? from?.device?.displayName ?? undefined;
}

/** Replies oldest first, as the conversation reads (the listing gives them newest first). */
function chronological(a: GraphChatMessage, b: GraphChatMessage): number {
  const at = a.createdDateTime ?? '';
  const bt = b.createdDateTime ?? '';
  if (at !== bt) return at < bt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The root's etag (or lastModifiedDateTime) with a digest of its replies' ids and etags. */
export function conversationVersion(root: GraphChatMessage, replies: readonly GraphChatMessage[]): string {
  const rootVersion = root.etag ?? root.lastModifiedDateTime ?? '';
  const digest = createHash('sha256');
  for (const reply of replies) digest.update(`${reply.id}:${reply.etag ?? reply.lastModifiedDateTime ?? ''}\n`);
  return `${rootVersion}.${digest.digest('hex').slice(0, 16)}`;
}

/** One root message and its live replies as the item the snapshot holds. */
export function conversationItem(
  channel: { id: string; path: string },
  root: GraphChatMessage,
  allReplies: readonly GraphChatMessage[],
): SourceItem {
  const replies = allReplies.filter((r) => !isDeleted(r)).sort(chronological);
  const content = Buffer.from(canonicalJson({ ...graphEntity(root), replies: replies.map(graphEntity) }), 'utf8');
  const modified = [root, ...replies].map((m) => m.lastModifiedDateTime ?? m.createdDateTime ?? '').reduce((a, b) => (b > a ? b : a), '');
  const metadata: ItemMetadata = {
    replies: replies.length,
    importance: root.importance ?? null,
    subject: root.subject ?? null,
    webUrl: root.webUrl ?? null,
  };
  const sender = senderOf(root);
  return {
    id: conversationId(channel.id, root.id),
    version: conversationVersion(root, replies),
    container: channel.id,
    path: channel.path,
    name: messageName(root),
    ...(sender === undefined ? {} : { sender }),
    size: content.length,
    ...(root.createdDateTime ? { created: root.createdDateTime } : {}),
    modified,
    metadata,
    content: () => Promise.resolve(content),
  };
}

class TeamsService implements BackupService {
  readonly name = 'teams';
  readonly accountKinds: readonly AccountKind[] = ['team'];
  readonly movesBetweenContainers = false;
  readonly #session: GraphSession;

  constructor(session: GraphSession) {
    this.#session = session;
  }

  // The previous versions are not needed: replies are listed for every root the delta reports
  // (see the top of the file), and the delta reports every root whose replies changed.
  changes(account: Account, cursor: string | undefined): ServiceRun {
    const previous = containersCursor.parse(cursor);
    // Until a channel's round ends it keeps its previous state, so a cursor taken early is safe.
    const next = new Map<string, ContainerState>(previous.containers);
    return {
      changes: this.#run(account, previous, next),
      cursor: (held) => containersCursor.serialise(containersCursor.holdBack({ containers: next }, previous, held)),
    };
  }

  async *#run(account: Account, previous: PreviousContainers, next: Map<string, ContainerState>): AsyncGenerator<Change> {
    let channels: GraphChannel[];
    try {
      channels = await this.#session.all<GraphChannel>(
        `/teams/${encodeURIComponent(account.id)}/channels?$select=id,displayName,membershipType`,
      );
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      // Without the channel list nothing is known: the stored conversations and the cursor stay,
      // and the team counts as failed (its id stands for the channel list).
      yield { type: 'containerFailed', container: account.id, path: account.displayName, issue: error.issue };
      return;
    }
    const current = new Set(channels.map((c) => c.id));
    for (const id of previous.containers.keys()) if (!current.has(id)) next.delete(id);
    yield* removedContainers(previous, current);
    for (const channel of channels) {
      const state = yield* containerRound(
        this.#session,
        this.#round(account.id, channel),
        previous.containers.get(channel.id),
        previous.known,
      );
      if (state) next.set(channel.id, state);
      else next.delete(channel.id);
    }
  }

  #round(teamId: string, channel: GraphChannel): ContainerRound<GraphChatMessage> {
    const base = channelPath(teamId, channel.id);
    const where = { id: channel.id, path: channel.displayName ?? channel.id };
    return {
      container: where.id,
      path: where.path,
      firstUrl: `${base}/messages/delta?$top=${PAGE_SIZE}`,
      headers: {},
      changes: (entries) => this.#conversationChanges(base, where, entries),
    };
  }

  /** A delta page's roots as changes; the replies of each live root are listed to build its item. */
  async #conversationChanges(base: string, channel: { id: string; path: string }, entries: GraphChatMessage[]): Promise<Change[]> {
    // The delta gives root messages; a reply here would be a conversation of its own by mistake.
    const roots = entries.filter((m) => !m.replyToId);
    const changes = await mapLimit(roots, REPLIES_CONCURRENCY, async (root): Promise<Change> => {
      if (isDeleted(root)) return { type: 'remove', id: conversationId(channel.id, root.id), container: channel.id };
      try {
        const replies = await this.#session.all<GraphChatMessage>(
          `${base}/messages/${encodeURIComponent(root.id)}/replies?$top=${PAGE_SIZE}`,
        );
        return { type: 'upsert', item: conversationItem(channel, root, replies) };
      } catch (error) {
        // Deleted between the delta page and its replies listing.
        if (error instanceof SourceError && error.notFound && !error.fatalReason)
          return { type: 'remove', id: conversationId(channel.id, root.id), container: channel.id };
        throw error;
      }
    });
    return changes;
  }
}

export const teamsService: ServiceFactory = (session) => new TeamsService(session);
