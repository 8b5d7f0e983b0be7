// What the Outlook-style services (mail folders, contact folders, calendars, channels) share: one
// delta round per container, resumed from the container's delta link, and a cursor that is the
// delta link of every container that was read to the end. The rules, from Graph's delta query
// overview and the backup engine's contract (provider.ts):
//  - a delta link Graph no longer honours (410, SyncStateNotFound, resyncRequired) gives a
//    `resync` and a full round of that container only;
//  - a container listed from scratch while the snapshot may hold items of it (a new cursor entry,
//    a failed container, a folder moved or renamed) gets a `resync` too, so the engine drops what
//    the listing no longer names;
//  - a container that fails after the HTTP layer's retries gives `containerFailed` and keeps its
//    old link, so the next run replays from there (replaying is harmless);
//  - a container of the previous cursor that is gone from the source gives `containerRemoved`.
import type { Change } from '../../provider.ts';
import { SourceError } from '../../provider.ts';
import type { GraphPage, GraphSession } from '../graph.ts';

/** Graph says the delta link is no longer valid: the container must be listed again from scratch. */
export function isResyncRequired(error: unknown): boolean {
  if (!(error instanceof SourceError) || error.fatalReason) return false;
  return error.status === 410 || /^resync|syncstatenotfound/i.test(error.issue.code);
}

/** Where a container stood after the previous run: its delta link and the path its items carry. */
export interface ContainerState {
  link: string;
  path: string;
}

/** A cursor as the services store it: versioned JSON of per-container states. */
interface StoredCursor {
  v: 1;
  containers: Record<string, ContainerState>;
}

/** The previous cursor of a service, read leniently: anything unreadable means "list everything again". */
export function readCursor(cursor: string | undefined): { known: boolean; containers: Map<string, ContainerState> } {
  if (cursor === undefined) return { known: false, containers: new Map() };
  try {
    const parsed = JSON.parse(cursor) as Partial<StoredCursor>;
    if (parsed.v === 1 && parsed.containers && typeof parsed.containers === 'object') {
      const containers = new Map<string, ContainerState>();
      for (const [id, state] of Object.entries(parsed.containers)) {
        if (state && typeof state.link === 'string' && typeof state.path === 'string')
          containers.set(id, { link: state.link, path: state.path });
      }
      return { known: true, containers };
    }
  } catch {
    // an older or damaged cursor: fall through
  }
  // A cursor we cannot read still says the snapshot holds items: every container is resynced.
  return { known: true, containers: new Map() };
}

export function writeCursor(containers: ReadonlyMap<string, ContainerState>): string {
  return JSON.stringify({ v: 1, containers: Object.fromEntries(containers) } satisfies StoredCursor);
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

/**
 * A new cursor with some containers put back to where the previous cursor had them (or left out,
 * so that they are listed again). Every cursor of these services is JSON whose object-valued
 * fields map container ids to their state (`containers`, `drives`, per-calendar notes), so one
 * function serves them all.
 */
export function holdBack(next: string, previous: string | undefined, containers: ReadonlySet<string> | undefined): string {
  if (!containers?.size) return next;
  const out = JSON.parse(next) as Record<string, unknown>;
  let old: Record<string, unknown> = {};
  try {
    old = previous === undefined ? {} : (JSON.parse(previous) as Record<string, unknown>);
  } catch {
    // unreadable: the held-back containers are listed again
  }
  for (const [field, value] of Object.entries(out)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
    const map = value as Record<string, unknown>;
    const before = old[field] && typeof old[field] === 'object' ? (old[field] as Record<string, unknown>) : {};
    for (const id of containers) {
      if (id in before) map[id] = before[id];
      else delete map[id];
    }
  }
  return JSON.stringify(out);
}

/** Containers of the previous cursor that the source no longer lists. */
export function* removedContainers(previous: ReadonlyMap<string, ContainerState>, current: ReadonlySet<string>): Generator<Change> {
  for (const id of previous.keys()) if (!current.has(id)) yield { type: 'containerRemoved', container: id };
}
