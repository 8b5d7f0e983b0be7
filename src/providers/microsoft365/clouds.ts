// Microsoft's national clouds: where a tenant authenticates and which Graph it talks to. The
// Connector's endpoint overrides win over these (the emulator in tests, a proxy in production).
import type { MICROSOFT_CLOUDS } from '../../api/connector.ts';

export type MicrosoftCloud = (typeof MICROSOFT_CLOUDS)[number];

export interface MicrosoftEndpoints {
  /** Entra ID authority host, no trailing slash: `https://login.microsoftonline.com`. */
  authorityHost: string;
  /** Graph root, no version and no trailing slash: `https://graph.microsoft.com`. */
  graphBaseUrl: string;
}

export const CLOUD_ENDPOINTS: Record<MicrosoftCloud, MicrosoftEndpoints> = {
  Global: { authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' },
  USGovernment: { authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://graph.microsoft.us' },
  USGovernmentDoD: { authorityHost: 'https://login.microsoftonline.us', graphBaseUrl: 'https://dod-graph.microsoft.us' },
  China: { authorityHost: 'https://login.chinacloudapi.cn', graphBaseUrl: 'https://microsoftgraph.chinacloudapi.cn' },
};

const trim = (url: string): string => url.replace(/\/+$/, '');

export function resolveEndpoints(
  cloud: MicrosoftCloud | undefined,
  overrides: Partial<MicrosoftEndpoints> | undefined,
): MicrosoftEndpoints {
  const base = CLOUD_ENDPOINTS[cloud ?? 'Global'];
  return {
    authorityHost: trim(overrides?.authorityHost ?? base.authorityHost),
    graphBaseUrl: trim(overrides?.graphBaseUrl ?? base.graphBaseUrl),
  };
}

/** True when the host is one of Microsoft's own authority hosts (msal-node knows them). */
export function isMicrosoftAuthority(authorityHost: string): boolean {
  const host = new URL(authorityHost).host;
  return Object.values(CLOUD_ENDPOINTS).some((e) => new URL(e.authorityHost).host === host);
}
