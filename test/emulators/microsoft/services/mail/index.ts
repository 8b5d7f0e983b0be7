// The mail workload (Outlook mail in Graph v1.0): mail folders and their delta, messages with
// per-folder delta, MIME content (`$value`), file attachments, and the writes a restore needs
// (create folders, create messages from MIME or JSON, update, delete, move).
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link, pageSize } from '../../http/odata.ts';
import type { Router } from '../../http/router.ts';
import { GraphError, parseJson } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import { ExpiredDeltaToken } from '../../tenant/changelog.ts';
import type { DeltaCursor } from '../../tenant/changelog.ts';
import { sha256Hex, StoredContent } from '../../tenant/content.ts';
import type { Directory } from '../../tenant/directory.ts';
import type { MutationCounts } from '../../tenant/spec.ts';
import type { GenerateInput, MutateInput, Service } from '../service.ts';
import { MessageFactory } from './factory.ts';
import { changeKey, isoSeconds, Mailbox, pickDistinct, touch } from './mailbox.ts';
import type { Folder, Message } from './mailbox.ts';
import { attachmentBytes, mimeFromJson, parseAddressList, parseMime } from './mime.ts';
import type { Address } from './mime.ts';

const READ = ['Mail.Read', 'Mail.ReadWrite'] as const;
const WRITE = ['Mail.ReadWrite'] as const;
/** Outlook's default page size for messages and folders; `$top` goes up to 1000. */
const DEFAULT_PAGE = 10;
const MAX_PAGE = 1000;

const MESSAGE_FIELDS = [
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'receivedDateTime',
  'sentDateTime',
  'hasAttachments',
  'internetMessageId',
  'subject',
  'bodyPreview',
  'importance',
  'parentFolderId',
  'conversationId',
  'conversationIndex',
  'isDeliveryReceiptRequested',
  'isReadReceiptRequested',
  'isRead',
  'isDraft',
  'webLink',
  'inferenceClassification',
  'body',
  'uniqueBody',
  'sender',
  'from',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'flag',
] as const;
const MESSAGE_FIELD_SET = new Set<string>(['id', ...MESSAGE_FIELDS, 'singleValueExtendedProperties', 'attachments']);
const FOLDER_FIELD_SET = new Set([
  'id',
  'displayName',
  'parentFolderId',
  'childFolderCount',
  'unreadItemCount',
  'totalItemCount',
  'isHidden',
  'wellKnownName',
]);
const ATTACHMENT_FIELD_SET = new Set([
  'id',
  'lastModifiedDateTime',
  'name',
  'contentType',
  'size',
  'isInline',
  'contentId',
  'contentLocation',
  'contentBytes',
]);

interface DeltaToken {
  c: DeltaCursor;
  s?: string;
  n?: number;
  x?: boolean;
}

function notFound(): GraphError {
  return new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
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
      throw new GraphError(400, 'RequestBroker--ParseUri', `Could not find a property named '${f}' on type 'microsoft.graph.${type}'.`);
  }
  return fields;
}

/** `$expand=singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')`: the message size (PR_MESSAGE_SIZE). */
function wantsSize(raw: string | null | undefined): boolean {
  return !!raw && /singleValueExtendedProperties/i.test(raw) && /0x0?e08/i.test(raw);
}

function recipient(a: Address): { emailAddress: { name: string; address: string } } {
  return { emailAddress: { name: a.name, address: a.address } };
}

function conversationId(m: Message): string {
  const topic = m.subject.replace(/^((RE|FW|FWD): )+/i, '');
  return `AAQkA${Buffer.from(topic).toString('base64url').slice(0, 40)}AQ=`;
}

export class MailService implements Service {
  readonly name = 'mail';
  private readonly boxes = new Map<string, Mailbox>();
  private directory?: Directory;
  private factory?: MessageFactory;
  private readonly started = Date.UTC(2024, 0, 1);
  /** The latest receivedDateTime generated: messages added by a mutation arrive after it, so that
   * the bytes of a mutated tenant are as reproducible as the generated ones. */
  private clock = this.started;

  // -------------------------------------------------------------------------------------------
  // Data

  generate(input: GenerateInput): void {
    const { spec, directory } = input;
    this.directory = directory;
    this.factory = new MessageFactory(spec, directory, input.rng('people'));
    const userFolderNames = [
      'Projects',
      'Clients',
      'Receipts',
      'Travel',
      'Newsletters',
      'Team',
      'Reports',
      'Invoices',
      'Hiring',
      'Vendors',
    ];
    for (const user of directory.mailboxes()) {
      const rng = input.rng(`mailbox/${user.id}`);
      const mb = new Mailbox(user, input.sequence, `${spec.seed}/mail/${user.id}`);
      this.boxes.set(user.id, mb);
      const inbox = mb.folder('inbox') as Folder;
      const userFolders: Folder[] = [];
      for (let i = 0; i < spec.mailFolders; i++) {
        const name = (userFolderNames[i % userFolderNames.length] as string) + (i >= userFolderNames.length ? ` ${i}` : '');
        // Every third folder is top-level, then one under Inbox, then one under the previous folder.
        const previous = userFolders[userFolders.length - 1];
        const parent = i % 3 === 0 ? mb.root : i % 3 === 1 ? inbox : (previous ?? mb.root);
        userFolders.push(mb.addFolder(name, parent.id));
      }
      const weights: [Folder, number][] = [
        [inbox, 50],
        [mb.folder('sentitems') as Folder, 15],
        [mb.folder('archive') as Folder, 10],
        [mb.folder('deleteditems') as Folder, 5],
        [mb.folder('junkemail') as Folder, 2],
        [mb.folder('drafts') as Folder, 2],
        ...userFolders.map((f) => [f, 16 / userFolders.length] as [Folder, number]),
      ];
      let t = this.started + rng.int(30 * 86_400_000);
      for (let i = 0; i < spec.items.mail; i++) {
        t += Math.round(-Math.log(1 - rng.float()) * 2 * 3_600_000);
        const folder = rng.weighted(weights);
        mb.put(this.factory.create(mb, folder, rng, t));
        this.clock = Math.max(this.clock, t);
      }
    }
  }

  mutate(input: MutateInput): MutationCounts[] {
    const out: MutationCounts[] = [];
    const factory = this.factory as MessageFactory;
    const { mutation } = input;
    const now = isoSeconds(Date.now());
    const arrival = this.clock + 3_600_000;
    let latest = arrival;
    for (const mb of this.boxes.values()) {
      const rng = input.rng(`mailbox/${mb.user.id}`);
      const counts: MutationCounts = {
        account: mb.user.id,
        service: this.name,
        added: 0,
        changed: 0,
        moved: 0,
        removed: 0,
        foldersAdded: 0,
        foldersRemoved: 0,
      };
      // Folders removed first: their messages count as removed.
      const userFolders = [...mb.folders.values()].filter((f) => !f.wellKnown);
      for (const i of pickDistinct(rng, userFolders.length, Math.round(mutation.removeFolders * userFolders.length))) {
        const f = userFolders[i] as Folder;
        if (!mb.folders.has(f.id)) continue; // already gone with its parent
        const r = mb.removeFolder(f);
        counts.foldersRemoved += r.folders;
        counts.removed += r.messages;
      }
      for (let i = 0; i < mutation.addFolders; i++) {
        const parent = rng.chance(0.5) ? mb.root : (mb.folder('inbox') as Folder);
        let name = factory.newFolderName(rng);
        while (mb.childNamed(parent.id, name)) name = `${name} ${rng.int(1000)}`;
        mb.addFolder(name, parent.id);
        counts.foldersAdded++;
      }
      const live = [...mb.messages.values()];
      const nChange = Math.round(mutation.change * live.length);
      const nMove = Math.round(mutation.move * live.length);
      const nRemove = Math.round(mutation.remove * live.length);
      const nAdd = Math.round(mutation.add * live.length);
      const picked = pickDistinct(rng, live.length, nChange + nMove + nRemove).map((i) => live[i] as Message);
      const targets = [...mb.folders.values()].filter((f) => f !== mb.root && f.wellKnown !== 'outbox');
      picked.forEach((m, i) => {
        if (i < nChange) {
          m.isRead = !m.isRead;
          if (rng.chance(0.5)) m.categories = m.categories.length ? [] : [factory.category(rng)];
          else m.flagged = !m.flagged;
          touch(m, now);
          mb.put(m);
          counts.changed++;
        } else if (i < nChange + nMove) {
          const choices = targets.filter((f) => f.id !== m.folderId);
          if (choices.length === 0) return;
          mb.move(m, rng.pick(choices), now);
          counts.moved++;
        } else {
          mb.remove(m);
          counts.removed++;
        }
      });
      const inbox = mb.folder('inbox') as Folder;
      for (let i = 0; i < nAdd; i++) {
        const folder = rng.chance(0.8) ? inbox : rng.pick(targets);
        const at = arrival + i * 60_000;
        latest = Math.max(latest, at);
        mb.put(factory.create(mb, folder, rng, at));
        counts.added++;
      }
      out.push(counts);
    }
    this.clock = latest;
    return out;
  }

  export(): unknown {
    const mailboxes = [];
    for (const mb of this.boxes.values()) {
      const folders = [...mb.folders.values()]
        .filter((f) => f !== mb.root)
        .map((f) => ({ id: f.id, path: mb.path(f), ...(f.wellKnown ? { wellKnownName: f.wellKnown } : {}) }))
        .sort((a, b) => a.path.localeCompare(b.path));
      const messages = [...mb.messages.values()].map((m) => {
        const mime = mb.mime(m);
        return {
          id: m.id,
          folder: mb.path(mb.folders.get(m.folderId) as Folder),
          subject: m.subject,
          internetMessageId: m.internetMessageId,
          changeKey: changeKey(m),
          isRead: m.isRead,
          categories: m.categories,
          size: mime.length,
          sha256: sha256Hex(mime),
        };
      });
      mailboxes.push({ account: mb.user.id, userPrincipalName: mb.user.userPrincipalName, folders, messages });
    }
    return { mailboxes };
  }

  expireDeltaTokens(account: string, container?: string): number {
    const mb = this.boxes.get(account);
    if (!mb) return 0;
    if (container) {
      const f = mb.folder(container);
      if (!f) return 0;
      f.messages.expire();
      return 1;
    }
    let n = 1;
    mb.folderLog.expire();
    for (const f of mb.folders.values()) {
      f.messages.expire();
      n++;
    }
    return n;
  }

  /** The mailbox of a user (id or UPN), for tests and benchmarks. */
  mailbox(idOrUpn: string): Mailbox | undefined {
    const user = this.directory?.user(idOrUpn);
    return user ? this.boxes.get(user.id) : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // JSON shapes

  private folderJson(mb: Mailbox, f: Folder, fields?: Set<string>): Record<string, unknown> {
    const all: Record<string, unknown> = {
      id: f.id,
      displayName: f.displayName,
      parentFolderId: f.parentId,
      childFolderCount: f.children.size,
      unreadItemCount: mb.list(f).reduce((n, m) => n + (m.isRead ? 0 : 1), 0),
      totalItemCount: f.messages.size,
      isHidden: false,
    };
    if (!fields) return all;
    const out: Record<string, unknown> = { id: f.id };
    for (const k of fields) if (k in all) out[k] = all[k];
    return out;
  }

  private messageJson(mb: Mailbox, m: Message, fields?: Set<string>, size = false): Record<string, unknown> {
    const ck = changeKey(m);
    const out: Record<string, unknown> = { '@odata.etag': `W/"${ck}"`, id: m.id };
    const want = (k: string): boolean => !fields || fields.has(k);
    const hasAttachments = m.stored ? m.stored.attachments.length > 0 : m.attachments.length > 0;
    const getters: Record<(typeof MESSAGE_FIELDS)[number], () => unknown> = {
      createdDateTime: () => m.createdDateTime,
      lastModifiedDateTime: () => m.lastModifiedDateTime,
      changeKey: () => ck,
      categories: () => m.categories,
      receivedDateTime: () => m.receivedDateTime,
      sentDateTime: () => m.sentDateTime,
      hasAttachments: () => hasAttachments,
      internetMessageId: () => m.internetMessageId,
      subject: () => m.subject,
      bodyPreview: () => mb.preview(m),
      importance: () => m.importance,
      parentFolderId: () => m.folderId,
      conversationId: () => conversationId(m),
      conversationIndex: () => Buffer.from(`${m.key}:${m.sentDateTime}`).toString('base64'),
      isDeliveryReceiptRequested: () => false,
      isReadReceiptRequested: () => false,
      isRead: () => m.isRead,
      isDraft: () => m.isDraft,
      webLink: () => `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(m.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
      inferenceClassification: () => 'focused',
      body: () => ({ contentType: 'text', content: mb.text(m) }),
      uniqueBody: () => ({ contentType: 'text', content: mb.text(m) }),
      sender: () => recipient(m.from),
      from: () => recipient(m.from),
      toRecipients: () => m.to.map(recipient),
      ccRecipients: () => m.cc.map(recipient),
      bccRecipients: () => [],
      replyTo: () => [],
      flag: () => ({ flagStatus: m.flagged ? 'flagged' : 'notFlagged' }),
    };
    for (const k of MESSAGE_FIELDS) {
      if (k === 'uniqueBody' && !fields?.has(k)) continue; // only when selected, as in Graph
      if (want(k)) out[k] = getters[k]();
    }
    if (size) out['singleValueExtendedProperties'] = [{ id: 'Integer 0xe08', value: String(mb.mimeSize(m)) }];
    return out;
  }

  private attachments(m: Message): { id: string; name: string; contentType: string; size: number; bytes: () => Buffer }[] {
    const stem = m.id.replace(/=+$/, '');
    if (m.stored) {
      return m.stored.attachments.map((a, i) => ({
        id: `${stem}BEgAQA${i}AAAA=`,
        name: a.name,
        contentType: a.contentType,
        size: a.bytes.length,
        bytes: () => a.bytes,
      }));
    }
    return m.attachments.map((a, i) => ({
      id: `${stem}BEgAQA${i}AAAA=`,
      name: a.name,
      contentType: a.contentType,
      size: a.size,
      bytes: () => attachmentBytes(a),
    }));
  }

  private attachmentJson(m: Message, a: ReturnType<MailService['attachments']>[number], fields?: Set<string>): Record<string, unknown> {
    const all: Record<string, unknown> = {
      '@odata.type': '#microsoft.graph.fileAttachment',
      '@odata.mediaContentType': a.contentType,
      id: a.id,
      lastModifiedDateTime: m.lastModifiedDateTime,
      name: a.name,
      contentType: a.contentType,
      size: a.size,
      isInline: false,
      contentId: null,
      contentLocation: null,
    };
    if (!fields || fields.has('contentBytes')) all['contentBytes'] = a.bytes().toString('base64');
    if (!fields) return all;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) if (k === 'id' || k.startsWith('@') || fields.has(k)) out[k] = v;
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  private box(req: EmulatorRequest): Mailbox {
    const key = req.params['user'] ?? '';
    const user = this.directory?.user(key);
    if (!user)
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
    const mb = this.boxes.get(user.id);
    if (!mb || user.mailboxType === 'none') {
      throw new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    }
    return mb;
  }

  private folderOf(mb: Mailbox, req: EmulatorRequest): Folder {
    const f = mb.folder(req.params['folder'] ?? '');
    if (!f) throw notFound();
    return f;
  }

  private messageOf(mb: Mailbox, req: EmulatorRequest, folder?: Folder): Message {
    const m = mb.messages.get(req.params['id'] ?? '');
    if (!m || (folder && m.folderId !== folder.id)) throw notFound();
    return m;
  }

  // -------------------------------------------------------------------------------------------
  // Handlers

  /** Offset paging as Outlook does it: `@odata.nextLink` carries `$top` and `$skip`. */
  private offsetPage<T>(req: EmulatorRequest, items: readonly T[], context: string, render: (item: T) => unknown): EmulatorResponse {
    const ps = pageSize(req, DEFAULT_PAGE, MAX_PAGE);
    const skipRaw = req.query.get('$skip');
    const skip = skipRaw === null ? 0 : Number(skipRaw);
    if (!Number.isInteger(skip) || skip < 0) throw new GraphError(400, 'BadRequest', `Invalid value '${skipRaw}' for $skip query option.`);
    const body: Record<string, unknown> = {
      '@odata.context': contextUrl(req, context),
      value: items.slice(skip, skip + ps.size).map(render),
    };
    if (skip + ps.size < items.length) {
      const q: Record<string, string> = {};
      for (const k of ['$select', '$expand']) {
        const v = req.query.get(k);
        if (v) q[k] = v;
      }
      q['$top'] = String(ps.size);
      q['$skip'] = String(skip + ps.size);
      body['@odata.nextLink'] = link(req, req.path, q);
    }
    return { status: 200, headers: ps.applied ? { 'Preference-Applied': ps.applied } : {}, body };
  }

  private delta<T>(
    req: EmulatorRequest,
    log: {
      start(): DeltaCursor;
      resume(c: DeltaCursor): DeltaCursor;
      read(c: DeltaCursor, n: number): { changes: { id: string; item: T | undefined }[]; next?: DeltaCursor; delta?: DeltaCursor };
      epoch: number;
    },
    context: string,
    type: string,
    allowed: Set<string>,
    render: (item: T, fields: Set<string> | undefined, size: boolean) => Record<string, unknown>,
  ): EmulatorResponse {
    const skip = req.query.get('$skiptoken');
    const deltaToken = req.query.get('$deltatoken');
    const token = skip ? decodeToken<DeltaToken>(skip) : deltaToken ? decodeToken<DeltaToken>(deltaToken, 'delta token') : undefined;
    const select = token ? token.s : (req.query.get('$select') ?? undefined);
    const fields = selection(select, allowed, type);
    const size = token ? !!token.x : wantsSize(req.query.get('$expand'));
    const ps = pageSize(req, token?.n ?? DEFAULT_PAGE, MAX_PAGE);
    let page;
    try {
      const cursor = skip && token ? token.c : deltaToken && token ? log.resume(token.c) : log.start();
      page = log.read(cursor, ps.size);
    } catch (err) {
      if (err instanceof ExpiredDeltaToken) {
        // What Exchange answers for a sync state it no longer has (seen on the wire; the delta
        // query overview calls it syncStateNotFound): the client must start a full round.
        throw new GraphError(
          410,
          'SyncStateNotFound',
          `The sync state generation is not found; generation=${token?.c.e ?? 0};[highest=${log.epoch}][${log.epoch}].`,
        );
      }
      throw err;
    }
    const value = page.changes.map((c) =>
      c.item === undefined
        ? { '@odata.type': `#microsoft.graph.${type}`, id: c.id, '@removed': { reason: 'deleted' } }
        : { '@odata.type': `#microsoft.graph.${type}`, ...render(c.item, fields, size) },
    );
    const carry = (c: DeltaCursor): string =>
      encodeToken({
        c,
        ...(select ? { s: select } : {}),
        ...(ps.size !== DEFAULT_PAGE ? { n: ps.size } : {}),
        ...(size ? { x: true } : {}),
      } satisfies DeltaToken);
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, `Collection(${type})`), value };
    if (page.next) body['@odata.nextLink'] = link(req, req.path, { $skiptoken: carry(page.next) });
    else if (page.delta) body['@odata.deltaLink'] = link(req, req.path, { $deltatoken: carry(page.delta) });
    return { status: 200, headers: ps.applied ? { 'Preference-Applied': ps.applied } : {}, body };
  }

  private createMessage(mb: Mailbox, folder: Folder, req: EmulatorRequest): EmulatorResponse {
    const now = isoSeconds(Date.now());
    const { key, id } = mb.newKey();
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    let m: Message;
    if (type.startsWith('text/plain')) {
      // "Create message in MIME format": the body is the base64 of the MIME; the message is a draft.
      const b64 = req.body.toString('latin1').trim();
      if (!b64 || !/^[A-Za-z0-9+/=\s]+$/.test(b64))
        throw new GraphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
      const mime = Buffer.from(b64, 'base64');
      const parsed = parseMime(mime);
      const h = parsed.headers;
      const date = h.get('date') ? new Date(h.get('date') as string) : new Date();
      const when = Number.isNaN(date.getTime()) ? now : isoSeconds(date.getTime());
      m = {
        id,
        key,
        folderId: folder.id,
        version: 1,
        createdDateTime: now,
        lastModifiedDateTime: now,
        receivedDateTime: when,
        sentDateTime: when,
        subject: h.get('subject') ?? '',
        from: parseAddressList(h.get('from'))[0] ?? { name: mb.user.displayName, address: mb.user.mail ?? mb.user.userPrincipalName },
        to: parseAddressList(h.get('to')),
        cc: parseAddressList(h.get('cc')),
        isRead: true,
        isDraft: true,
        importance: 'normal',
        categories: (h.get('keywords') ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        flagged: false,
        internetMessageId: h.get('message-id') ?? `<${id.slice(5, 25)}@emulator>`,
        bodyBytes: 0,
        attachments: [],
        stored: { mime: new StoredContent(mime), text: parsed.text, attachments: parsed.attachments },
      };
    } else {
      const j = parseJson<{
        subject?: string;
        body?: { content?: string };
        from?: { emailAddress?: Address };
        toRecipients?: { emailAddress?: Address }[];
        ccRecipients?: { emailAddress?: Address }[];
        isRead?: boolean;
        categories?: string[];
        importance?: Message['importance'];
        internetMessageId?: string;
        flag?: { flagStatus?: string };
        singleValueExtendedProperties?: { id?: string; value?: string }[];
      }>(req);
      const addr = (r: { emailAddress?: Address } | undefined): Address | undefined =>
        r?.emailAddress?.address ? { name: r.emailAddress.name ?? r.emailAddress.address, address: r.emailAddress.address } : undefined;
      let received = now;
      let sent = now;
      let isDraft = true;
      // Restore tools set the delivery and submit times and the message flags through MAPI
      // properties, since receivedDateTime, sentDateTime and isDraft are read-only in Graph.
      for (const p of j.singleValueExtendedProperties ?? []) {
        const pid = (p.id ?? '').toLowerCase().replace(/\s+/g, ' ');
        if (/^systemtime 0x0?e06$/.test(pid) && p.value) received = isoSeconds(Date.parse(p.value));
        else if (/^systemtime 0x0*39$/.test(pid) && p.value) sent = isoSeconds(Date.parse(p.value));
        else if (/^integer 0x0?e07$/.test(pid) && p.value) isDraft = (Number(p.value) & 8) !== 0;
      }
      const from = addr(j.from) ?? { name: mb.user.displayName, address: mb.user.mail ?? mb.user.userPrincipalName };
      const to = (j.toRecipients ?? []).map(addr).filter((a): a is Address => !!a);
      const cc = (j.ccRecipients ?? []).map(addr).filter((a): a is Address => !!a);
      const subject = j.subject ?? '';
      const text = j.body?.content ?? '';
      const internetMessageId = j.internetMessageId ?? `<${id.slice(5, 25)}@emulator>`;
      m = {
        id,
        key,
        folderId: folder.id,
        version: 1,
        createdDateTime: now,
        lastModifiedDateTime: now,
        receivedDateTime: received,
        sentDateTime: sent,
        subject,
        from,
        to,
        cc,
        isRead: j.isRead ?? true,
        isDraft,
        importance: j.importance ?? 'normal',
        categories: j.categories ?? [],
        flagged: j.flag?.flagStatus === 'flagged',
        internetMessageId,
        bodyBytes: 0,
        attachments: [],
        stored: {
          mime: new StoredContent(mimeFromJson({ subject, from, to, cc, date: sent, messageId: internetMessageId, text })),
          text,
          attachments: [],
        },
      };
    }
    mb.put(m);
    return {
      status: 201,
      body: { '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages/$entity`), ...this.messageJson(mb, m) },
    };
  }

  private createFolder(mb: Mailbox, parent: Folder, req: EmulatorRequest): EmulatorResponse {
    const body = parseJson<{ displayName?: string }>(req);
    const name = (body.displayName ?? '').trim();
    if (!name) throw new GraphError(400, 'ErrorInvalidRequest', 'The request is invalid: displayName is required.');
    if (mb.childNamed(parent.id, name)) throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    const f = mb.addFolder(name, parent.id);
    return {
      status: 201,
      body: { '@odata.context': contextUrl(req, `users('${req.params['user']}')/mailFolders/$entity`), ...this.folderJson(mb, f) },
    };
  }

  routes(router: Router, _ctx: EmulatorContext): void {
    const base = '/v1.0/users/:user';
    const mailbox = (p: Record<string, string>): string | undefined => p['user'];
    const read = (kind: string) => ({ kind, auth: 'graph' as const, permissions: READ, mailbox });
    const write = { kind: 'mail.write', auth: 'graph' as const, permissions: WRITE, mailbox };
    const folderCtx = (req: EmulatorRequest): string => `users('${req.params['user']}')/mailFolders`;

    // Folders. `delta` before `:folder`.
    router.get(`${base}/mailFolders`, read('mail.folders'), (req) => {
      const mb = this.box(req);
      const fields = selection(req.query.get('$select'), FOLDER_FIELD_SET, 'mailFolder');
      const top = [...mb.root.children].map((id) => mb.folders.get(id) as Folder);
      return this.offsetPage(req, top, folderCtx(req), (f) => this.folderJson(mb, f, fields));
    });
    router.post(`${base}/mailFolders`, write, (req) => {
      const mb = this.box(req);
      return this.createFolder(mb, mb.root, req);
    });
    router.get(`${base}/mailFolders/delta`, read('mail.folderDelta'), (req) => {
      const mb = this.box(req);
      return this.delta<Folder>(req, mb.folderLog, 'mailFolder', 'mailFolder', FOLDER_FIELD_SET, (f, fields) =>
        this.folderJson(mb, f, fields),
      );
    });
    router.get(`${base}/mailFolders/:folder`, read('mail.folders'), (req) => {
      const mb = this.box(req);
      const f = this.folderOf(mb, req);
      const fields = selection(req.query.get('$select'), FOLDER_FIELD_SET, 'mailFolder');
      return { status: 200, body: { '@odata.context': contextUrl(req, `${folderCtx(req)}/$entity`), ...this.folderJson(mb, f, fields) } };
    });
    router.get(`${base}/mailFolders/:folder/childFolders`, read('mail.folders'), (req) => {
      const mb = this.box(req);
      const f = this.folderOf(mb, req);
      const fields = selection(req.query.get('$select'), FOLDER_FIELD_SET, 'mailFolder');
      const children = [...f.children].map((id) => mb.folders.get(id) as Folder);
      return this.offsetPage(req, children, `${folderCtx(req)}('${f.id}')/childFolders`, (c) => this.folderJson(mb, c, fields));
    });
    router.post(`${base}/mailFolders/:folder/childFolders`, write, (req) => {
      const mb = this.box(req);
      return this.createFolder(mb, this.folderOf(mb, req), req);
    });

    // Messages of a folder. `delta` before `:id`.
    router.get(`${base}/mailFolders/:folder/messages/delta`, read('mail.delta'), (req) => {
      const mb = this.box(req);
      const f = this.folderOf(mb, req);
      return this.delta<Message>(req, f.messages, 'message', 'message', MESSAGE_FIELD_SET, (m, fields, size) =>
        this.messageJson(mb, m, fields, size),
      );
    });
    router.get(`${base}/mailFolders/:folder/messages`, read('mail.list'), (req) => {
      const mb = this.box(req);
      const f = this.folderOf(mb, req);
      const fields = selection(req.query.get('$select'), MESSAGE_FIELD_SET, 'message');
      const size = wantsSize(req.query.get('$expand'));
      return this.offsetPage(req, mb.list(f), `${folderCtx(req)}('${f.id}')/messages`, (m) => this.messageJson(mb, m, fields, size));
    });
    router.post(`${base}/mailFolders/:folder/messages`, write, (req) => {
      const mb = this.box(req);
      return this.createMessage(mb, this.folderOf(mb, req), req);
    });
    router.get(`${base}/mailFolders/:folder/messages/:id`, read('mail.get'), (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req, this.folderOf(mb, req));
      const fields = selection(req.query.get('$select'), MESSAGE_FIELD_SET, 'message');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages/$entity`),
          ...this.messageJson(mb, m, fields, wantsSize(req.query.get('$expand'))),
        },
      };
    });

    // Messages of the mailbox.
    router.get(`${base}/messages`, read('mail.list'), (req) => {
      const mb = this.box(req);
      const fields = selection(req.query.get('$select'), MESSAGE_FIELD_SET, 'message');
      const size = wantsSize(req.query.get('$expand'));
      return this.offsetPage(req, mb.all(), `users('${req.params['user']}')/messages`, (m) => this.messageJson(mb, m, fields, size));
    });
    router.post(`${base}/messages`, write, (req) => {
      const mb = this.box(req);
      return this.createMessage(mb, mb.folder('drafts') as Folder, req);
    });
    router.get(`${base}/messages/:id`, read('mail.get'), (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      const fields = selection(req.query.get('$select'), MESSAGE_FIELD_SET, 'message');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages/$entity`),
          ...this.messageJson(mb, m, fields, wantsSize(req.query.get('$expand'))),
        },
      };
    });
    router.get(`${base}/messages/:id/$value`, read('mail.mime'), (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      // Graph serves a message's MIME with `Content-Type: text/plain`, not message/rfc822.
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: mb.mime(m) };
    });
    router.patch(`${base}/messages/:id`, write, (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      const j = parseJson<{
        isRead?: boolean;
        categories?: string[];
        subject?: string;
        importance?: Message['importance'];
        flag?: { flagStatus?: string };
      }>(req);
      if (typeof j.isRead === 'boolean') m.isRead = j.isRead;
      if (Array.isArray(j.categories)) m.categories = j.categories.map(String);
      if (typeof j.subject === 'string') m.subject = j.subject;
      if (j.importance) m.importance = j.importance;
      if (j.flag?.flagStatus) m.flagged = j.flag.flagStatus === 'flagged';
      touch(m, isoSeconds(Date.now()));
      mb.put(m);
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages/$entity`), ...this.messageJson(mb, m) },
      };
    });
    router.delete(`${base}/messages/:id`, write, (req) => {
      const mb = this.box(req);
      mb.remove(this.messageOf(mb, req));
      return { status: 204 };
    });
    router.post(`${base}/messages/:id/move`, write, (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      const { destinationId } = parseJson<{ destinationId?: string }>(req);
      const target = destinationId ? mb.folder(destinationId) : undefined;
      if (!target || target === mb.root) throw notFound();
      // Outside immutable ids Graph gives a moved message a new id; this emulator keeps ids
      // stable, as with `Prefer: IdType="ImmutableId"`.
      if (target.id !== m.folderId) mb.move(m, target, isoSeconds(Date.now()));
      return {
        status: 201,
        body: { '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages/$entity`), ...this.messageJson(mb, m) },
      };
    });

    // Attachments.
    router.get(`${base}/messages/:id/attachments`, read('mail.attachments'), (req) => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      const fields = selection(req.query.get('$select'), ATTACHMENT_FIELD_SET, 'attachment');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages('${m.id}')/attachments`),
          value: this.attachments(m).map((a) => this.attachmentJson(m, a, fields)),
        },
      };
    });
    const attachment = (req: EmulatorRequest): { m: Message; a: ReturnType<MailService['attachments']>[number] } => {
      const mb = this.box(req);
      const m = this.messageOf(mb, req);
      const a = this.attachments(m).find((x) => x.id === req.params['aid']);
      if (!a) throw notFound();
      return { m, a };
    };
    router.get(`${base}/messages/:id/attachments/:aid`, read('mail.attachments'), (req) => {
      const { m, a } = attachment(req);
      const fields = selection(req.query.get('$select'), ATTACHMENT_FIELD_SET, 'attachment');
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${req.params['user']}')/messages('${m.id}')/attachments/$entity`),
          ...this.attachmentJson(m, a, fields),
        },
      };
    });
    router.get(`${base}/messages/:id/attachments/:aid/$value`, read('mail.attachments'), (req) => {
      const { a } = attachment(req);
      return { status: 200, headers: { 'Content-Type': a.contentType }, body: a.bytes() };
    });
  }
}
