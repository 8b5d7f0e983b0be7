// Errors of the repository, each with a reason from the catalog (src/api/reasons.ts) and a message
// a platform engineer can act on. No message ever contains key material or credentials.
import type { Reason } from '../api/reasons.ts';

export type RepositoryErrorCode =
  | 'NotFound' // an object the caller asked for does not exist
  | 'RepositoryNotFound' // no repository (no config object) at this location
  | 'RepositoryExists' // init on a location that already holds a repository
  | 'WrongKey' // the key from the Secret does not open any key file of this repository
  | 'Corrupt' // an object fails authentication, is truncated, or does not parse
  | 'ObjectLocked' // S3 Object Lock refuses to delete or overwrite the object
  | 'Unavailable' // storage cannot be reached or refused the request (network, credentials, bucket)
  | 'Locked'; // an exclusive repository lock is held by someone else

const REASON_OF: Record<RepositoryErrorCode, Reason> = {
  NotFound: 'InternalError',
  RepositoryNotFound: 'InvalidConfiguration',
  RepositoryExists: 'InvalidConfiguration',
  WrongKey: 'RepositoryKeyInvalid',
  Corrupt: 'InternalError',
  ObjectLocked: 'StorageUnavailable',
  Unavailable: 'StorageUnavailable',
  Locked: 'StorageUnavailable',
};

export class RepositoryError extends Error {
  override readonly name = 'RepositoryError';
  readonly code: RepositoryErrorCode;

  constructor(code: RepositoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get reason(): Reason {
    return REASON_OF[this.code];
  }
}

export function isRepositoryError(error: unknown, code?: RepositoryErrorCode): error is RepositoryError {
  return error instanceof RepositoryError && (code === undefined || error.code === code);
}
