// The drive logic OneDrive and SharePoint document libraries share: one delta per drive, turned
// into changes of one container (the drive id). Folders come in the delta as items, so a folder
// tree (id → parent, name) kept in the cursor gives every item its path, also in incremental
// rounds where only the item changed. A folder moved or renamed changes the path of everything
// below it, which Graph does not report: its descendants are listed (children) and emitted again,
// which costs no download because their version (the cTag) did not change.
//
// Versions: a file's version is its cTag, which changes with the content only; a rename, a move or
// a sharing change gives an upsert with the same version, which the engine applies by keeping the
// stored content and taking the new path and metadata. Permissions are part of that metadata, so
// they are fetched for every item an upsert is emitted for: an upsert without them would erase the
// stored ones. Folders are items too (size 0, empty content), so that empty folders and folder
// sharing can be restored; their version is the eTag.
//
// delta.ts's containerRound does not fit a drive: its state is more than a delta link (the folder
// tree), and the paths of its items come from that tree rather than from the container.
//
// Downloads use the pre-authenticated URL the listing hands out with each file: it costs no Graph
// request (nor resource units). It lives about an hour, so an item downloaded late (a retry at the
// end of the account) may find it expired; `/content` then redirects to a fresh one.
import type { Change, ItemMetadata, ServiceRun, SourceItem } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import { mapLimit } from '../../../concurrency/map-limit.ts';
import { isResyncRequired } from './delta.ts';
import { driveCursor, ROOT_PARENT, UNKNOWN_PARENT } from './drive-cursor.ts';
import type { DriveState, PreviousDrives, StoredDrive } from './drive-cursor.ts';

interface IdentitySet {
  user?: Identity;
  group?: Identity;
  application?: Identity;
  siteUser?: Identity;
  siteGroup?: Identity;
}

interface Identity {
  id?: string;
  displayName?: string;
  email?: string;
  loginName?: string;
}

/** A driveItem as the delta (with our $select) and children listings give it. */
export interface GraphDriveItem {
  id: string;
  name?: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  webUrl?: string;
  parentReference?: { driveId?: string; id?: string; path?: string };
  file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha256Hash?: string } };
  folder?: { childCount?: number };
  package?: { type?: string };
  root?: object;
  deleted?: { state?: string };
  '@removed'?: { reason?: string };
  '@microsoft.graph.downloadUrl'?: string;
  createdBy?: IdentitySet;
  lastModifiedBy?: IdentitySet;
}

interface GraphPermission {
  id?: string;
  roles?: string[];
  link?: { scope?: string; type?: string };
  grantedTo?: IdentitySet;
  grantedToV2?: IdentitySet;
  grantedToIdentitiesV2?: IdentitySet[];
  inheritedFrom?: { id?: string };
}

/** A drive to read and how its paths start (`''` for a OneDrive, the library name for SharePoint). */
export interface DriveTarget {
  id: string;
  pathPrefix: string;
  /** What the object report calls the drive (`OneDrive`, the library name). */
  label: string;
}

const SELECT =
  'id,name,size,eTag,cTag,createdDateTime,lastModifiedDateTime,webUrl,parentReference,file,folder,package,root,deleted,createdBy,lastModifiedBy,@microsoft.graph.downloadUrl';
/** The largest page Graph (and the emulator) serves for delta and children; sharing changes and lost access reported. */
const DELTA_HEADERS = { Prefer: 'odata.maxpagesize=999, deltashowremovedasdeleted, deltashowsharingchanges' };
const LIST_HEADERS = { Prefer: 'odata.maxpagesize=999' };
/** Permission requests in flight per drive. */
const PERMISSION_CONCURRENCY = 8;
/** No real folder tree is this deep; a cycle (an inconsistent mid-round state) stops here. */
const MAX_DEPTH = 400;

/** The folder tree of a drive: enough to compute any item's path from its parent id. */
export class FolderTree {
  root: string | undefined;
  readonly #folders = new Map<string, { parent: string | undefined; name: string }>();

  static from(state: DriveState | undefined): FolderTree {
    const tree = new FolderTree();
    if (!state) return tree;
    tree.root = state.root;
    const parentOf = (parent: number): string | undefined =>
      parent === ROOT_PARENT ? state.root : parent >= 0 ? state.folders[parent]?.[0] : undefined;
    for (const [id, parent, name] of state.folders) tree.#folders.set(id, { parent: parentOf(parent), name });
    return tree;
  }

  toState(deltaLink: string): DriveState {
    const index = new Map<string, number>();
    const entries = [...this.#folders];
    entries.forEach(([id], i) => index.set(id, i));
    // The root's children keep the root as their parent: a folder that comes again unchanged in a
    // later round must compare equal, or it would count as moved and be listed again.
    const parentIndex = (parent: string | undefined): number =>
      parent !== undefined && parent === this.root
        ? ROOT_PARENT
        : parent === undefined
          ? UNKNOWN_PARENT
          : (index.get(parent) ?? UNKNOWN_PARENT);
    return {
      deltaLink,
      ...(this.root === undefined ? {} : { root: this.root }),
      folders: entries.map(([id, f]) => [id, parentIndex(f.parent), f.name]),
    };
  }

  has(id: string): boolean {
    return id === this.root || this.#folders.has(id);
  }

  setRoot(id: string): void {
    this.root = id;
  }

  /** Records a folder; `moved` when it was known under another parent or name. */
  set(id: string, parent: string | undefined, name: string): 'new' | 'same' | 'moved' {
    const old = this.#folders.get(id);
    this.#folders.set(id, { parent, name });
    if (!old) return 'new';
    return old.parent === parent && old.name === name ? 'same' : 'moved';
  }

  /** Forgets a folder and every folder below it; returns their ids (the folder's first). */
  remove(id: string): string[] {
    if (!this.#folders.has(id)) return [];
    const children = new Map<string, string[]>();
    for (const [child, f] of this.#folders) if (f.parent !== undefined) children.set(f.parent, [...(children.get(f.parent) ?? []), child]);
    const out: string[] = [];
    const queue = [id];
    while (queue.length) {
      const next = queue.shift() as string;
      if (!this.#folders.delete(next)) continue;
      out.push(next);
      queue.push(...(children.get(next) ?? []));
    }
    return out;
  }

  /** The first folder on the way from `id` up to the root that the tree does not know. */
  missingAncestor(id: string | undefined): string | undefined {
    let cur = id;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (cur === undefined) return undefined;
      if (cur === this.root) return undefined;
      const f = this.#folders.get(cur);
      if (!f) return cur;
      cur = f.parent;
    }
    return undefined;
  }

  /** `Projects/2024` for a folder id; the root (and what cannot be resolved) is `''`. */
  path(id: string | undefined): string {
    const parts: string[] = [];
    let cur = id;
    for (let depth = 0; depth < MAX_DEPTH && cur !== undefined && cur !== this.root; depth++) {
      const f = this.#folders.get(cur);
      if (!f) break;
      parts.push(f.name);
      cur = f.parent;
    }
    return parts.reverse().join('/');
  }

  /** Folders in `ids` that have no ancestor in `ids`. */
  topmost(ids: Iterable<string>): string[] {
    const set = new Set([...ids].filter((id) => this.#folders.has(id)));
    return [...set].filter((id) => {
      let cur = this.#folders.get(id)?.parent;
      for (let depth = 0; depth < MAX_DEPTH && cur !== undefined; depth++) {
        if (set.has(cur)) return false;
        cur = this.#folders.get(cur)?.parent;
      }
      return true;
    });
  }
}

function identityOf(set: IdentitySet | undefined): { kind: string; who: string } | undefined {
  if (!set) return undefined;
  for (const kind of ['user', 'group', 'siteGroup', 'siteUser', 'application'] as const) {
    const i = set[kind];
    if (i) return { kind, who: i.email ?? i.loginName ?? i.displayName ?? i.id ?? '' };
  }
  return undefined;
}

/** `read:user:alice@contoso.com`, `read:link:organization:view`: one flat string per grant. */
export function permissionLabels(permissions: GraphPermission[]): string[] {
  const out = new Set<string>();
  for (const p of permissions) {
    const roles = (p.roles ?? []).join('+') || 'none';
    const inherited = p.inheritedFrom?.id ? ':inherited' : '';
    if (p.link) {
      out.add(`${roles}:link:${p.link.scope ?? ''}:${p.link.type ?? ''}${inherited}`);
      continue;
    }
    const grantees = [identityOf(p.grantedToV2 ?? p.grantedTo), ...(p.grantedToIdentitiesV2 ?? []).map(identityOf)];
    for (const g of grantees) if (g) out.add(`${roles}:${g.kind}:${g.who}${inherited}`);
  }
  return [...out].sort();
}

function personOf(set: IdentitySet | undefined): string | undefined {
  const i = set?.user ?? set?.application ?? set?.group;
  return i ? (i.email ?? i.displayName ?? i.id) : undefined;
}

/** One step of a round, in the order Graph gave it: an item to upsert (with its path) or a removal. */
type Step = { type: 'upsert'; item: GraphDriveItem; path: string } | { type: 'remove'; id: string };

export class DriveReader {
  readonly #session: GraphSession;

  constructor(session: GraphSession) {
    this.#session = session;
  }

  /**
   * The changes of one drive since `previous` (everything when undefined), ending with the state
   * for the next cursor. An expired token gives `resync` and a full round. Errors (after the HTTP
   * layer's retries) are thrown: the caller keeps the previous state and reports the container.
   * `containerDone` is the caller's, once it has the state.
   */
  async *changes(target: DriveTarget, previous: DriveState | undefined): AsyncGenerator<Change, DriveState> {
    if (previous) {
      try {
        return yield* this.#round(target, previous.deltaLink, FolderTree.from(previous));
      } catch (error) {
        if (!isResyncRequired(error)) throw error;
        yield { type: 'resync', container: target.id, reason: (error as SourceError).issue.code };
      }
    }
    return yield* this.#round(target, `/drives/${target.id}/root/delta?$select=${SELECT}`, new FolderTree());
  }

  async *#round(target: DriveTarget, url: string, tree: FolderTree): AsyncGenerator<Change, DriveState> {
    /** Path each item was emitted with in this round, so the fix-up after folder moves emits only what is stale. */
    const emitted = new Map<string, string>();
    const moved = new Set<string>();
    /** Removes given in this round: a subfolder removed with its parent is not removed again when its own deletion comes. */
    const removed = new Set<string>();
    /** Items whose parent chain is not known yet, by the first unknown ancestor. */
    const pending = new Map<string, Map<string, GraphDriveItem>>();
    const pendingKey = new Map<string, string>();
    let deltaLink: string | undefined;

    const place = (item: GraphDriveItem, steps: Step[]): void => {
      const parent = item.parentReference?.id;
      const missing = tree.missingAncestor(parent);
      if (missing !== undefined) {
        const waiting = pending.get(missing) ?? new Map<string, GraphDriveItem>();
        waiting.set(item.id, item);
        pending.set(missing, waiting);
        pendingKey.set(item.id, missing);
        return;
      }
      steps.push({ type: 'upsert', item, path: tree.path(parent) });
      if (isFolder(item)) release(item.id, steps);
    };
    const release = (id: string, steps: Step[]): void => {
      const waiting = pending.get(id);
      if (!waiting) return;
      pending.delete(id);
      for (const item of waiting.values()) {
        pendingKey.delete(item.id);
        place(item, steps);
      }
    };
    const unpend = (id: string): void => {
      const key = pendingKey.get(id);
      if (key === undefined) return;
      pendingKey.delete(id);
      pending.get(key)?.delete(id);
    };

    for await (const page of this.#session.pages<GraphDriveItem>(url, DELTA_HEADERS)) {
      const steps: Step[] = [];
      for (const item of page.value) {
        if (item.deleted || item['@removed']) {
          // A deleted folder takes the folders below it along; Graph lists the files in them as
          // deleted too (the emulator does, and the docs ask clients to delete a folder only once
          // it is empty), so their removes come on their own.
          const gone = tree.has(item.id) ? tree.remove(item.id) : [item.id];
          for (const id of gone.length ? gone : [item.id]) {
            unpend(id);
            emitted.delete(id);
            moved.delete(id);
            if (removed.has(id)) continue;
            removed.add(id);
            steps.push({ type: 'remove', id });
          }
          continue;
        }
        if (item.root) {
          tree.setRoot(item.id);
          release(item.id, steps);
          continue;
        }
        if (isFolder(item)) {
          if (tree.set(item.id, item.parentReference?.id, item.name ?? item.id) === 'moved') moved.add(item.id);
        } else if (!item.file) {
          continue; // neither file nor folder (a shortcut to another drive): nothing to back up here
        }
        unpend(item.id);
        removed.delete(item.id);
        place(item, steps);
      }
      yield* this.#emit(target, steps, emitted);
      deltaLink = page['@odata.deltaLink'] ?? deltaLink;
    }
    if (!deltaLink)
      throw new SourceError({
        source: 'graph',
        code: 'MissingDeltaLink',
        message: `the delta round of drive ${target.id} ended without an @odata.deltaLink`,
      });

    // Items whose parent never came (Graph left it out of the round): emitted with the path the
    // tree can give.
    const orphans: Step[] = [];
    for (const waiting of pending.values())
      for (const item of waiting.values()) orphans.push({ type: 'upsert', item, path: tree.path(item.parentReference?.id) });
    yield* this.#emit(target, orphans, emitted);

    for (const folder of tree.topmost(moved)) yield* this.#refreshDescendants(target, folder, tree, emitted);
    return tree.toState(deltaLink);
  }

  /** Lists what is below a moved or renamed folder and emits what now has another path. */
  async *#refreshDescendants(
    target: DriveTarget,
    folderId: string,
    tree: FolderTree,
    emitted: Map<string, string>,
  ): AsyncGenerator<Change> {
    const queue = [folderId];
    while (queue.length) {
      const id = queue.shift() as string;
      const path = tree.path(id);
      try {
        for await (const page of this.#session.pages<GraphDriveItem>(
          `/drives/${target.id}/items/${id}/children?$select=${SELECT}`,
          LIST_HEADERS,
        )) {
          const steps: Step[] = [];
          for (const child of page.value) {
            if (isFolder(child)) {
              tree.set(child.id, id, child.name ?? child.id);
              queue.push(child.id);
            } else if (!child.file) continue;
            if (emitted.get(child.id) !== path)
              steps.push({ type: 'upsert', item: { ...child, parentReference: { ...child.parentReference, id } }, path });
          }
          yield* this.#emit(target, steps, emitted);
        }
      } catch (error) {
        // A folder deleted since the delta: its removal comes with the next round.
        if (error instanceof SourceError && error.notFound && !error.fatalReason) continue;
        throw error;
      }
    }
  }

  /** Fetches the permissions of the page's upserts (a few at once), then yields the steps in order. */
  async *#emit(target: DriveTarget, steps: Step[], emitted: Map<string, string>): AsyncGenerator<Change> {
    const permissions = await mapLimit(steps, PERMISSION_CONCURRENCY, (step) =>
      step.type === 'upsert' ? this.#permissions(target.id, step.item.id) : Promise.resolve(undefined),
    );
    for (const [i, step] of steps.entries()) {
      if (step.type === 'remove') {
        yield { type: 'remove', id: step.id, container: target.id };
        continue;
      }
      const granted = permissions[i];
      if (granted === 'gone') {
        // Deleted between the delta and the permissions request.
        yield { type: 'remove', id: step.item.id, container: target.id };
        continue;
      }
      emitted.set(step.item.id, step.path);
      yield { type: 'upsert', item: this.#sourceItem(target, step.item, step.path, granted) };
    }
  }

  async #permissions(driveId: string, itemId: string): Promise<string[] | { error: string } | 'gone'> {
    try {
      return permissionLabels(await this.#session.all<GraphPermission>(`/drives/${driveId}/items/${itemId}/permissions`));
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      if (error.notFound) return 'gone';
      // The item is still worth backing up; the metadata says why its sharing is missing.
      return { error: error.issue.code };
    }
  }

  #sourceItem(
    target: DriveTarget,
    item: GraphDriveItem,
    folderPath: string,
    granted: string[] | { error: string } | undefined,
  ): SourceItem {
    const folder = isFolder(item);
    const path = [target.pathPrefix, folderPath].filter(Boolean).join('/');
    const metadata: ItemMetadata = { kind: folder ? 'folder' : 'file' };
    if (item.file?.mimeType) metadata['mimeType'] = item.file.mimeType;
    if (item.file?.hashes?.quickXorHash) metadata['quickXorHash'] = item.file.hashes.quickXorHash;
    if (item.eTag) metadata['eTag'] = item.eTag;
    if (item.webUrl) metadata['webUrl'] = item.webUrl;
    const createdBy = personOf(item.createdBy);
    const modifiedBy = personOf(item.lastModifiedBy);
    if (createdBy) metadata['createdBy'] = createdBy;
    if (modifiedBy) metadata['modifiedBy'] = modifiedBy;
    if (Array.isArray(granted)) metadata['permissions'] = granted;
    else if (granted) metadata['permissionsError'] = granted.error;
    const modified = item.lastModifiedDateTime ?? item.createdDateTime ?? new Date(0).toISOString();
    return {
      id: item.id,
      version: (folder ? item.eTag : (item.cTag ?? item.eTag)) ?? modified,
      container: target.id,
      path,
      name: item.name ?? item.id,
      size: folder ? 0 : (item.size ?? 0),
      ...(item.createdDateTime ? { created: item.createdDateTime } : {}),
      modified,
      metadata,
      content: folder ? async () => Buffer.alloc(0) : () => this.#download(target.id, item.id, item['@microsoft.graph.downloadUrl']),
    };
  }

  /**
   * The file's bytes, streamed: from the listing's pre-authenticated URL when there is one, else
   * (and when it expired) through `/content`, whose 302 leads to a fresh one. A 401 or 403 from a
   * pre-authenticated URL says the URL expired, not that our credentials did (the session cannot
   * tell the two apart and reports the 401 as a refused token); a failure of `/content` is what it
   * says, revoked credentials included.
   */
  async #download(driveId: string, itemId: string, listedUrl: string | undefined): Promise<AsyncIterable<Uint8Array>> {
    if (listedUrl) {
      try {
        return await this.#session.stream(listedUrl);
      } catch (error) {
        if (!(error instanceof SourceError) || !isExpiredUrl(error)) throw error;
      }
    }
    return this.#session.stream(`/drives/${driveId}/items/${itemId}/content`);
  }
}

/** What SharePoint answers for a pre-authenticated URL past its lifetime. */
function isExpiredUrl(error: SourceError): boolean {
  return error.status === 401 || error.status === 403;
}

function isFolder(item: GraphDriveItem): boolean {
  return item.folder !== undefined || item.package !== undefined;
}

/**
 * A drive service's run: `run` lists the changes from the previous cursor and records in `next`
 * each drive's state as it goes; the cursor is written from `next`, holding back the containers
 * the engine names.
 */
export function driveServiceRun(
  cursor: string | undefined,
  run: (previous: PreviousDrives, next: Map<string, StoredDrive>) => AsyncGenerator<Change>,
): ServiceRun {
  const previous = driveCursor.parse(cursor);
  const next = new Map<string, StoredDrive>();
  return {
    changes: run(previous, next),
    cursor: (held) => driveCursor.serialise(driveCursor.holdBack({ drives: next }, previous, held)),
  };
}

/** How a drive's round ended: read to the end, failed (the previous state stays), or gone (404). */
export type DriveRoundResult =
  { outcome: 'done'; state: DriveState } | { outcome: 'failed'; state: DriveState | undefined } | { outcome: 'gone' };

/**
 * One drive's round as the engine wants it: its changes, then `containerDone`, or
 * `containerFailed` when Graph fails after the HTTP layer's retries. A drive that answers 404 is
 * `gone`, which the caller turns into `containerRemoved` or a look for the account's new drive.
 * `resync` is the reason to give when there is no previous state but the snapshot may hold items
 * of the drive (a damaged cursor, a failed first round, a renamed library).
 */
export async function* driveRound(
  reader: DriveReader,
  target: DriveTarget,
  previous: DriveState | undefined,
  resync: string | undefined,
): AsyncGenerator<Change, DriveRoundResult> {
  if (!previous && resync) yield { type: 'resync', container: target.id, reason: resync };
  try {
    const state = yield* reader.changes(target, previous);
    yield { type: 'containerDone', container: target.id };
    return { outcome: 'done', state };
  } catch (error) {
    if (!(error instanceof SourceError) || error.fatalReason) throw error;
    if (error.status === 404) return { outcome: 'gone' };
    yield { type: 'containerFailed', container: target.id, path: target.label, issue: error.issue };
    return { outcome: 'failed', state: previous };
  }
}
