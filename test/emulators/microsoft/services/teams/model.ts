// Teams data: a team is a Microsoft 365 group provisioned with `Team`; it has channels, and a
// channel has root messages, each with its replies. Message ids are what Teams uses: the
// creation instant in epoch milliseconds, unique within the channel. A delta log per channel holds
// the root messages only (the delta function returns no replies); a reply added, edited or deleted
// touches its root's lastModifiedDateTime, as Graph documents for root channel messages.
import type { ChangeLog } from '../../tenant/changelog.ts';
import type { Group } from '../../tenant/directory.ts';

export interface Author {
  kind: 'user' | 'application';
  id: string;
  displayName: string;
}

export interface Mention {
  id: number;
  mentionText: string;
  userId: string;
  displayName: string;
}

export interface Reaction {
  reactionType: string;
  createdMs: number;
  userId: string;
}

export interface ChatMessage {
  id: string;
  /** The root's id for a reply. */
  replyToId: string | null;
  createdMs: number;
  /** lastModifiedDateTime; the etag is this instant in milliseconds, as Teams writes it. */
  modifiedMs: number;
  editedMs: number | null;
  /** Set for a (soft) deleted message, whose body is then empty. */
  deletedMs: number | null;
  subject: string | null;
  importance: 'normal' | 'high' | 'urgent';
  from: Author;
  contentType: 'html' | 'text';
  content: string;
  mentions: Mention[];
  reactions: Reaction[];
  /** Replies of a root message, by ascending id. */
  replies?: ChatMessage[];
}

export interface Channel {
  id: string;
  teamId: string;
  displayName: string;
  description: string | null;
  createdDateTime: string;
  membershipType: 'standard';
  /** Root messages (deleted ones included), for the delta function. */
  log: ChangeLog<ChatMessage>;
  /** Root messages by ascending id. */
  roots: ChatMessage[];
  /** Every message of the channel, roots and replies, by id. */
  byId: Map<string, ChatMessage>;
}

export interface Team {
  group: Group;
  internalId: string;
  /** Channels in display order, General first. */
  channels: Channel[];
  channelById: Map<string, Channel>;
}

/** The index at which a message with `id` goes in a list sorted by ascending numeric id. */
export function insertionIndex(list: readonly ChatMessage[], id: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Number((list[mid] as ChatMessage).id) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts keeping ascending id order (almost always an append). */
export function insertSorted(list: ChatMessage[], m: ChatMessage): void {
  const id = Number(m.id);
  const last = list[list.length - 1];
  if (!last || Number(last.id) < id) list.push(m);
  else list.splice(insertionIndex(list, id), 0, m);
}

/** A fresh id for a message created at `ms`: the first free millisecond from there. */
export function freeId(channel: Channel, ms: number): { id: string; ms: number } {
  let t = Math.floor(ms);
  while (channel.byId.has(String(t))) t++;
  return { id: String(t), ms: t };
}

/** Marks a message as touched at `now`, always moving its lastModifiedDateTime (and etag) forward. */
export function bump(m: ChatMessage, now: number): void {
  m.modifiedMs = Math.max(now, m.modifiedMs + 1);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
