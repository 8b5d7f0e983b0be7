// What a Connector's Ready condition needs to know about a Microsoft 365 tenant: can we get a
// token (credentials, tenant, consent), and are the application permissions the selected services
// need granted. Each failure comes back as a catalog reason with a message that says what to fix.
import type { Reason } from '../../api/reasons.ts';
import { MicrosoftAuthError } from './auth.ts';
import type { MicrosoftAuth } from './auth.ts';
import { checkPermissions, MICROSOFT_SERVICES } from './permissions.ts';
import type { MicrosoftService } from './permissions.ts';

export interface ConnectorCheck {
  ready: boolean;
  reason: Reason;
  message: string;
  /** Application permissions granted to the app (empty when no token could be had). */
  granted: string[];
  /** Permissions still to grant for discovery and the checked services. */
  missing: string[];
}

export async function checkMicrosoftConnector(
  auth: MicrosoftAuth,
  services: readonly MicrosoftService[] = MICROSOFT_SERVICES,
): Promise<ConnectorCheck> {
  let roles: string[];
  try {
    roles = (await auth.token()).roles;
  } catch (err) {
    if (err instanceof MicrosoftAuthError) return { ready: false, reason: err.reason, message: err.message, granted: [], missing: [] };
    throw err;
  }
  const report = checkPermissions(roles, services);
  if (report.missing.length > 0) {
    return {
      ready: false,
      reason: 'InsufficientPermissions',
      message: `The app lacks the application permissions ${report.missing.join(', ')}: add them in Entra ID (API permissions, Microsoft Graph, Application) and grant admin consent.`,
      ...report,
    };
  }
  return { ready: true, reason: 'Ready', message: `Authenticated; ${report.granted.length} application permissions granted.`, ...report };
}
