// Recognising apiserver answers by HTTP status, whichever client raised them: client-node's
// ApiException (`code`), its Watch (`statusCode`), or a watch ERROR event turned into WatchError.

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** 404: the object (or the resource type) does not exist. */
export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/** 409: someone else changed the object first (stale resourceVersion) or it already exists. */
export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409;
}

/** 410: the resourceVersion is too old to watch from; relist. */
export function isGone(err: unknown): boolean {
  return statusCodeOf(err) === 410;
}

/** A watch ERROR event, carrying the metav1.Status the apiserver sent. */
export class WatchError extends Error {
  override readonly name = 'WatchError';
  readonly statusCode: number | undefined;
  readonly reason: string | undefined;

  constructor(status: { code?: number; reason?: string; message?: string } | undefined) {
    super(`watch error: ${status?.code ?? '?'} ${status?.reason ?? ''} ${status?.message ?? ''}`.trim());
    this.statusCode = status?.code;
    this.reason = status?.reason;
  }
}
