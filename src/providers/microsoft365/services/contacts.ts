// Exchange contacts: the default Contacts folder and every contact folder below it (child folders
// too), each one container read with contact delta. An item is a contact as Graph returns it
// (canonical JSON of every property a restore writes back); the folder path, `Contacts/Customers`,
// tells a restore where to put it.
//
// Cost per run: the folder tree (the default folder, its children, and one childFolders listing
// per folder: Graph has no delta for contact folders and no child count on them) and one delta
// request per folder without changes. Content comes with the delta: nothing is downloaded.
//
// Versions: a contact's changeKey changes with any change, a move included; a move shows as
// `remove` in the old folder's round and `upsert` in the new one's (the id survives a move).
//
// Known gaps: contact photos (a separate download per contact), extensions and extended
// properties are not read.
import type { Account, AccountKind, BackupService, Change, ChangeContext, ItemMetadata, ServiceRun, SourceItem } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import { mapLimit } from '../../../concurrency/map-limit.ts';
import { containersCursor } from './container-cursor.ts';
import type { ContainerState, PreviousContainers } from './container-cursor.ts';
import { containerRound, removedContainers } from './delta.ts';
import { graphEntityJson } from './graph-json.ts';
import type { ServiceFactory } from './service-factory.ts';

interface GraphContactFolder {
  id: string;
  displayName?: string;
  parentFolderId?: string;
}

interface GraphContact {
  id: string;
  changeKey?: string;
  displayName?: string | null;
  givenName?: string | null;
  surname?: string | null;
  companyName?: string | null;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  emailAddresses?: { name?: string; address?: string }[];
  categories?: string[];
  '@removed'?: { reason?: string };
}

/** A folder to read: its id and its path from the default folder down. */
export interface ContactFolderRef {
  id: string;
  path: string;
}

export interface ContactsServiceOptions {
  /** Contacts per delta page. */
  pageSize?: number;
}

/** Every property of a contact that a restore writes back, and what identifies its version. */
const CONTACT_SELECT = [
  'changeKey',
  'createdDateTime',
  'lastModifiedDateTime',
  'parentFolderId',
  'categories',
  'displayName',
  'givenName',
  'middleName',
  'surname',
  'initials',
  'nickName',
  'title',
  'generation',
  'fileAs',
  'yomiGivenName',
  'yomiSurname',
  'yomiCompanyName',
  'emailAddresses',
  'imAddresses',
  'businessPhones',
  'homePhones',
  'mobilePhone',
  'companyName',
  'jobTitle',
  'department',
  'officeLocation',
  'profession',
  'businessHomePage',
  'assistantName',
  'manager',
  'spouseName',
  'children',
  'birthday',
  'personalNotes',
  'homeAddress',
  'businessAddress',
  'otherAddress',
].join(',');
const FOLDER_SELECT = 'id,displayName,parentFolderId';
/** Contacts are small: large pages, few requests for a base backup. */
const DEFAULT_PAGE_SIZE = 500;
const LIST_HEADERS = { Prefer: 'odata.maxpagesize=1000' };
/** childFolders listings in flight at once. */
const FOLDER_CONCURRENCY = 4;
/** No real folder tree is this deep; it bounds a listing that loops. */
const MAX_DEPTH = 64;

/** A folder name as a path segment: a '/' in it would read as a separator, so it is escaped. */
function segment(folder: GraphContactFolder): string {
  return (folder.displayName ?? folder.id).replaceAll('/', '%2F');
}

export class ContactsService implements BackupService {
  readonly name = 'contacts';
  readonly accountKinds: readonly AccountKind[] = ['user', 'sharedMailbox'];
  readonly movesBetweenContainers = true;
  readonly #session: GraphSession;
  readonly #pageSize: number;

  constructor(session: GraphSession, options: ContactsServiceOptions = {}) {
    this.#session = session;
    this.#pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  changes(account: Account, cursor: string | undefined, _context: ChangeContext): ServiceRun {
    const previous = containersCursor.parse(cursor);
    const outcome: { next?: Map<string, ContainerState> } = {};
    return {
      changes: this.#stream(encodeURIComponent(account.id), previous, outcome),
      // Until the folders could be listed, the previous cursor stands.
      cursor: (held) =>
        containersCursor.serialise(containersCursor.holdBack(outcome.next ? { containers: outcome.next } : previous, previous, held)),
    };
  }

  /** The account's changes; `outcome.next` is set once every folder had its round. */
  async *#stream(user: string, previous: PreviousContainers, outcome: { next?: Map<string, ContainerState> }): AsyncGenerator<Change> {
    let folders: ContactFolderRef[];
    try {
      folders = await this.folders(user);
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      // Without the whole tree, a folder missing from it may be one that could not be listed,
      // not one that is gone: the account fails and its stored contacts stay.
      yield { type: 'containerFailed', container: 'contactFolders', path: '', issue: error.issue };
      return;
    }
    const next = new Map<string, ContainerState>();
    yield* removedContainers(previous, new Set(folders.map((f) => f.id)));
    for (const folder of folders) {
      const round = containerRound<GraphContact>(
        this.#session,
        {
          container: folder.id,
          path: folder.path,
          firstUrl: `/users/${user}/contactFolders/${encodeURIComponent(folder.id)}/contacts/delta?$select=${CONTACT_SELECT}`,
          headers: { Prefer: `odata.maxpagesize=${this.#pageSize}` },
          changes: (entries) =>
            entries.map((c): Change =>
              c['@removed'] ? { type: 'remove', id: c.id, container: folder.id } : { type: 'upsert', item: contactItem(folder, c) },
            ),
        },
        previous.containers.get(folder.id),
        previous.known,
      );
      const after = yield* round;
      if (after) next.set(folder.id, after);
    }
    outcome.next = next;
  }

  /**
   * The default folder (by its well-known name `contacts`) and every folder below it, parents
   * before children. Any failure is thrown: a partial tree cannot tell gone folders from unread ones.
   */
  async folders(user: string): Promise<ContactFolderRef[]> {
    const root = await this.#session.get<GraphContactFolder>(`/users/${user}/contactFolders/contacts?$select=${FOLDER_SELECT}`);
    const out: ContactFolderRef[] = [{ id: root.id, path: segment(root) }];
    const seen = new Set([root.id]);
    let level = out;
    for (let depth = 0; level.length > 0 && depth < MAX_DEPTH; depth++) {
      const children = await mapLimit(level, FOLDER_CONCURRENCY, (parent) => this.#children(user, parent, parent.id === root.id));
      level = [];
      for (const child of children.flat()) {
        if (seen.has(child.id)) continue;
        seen.add(child.id);
        level.push(child);
        out.push(child);
      }
    }
    return out;
  }

  async #children(user: string, parent: ContactFolderRef, isRoot: boolean): Promise<ContactFolderRef[]> {
    // /contactFolders lists the default folder's children (the documented way to reach them).
    const url = isRoot ? `/users/${user}/contactFolders` : `/users/${user}/contactFolders/${encodeURIComponent(parent.id)}/childFolders`;
    try {
      const listed = await this.#session.all<GraphContactFolder>(`${url}?$select=${FOLDER_SELECT}`, LIST_HEADERS);
      return listed.map((f) => ({ id: f.id, path: `${parent.path}/${segment(f)}` }));
    } catch (error) {
      // Deleted since its parent was listed: it has no children, and its own round finds it gone.
      if (!isRoot && error instanceof SourceError && !error.fatalReason && error.status === 404) return [];
      throw error;
    }
  }
}

function contactItem(folder: ContactFolderRef, c: GraphContact): SourceItem {
  const content = graphEntityJson(c);
  const metadata: ItemMetadata = { kind: 'contact' };
  const emails = (c.emailAddresses ?? []).map((e) => e.address).filter((a): a is string => Boolean(a));
  if (emails.length) metadata['emailAddresses'] = emails;
  if (c.companyName) metadata['companyName'] = c.companyName;
  if (c.categories?.length) metadata['categories'] = c.categories;
  const modified = c.lastModifiedDateTime ?? c.createdDateTime ?? new Date(0).toISOString();
  const name = c.displayName || [c.givenName, c.surname].filter(Boolean).join(' ') || (emails[0] ?? '');
  return {
    id: c.id,
    version: c.changeKey ?? modified,
    container: folder.id,
    path: folder.path,
    name,
    size: content.length,
    ...(c.createdDateTime ? { created: c.createdDateTime } : {}),
    modified,
    metadata,
    content: async () => content,
  };
}

export const contactsService: ServiceFactory = (session) => new ContactsService(session);
