// Object names are checked the same way by every backend, so that a repository can move between
// S3 and a directory, and so that a hostile name (from a tampered manifest, say) can never reach
// outside the repository: no absolute paths, no `.` or `..`, no backslashes, no control characters.

/** A name the storage refuses; a bug or tampered repository data, never a storage failure. */
export class InvalidObjectNameError extends Error {
  override readonly name = 'InvalidObjectNameError';
}

/** Whether `text` has a character that is a separator or terminator somewhere: controls (NUL…), DEL, backslash. */
function hasForbiddenChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

/** Longest name we accept; S3 keys are limited to 1024 bytes including the backend's prefix. */
const MAX_NAME_BYTES = 900;

function refuse(name: string, why: string): never {
  throw new InvalidObjectNameError(`invalid object name ${JSON.stringify(name)}: ${why}`);
}

function checkSegment(name: string, segment: string): void {
  if (segment === '') refuse(name, 'empty path segment');
  // Leading dots rule out `.` and `..`, and keep the file backend's temporary files
  // (`.tmp-…`) apart from objects.
  if (segment.startsWith('.')) refuse(name, 'a path segment may not start with "."');
}

/**
 * Checks an object name (`config`, `data/3f/3fa9…`): relative, `/`-separated, no empty, `.`-led
 * or `..` segments, no backslash or control characters. Throws InvalidObjectNameError.
 */
export function checkObjectName(name: string): void {
  if (name === '') refuse(name, 'empty');
  if (name.startsWith('/')) refuse(name, 'absolute (starts with "/")');
  if (hasForbiddenChar(name)) refuse(name, 'contains a backslash or a control character');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) refuse(name, `longer than ${MAX_NAME_BYTES} bytes`);
  for (const segment of name.split('/')) checkSegment(name, segment);
}

/**
 * Checks a list prefix: '' (everything), a folder such as `data/`, or any beginning of a name such
 * as `data/3f`. Complete segments follow the name rules; the last, partial one only the
 * character rules.
 */
export function checkListPrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.startsWith('/')) refuse(prefix, 'absolute (starts with "/")');
  if (hasForbiddenChar(prefix)) refuse(prefix, 'contains a backslash or a control character');
  const segments = prefix.split('/');
  const last = segments.pop() ?? '';
  for (const segment of segments) checkSegment(prefix, segment);
  if (last === '.' || last === '..') refuse(prefix, `path segment "${last}"`);
}
