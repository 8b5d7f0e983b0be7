// What a generated tenant contains. Every count is per account (mailbox, drive, site, channel)
// unless it says otherwise; the generator is deterministic for a given spec.

export interface TenantSpec {
  seed: string;
  /** Licensed users with a mailbox and a OneDrive. */
  users: number;
  /** Users without a license: listed in the directory, no mailbox, no drive. */
  unlicensedUsers: number;
  sharedMailboxes: number;
  groups: number;
  /** SharePoint team sites, each with one document library. */
  sites: number;
  /** Teams (each backed by one of the groups), at most `groups`. */
  teams: number;
  /** User-created mail folders per mailbox, besides the well-known ones. */
  mailFolders: number;
  items: {
    /** Messages per mailbox. */
    mail: number;
    /** Calendar events per mailbox (some recurring, some with exceptions). */
    events: number;
    /** Contacts per mailbox. */
    contacts: number;
    /** Files per OneDrive. */
    files: number;
    /** Files per site document library. */
    siteFiles: number;
    /** Top-level messages per channel (each with some replies). */
    channelMessages: number;
  };
  sizes: {
    /** Median MIME size of a message, bytes (log-normal). */
    mailMedianBytes: number;
    /** Median file size, bytes (log-normal). */
    fileMedianBytes: number;
    /** Sigma of the size logarithm. */
    sigma: number;
    /** No generated message or file is larger. */
    maxBytes: number;
  };
  /** Share of messages with an attachment shared with other mailboxes (0..1). */
  duplicateAttachmentShare: number;
}

export const DEFAULT_SPEC: TenantSpec = {
  seed: '1',
  users: 5,
  unlicensedUsers: 1,
  sharedMailboxes: 1,
  groups: 3,
  sites: 2,
  teams: 1,
  mailFolders: 3,
  items: { mail: 40, events: 10, contacts: 10, files: 20, siteFiles: 10, channelMessages: 5 },
  sizes: { mailMedianBytes: 24 * 1024, fileMedianBytes: 64 * 1024, sigma: 1, maxBytes: 4 * 1024 * 1024 },
  duplicateAttachmentShare: 0.1,
};

export function tenantSpec(
  overrides: Partial<Omit<TenantSpec, 'items' | 'sizes'>> & {
    items?: Partial<TenantSpec['items']>;
    sizes?: Partial<TenantSpec['sizes']>;
  } = {},
): TenantSpec {
  return {
    ...DEFAULT_SPEC,
    ...overrides,
    items: { ...DEFAULT_SPEC.items, ...overrides.items },
    sizes: { ...DEFAULT_SPEC.sizes, ...overrides.sizes },
  };
}

/** What a mutation step does: shares (0..1) of each account's items and folders. */
export interface MutationSpec {
  seed: string;
  /** Share of items added (new items, relative to the current count). */
  add: number;
  /** Share of items changed in place (a new version). */
  change: number;
  /** Share of items moved to another folder (same identity). */
  move: number;
  /** Share of items deleted. */
  remove: number;
  /** Folders added per account, and share of user-created folders deleted (with their items). */
  addFolders: number;
  removeFolders: number;
}

export const DEFAULT_MUTATION: MutationSpec = {
  seed: 'm1',
  add: 0.05,
  change: 0.02,
  move: 0.02,
  remove: 0.02,
  addFolders: 1,
  removeFolders: 0,
};

/** Exact counts of what a mutation did to one account's service. */
export interface MutationCounts {
  account: string;
  service: string;
  added: number;
  changed: number;
  moved: number;
  removed: number;
  foldersAdded: number;
  foldersRemoved: number;
}
