// Exchange mail: every message of every mail folder, as its MIME content (what a restore writes
// back with "create message from MIME", and what any mail client can open), plus the flags MIME
// does not carry (read, flag, categories, importance) as metadata.
//
// Cost per run: one folder listing (`mailFolders/delta` without a token: the whole folder tree in
// one or two pages) and one delta round per folder; a folder with no change costs one request.
// Downloads happen only for new or changed messages (the engine skips an unchanged changeKey), and
// go in `$batch` requests of up to 20 (batch.ts).
//
// Versions: a message's changeKey changes with any change of the message, moves included (Exchange
// gives the moved message a new changeKey but keeps its id when the client asks for immutable ids;
// the emulator does the same). A move therefore shows as `remove` from the old folder's round and
// `upsert` in the new folder's round; the engine applies them in either order.
import type { Account, AccountKind, BackupService, Change, ChangeContext, ItemMetadata, ServiceRun, SourceItem } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import { BatchDownloader } from '../batch.ts';
import type { GraphSession } from '../graph.ts';
import { containersCursor } from './container-cursor.ts';
import type { ContainerState } from './container-cursor.ts';
import { containerRound, removedContainers } from './delta.ts';
import type { ServiceFactory } from './service-factory.ts';

interface GraphFolder {
  id: string;
  displayName?: string;
  parentFolderId?: string;
  isHidden?: boolean;
  '@removed'?: { reason?: string };
}

interface Recipient {
  emailAddress?: { name?: string; address?: string };
}

interface GraphMessage {
  id: string;
  changeKey?: string;
  subject?: string;
  from?: Recipient;
  sender?: Recipient;
  createdDateTime?: string;
  lastModifiedDateTime?: string;
  receivedDateTime?: string;
  sentDateTime?: string;
  internetMessageId?: string;
  isRead?: boolean;
  isDraft?: boolean;
  importance?: string;
  hasAttachments?: boolean;
  categories?: string[];
  flag?: { flagStatus?: string };
  parentFolderId?: string;
  singleValueExtendedProperties?: { id?: string; value?: string }[];
  '@removed'?: { reason?: string };
}

const FOLDER_SELECT = 'displayName,parentFolderId,isHidden';
const MESSAGE_SELECT = [
  'changeKey',
  'subject',
  'from',
  'sender',
  'createdDateTime',
  'lastModifiedDateTime',
  'receivedDateTime',
  'sentDateTime',
  'internetMessageId',
  'isRead',
  'isDraft',
  'importance',
  'hasAttachments',
  'categories',
  'flag',
  'parentFolderId',
].join(',');
/** PR_MESSAGE_SIZE: Graph has no size property on a message, the MAPI property has it. */
const SIZE_EXPAND = "singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')";
/** Messages per delta page: large pages mean few requests for a base backup. */
const PAGE_HEADERS = { Prefer: 'odata.maxpagesize=200' };
const FOLDER_HEADERS = { Prefer: 'odata.maxpagesize=1000' };

/** `Inbox/Projects` for every folder of a flat listing; the root (not listed) is the empty path. */
export function folderPaths(folders: readonly GraphFolder[]): Map<string, string> {
  const byId = new Map(folders.map((f) => [f.id, f]));
  const paths = new Map<string, string>();
  const pathOf = (id: string, depth: number): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const f = byId.get(id);
    if (!f || depth > 64) return '';
    // Folder names may hold '/', which would read as a separator: it is escaped the way Outlook
    // shows it in a folder path.
    const name = (f.displayName ?? f.id).replaceAll('/', '%2F');
    const parent = f.parentFolderId && byId.has(f.parentFolderId) ? pathOf(f.parentFolderId, depth + 1) : '';
    const path = parent ? `${parent}/${name}` : name;
    paths.set(id, path);
    return path;
  };
  for (const f of folders) pathOf(f.id, 0);
  return paths;
}

function address(r: Recipient | undefined): string | undefined {
  const a = r?.emailAddress;
  if (!a) return undefined;
  return a.address ? (a.name && a.name !== a.address ? `${a.name} <${a.address}>` : a.address) : a.name;
}

function messageSize(m: GraphMessage): number | undefined {
  const prop = m.singleValueExtendedProperties?.find((p) => /^integer 0x0?e08$/i.test((p.id ?? '').trim()));
  const n = prop?.value === undefined ? NaN : Number(prop.value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export class MailService implements BackupService {
  readonly name = 'mail';
  readonly accountKinds: readonly AccountKind[] = ['user', 'sharedMailbox'];
  readonly movesBetweenContainers = true;
  readonly #session: GraphSession;
  /** MIME downloads of a mailbox go to Graph 20 at a time. */
  readonly #downloads: BatchDownloader;

  constructor(session: GraphSession) {
    this.#session = session;
    this.#downloads = new BatchDownloader(session);
  }

  changes(account: Account, cursor: string | undefined, _context: ChangeContext): ServiceRun {
    const previous = containersCursor.parse(cursor);
    let next: Map<string, ContainerState> | undefined;
    const session = this.#session;
    const user = encodeURIComponent(account.id);
    const item = (folder: string, path: string, m: GraphMessage): SourceItem => this.#item(user, folder, path, m);

    async function* changes(): AsyncGenerator<Change> {
      let folders: GraphFolder[];
      try {
        folders = await session.all<GraphFolder>(`/users/${user}/mailFolders/delta?$select=${FOLDER_SELECT}`, FOLDER_HEADERS);
      } catch (error) {
        if (!(error instanceof SourceError) || error.fatalReason) throw error;
        // The mailbox cannot be listed (no mailbox any more, access refused for this one): the
        // account fails, its stored mail stays, and the run goes on with the other accounts.
        yield { type: 'containerFailed', container: 'mailFolders', path: '', issue: error.issue };
        return;
      }
      const live = folders.filter((f) => !f['@removed'] && !f.isHidden);
      const paths = folderPaths(live);
      const state = new Map<string, ContainerState>();
      yield* removedContainers(previous, new Set(live.map((f) => f.id)));
      for (const folder of live) {
        const path = paths.get(folder.id) ?? '';
        const folderId = encodeURIComponent(folder.id);
        const round = containerRound<GraphMessage>(
          session,
          {
            container: folder.id,
            path,
            firstUrl: `/users/${user}/mailFolders/${folderId}/messages/delta?$select=${MESSAGE_SELECT}&$expand=${SIZE_EXPAND}`,
            headers: PAGE_HEADERS,
            changes: (entries) =>
              entries.map((m): Change =>
                m['@removed'] ? { type: 'remove', id: m.id, container: folder.id } : { type: 'upsert', item: item(folder.id, path, m) },
              ),
          },
          previous.containers.get(folder.id),
          previous.known,
        );
        const after = yield* round;
        if (after) state.set(folder.id, after);
      }
      next = state;
    }

    return {
      changes: changes(),
      // Until the folders could be listed, the previous cursor stands.
      cursor: (held) => containersCursor.serialise(containersCursor.holdBack(next ? { containers: next } : previous, previous, held)),
    };
  }

  #item(user: string, folder: string, path: string, m: GraphMessage): SourceItem {
    const metadata: ItemMetadata = { kind: 'message' };
    if (m.internetMessageId) metadata['internetMessageId'] = m.internetMessageId;
    if (m.isRead !== undefined) metadata['isRead'] = m.isRead;
    if (m.isDraft !== undefined) metadata['isDraft'] = m.isDraft;
    if (m.importance) metadata['importance'] = m.importance;
    if (m.flag?.flagStatus) metadata['flagStatus'] = m.flag.flagStatus;
    if (m.categories?.length) metadata['categories'] = m.categories;
    if (m.hasAttachments !== undefined) metadata['hasAttachments'] = m.hasAttachments;
    if (m.receivedDateTime) metadata['receivedDateTime'] = m.receivedDateTime;
    if (m.sentDateTime) metadata['sentDateTime'] = m.sentDateTime;
    const size = messageSize(m);
    const sender = address(m.from ?? m.sender);
    const modified = m.lastModifiedDateTime ?? m.receivedDateTime ?? new Date(0).toISOString();
    const id = encodeURIComponent(m.id);
    return {
      id: m.id,
      version: m.changeKey ?? modified,
      container: folder,
      path,
      name: m.subject ?? '',
      ...(sender ? { sender } : {}),
      // Without PR_MESSAGE_SIZE the writer records the MIME's length.
      size: size ?? 0,
      ...(m.createdDateTime ? { created: m.createdDateTime } : {}),
      modified,
      metadata,
      content: () => this.#downloads.bytes(user, `/users/${user}/messages/${id}/$value`),
    };
  }
}

export const mailService: ServiceFactory = (session) => new MailService(session);
