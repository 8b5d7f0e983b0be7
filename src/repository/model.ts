// What a snapshot holds. Trees are the catalog: per account and service, lists of item entries
// (id, version, path, name, sender, size, times, metadata) whose content lives in data blobs, so
// browse, search and restore read trees only.

export interface ItemMetadata {
  [key: string]: string | number | boolean | null | string[];
}

export interface ItemEntry {
  id: string;
  version: string;
  /** The source container (folder, drive, calendar, channel) the item is in; `path` is its path. */
  container?: string;
  path: string;
  name: string;
  sender?: string;
  size: number;
  created?: string;
  modified: string;
  metadata?: ItemMetadata;
  /** Data blob ids, in order; their plaintexts concatenated are the item's content. */
  content: string[];
}

export interface ItemInput extends Omit<ItemEntry, 'content'> {
  account: string;
  service: string;
  /** Called only when (account, service, id, version) is not already in the parent or checkpoint. */
  content: () => Promise<Buffer | AsyncIterable<Uint8Array>>;
}

export interface AccountTree {
  account: string;
  service: string;
  /** Tree blob ids; each holds up to TREE_ITEMS entries. */
  trees: string[];
  items: number;
  bytes: number;
  /** Delta or sync token of the source, valid exactly for the data of this snapshot. */
  deltaToken?: string;
}

export interface SnapshotStats {
  items: number;
  itemsAdded: number;
  itemsUnchanged: number;
  bytesIn: number;
  bytesAdded: number;
  blobsAdded: number;
}

export interface SnapshotManifest {
  version: 1;
  /** Object name under snapshots/ or checkpoints/. */
  id: string;
  time: string;
  policy: string;
  run: string;
  shard: number;
  checkpoint: boolean;
  parent?: string;
  accounts: AccountTree[];
  stats: SnapshotStats;
}

export const TREE_ITEMS = 2000;
