// The emulator's own control API under `/_emulator/`, for a client in another process (the demo,
// the benchmarks, a worker under test): request counters, mutation, export, faults, throttling and
// the switches. Unauthenticated: the emulator listens on 127.0.0.1 only.
import type { FaultRule } from './faults.ts';
import type { Router } from './http/router.ts';
import { GraphError, parseJson } from './http/types.ts';
import type { MicrosoftEmulator, MicrosoftServices } from './index.ts';
import type { MutationSpec } from './tenant/spec.ts';
import { MICROSOFT_LIMITS, NO_LIMITS } from './throttle.ts';
import type { ThrottleOptions } from './throttle.ts';

export function registerControl(router: Router, emulator: () => MicrosoftEmulator): void {
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
    const body = parseJson<{ account: string; service?: keyof MicrosoftServices; container?: string }>(req);
    return { status: 200, body: { expired: emulator().expireDeltaTokens(body.account, body.service, body.container) } };
  });
}
