// The cursor of the Outlook-style services (mail folders, contact folders, channels; calendars
// extend it): the delta link and path of every container read to the end.
//   {"v":1,"containers":{"<id>":{"link":"<delta link>","path":"Inbox/Projects"}}}
import { asRecord, cursorCodec, holdBackEntries, readEntries, writeEntries } from './cursor.ts';
import type { PreviousCursor } from './cursor.ts';

/** Where a container stood after the previous run: its delta link and the path its items carry. */
export interface ContainerState {
  link: string;
  path: string;
}

export interface ContainersCursor {
  containers: Map<string, ContainerState>;
}

export type PreviousContainers = PreviousCursor<ContainersCursor>;

export function readContainerState(value: unknown): ContainerState | undefined {
  const entry = asRecord(value);
  const link = entry?.['link'];
  const path = entry?.['path'];
  return typeof link === 'string' && typeof path === 'string' ? { link, path } : undefined;
}

export function writeContainerState(state: ContainerState): ContainerState {
  return { link: state.link, path: state.path };
}

export const containersCursor = cursorCodec<ContainersCursor>({
  version: 1,
  empty: () => ({ containers: new Map() }),
  read: (fields, unreadable) => ({ containers: readEntries(fields['containers'], readContainerState, unreadable) }),
  write: (cursor) => ({ containers: writeEntries(cursor.containers, writeContainerState) }),
  holdBack: (next, previous, held) => ({ containers: holdBackEntries(next.containers, previous.containers, held) }),
});
