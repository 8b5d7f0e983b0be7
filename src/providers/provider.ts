// The one interface every SaaS provider (Microsoft 365, Google Workspace) offers the backup
// worker. It speaks of accounts, containers and items, never of Graph or Google shapes: a
// provider turns its API's delta or sync protocol into a stream of changes, and the worker turns
// changes into snapshots. Adding a service adds a BackupService module to its provider and
// touches nothing else.
import type { Reason } from '../api/reasons.ts';

/** What the source says of an item beyond its name and times (flags, ids, sharing), as JSON values. */
export interface ItemMetadata {
  [key: string]: string | number | boolean | null | string[];
}

/** A failure as the object backup status report shows it. */
export interface SourceIssue {
  /** Who raised it: our code, Microsoft Graph, or a Google API. */
  source: 'internal' | 'graph' | 'google';
  code: string;
  message: string;
}

/** What kind of thing an account is: it decides which services apply to it. */
export type AccountKind = 'user' | 'sharedMailbox' | 'site' | 'team';

export interface Account {
  /** The provider's stable id (a directory object id, a site id). */
  id: string;
  /** What people select accounts by: a mail address, UPN or site URL. */
  address: string;
  displayName: string;
  kind: AccountKind;
  /** Has a license for the provider's services (unlicensed users have no mailbox). */
  licensed: boolean;
  /** Ids and mail addresses of the groups the account is a member of (for selection by group). */
  groups: string[];
}

/** One group of the directory, for selection by group. */
export interface Group {
  id: string;
  displayName: string;
  mail?: string;
}

export interface Directory {
  accounts: Account[];
  groups: Group[];
}

/** An item as the source has it now. `content` downloads it; it is called only for new or changed items. */
export interface SourceItem {
  id: string;
  /** Changes whenever the item changes (a change key, an etag, a revision). */
  version: string;
  /** The container (folder, drive, calendar, channel) the item is in now. */
  container: string;
  /** Path of the container in the source, `Inbox/Projects`; the item's own name is `name`. */
  path: string;
  name: string;
  sender?: string;
  size: number;
  created?: string;
  modified: string;
  metadata?: ItemMetadata;
  content(): Promise<Buffer | AsyncIterable<Uint8Array>>;
}

/**
 * One step of a service's delta stream. Applied in order, changes turn the previous snapshot's
 * items of an account into the current ones; replaying a stream from an older cursor is harmless
 * (every change states the item as it is now), which is what makes a failed container safe to
 * retry from its old token.
 */
export type Change =
  /** The item is new or changed (or moved: same id, another container). */
  | { type: 'upsert'; item: SourceItem }
  /** The item left `container` (deleted, or moved elsewhere: its upsert elsewhere may come before or after). */
  | { type: 'remove'; id: string; container: string }
  /**
   * The container's token expired: it is listed again from scratch. Its items that the listing
   * does not name by `containerDone` are removed.
   */
  | { type: 'resync'; container: string; reason: string }
  /** Every change of the container up to its new cursor has been given. */
  | { type: 'containerDone'; container: string }
  /** The container and everything in it is gone from the source. */
  | { type: 'containerRemoved'; container: string }
  /**
   * The container could not be read to the end (after retries). Its items stay as they were;
   * its cursor stays where it was, so the next run tries again.
   */
  | { type: 'containerFailed'; container: string; path: string; issue: SourceIssue };

export interface ServiceRun {
  changes: AsyncIterable<Change>;
  /**
   * The cursor for the next run; valid once `changes` has been consumed to the end. Containers in
   * `holdBack` (an item of theirs could not be stored) keep their previous state, so the next
   * run lists their changes again and retries the item.
   */
  cursor(holdBack?: ReadonlySet<string>): string;
}

/** What a service may ask about the previous snapshot while it lists changes. */
export interface ChangeContext {
  /**
   * The version the previous snapshot holds for an item id, if any: a service uses it to skip
   * extra calls (permissions, replies) for items that did not change.
   */
  previousVersion(id: string): string | undefined;
}

export interface BackupService {
  /** The name in BackupPolicy.spec.services: mail, calendar, onedrive, gmail... */
  readonly name: string;
  /** The kinds of account the service backs up. */
  readonly accountKinds: readonly AccountKind[];
  /**
   * An item keeps its id when it moves from one container to another (mail folders do; a drive is
   * one container, and a file moved to another drive is a new item). When true, an item removed
   * from a container while another one could not be read may have moved there, so its removal
   * waits for the next run.
   */
  readonly movesBetweenContainers: boolean;
  /** Changes since `cursor` (a previous run's ServiceRun.cursor()), or everything when undefined. */
  changes(account: Account, cursor: string | undefined, context: ChangeContext): ServiceRun;
}

/** Requests a provider made, for the run's statistics and the throttling metric. */
export interface ProviderStats {
  requests: number;
  /** Answers 429 from the source. */
  throttled: number;
  retries: number;
}

/** A failure from the source or our side, with the catalog reason when the whole run must stop. */
export class SourceError extends Error {
  readonly issue: SourceIssue;
  /** HTTP status from the source, when there was an answer. */
  readonly status: number | undefined;
  /** Set when no further request can succeed (credentials revoked, tenant gone): the run stops with this reason. */
  readonly fatalReason: Reason | undefined;

  constructor(issue: SourceIssue, options: { status?: number; fatalReason?: Reason } = {}) {
    super(`${issue.code}: ${issue.message}`);
    this.name = 'SourceError';
    this.issue = issue;
    this.status = options.status;
    this.fatalReason = options.fatalReason;
  }

  /** The source says the object does not exist (deleted between list and get). */
  get notFound(): boolean {
    return this.status === 404 || this.status === 410;
  }
}

export interface Provider {
  readonly name: 'microsoft365' | 'google';
  /** Every service the provider offers, by name. */
  readonly services: ReadonlyMap<string, BackupService>;
  /** Users, shared mailboxes, sites and teams, with their groups. */
  discover(): Promise<Directory>;
  stats(): ProviderStats;
  close(): Promise<void>;
}
