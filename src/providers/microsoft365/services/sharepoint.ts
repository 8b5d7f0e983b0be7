// SharePoint sites: every document library of a site is a container (its drive id), read through
// the drive delta (drive-items.ts), with the library's name as the first segment of its items'
// paths. Libraries are listed on every run (one request), so a library deleted since the previous
// run gives `containerRemoved` and a new one a full round; a renamed library is listed again so
// that its items carry the new name. Libraries are read one after another: one site's libraries
// are few, and the tenant's resource-unit budget, not the request count, bounds the pace.
import type { Account, AccountKind, BackupService, Change, ChangeContext, ServiceRun } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import type { PreviousDrives, StoredDrive } from './drive-cursor.ts';
import { DriveReader, driveRound, driveServiceRun } from './drive-items.ts';
import type { ServiceFactory } from './service-factory.ts';

interface GraphLibrary {
  id: string;
  name?: string;
}

export class SharePointService implements BackupService {
  readonly name = 'sharepoint';
  readonly accountKinds: readonly AccountKind[] = ['site'];
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
    // Libraries of the previous cursor, those whose entry could not be read included.
    const previousLibraries = [...previous.drives.keys(), ...previous.unreadable];
    let libraries: GraphLibrary[];
    try {
      libraries = await this.#session.all<GraphLibrary>(`/sites/${encodeURIComponent(account.id)}/drives?$select=id,name`);
    } catch (error) {
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      if (error.status === 404) {
        // The site is gone, and its libraries with it.
        for (const id of previousLibraries) yield { type: 'containerRemoved', container: id };
        return;
      }
      // The libraries cannot be listed: each one known keeps its state for the next run.
      if (previous.drives.size === 0)
        yield { type: 'containerFailed', container: `sites/${account.id}/drives`, path: account.address, issue: error.issue };
      for (const [id, drive] of previous.drives) {
        yield { type: 'containerFailed', container: id, path: drive.prefix, issue: error.issue };
        next.set(id, drive);
      }
      return;
    }
    const current = new Set(libraries.map((library) => library.id));
    for (const id of previousLibraries) if (!current.has(id)) yield { type: 'containerRemoved', container: id };
    for (const library of libraries) {
      const prefix = library.name ?? library.id;
      const old = previous.drives.get(library.id);
      // A renamed library: its items need the new prefix, so it is listed again.
      const state = old?.prefix === prefix ? old.state : undefined;
      const resync = previous.known && !state ? (old ? 'ContainerMoved' : 'NoDeltaLink') : undefined;
      const result = yield* driveRound(this.#reader, { id: library.id, pathPrefix: prefix, label: prefix }, state, resync);
      if (result.outcome === 'gone') yield { type: 'containerRemoved', container: library.id };
      else if (result.state) next.set(library.id, { prefix, state: result.state });
      else if (old) next.set(library.id, old);
    }
  }
}

export const sharepointService: ServiceFactory = (session) => new SharePointService(session);
