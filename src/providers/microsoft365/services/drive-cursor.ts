// The cursor of the drive services (OneDrive, SharePoint libraries): per drive, the path prefix
// its items carry, its delta link and its folder tree at that link (drive-items.ts says why).
//   {"v":1,"drives":{"<drive id>":{"prefix":"Documents","deltaLink":"…","root":"<item id>",
//    "folders":[["<folder id>",-1,"Projects"],["<folder id>",0,"2024"]]}}}
import { asRecord, cursorCodec, holdBackEntries, readEntries, writeEntries } from './cursor.ts';
import type { PreviousCursor } from './cursor.ts';

/** What the cursor keeps per drive: the delta link and the folder tree at that link. */
export interface DriveState {
  deltaLink: string;
  root?: string;
  /**
   * Folders as [id, parent, name], compact with no repeated ids: the parent is the index of
   * another folder of this list, ROOT_PARENT for the drive's root, UNKNOWN_PARENT when Graph never
   * named it.
   */
  folders: [string, number, string][];
}

export const ROOT_PARENT = -1;
export const UNKNOWN_PARENT = -2;

/** Where a drive stood after the previous run: its delta state and the path prefix its items carry. */
export interface StoredDrive {
  prefix: string;
  state: DriveState;
}

export interface DriveCursor {
  drives: Map<string, StoredDrive>;
}

export type PreviousDrives = PreviousCursor<DriveCursor>;

function isFolderEntry(entry: unknown): entry is [string, number, string] {
  return (
    Array.isArray(entry) &&
    entry.length === 3 &&
    typeof entry[0] === 'string' &&
    typeof entry[1] === 'number' &&
    typeof entry[2] === 'string'
  );
}

function readDrive(value: unknown): StoredDrive | undefined {
  const entry = asRecord(value);
  const prefix = entry?.['prefix'];
  const deltaLink = entry?.['deltaLink'];
  const root = entry?.['root'];
  const folders = entry?.['folders'];
  if (typeof prefix !== 'string' || typeof deltaLink !== 'string' || !Array.isArray(folders) || !folders.every(isFolderEntry))
    return undefined;
  if (root !== undefined && typeof root !== 'string') return undefined;
  return { prefix, state: { deltaLink, ...(root === undefined ? {} : { root }), folders } };
}

function writeDrive({ prefix, state }: StoredDrive): Record<string, unknown> {
  return { prefix, deltaLink: state.deltaLink, ...(state.root === undefined ? {} : { root: state.root }), folders: state.folders };
}

export const driveCursor = cursorCodec<DriveCursor>({
  version: 1,
  empty: () => ({ drives: new Map() }),
  read: (fields, unreadable) => ({ drives: readEntries(fields['drives'], readDrive, unreadable) }),
  write: (cursor) => ({ drives: writeEntries(cursor.drives, writeDrive) }),
  holdBack: (next, previous, held) => ({ drives: holdBackEntries(next.drives, previous.drives, held) }),
});
