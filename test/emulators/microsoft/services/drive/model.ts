// The data behind the drive workload: a drive (a user's OneDrive or a site's document library) is
// a tree of driveItems with an id index, a name index per folder (path addressing), a change log
// (delta) and tombstones (the `deleted` facet). File content is a recipe (GeneratedContent) or the
// bytes a client uploaded (StoredContent); hashes are computed on first use and only the hash
// strings are kept.
import { Prng } from '../../../../../bench/corpus/prng.ts';
import { csvText, logText, TextGen } from '../../../../../bench/corpus/text.ts';
import { ChangeLog } from '../../tenant/changelog.ts';
import type { Sequence } from '../../tenant/changelog.ts';
import { GeneratedContent, randomContent, sha256Hex } from '../../tenant/content.ts';
import type { Content } from '../../tenant/content.ts';
import { guid } from '../../tenant/directory.ts';
import { quickXorHash } from './quickxor.ts';

export interface IdentitySet {
  user: { id?: string; displayName: string; email?: string };
}

export interface DriveItem {
  id: string;
  name: string;
  /** Undefined for the root folder. */
  parentId: string | undefined;
  isFolder: boolean;
  /** The list item's unique id: the GUID inside eTag and cTag. */
  uid: string;
  /** eTag version: bumped by every change (rename, move, content). */
  version: number;
  /** cTag version: bumped when the content changes. */
  contentVersion: number;
  created: string;
  modified: string;
  createdBy: IdentitySet;
  modifiedBy: IdentitySet;
  content?: Content;
  mimeType?: string;
  /** Files: content size; folders: total size of what they hold. */
  size: number;
  /** Folders: lower-case child name → child id. */
  children?: Map<string, string>;
  /** Folders: child ids sorted by name, rebuilt after a change. */
  sorted?: string[];
  quickXor?: string;
  sha256?: string;
}

export interface Tombstone {
  id: string;
  name: string;
  parentId: string | undefined;
  isFolder: boolean;
}

const EXTENSIONS: readonly (readonly [string, string, number])[] = [
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 5],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 4],
  ['pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation', 2],
  ['pdf', 'application/pdf', 4],
  ['jpg', 'image/jpeg', 3],
  ['png', 'image/png', 2],
  ['zip', 'application/x-zip-compressed', 1],
  ['txt', 'text/plain', 2],
  ['csv', 'text/csv', 2],
  ['log', 'text/plain', 2],
];

const MIME_BY_EXT = new Map(EXTENSIONS.map(([ext, mime]) => [ext, mime]));

export function mimeTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 ? MIME_BY_EXT.get(name.slice(dot + 1).toLowerCase()) : undefined) ?? 'application/octet-stream';
}

const FOLDER_NAMES = [
  'Projects',
  'Reports',
  'Archive',
  'Shared',
  'Invoices',
  'Photos',
  'Meeting notes',
  'Contracts',
  'Budget',
  'Templates',
  'Drafts',
  'Clients',
  'Design',
  'Legal',
  'Marketing',
];

/** Deterministic content for a generated file: text for text types, incompressible bytes else. */
export function generatedContent(label: string, name: string, size: number): Content {
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  if (ext === 'log' || ext === 'csv' || ext === 'txt') {
    return new GeneratedContent(size, () => {
      const rng = new Prng(`content/${label}`);
      const text =
        ext === 'log'
          ? logText(rng, size, Date.UTC(2024, 0, 1)).text
          : ext === 'csv'
            ? csvText(rng, size, true)
            : new TextGen(rng).paragraphs(size).join('\r\n\r\n');
      const bytes = Buffer.from(text, 'latin1');
      return bytes.length >= size ? bytes.subarray(0, size) : Buffer.concat([bytes, Buffer.alloc(size - bytes.length, 0x20)]);
    });
  }
  return randomContent(label, size);
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class Drive {
  readonly id: string;
  readonly driveType: 'business' | 'documentLibrary';
  readonly name: string;
  readonly webUrl: string;
  /** The account the drive belongs to: a user id (OneDrive) or a site id (document library). */
  readonly account: string;
  readonly owner: Record<string, unknown>;
  readonly created: string;
  readonly items = new Map<string, DriveItem>();
  readonly tombstones = new Map<string, Tombstone>();
  readonly log: ChangeLog<DriveItem>;
  readonly root: DriveItem;
  private readonly ids: Prng;
  private readonly idPrefix: string;

  constructor(init: {
    id: string;
    driveType: 'business' | 'documentLibrary';
    name: string;
    webUrl: string;
    account: string;
    owner: Record<string, unknown>;
    created: string;
    sequence: Sequence;
    ids: Prng;
    by: IdentitySet;
  }) {
    this.id = init.id;
    this.driveType = init.driveType;
    this.name = init.name;
    this.webUrl = init.webUrl;
    this.account = init.account;
    this.owner = init.owner;
    this.created = init.created;
    this.log = new ChangeLog<DriveItem>(init.sequence);
    this.ids = init.ids;
    // OneDrive for Business item ids: "01" and 32 base32 characters; the first 6 are per drive.
    this.idPrefix = `01${this.randomId(6)}`;
    this.root = {
      id: this.newId(),
      name: 'root',
      parentId: undefined,
      isFolder: true,
      uid: guid(this.ids).toUpperCase(),
      version: 1,
      contentVersion: 1,
      created: init.created,
      modified: init.created,
      createdBy: init.by,
      modifiedBy: init.by,
      size: 0,
      children: new Map(),
    };
    this.items.set(this.root.id, this.root);
    this.log.put(this.root.id, this.root);
  }

  private randomId(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += ID_ALPHABET[this.ids.int(32)];
    return s;
  }

  newId(): string {
    let id: string;
    do id = this.idPrefix + this.randomId(26);
    while (this.items.has(id) || this.tombstones.has(id));
    return id;
  }

  get(id: string): DriveItem | undefined {
    return this.items.get(id);
  }

  /** `/Folder/file.txt`; the root is the empty string. */
  path(item: DriveItem): string {
    const parts: string[] = [];
    let cur: DriveItem | undefined = item;
    while (cur?.parentId !== undefined) {
      parts.push(cur.name);
      cur = this.items.get(cur.parentId);
    }
    return parts.length ? `/${parts.reverse().join('/')}` : '';
  }

  childByName(folder: DriveItem, name: string): DriveItem | undefined {
    const id = folder.children?.get(name.toLowerCase());
    return id ? this.items.get(id) : undefined;
  }

  /** An item by a path relative to `from` (`a/b/c.txt`), or undefined. */
  resolve(from: DriveItem, relative: string): DriveItem | undefined {
    let cur: DriveItem | undefined = from;
    for (const part of relative.split('/').filter(Boolean)) {
      if (!cur?.isFolder) return undefined;
      cur = this.childByName(cur, part);
    }
    return cur;
  }

  children(folder: DriveItem): string[] {
    if (!folder.sorted) {
      folder.sorted = [...(folder.children?.values() ?? [])].sort((a, b) => {
        const x = (this.items.get(a) as DriveItem).name.toLowerCase();
        const y = (this.items.get(b) as DriveItem).name.toLowerCase();
        return x < y ? -1 : x > y ? 1 : 0;
      });
    }
    return folder.sorted;
  }

  depth(item: DriveItem): number {
    let d = 0;
    for (let cur = item; cur.parentId !== undefined; cur = this.items.get(cur.parentId) as DriveItem) d++;
    return d;
  }

  isAncestor(ancestor: DriveItem, item: DriveItem): boolean {
    for (let cur: DriveItem | undefined = item; cur; cur = cur.parentId === undefined ? undefined : this.items.get(cur.parentId)) {
      if (cur.id === ancestor.id) return true;
    }
    return false;
  }

  /** `name`, or `name 1.ext`, `name 2.ext`... as OneDrive renames on conflict. */
  uniqueName(folder: DriveItem, name: string): string {
    if (!this.childByName(folder, name)) return name;
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot) : '';
    for (let i = 1; ; i++) {
      const candidate = `${stem} ${i}${ext}`;
      if (!this.childByName(folder, candidate)) return candidate;
    }
  }

  private attach(folder: DriveItem, item: DriveItem): void {
    folder.children?.set(item.name.toLowerCase(), item.id);
    folder.sorted = undefined;
    item.parentId = folder.id;
  }

  private detach(item: DriveItem): void {
    if (item.parentId === undefined) return;
    const parent = this.items.get(item.parentId);
    if (parent?.children?.get(item.name.toLowerCase()) === item.id) parent.children.delete(item.name.toLowerCase());
    if (parent) parent.sorted = undefined;
  }

  /** Adds `delta` bytes to the size of every folder from `folderId` up. */
  private grow(folderId: string | undefined, delta: number): void {
    for (let id = folderId; id !== undefined;) {
      const f = this.items.get(id);
      if (!f) break;
      f.size += delta;
      id = f.parentId;
    }
  }

  addFolder(parent: DriveItem, name: string, by: IdentitySet, when: string): DriveItem {
    const folder: DriveItem = {
      id: this.newId(),
      name,
      parentId: parent.id,
      isFolder: true,
      uid: guid(this.ids).toUpperCase(),
      version: 1,
      contentVersion: 1,
      created: when,
      modified: when,
      createdBy: by,
      modifiedBy: by,
      size: 0,
      children: new Map(),
    };
    this.items.set(folder.id, folder);
    this.attach(parent, folder);
    this.log.put(folder.id, folder);
    return folder;
  }

  addFile(parent: DriveItem, name: string, content: Content, by: IdentitySet, when: string, id?: string): DriveItem {
    const file: DriveItem = {
      id: id ?? this.newId(),
      name,
      parentId: parent.id,
      isFolder: false,
      uid: guid(this.ids).toUpperCase(),
      version: 1,
      contentVersion: 1,
      created: when,
      modified: when,
      createdBy: by,
      modifiedBy: by,
      content,
      mimeType: mimeTypeOf(name),
      size: content.size,
    };
    this.items.set(file.id, file);
    this.attach(parent, file);
    this.grow(parent.id, file.size);
    this.log.put(file.id, file);
    return file;
  }

  /** New content: a new eTag, cTag and hash. */
  setContent(file: DriveItem, content: Content, by: IdentitySet, when: string): void {
    this.grow(file.parentId, content.size - file.size);
    file.content = content;
    file.size = content.size;
    file.version++;
    file.contentVersion++;
    file.modified = when;
    file.modifiedBy = by;
    file.quickXor = undefined;
    file.sha256 = undefined;
    this.log.put(file.id, file);
  }

  /** Moves (and optionally renames) an item; it keeps its id. */
  move(item: DriveItem, to: DriveItem, name: string, by: IdentitySet, when: string): void {
    this.detach(item);
    this.grow(item.parentId, -item.size);
    item.name = name;
    this.attach(to, item);
    this.grow(to.id, item.size);
    item.version++;
    item.modified = when;
    item.modifiedBy = by;
    this.log.put(item.id, item);
  }

  /** Removes an item and, for a folder, everything below it; returns what was removed. */
  remove(item: DriveItem): { files: number; folders: number } {
    const out = { files: 0, folders: 0 };
    if (item.isFolder) {
      for (const childId of [...(item.children?.values() ?? [])]) {
        const child = this.items.get(childId);
        if (child) {
          const r = this.remove(child);
          out.files += r.files;
          out.folders += r.folders;
        }
      }
      out.folders++;
    } else {
      out.files++;
    }
    this.detach(item);
    this.grow(item.parentId, -item.size);
    this.items.delete(item.id);
    this.tombstones.set(item.id, { id: item.id, name: item.name, parentId: item.parentId, isFolder: item.isFolder });
    this.log.remove(item.id);
    return out;
  }

  quickXor(file: DriveItem): string {
    file.quickXor ??= quickXorHash((file.content as Content).bytes());
    return file.quickXor;
  }

  sha256(file: DriveItem): string {
    file.sha256 ??= sha256Hex((file.content as Content).bytes());
    return file.sha256;
  }

  files(): DriveItem[] {
    const out: DriveItem[] = [];
    for (const item of this.items.values()) if (!item.isFolder) out.push(item);
    return out;
  }

  folders(): DriveItem[] {
    const out: DriveItem[] = [];
    for (const item of this.items.values()) if (item.isFolder) out.push(item);
    return out;
  }

  /** Generates `folders` folders and `files` files, deterministically from `rng`. */
  populate(
    rng: Prng,
    spec: { files: number; fileMedianBytes: number; sigma: number; maxBytes: number },
    people: IdentitySet[],
    labelPrefix: string,
    start: number,
  ): void {
    const text = new TextGen(rng);
    const folderCount = Math.max(spec.files > 0 ? 2 : 0, Math.round(spec.files / 8));
    const folders: DriveItem[] = [this.root];
    let t = start;
    for (let i = 0; i < folderCount; i++) {
      t += rng.int(86_400_000);
      let parent = rng.pick(folders);
      if (this.depth(parent) >= 4) parent = this.root;
      const name = this.uniqueName(parent, rng.pick(FOLDER_NAMES));
      folders.push(this.addFolder(parent, name, rng.pick(people), isoSeconds(t)));
    }
    for (let i = 0; i < spec.files; i++) {
      t += rng.int(3_600_000);
      const parent = rng.chance(0.2) ? this.root : rng.pick(folders);
      const name = this.uniqueName(parent, randomFileName(rng, text));
      this.addFile(parent, name, this.newContent(rng, spec, `${labelPrefix}/${i}`, name), rng.pick(people), isoSeconds(t));
    }
  }

  /** Content for a file called `name` (the extension decides text or binary). */
  newContent(rng: Prng, spec: { fileMedianBytes: number; sigma: number; maxBytes: number }, label: string, name: string): Content {
    const size = Math.max(1, Math.min(spec.maxBytes, Math.round(rng.logNormal(spec.fileMedianBytes, spec.sigma))));
    return generatedContent(label, name, size);
  }
}

export function randomFileName(rng: Prng, text: TextGen): string {
  const ext = rng.weighted(EXTENSIONS.map(([e, , w]) => [e, w] as const));
  const title = text
    .words(1 + rng.int(3))
    .split(' ')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
  return `${title}.${ext}`;
}

export const FOLDER_NAME_POOL = FOLDER_NAMES;
