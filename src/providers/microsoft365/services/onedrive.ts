// OneDrive for Business: a user's one drive, read as one container (the drive id) through the
// drive delta (drive-items.ts). Only users with a SharePoint license have a drive; Graph answers
// 404 for the others ("User's mysite not found"), which is no failure: such an account has nothing
// to back up. The drive id is kept in the cursor, so an unchanged drive costs one request (its
// delta link); the user's drive is looked up only on the first run or when the known drive is gone.
import type { Account, AccountKind, BackupService, Change, ChangeContext, ServiceRun } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import type { DriveState, PreviousDrives, StoredDrive } from './drive-cursor.ts';
import { DriveReader, driveRound, driveServiceRun } from './drive-items.ts';
import type { DriveTarget } from './drive-items.ts';
import type { ServiceFactory } from './service-factory.ts';

/** What the object report calls a user's drive. */
const LABEL = 'OneDrive';

type DriveLookup = { kind: 'drive'; id: string } | { kind: 'none' } | { kind: 'failed'; error: SourceError };

function target(id: string): DriveTarget {
  return { id, pathPrefix: '', label: LABEL };
}

export class OneDriveService implements BackupService {
  readonly name = 'onedrive';
  readonly accountKinds: readonly AccountKind[] = ['user'];
  readonly movesBetweenContainers = false;
  readonly #session: GraphSession;
  readonly #reader: DriveReader;

  constructor(session: GraphSession) {
    this.#session = session;
    this.#reader = new DriveReader(session);
  }

  changes(account: Account, cursor: string | undefined, _context: ChangeContext): ServiceRun {
    return driveServiceRun(cursor, (previous, next) => this.#run(account, previous, next));
  }

  async *#run(account: Account, previous: PreviousDrives, next: Map<string, StoredDrive>): AsyncGenerator<Change> {
    const [known, ...stale] = previous.drives;
    if (!known) {
      const lookup = await this.#lookup(account.id);
      // A drive whose entry could not be read is gone unless it is still the user's.
      for (const id of previous.unreadable) {
        if (lookup.kind === 'none' || (lookup.kind === 'drive' && lookup.id !== id)) yield { type: 'containerRemoved', container: id };
      }
      if (lookup.kind === 'none') return;
      if (lookup.kind === 'failed') {
        // Without a drive id there is no container yet; the account's drive stands in for it.
        yield { type: 'containerFailed', container: `users/${account.id}/drive`, path: LABEL, issue: lookup.error.issue };
        return;
      }
      // A cursor without the drive (damaged, or its first round failed) may leave items behind.
      yield* this.#round(lookup.id, undefined, previous.known ? 'NoDeltaLink' : undefined, next);
      return;
    }
    // A user has one drive; other entries (never written by this service) are dropped.
    for (const id of [...stale.map(([id]) => id), ...previous.unreadable]) yield { type: 'containerRemoved', container: id };
    const [id, drive] = known;
    if (yield* this.#round(id, drive.state, undefined, next)) return;
    // The known drive answered 404: which drive does the user have now?
    const lookup = await this.#lookup(account.id);
    if (lookup.kind === 'none') {
      yield { type: 'containerRemoved', container: id };
      return;
    }
    if (lookup.kind === 'drive' && lookup.id !== id) {
      yield { type: 'containerRemoved', container: id };
      yield* this.#round(lookup.id, undefined, undefined, next);
      return;
    }
    // The drive is still the user's (or we cannot tell) though its delta answered 404: keep its
    // state and try again next run rather than drop what the snapshot holds.
    const issue =
      lookup.kind === 'failed'
        ? lookup.error.issue
        : {
            source: 'graph' as const,
            code: 'DriveNotFound',
            message: `the delta of ${account.address}'s OneDrive answered 404 while the drive exists`,
          };
    yield { type: 'containerFailed', container: id, path: LABEL, issue };
    next.set(id, drive);
  }

  /** One round of the drive; false when the drive answered 404 (nothing recorded for it then). */
  async *#round(
    id: string,
    state: DriveState | undefined,
    resync: string | undefined,
    next: Map<string, StoredDrive>,
  ): AsyncGenerator<Change, boolean> {
    const result = yield* driveRound(this.#reader, target(id), state, resync);
    if (result.outcome === 'gone') return false;
    if (result.state) next.set(id, { prefix: '', state: result.state });
    return true;
  }

  async #lookup(userId: string): Promise<DriveLookup> {
    try {
      const drive = await this.#session.get<{ id: string }>(`/users/${encodeURIComponent(userId)}/drive?$select=id`);
      return { kind: 'drive', id: drive.id };
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      if (error.status === 404) return { kind: 'none' };
      return { kind: 'failed', error };
    }
  }
}

export const onedriveService: ServiceFactory = (session) => new OneDriveService(session);
