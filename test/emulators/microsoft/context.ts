// What every route handler can reach: the tenant's directory, its change sequence, the emulator's
// switches (tenant gone, credentials revoked, download URL lifetime), the request counters, and
// the signer of pre-authenticated download URLs.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Directory } from './tenant/directory.ts';
import type { Sequence } from './tenant/changelog.ts';
import { GraphError } from './http/types.ts';

export interface RequestStats {
  total: number;
  /** Requests by route kind (`mail.delta`, `mail.mime`, `drive.content`, `identity.token`...). */
  byKind: Record<string, number>;
  /** Graph requests by mailbox (user id), for the per-mailbox quota. */
  byMailbox: Record<string, number>;
  /** Requests answered 429 by the throttle. */
  throttled: number;
  /** Requests answered with an injected fault. */
  faulted: number;
  /** Parts of `$batch` requests (each also counted under its own kind). */
  batchParts: number;
}

export function emptyStats(): RequestStats {
  return { total: 0, byKind: {}, byMailbox: {}, throttled: 0, faulted: 0, batchParts: 0 };
}

export interface Switches {
  /** Every token request and Graph call answers as if the tenant was deleted. */
  tenantGone: boolean;
  /** Issued before this instant, access tokens are refused (credentials revoked mid-run). */
  tokensRevokedBefore: number;
  /** Lifetime of access tokens, seconds. */
  tokenLifetimeSeconds: number;
  /** Lifetime of pre-authenticated download URLs, milliseconds. */
  downloadUrlLifetimeMs: number;
  /** Download URLs signed before this instant are expired (the "expired download URL" fault). */
  downloadUrlsExpiredBefore: number;
}

export class DownloadSigner {
  private readonly key = randomBytes(32);
  private readonly switches: Switches;

  constructor(switches: Switches) {
    this.switches = switches;
  }

  /** A short-lived token naming `resource` (for example `driveId/itemId`). */
  sign(resource: string): string {
    const issued = Date.now();
    const payload = Buffer.from(JSON.stringify({ r: resource, i: issued, x: issued + this.switches.downloadUrlLifetimeMs })).toString(
      'base64url',
    );
    return `${payload}.${this.mac(payload)}`;
  }

  /** The resource a token names; 401 when the token is forged or expired, as SharePoint answers. */
  verify(token: string): string {
    const [payload, mac] = token.split('.');
    if (!payload || !mac) throw new GraphError(401, 'unauthenticated', 'Invalid download token.');
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new GraphError(401, 'unauthenticated', 'Invalid download token.');
    }
    const { r, i, x } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { r: string; i: number; x: number };
    if (Date.now() > x || i < this.switches.downloadUrlsExpiredBefore) {
      throw new GraphError(401, 'unauthenticated', 'The download URL has expired. Request a new one.');
    }
    return r;
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

export interface EmulatorContext {
  directory: Directory;
  sequence: Sequence;
  switches: Switches;
  stats: RequestStats;
  downloads: DownloadSigner;
}
