// The mail data of one mailbox: a folder tree (msgfolderroot, the well-known folders, user folders
// with child folders), one ChangeLog of messages per folder (message delta is per folder in Graph)
// and one ChangeLog of folders per mailbox (mailFolders/delta is flat over the whole tree).
//
// Generated messages keep a recipe only (label, body length, attachment recipes); their MIME is
// rendered on demand. Messages a client wrote keep their MIME bytes.
import { createHash } from 'node:crypto';
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { ChangeLog } from '../../tenant/changelog.ts';
import type { Sequence } from '../../tenant/changelog.ts';
import type { StoredContent } from '../../tenant/content.ts';
import type { User } from '../../tenant/directory.ts';
import { bodyText, formatAddressList, previewOf, rfc5322Date, renderSegments, segmentsSize } from './mime.ts';
import type { Address, AttachmentRecipe, ParsedAttachment, Segment } from './mime.ts';

export const WELL_KNOWN: readonly (readonly [string, string])[] = [
  ['inbox', 'Inbox'],
  ['drafts', 'Drafts'],
  ['sentitems', 'Sent Items'],
  ['deleteditems', 'Deleted Items'],
  ['archive', 'Archive'],
  ['junkemail', 'Junk Email'],
  ['outbox', 'Outbox'],
];

export interface Folder {
  id: string;
  displayName: string;
  /** Parent folder id; the root's own id for top-level folders; '' for the root. */
  parentId: string;
  wellKnown?: string;
  children: Set<string>;
  messages: ChangeLog<Message>;
  /** Live messages, newest received first; rebuilt after a change. */
  listCache?: Message[];
}

export interface StoredMessage {
  mime: StoredContent;
  text: string;
  attachments: ParsedAttachment[];
}

export interface Message {
  id: string;
  /** Serial number in the mailbox (ids, changeKeys and labels derive from it). */
  key: number;
  folderId: string;
  version: number;
  createdDateTime: string;
  lastModifiedDateTime: string;
  receivedDateTime: string;
  sentDateTime: string;
  subject: string;
  from: Address;
  to: Address[];
  cc: Address[];
  isRead: boolean;
  isDraft: boolean;
  importance: 'low' | 'normal' | 'high';
  categories: string[];
  flagged: boolean;
  internetMessageId: string;
  /** Recipe of a generated message (its label is the mailbox's prefix and the key). */
  bodyBytes: number;
  attachments: AttachmentRecipe[];
  /** The bytes of a message a client wrote. */
  stored?: StoredMessage;
}

/** One flat string: template literals and concatenations are ropes in V8, several objects each. */
export function flat(ascii: string): string {
  return Buffer.from(ascii, 'latin1').toString('latin1');
}

function b64id(prefix: string, seed: string, bytes: number): string {
  // Exchange ids are base64 with '/' and '+' made URL-safe as '-' and '_'.
  const raw = createHash('sha256').update(seed).digest().subarray(0, bytes).toString('base64');
  return prefix + raw.replaceAll('/', '-').replaceAll('+', '_');
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class Mailbox {
  readonly user: User;
  /** The mailbox owner as a recipient, shared by its messages. */
  readonly owner: Address;
  readonly root: Folder;
  readonly folders = new Map<string, Folder>();
  readonly folderLog: ChangeLog<Folder>;
  readonly messages = new Map<string, Message>();
  private readonly wellKnown = new Map<string, Folder>();
  private readonly sequence: Sequence;
  private readonly labelPrefix: string;
  private nextKey = 0;
  private nextFolderKey = 0;
  private allCache?: Message[];

  constructor(user: User, sequence: Sequence, labelPrefix: string) {
    this.user = user;
    this.owner = { name: user.displayName, address: user.mail ?? user.userPrincipalName };
    this.sequence = sequence;
    this.labelPrefix = labelPrefix;
    this.folderLog = new ChangeLog<Folder>(sequence);
    this.root = this.makeFolder('Top of Information Store', '', 'msgfolderroot');
    this.folders.set(this.root.id, this.root);
    this.wellKnown.set('msgfolderroot', this.root);
    for (const [name, display] of WELL_KNOWN) this.addFolder(display, this.root.id, name);
  }

  private makeFolder(displayName: string, parentId: string, wellKnown?: string): Folder {
    const id = flat(b64id('AQMkA', `${this.user.id}/folder/${this.nextFolderKey++}`, 30) + 'AAAA=');
    return {
      id,
      displayName,
      parentId,
      ...(wellKnown ? { wellKnown } : {}),
      children: new Set(),
      messages: new ChangeLog<Message>(this.sequence),
    };
  }

  addFolder(displayName: string, parentId: string, wellKnown?: string): Folder {
    const folder = this.makeFolder(displayName, parentId, wellKnown);
    this.folders.set(folder.id, folder);
    this.folders.get(parentId)?.children.add(folder.id);
    if (wellKnown) this.wellKnown.set(wellKnown, folder);
    this.folderLog.put(folder.id, folder);
    return folder;
  }

  /** A folder by id or well-known name (case-insensitive), as Graph resolves `mailFolders/{id}`. */
  folder(idOrName: string): Folder | undefined {
    return this.folders.get(idOrName) ?? this.wellKnown.get(idOrName.toLowerCase());
  }

  childNamed(parentId: string, displayName: string): Folder | undefined {
    const parent = this.folders.get(parentId);
    const lower = displayName.toLowerCase();
    for (const id of parent?.children ?? []) {
      const f = this.folders.get(id);
      if (f?.displayName.toLowerCase() === lower) return f;
    }
    return undefined;
  }

  /** Removes a folder and everything under it; returns the folders and messages removed. */
  removeFolder(folder: Folder): { folders: number; messages: number } {
    let folders = 1;
    let messages = 0;
    for (const childId of [...folder.children]) {
      const child = this.folders.get(childId);
      if (!child) continue;
      const r = this.removeFolder(child);
      folders += r.folders;
      messages += r.messages;
    }
    for (const m of [...folder.messages.values()]) {
      this.messages.delete(m.id);
      messages++;
    }
    this.folders.get(folder.parentId)?.children.delete(folder.id);
    this.folders.delete(folder.id);
    this.folderLog.remove(folder.id);
    this.allCache = undefined;
    return { folders, messages };
  }

  /** Folder path from the top of the store: `Inbox/Projects`. */
  path(folder: Folder): string {
    const parts: string[] = [];
    for (let f: Folder | undefined = folder; f && f !== this.root; f = this.folders.get(f.parentId)) parts.unshift(f.displayName);
    return parts.join('/');
  }

  newKey(): { key: number; id: string } {
    const key = this.nextKey++;
    return { key, id: flat(b64id('AAMkA', `${this.user.id}/message/${key}`, 33) + 'AAA=') };
  }

  /** Adds or re-puts a message in its folder's change log (a new version for delta). */
  put(message: Message): void {
    const folder = this.folders.get(message.folderId);
    if (!folder) throw new Error(`no folder ${message.folderId}`);
    this.messages.set(message.id, message);
    folder.messages.put(message.id, message);
    folder.listCache = undefined;
    this.allCache = undefined;
  }

  remove(message: Message): void {
    const folder = this.folders.get(message.folderId);
    folder?.messages.remove(message.id);
    if (folder) folder.listCache = undefined;
    this.messages.delete(message.id);
    this.allCache = undefined;
  }

  /** Moves a message, keeping its id (Graph's immutable ids): removed in one folder, added in the other. */
  move(message: Message, target: Folder, now: string): void {
    const from = this.folders.get(message.folderId);
    from?.messages.remove(message.id);
    if (from) from.listCache = undefined;
    message.folderId = target.id;
    touch(message, now);
    this.put(message);
  }

  list(folder: Folder): Message[] {
    folder.listCache ??= sortByReceived([...folder.messages.values()]);
    return folder.listCache;
  }

  all(): Message[] {
    this.allCache ??= sortByReceived([...this.messages.values()]);
    return this.allCache;
  }

  // -------------------------------------------------------------------------------------------
  // Content

  /** The label a generated message's bytes derive from. */
  label(m: Message): string {
    return `${this.labelPrefix}/${m.key}`;
  }

  segments(m: Message): Segment[] {
    const h: string[] = [
      `Received: from ${domainOf(m.from.address)} (10.${m.key % 250}.${(m.key >> 8) % 250}.1) by EXMB01.${domainOf(this.user.userPrincipalName)}\r\n with Microsoft SMTP Server id 15.20.7452.28; ${rfc5322Date(m.receivedDateTime)}`,
      `From: ${formatAddressList([m.from])}`,
      `To: ${formatAddressList(m.to)}`,
    ];
    if (m.cc.length) h.push(`CC: ${formatAddressList(m.cc)}`);
    h.push(
      `Subject: ${m.subject}`,
      `Thread-Topic: ${m.subject.replace(/^(RE|FW): /, '')}`,
      `Date: ${rfc5322Date(m.sentDateTime)}`,
      `Message-ID: ${m.internetMessageId}`,
    );
    if (m.categories.length) h.push(`Keywords: ${m.categories.join(', ')}`);
    h.push('Content-Language: en-US', `X-MS-Has-Attach: ${m.attachments.length ? 'yes' : ''}`, 'MIME-Version: 1.0');
    const label = this.label(m);
    const text = { text: label, length: m.bodyBytes };
    if (m.attachments.length === 0) {
      h.push('Content-Type: text/plain; charset="us-ascii"', 'Content-Transfer-Encoding: 7bit');
      return [`${h.join('\r\n')}\r\n\r\n`, text];
    }
    const boundary = `_004_${createHash('sha1').update(label).digest('hex').slice(0, 24).toUpperCase()}_`;
    h.push(`Content-Type: multipart/mixed;\r\n\tboundary="${boundary}"`);
    const out: Segment[] = [
      `${h.join('\r\n')}\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n`,
      text,
    ];
    for (const a of m.attachments) {
      out.push(
        `\r\n--${boundary}\r\nContent-Type: ${a.contentType}; name="${a.name}"\r\nContent-Description: ${a.name}\r\n` +
          `Content-Disposition: attachment; filename="${a.name}"; size=${a.size}\r\nContent-Transfer-Encoding: base64\r\n\r\n`,
        { attachment: a },
      );
    }
    out.push(`\r\n--${boundary}--\r\n`);
    return out;
  }

  mimeSize(m: Message): number {
    return m.stored ? m.stored.mime.size : segmentsSize(this.segments(m));
  }

  mime(m: Message): Buffer {
    return m.stored ? m.stored.mime.bytes() : renderSegments(this.segments(m), bodyText);
  }

  text(m: Message): string {
    return m.stored ? m.stored.text : bodyText(this.label(m), m.bodyBytes);
  }

  preview(m: Message): string {
    return previewOf(m.stored ? m.stored.text : bodyText(this.label(m), Math.min(m.bodyBytes, 600)));
  }
}

/** One shared empty list for the many messages without cc, categories or attachments (never mutated). */
export const NONE: never[] = [];

export function touch(m: Message, now: string): void {
  m.version++;
  m.lastModifiedDateTime = now;
}

export function changeKey(m: Message): string {
  // Exchange change keys are base64 of a 4-byte header and a change number.
  const buf = Buffer.alloc(20);
  buf.write('CQAAABYAAAA', 0, 'latin1');
  buf.writeUInt32BE(m.key, 12);
  buf.writeUInt32BE(m.version, 16);
  return buf.toString('base64');
}

function sortByReceived(list: Message[]): Message[] {
  return list.sort((a, b) => (a.receivedDateTime < b.receivedDateTime ? 1 : a.receivedDateTime > b.receivedDateTime ? -1 : a.key - b.key));
}

function domainOf(address: string): string {
  return address.slice(address.indexOf('@') + 1) || 'contoso.com';
}

export function pickDistinct(rng: Prng, n: number, k: number): number[] {
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
