// Byte ranges of Storage.get, checked and reported the same way by every backend.
import { RepositoryError } from '../errors.ts';

export interface ByteRange {
  offset: number;
  length: number;
}

/** Throws RangeError unless offset and length are non-negative safe integers (a caller's bug). */
export function checkRange(name: string, range: ByteRange): void {
  const valid = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!valid(range.offset) || !valid(range.length)) {
    throw new RangeError(`invalid range for object ${name}: offset ${range.offset}, length ${range.length}`);
  }
}

/** The Corrupt error for a range read that got fewer bytes than asked for. */
export function truncatedError(name: string, range: ByteRange, got: number): RepositoryError {
  return new RepositoryError(
    'Corrupt',
    `object ${name} is truncated: expected ${range.length} bytes at offset ${range.offset}, got ${got}`,
  );
}
