// The contacts workload: contact folders and contacts of every mailbox under
// /v1.0/users/{id | upn}, contact delta per folder (the default folder at /contacts/delta), reads
// with paging and $select, and the writes a restore needs (create folders and contacts, change and
// delete contacts).
import { createHash, randomBytes } from 'node:crypto';
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { person, TextGen } from '../../../../../bench/corpus/text.ts';
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link, pageSize, project, selectedFields } from '../../http/odata.ts';
import type { Router } from '../../http/router.ts';
import { GraphError, parseJson } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import { ChangeLog, ExpiredDeltaToken } from '../../tenant/changelog.ts';
import type { DeltaCursor, Sequence } from '../../tenant/changelog.ts';
import type { Directory, User } from '../../tenant/directory.ts';
import type { MutationCounts } from '../../tenant/spec.ts';
import type { GenerateInput, MutateInput, Service } from '../service.ts';

const READ = ['Contacts.Read', 'Contacts.ReadWrite'] as const;
const WRITE = ['Contacts.ReadWrite'] as const;
const U = '/v1.0/users/:user';
const CREATED = Date.UTC(2025, 10, 3);
/** Outlook's default page for lists and delta, and the largest page it honours. */
const DEFAULT_PAGE = 10;
const MAX_PAGE = 1000;
const COMPANIES = [
  'Contoso',
  'Fabrikam',
  'Northwind Traders',
  'Adventure Works',
  'Tailspin Toys',
  'Litware',
  'Woodgrove Bank',
  'Proseware',
];
const TITLES = ['Account Manager', 'CFO', 'Buyer', 'Consultant', 'Project Lead', 'Sales Director', 'Engineer', null];
/** Writable contact properties the emulator keeps as the client sent them (beyond the modelled ones). */
const EXTRA = [
  'initials',
  'middleName',
  'nickName',
  'title',
  'generation',
  'department',
  'officeLocation',
  'profession',
  'businessHomePage',
  'assistantName',
  'manager',
  'spouseName',
  'homePhones',
  'imAddresses',
  'children',
  'categories',
  'homeAddress',
  'businessAddress',
  'otherAddress',
  'fileAs',
  'yomiGivenName',
  'yomiSurname',
  'yomiCompanyName',
] as const;

const NO_EXTRA: Readonly<Record<string, unknown>> = {};

interface EmailAddress {
  name: string;
  address: string;
}

interface ContactRecord {
  id: string;
  folderId: string;
  created: number;
  modified: number;
  version: number;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  emailAddresses: EmailAddress[];
  businessPhones: string[];
  mobilePhone: string | null;
  companyName: string | null;
  jobTitle: string | null;
  birthday: string | null;
  personalNotes: string;
  /** Other writable properties a client set (absent for generated contacts). */
  extra?: Record<string, unknown>;
}

interface FolderRecord {
  id: string;
  displayName: string;
  parentFolderId: string;
  log: ChangeLog<ContactRecord>;
}

interface Book {
  user: User;
  /** The default "Contacts" folder: /contacts; /contactFolders lists its children. */
  root: FolderRecord;
  folders: Map<string, FolderRecord>;
  contacts: Map<string, ContactRecord>;
}

interface DeltaToken {
  k: DeltaCursor;
  s?: string;
  n?: number;
}

function newId(prefix: string, rng?: Prng): string {
  const bytes = rng ? Buffer.from(rng.hex(30), 'hex') : randomBytes(30);
  return `AAMkA${prefix}${bytes.toString('base64url')}`;
}

function changeKey(id: string, version: number): string {
  return createHash('sha256').update(`${id}/${version}`).digest('base64').slice(0, 40);
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function bump(previous: number): number {
  return Math.max(Date.now(), previous + 1000);
}

function phone(rng: Prng): string {
  return `+1 ${rng.between(200, 989)} ${rng.between(100, 999)} ${String(rng.int(10_000)).padStart(4, '0')}`;
}

export class ContactsService implements Service {
  readonly name = 'contacts';
  private readonly books = new Map<string, Book>();
  private sequence!: Sequence;
  private directory!: Directory;

  generate(input: GenerateInput): void {
    this.sequence = input.sequence;
    this.directory = input.directory;
    for (const user of input.directory.mailboxes()) {
      const rng = input.rng(`mailbox/${user.id}`);
      const rootId = newId('C', rng);
      const root: FolderRecord = {
        id: rootId,
        displayName: 'Contacts',
        parentFolderId: newId('R', rng),
        log: new ChangeLog(this.sequence),
      };
      const book: Book = { user, root, folders: new Map([[root.id, root]]), contacts: new Map() };
      this.books.set(user.id, book);
      const names = ['Suppliers', 'Customers', 'Family', 'Partners', 'Recruiters'];
      const nFolders = 1 + rng.int(2);
      for (let i = 0; i < nFolders; i++) this.addFolder(book, names.splice(rng.int(names.length), 1)[0] as string, root.id, rng);
      const userFolders = [...book.folders.values()].filter((f) => f !== root);
      if (rng.chance(0.5)) this.addFolder(book, 'Archive', (userFolders[0] as FolderRecord).id, rng);
      const all = [...book.folders.values()];
      for (let i = 0; i < input.spec.items.contacts; i++) {
        const folder = rng.chance(0.6) ? root : rng.pick(all);
        this.store(book, this.generateContact(folder, rng, CREATED + i * 60_000));
      }
    }
  }

  private addFolder(book: Book, displayName: string, parentFolderId: string, rng?: Prng): FolderRecord {
    const folder: FolderRecord = { id: newId('F', rng), displayName, parentFolderId, log: new ChangeLog(this.sequence) };
    book.folders.set(folder.id, folder);
    return folder;
  }

  private generateContact(folder: FolderRecord, rng: Prng, created: number): ContactRecord {
    const p = person(rng);
    const company = rng.chance(0.8) ? rng.pick(COMPANIES) : null;
    const emails: EmailAddress[] = [{ name: p.display, address: p.email }];
    if (rng.chance(0.2))
      emails.push({ name: p.display, address: `${p.first}@${rng.pick(['gmail.com', 'outlook.com', 'yahoo.com'])}`.toLowerCase() });
    return {
      id: newId('D', rng),
      folderId: folder.id,
      created,
      modified: created,
      version: 1,
      displayName: p.display,
      givenName: p.first,
      surname: p.last,
      emailAddresses: emails,
      businessPhones: rng.chance(0.7) ? [phone(rng)] : [],
      mobilePhone: rng.chance(0.5) ? phone(rng) : null,
      companyName: company,
      jobTitle: company ? rng.pick(TITLES) : null,
      birthday: rng.chance(0.3)
        ? `${rng.between(1950, 2000)}-${String(rng.between(1, 12)).padStart(2, '0')}-${String(rng.between(1, 28)).padStart(2, '0')}T11:59:00Z`
        : null,
      personalNotes: rng.chance(0.3) ? new TextGen(rng).sentence() : '',
    };
  }

  private store(book: Book, contact: ContactRecord): void {
    book.contacts.set(contact.id, contact);
    this.folderOf(book, contact).log.put(contact.id, contact);
  }

  private folderOf(book: Book, contact: ContactRecord): FolderRecord {
    const folder = book.folders.get(contact.folderId);
    if (!folder) throw new Error(`contact ${contact.id} in an unknown folder`);
    return folder;
  }

  private touch(book: Book, contact: ContactRecord): void {
    contact.version++;
    contact.modified = bump(contact.modified);
    this.folderOf(book, contact).log.put(contact.id, contact);
  }

  private remove(book: Book, contact: ContactRecord): void {
    book.contacts.delete(contact.id);
    this.folderOf(book, contact).log.remove(contact.id);
  }

  /** Moves a contact to another folder; it keeps its id (Outlook ids survive a move in Graph v1.0 with immutable ids). */
  private move(book: Book, contact: ContactRecord, to: FolderRecord): void {
    this.folderOf(book, contact).log.remove(contact.id);
    contact.folderId = to.id;
    contact.version++;
    contact.modified = bump(contact.modified);
    to.log.put(contact.id, contact);
  }

  /** Deletes a folder, its child folders and every contact in them. */
  private removeFolder(book: Book, folder: FolderRecord): { folders: number; contacts: number } {
    const out = { folders: 1, contacts: 0 };
    for (const child of [...book.folders.values()].filter((f) => f.parentFolderId === folder.id)) {
      const r = this.removeFolder(book, child);
      out.folders += r.folders;
      out.contacts += r.contacts;
    }
    for (const contact of [...folder.log.values()]) {
      book.contacts.delete(contact.id);
      folder.log.remove(contact.id);
      out.contacts++;
    }
    book.folders.delete(folder.id);
    return out;
  }

  // ---- mutation, export, expiry ---------------------------------------------------------------

  mutate(input: MutateInput): MutationCounts[] {
    const out: MutationCounts[] = [];
    const { mutation } = input;
    for (const book of this.books.values()) {
      const rng = input.rng(`mailbox/${book.user.id}`);
      const text = new TextGen(rng);
      const counts: MutationCounts = {
        account: book.user.id,
        service: this.name,
        added: 0,
        changed: 0,
        moved: 0,
        removed: 0,
        foldersAdded: 0,
        foldersRemoved: 0,
      };
      // Folders removed first (with their child folders): their contacts count as removed.
      const userFolders = [...book.folders.values()].filter((f) => f !== book.root);
      for (let k = userFolders.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [userFolders[k], userFolders[j]] = [userFolders[j] as FolderRecord, userFolders[k] as FolderRecord];
      }
      for (const folder of userFolders.slice(0, Math.round(userFolders.length * mutation.removeFolders))) {
        if (!book.folders.has(folder.id)) continue; // already gone with its parent
        const r = this.removeFolder(book, folder);
        counts.foldersRemoved += r.folders;
        counts.removed += r.contacts;
      }
      const live = [...book.contacts.values()];
      for (let i = live.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [live[i], live[j]] = [live[j] as ContactRecord, live[i] as ContactRecord];
      }
      const n = live.length;
      const folders = [...book.folders.values()];
      const nRemove = Math.min(n, Math.round(n * mutation.remove));
      const nMove = folders.length > 1 ? Math.min(n - nRemove, Math.round(n * mutation.move)) : 0;
      const nChange = Math.min(n - nRemove - nMove, Math.round(n * mutation.change));
      const nAdd = Math.round(n * mutation.add);
      let i = 0;
      for (; i < nRemove; i++) {
        this.remove(book, live[i] as ContactRecord);
        counts.removed++;
      }
      for (; i < nRemove + nMove; i++) {
        const contact = live[i] as ContactRecord;
        const targets = folders.filter((f) => f.id !== contact.folderId);
        this.move(book, contact, rng.pick(targets));
        counts.moved++;
      }
      for (; i < nRemove + nMove + nChange; i++) {
        const contact = live[i] as ContactRecord;
        contact.jobTitle = rng.pick(TITLES.filter((t) => t !== contact.jobTitle));
        contact.mobilePhone = phone(rng);
        contact.personalNotes = text.sentence();
        this.touch(book, contact);
        counts.changed++;
      }
      for (let k = 0; k < nAdd; k++) {
        this.store(book, this.generateContact(rng.chance(0.6) ? book.root : rng.pick(folders), rng, bump(CREATED)));
        counts.added++;
      }
      for (let k = 0; k < mutation.addFolders; k++) {
        let name = text.title();
        while (folders.some((f) => f.displayName === name) || [...book.folders.values()].some((f) => f.displayName === name)) name += ' 2';
        this.addFolder(book, name, book.root.id, rng);
        counts.foldersAdded++;
      }
      out.push(counts);
    }
    return out;
  }

  private path(book: Book, folder: FolderRecord): string {
    const parts: string[] = [];
    for (let f: FolderRecord | undefined = folder; f; f = f === book.root ? undefined : book.folders.get(f.parentFolderId))
      parts.unshift(f.displayName);
    return parts.join('/');
  }

  export(): unknown {
    return [...this.books.values()].map((book) => ({
      account: book.user.id,
      userPrincipalName: book.user.userPrincipalName,
      folders: [...book.folders.values()].map((f) => ({ id: f.id, path: this.path(book, f), contacts: f.log.size })),
      contacts: [...book.contacts.values()].map((c) => ({
        id: c.id,
        folder: this.path(book, this.folderOf(book, c)),
        displayName: c.displayName,
        emailAddresses: c.emailAddresses.map((e) => e.address),
        sha256: createHash('sha256')
          .update(JSON.stringify(this.canonical(c)))
          .digest('hex'),
      })),
    }));
  }

  /**
   * What a restored contact must equal: its Graph JSON without the id, version, timestamps and
   * folder (a property a client never sent reads back with its default, so it compares equal).
   */
  private canonical(c: ContactRecord): Record<string, unknown> {
    const {
      '@odata.etag': _etag,
      id: _id,
      changeKey: _key,
      createdDateTime: _c,
      lastModifiedDateTime: _m,
      parentFolderId: _p,
      ...rest
    } = this.render(c);
    const emails = (rest['emailAddresses'] as EmailAddress[]).map((e) => ({ name: e.name, address: e.address.toLowerCase() }));
    return Object.fromEntries(Object.entries({ ...rest, emailAddresses: emails }).sort(([a], [b]) => a.localeCompare(b)));
  }

  expireDeltaTokens(account: string, container?: string): number {
    const book = this.books.get(account);
    if (!book) return 0;
    let n = 0;
    for (const folder of book.folders.values()) {
      if (container && folder.id !== container && folder.displayName !== container) continue;
      folder.log.expire();
      n++;
    }
    return n;
  }

  // ---- routes ---------------------------------------------------------------------------------

  routes(router: Router, _ctx: EmulatorContext): void {
    const read = (kind: string) => ({
      kind: `contacts.${kind}`,
      auth: 'graph' as const,
      permissions: READ,
      mailbox: (p: Record<string, string>) => p['user'],
    });
    const write = (kind: string) => ({
      kind: `contacts.${kind}`,
      auth: 'graph' as const,
      permissions: WRITE,
      mailbox: (p: Record<string, string>) => p['user'],
    });

    router.get(`${U}/contactFolders`, read('folders'), (req) => {
      const book = this.book(req);
      return this.folders(req, book, book.root);
    });
    router.post(`${U}/contactFolders`, write('createFolder'), (req) => {
      const book = this.book(req);
      return this.createFolder(req, book, book.root);
    });
    router.get(`${U}/contactFolders/:folder/childFolders`, read('folders'), (req) => this.folders(req, this.book(req), this.folder(req)));
    router.post(`${U}/contactFolders/:folder/childFolders`, write('createFolder'), (req) =>
      this.createFolder(req, this.book(req), this.folder(req)),
    );
    router.get(`${U}/contactFolders/:folder/contacts/delta`, read('delta'), (req) => this.delta(req, this.folder(req)));
    router.get(`${U}/contactFolders/:folder/contacts`, read('list'), (req) => this.list(req, this.book(req), this.folder(req)));
    router.post(`${U}/contactFolders/:folder/contacts`, write('create'), (req) => this.create(req, this.book(req), this.folder(req)));
    router.get(`${U}/contactFolders/:folder`, read('folder'), (req) => {
      const book = this.book(req);
      const folder = this.folder(req);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${book.user.id}')/contactFolders/$entity`),
          ...project(this.renderFolder(folder), selectedFields(req.query)),
        },
      };
    });

    // The default folder's contacts (`/contacts/delta` is the shortcut for its delta).
    router.get(`${U}/contacts/delta`, read('delta'), (req) => this.delta(req, this.book(req).root));
    router.get(`${U}/contacts`, read('list'), (req) => {
      const book = this.book(req);
      return this.list(req, book, book.root);
    });
    router.post(`${U}/contacts`, write('create'), (req) => {
      const book = this.book(req);
      return this.create(req, book, book.root);
    });
    router.get(`${U}/contacts/:id`, read('contact'), (req) => {
      const book = this.book(req);
      const contact = this.contact(book, req);
      return {
        status: 200,
        body: {
          '@odata.context': contextUrl(req, `users('${book.user.id}')/contacts/$entity`),
          ...project(this.render(contact), selectedFields(req.query)),
        },
      };
    });
    router.patch(`${U}/contacts/:id`, write('update'), (req) => {
      const book = this.book(req);
      const contact = this.contact(book, req);
      this.apply(contact, parseJson(req));
      this.touch(book, contact);
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, `users('${book.user.id}')/contacts/$entity`), ...this.render(contact) },
      };
    });
    router.delete(`${U}/contacts/:id`, write('delete'), (req) => {
      const book = this.book(req);
      this.remove(book, this.contact(book, req));
      return { status: 204 };
    });
  }

  // ---- handlers -------------------------------------------------------------------------------

  private book(req: EmulatorRequest): Book {
    const key = req.params['user'] ?? '';
    const user = this.directory.user(key);
    if (!user) {
      throw new GraphError(
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    const book = this.books.get(user.id);
    if (!book) {
      // A user without an Exchange Online mailbox (no license): Graph's Outlook endpoints answer so.
      throw new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    }
    return book;
  }

  private folder(req: EmulatorRequest): FolderRecord {
    const book = this.book(req);
    const id = req.params['folder'] ?? '';
    // The well-known name `contacts` names the default folder, as in Outlook.
    const folder = id.toLowerCase() === 'contacts' ? book.root : book.folders.get(id);
    if (!folder) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return folder;
  }

  private contact(book: Book, req: EmulatorRequest): ContactRecord {
    const contact = book.contacts.get(req.params['id'] ?? '');
    if (!contact) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return contact;
  }

  private renderFolder(folder: FolderRecord): Record<string, unknown> {
    return { id: folder.id, displayName: folder.displayName, parentFolderId: folder.parentFolderId };
  }

  private render(c: ContactRecord): Record<string, unknown> {
    const key = changeKey(c.id, c.version);
    const x = c.extra ?? NO_EXTRA;
    const pick = <T>(name: string, fallback: T): unknown => (name in x ? x[name] : fallback);
    return {
      '@odata.etag': `W/"${key}"`,
      id: c.id,
      createdDateTime: iso(c.created),
      lastModifiedDateTime: iso(c.modified),
      changeKey: key,
      categories: pick('categories', []),
      parentFolderId: c.folderId,
      birthday: c.birthday,
      fileAs: pick('fileAs', ''),
      displayName: c.displayName,
      givenName: c.givenName,
      initials: pick('initials', null),
      middleName: pick('middleName', null),
      nickName: pick('nickName', null),
      surname: c.surname,
      title: pick('title', null),
      yomiGivenName: pick('yomiGivenName', null),
      yomiSurname: pick('yomiSurname', null),
      yomiCompanyName: pick('yomiCompanyName', null),
      generation: pick('generation', null),
      imAddresses: pick('imAddresses', []),
      jobTitle: c.jobTitle,
      companyName: c.companyName,
      department: pick('department', null),
      officeLocation: pick('officeLocation', null),
      profession: pick('profession', null),
      businessHomePage: pick('businessHomePage', null),
      assistantName: pick('assistantName', null),
      manager: pick('manager', null),
      homePhones: pick('homePhones', []),
      mobilePhone: c.mobilePhone,
      businessPhones: c.businessPhones,
      spouseName: pick('spouseName', null),
      personalNotes: c.personalNotes,
      children: pick('children', []),
      emailAddresses: c.emailAddresses,
      homeAddress: pick('homeAddress', {}),
      businessAddress: pick('businessAddress', {}),
      otherAddress: pick('otherAddress', {}),
    };
  }

  /**
   * Outlook's list paging: `$top` (or `Prefer: odata.maxpagesize`) sets the page, and the next
   * link repeats the query with `$skip` (Outlook lists page with `$skip`, not a skip token).
   */
  private page<T>(
    req: EmulatorRequest,
    items: readonly T[],
    render: (item: T) => Record<string, unknown>,
    context: string,
  ): EmulatorResponse {
    const ps = pageSize(req, DEFAULT_PAGE, MAX_PAGE);
    const skipRaw = req.query.get('$skip');
    const skip = skipRaw === null ? 0 : Number(skipRaw);
    if (!Number.isInteger(skip) || skip < 0) throw new GraphError(400, 'BadRequest', `Invalid value '${skipRaw}' for $skip query option.`);
    const fields = selectedFields(req.query);
    const value = items.slice(skip, skip + ps.size).map((item) => project(render(item), fields));
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, context), value };
    if (skip + ps.size < items.length) {
      const query: Record<string, string> = {};
      for (const [k, v] of req.query) if (k !== '$skip' && k !== '$top') query[k] = v;
      query['$top'] = String(ps.size);
      query['$skip'] = String(skip + ps.size);
      body['@odata.nextLink'] = link(req, req.path, query);
    }
    return { status: 200, headers: ps.applied ? { 'Preference-Applied': ps.applied } : {}, body };
  }

  private folders(req: EmulatorRequest, book: Book, parent: FolderRecord): EmulatorResponse {
    const children = [...book.folders.values()].filter((f) => f !== book.root && f.parentFolderId === parent.id);
    const context =
      parent === book.root
        ? `users('${book.user.id}')/contactFolders`
        : `users('${book.user.id}')/contactFolders('${parent.id}')/childFolders`;
    return this.page(req, children, (f) => this.renderFolder(f), context);
  }

  private createFolder(req: EmulatorRequest, book: Book, parent: FolderRecord): EmulatorResponse {
    const body = parseJson<{ displayName?: unknown }>(req);
    if (typeof body.displayName !== 'string' || !body.displayName.trim())
      throw new GraphError(400, 'ErrorInvalidRequest', 'A contact folder needs a displayName.');
    const name = body.displayName;
    if ([...book.folders.values()].some((f) => f.parentFolderId === parent.id && f.displayName.toLowerCase() === name.toLowerCase())) {
      throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    }
    const folder = this.addFolder(book, name, parent.id);
    return {
      status: 201,
      body: { '@odata.context': contextUrl(req, `users('${book.user.id}')/contactFolders/$entity`), ...this.renderFolder(folder) },
    };
  }

  private list(req: EmulatorRequest, book: Book, folder: FolderRecord): EmulatorResponse {
    const context =
      folder === book.root ? `users('${book.user.id}')/contacts` : `users('${book.user.id}')/contactFolders('${folder.id}')/contacts`;
    return this.page(req, [...folder.log.values()], (c) => this.render(c), context);
  }

  private create(req: EmulatorRequest, book: Book, folder: FolderRecord): EmulatorResponse {
    const body = parseJson<Record<string, unknown>>(req);
    const now = Date.now();
    const contact: ContactRecord = {
      id: newId('D'),
      folderId: folder.id,
      created: now,
      modified: now,
      version: 1,
      displayName: '',
      givenName: null,
      surname: null,
      emailAddresses: [],
      businessPhones: [],
      mobilePhone: null,
      companyName: null,
      jobTitle: null,
      birthday: null,
      personalNotes: '',
    };
    this.apply(contact, body);
    if (!contact.displayName) contact.displayName = [contact.givenName, contact.surname].filter(Boolean).join(' ');
    this.store(book, contact);
    return {
      status: 201,
      body: { '@odata.context': contextUrl(req, `users('${book.user.id}')/contacts/$entity`), ...this.render(contact) },
    };
  }

  /** Copies the writable properties a client sent. */
  private apply(c: ContactRecord, body: Record<string, unknown>): void {
    const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
    if ('displayName' in body) c.displayName = String(body['displayName'] ?? '');
    if ('givenName' in body) c.givenName = str(body['givenName']);
    if ('surname' in body) c.surname = str(body['surname']);
    if ('mobilePhone' in body) c.mobilePhone = str(body['mobilePhone']);
    if ('companyName' in body) c.companyName = str(body['companyName']);
    if ('jobTitle' in body) c.jobTitle = str(body['jobTitle']);
    if ('birthday' in body) c.birthday = str(body['birthday']);
    if ('personalNotes' in body) c.personalNotes = String(body['personalNotes'] ?? '');
    if (Array.isArray(body['businessPhones'])) c.businessPhones = (body['businessPhones'] as unknown[]).map(String);
    if (Array.isArray(body['emailAddresses'])) {
      c.emailAddresses = (body['emailAddresses'] as Partial<EmailAddress>[]).map((e) => ({
        name: String(e.name ?? e.address ?? ''),
        address: String(e.address ?? ''),
      }));
    }
    for (const key of EXTRA) if (key in body) (c.extra ??= {})[key] = body[key];
  }

  /**
   * Contact delta on one folder: the first round lists the folder's contacts, later rounds the
   * contacts added, changed or moved in, and `@removed` for those deleted or moved out.
   */
  private delta(req: EmulatorRequest, folder: FolderRecord): EmulatorResponse {
    const skip = req.query.get('$skiptoken');
    const deltaToken = req.query.get('$deltatoken');
    let token: DeltaToken;
    let read;
    try {
      if (skip) {
        token = decodeToken<DeltaToken>(skip);
      } else if (deltaToken) {
        const t = decodeToken<DeltaToken>(deltaToken, 'delta token');
        token = { ...t, k: folder.log.resume(t.k) };
      } else {
        const select = req.query.get('$select');
        token = { k: folder.log.start(), ...(select ? { s: select } : {}) };
      }
      const ps = pageSize(req, token.n ?? DEFAULT_PAGE, MAX_PAGE);
      token.n = ps.size;
      read = { ...folder.log.read(token.k, ps.size), applied: ps.applied };
    } catch (err) {
      if (err instanceof ExpiredDeltaToken) {
        // Exchange's answer to a sync state it no longer has.
        throw new GraphError(
          410,
          'SyncStateNotFound',
          `The sync state generation is not found; generation=${folder.log.epoch - 1};[highest=${folder.log.epoch}].`,
        );
      }
      throw err;
    }
    const fields = token.s ? new Set(token.s.split(',')) : undefined;
    const value = read.changes.map((change) =>
      change.item
        ? project({ '@odata.type': '#microsoft.graph.contact', ...this.render(change.item) }, fields)
        : { '@odata.type': '#microsoft.graph.contact', id: change.id, '@removed': { reason: 'deleted' } },
    );
    const carry = { ...(token.s ? { s: token.s } : {}), n: token.n };
    const body: Record<string, unknown> = { '@odata.context': contextUrl(req, 'Collection(contact)') };
    if (read.next) body['@odata.nextLink'] = link(req, req.path, { $skiptoken: encodeToken({ k: read.next, ...carry }) });
    else body['@odata.deltaLink'] = link(req, req.path, { $deltatoken: encodeToken({ k: read.delta as DeltaCursor, ...carry }) });
    body['value'] = value;
    return { status: 200, headers: read.applied ? { 'Preference-Applied': read.applied } : {}, body };
  }
}
