// The emulator's own control API under `/_emulator/`, for a client in another process (the demo,
// the benchmarks, a worker under test): request counters, mutation, export, faults, throttling and
// the switches. Unauthenticated: the emulator listens on 127.0.0.1 only.
import type { RequestStats } from './context.ts';
import type { FaultRule, Faults } from './faults.ts';
import type { Router } from './http/router.ts';
import { GraphError, parseJson } from './http/types.ts';
import type { Directory } from './tenant/directory.ts';
import type { MutationCounts, MutationSpec } from './tenant/spec.ts';
import { MICROSOFT_LIMITS, NO_LIMITS } from './throttle.ts';
import type { Throttle, ThrottleOptions } from './throttle.ts';

/** What the control endpoints drive of the emulator (MicrosoftEmulator has all of it). */
export interface ControlledEmulator {
  readonly stats: RequestStats;
  readonly faults: Faults;
  readonly throttle: Throttle;
  readonly directory: Directory;
  resetStats(): void;
  setTenantGone(gone: boolean): void;
  revokeCredentials(): void;
  expireDownloadUrls(): void;
  export(): Record<string, unknown>;
  mutate(mutation: Partial<MutationSpec>): MutationCounts[];
  expireDeltaTokens(account: string, service?: ServiceName, container?: string): number;
}

/** The emulator's services by name, as `expireDeltaTokens` takes them. */
export type ServiceName = 'directory' | 'mail' | 'calendar' | 'contacts' | 'drive' | 'teams';

export function registerControl(router: Router, emulator: () => ControlledEmulator): void {
  const open = { auth: 'none' as const, kind: 'control' };
  router.get('/_emulator/stats', open, () => ({ status: 200, body: { ...emulator().stats, throttle: emulator().throttle.stats } }));
  router.post('/_emulator/stats/reset', open, () => {
    emulator().resetStats();
    return { status: 204 };
  });
  router.get('/_emulator/export', open, () => ({ status: 200, body: emulator().export() }));
  router.post('/_emulator/mutate', open, (req) => {
    const spec = req.body.length ? parseJson<Partial<MutationSpec>>(req) : {};
    return { status: 200, body: { counts: emulator().mutate(spec) } };
  });
  router.post('/_emulator/faults', open, (req) => {
    const rule = parseJson<FaultRule>(req);
    if (!rule.kind) throw new GraphError(400, 'BadRequest', 'A fault rule needs a kind.');
    return { status: 201, body: { index: emulator().faults.add(rule) } };
  });
  router.delete('/_emulator/faults', open, () => {
    emulator().faults.clear();
    return { status: 204 };
  });
  router.post('/_emulator/throttle', open, (req) => {
    const body = parseJson<{ preset?: 'microsoft' | 'off' } & Partial<ThrottleOptions>>(req);
    const { preset, ...rest } = body;
    const base = preset === 'microsoft' ? MICROSOFT_LIMITS : preset === 'off' ? NO_LIMITS : emulator().throttle.options;
    emulator().throttle.options = { ...base, ...rest };
    return { status: 200, body: emulator().throttle.options };
  });
  router.post('/_emulator/switches', open, (req) => {
    const body = parseJson<{
      tenantGone?: boolean;
      revokeCredentials?: boolean;
      expireDownloadUrls?: boolean;
      consented?: boolean;
      grantedRoles?: string[];
    }>(req);
    const e = emulator();
    if (body.tenantGone !== undefined) e.setTenantGone(body.tenantGone);
    if (body.revokeCredentials) e.revokeCredentials();
    if (body.expireDownloadUrls) e.expireDownloadUrls();
    if (body.consented !== undefined) e.directory.app.consented = body.consented;
    if (body.grantedRoles) e.directory.app.grantedRoles = new Set(body.grantedRoles);
    return { status: 204 };
  });
  router.post('/_emulator/expire-delta', open, (req) => {
    const body = parseJson<{ account: string; service?: ServiceName; container?: string }>(req);
    return { status: 200, body: { expired: emulator().expireDeltaTokens(body.account, body.service, body.container) } };
  });
}
