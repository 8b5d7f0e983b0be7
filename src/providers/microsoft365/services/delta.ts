// What the Outlook-style services (mail folders, contact folders, calendars, channels) share: one
// delta round per container, resumed from the container's delta link, and a cursor that is the
// delta link of every container that was read to the end (container-cursor.ts). The rules, from
// Graph's delta query overview and the backup engine's contract (provider.ts):
//  - a delta link Graph no longer honours (410, SyncStateNotFound, resyncRequired) gives a
//    `resync` and a full round of that container only;
//  - a container listed from scratch while the snapshot may hold items of it (a new cursor entry,
//    an unreadable one, a failed container, a folder moved or renamed) gets a `resync` too, so the
//    engine drops what the listing no longer names;
//  - a container that fails after the HTTP layer's retries gives `containerFailed` and keeps its
//    old link, so the next run replays from there (replaying is harmless);
//  - a container of the previous cursor that is gone from the source (its entry readable or not)
//    gives `containerRemoved`.
import type { Change } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphPage, GraphSession } from '../graph.ts';
import type { ContainerState, PreviousContainers } from './container-cursor.ts';

/** Graph says the delta link is no longer valid: the container must be listed again from scratch. */
export function isResyncRequired(error: unknown): boolean {
  if (!(error instanceof SourceError) || error.fatalReason) return false;
  return error.status === 410 || /^resync|syncstatenotfound/i.test(error.issue.code);
}

/** One container's round: where it starts and how Graph's entries become changes. */
export interface ContainerRound<T> {
  container: string;
  /** Path of the container as it is now (`Inbox/Projects`, a calendar's name). */
  path: string;
  /** The URL of a full round (with its $select). */
  firstUrl: string;
  headers: Record<string, string>;
  /** Turns a page's entries into changes (an entry with `@removed` is the round's to interpret). */
  changes(entries: T[]): Change[] | Promise<Change[]>;
}

/**
 * Runs one container's round from its previous state, yielding its changes and ending with
 * `containerDone`, `containerFailed` or `containerRemoved`. Returns the state for the next cursor
 * (the old one when the container failed, none when it is gone).
 */
export async function* containerRound<T>(
  session: GraphSession,
  round: ContainerRound<T>,
  previous: ContainerState | undefined,
  snapshotKnown: boolean,
): AsyncGenerator<Change, ContainerState | undefined> {
  // A moved or renamed container: its items need their new path, so it is listed again.
  let link = previous && previous.path === round.path ? previous.link : undefined;
  if (!link && snapshotKnown) yield { type: 'resync', container: round.container, reason: previous ? 'ContainerMoved' : 'NoDeltaLink' };
  for (;;) {
    try {
      let deltaLink: string | undefined;
      for await (const page of session.pages<T>(link ?? round.firstUrl, round.headers) as AsyncGenerator<GraphPage<T>>) {
        for (const change of await round.changes(page.value)) yield change;
        deltaLink = page['@odata.deltaLink'] ?? deltaLink;
      }
      if (!deltaLink) {
        throw new SourceError({
          source: 'graph',
          code: 'MissingDeltaLink',
          message: `the delta round of ${round.path || round.container} ended without an @odata.deltaLink`,
        });
      }
      yield { type: 'containerDone', container: round.container };
      return { link: deltaLink, path: round.path };
    } catch (error) {
      if (link && isResyncRequired(error)) {
        yield { type: 'resync', container: round.container, reason: (error as SourceError).issue.code };
        link = undefined;
        continue;
      }
      if (!(error instanceof SourceError) || error.fatalReason) throw error;
      if (error.status === 404) {
        // Deleted between the container listing and its round.
        yield { type: 'containerRemoved', container: round.container };
        return undefined;
      }
      yield { type: 'containerFailed', container: round.container, path: round.path, issue: error.issue };
      return previous;
    }
  }
}

/** Containers of the previous cursor that the source no longer lists, those with an unreadable entry included. */
export function* removedContainers(previous: PreviousContainers, current: ReadonlySet<string>): Generator<Change> {
  for (const id of [...previous.containers.keys(), ...previous.unreadable])
    if (!current.has(id)) yield { type: 'containerRemoved', container: id };
}
