// What every service cursor shares. The engine stores a service's cursor as an opaque string in
// the snapshot manifest; each cursor type declares one codec (beside its service) built here, so
// that versioning, lenient reading and the state of an unreadable cursor follow one set of rules:
//  - no cursor (a first backup): nothing known, and the snapshot holds nothing of the account;
//  - a cursor that is not JSON or has another version: known, with no container state, so every
//    container is listed again with a `resync` (the snapshot may hold its items);
//  - a container entry that cannot be read: that container alone is listed again, and its id is
//    kept as `unreadable` so that it is still removed if the source no longer has it.
// Reading never throws: a damaged cursor costs a listing, never a failed backup.

/** A cursor as the previous run left it. */
export type PreviousCursor<T> = T & {
  /** A cursor was given, so the snapshot may hold items: a container listed from scratch needs a `resync`. */
  readonly known: boolean;
  /** Containers the cursor names without a readable state. */
  readonly unreadable: ReadonlySet<string>;
};

/** The one way to read, write and hold back a service's cursor. */
export interface CursorCodec<T> {
  parse(text: string | undefined): PreviousCursor<T>;
  serialise(cursor: T): string;
  /**
   * `next` with the containers in `held` (an item of theirs could not be stored) put back as
   * `previous` had them, or left out when it did not have them, so the next run lists them again.
   */
  holdBack(next: T, previous: T, held: ReadonlySet<string> | undefined): T;
}

/** How one cursor type is laid out in its JSON, beside the version. */
export interface CursorFormat<T> {
  /** Written as `v`; a cursor with another version is unreadable. */
  version: number;
  /** The state of a cursor with no container in it. */
  empty(): T;
  /** The state from the cursor's fields; containers whose entry cannot be read go to `unreadable`. */
  read(fields: Readonly<Record<string, unknown>>, unreadable: Set<string>): T;
  /** The cursor's fields, in the order they are written after `v`. */
  write(cursor: T): Record<string, unknown>;
  holdBack(next: T, previous: T, held: ReadonlySet<string>): T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function cursorCodec<T>(format: CursorFormat<T>): CursorCodec<T> {
  return {
    parse(text) {
      const unreadable = new Set<string>();
      if (text === undefined) return { ...format.empty(), known: false, unreadable };
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return { ...format.empty(), known: true, unreadable };
      }
      if (!isRecord(parsed) || parsed['v'] !== format.version) return { ...format.empty(), known: true, unreadable };
      return { ...format.read(parsed, unreadable), known: true, unreadable };
    },
    serialise(cursor) {
      return JSON.stringify({ v: format.version, ...format.write(cursor) });
    },
    holdBack(next, previous, held) {
      return held?.size ? format.holdBack(next, previous, held) : next;
    },
  };
}

/**
 * A field mapping container ids to their entries. An entry `read` cannot make sense of (it
 * returns undefined) is left out and its id added to `unreadable`; a field that is no object at
 * all names no container.
 */
export function readEntries<E>(field: unknown, read: (entry: unknown) => E | undefined, unreadable: Set<string>): Map<string, E> {
  const entries = new Map<string, E>();
  if (!isRecord(field)) return entries;
  for (const [id, value] of Object.entries(field)) {
    const entry = read(value);
    if (entry === undefined) unreadable.add(id);
    else entries.set(id, entry);
  }
  return entries;
}

export function writeEntries<E, W>(entries: ReadonlyMap<string, E>, write: (entry: E) => W): Record<string, W> {
  return Object.fromEntries([...entries].map(([id, entry]) => [id, write(entry)]));
}

/** `next` with the entries of `held` as `previous` has them, or without them. */
export function holdBackEntries<E>(
  next: ReadonlyMap<string, E>,
  previous: ReadonlyMap<string, E>,
  held: ReadonlySet<string>,
): Map<string, E> {
  const out = new Map(next);
  for (const id of held) {
    const before = previous.get(id);
    if (before === undefined) out.delete(id);
    else out.set(id, before);
  }
  return out;
}

/** The object at `value`, if it is one (for the readers of cursor entries). */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}
