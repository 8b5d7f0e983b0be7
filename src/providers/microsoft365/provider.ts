// The Microsoft 365 provider: one Graph session (msal-node, the Graph client, our governor) for
// the tenant, discovery, and the service modules registered in services/index.ts.
import type { BackupService, Directory, Provider, ProviderStats } from '../provider.ts';
import { MicrosoftAuth } from './auth.ts';
import type { MicrosoftAuthOptions } from './auth.ts';
import { discoverTenant } from './discovery.ts';
import { GraphSession } from './graph.ts';
import type { GraphSessionOptions } from './graph.ts';
import { MICROSOFT_SERVICE_MODULES } from './services/index.ts';
import type { ServiceFactory } from './services/index.ts';

export interface MicrosoftProviderOptions extends MicrosoftAuthOptions, GraphSessionOptions {
  /** Service modules by name; all of Microsoft 365's by default. */
  modules?: Record<string, ServiceFactory>;
}

export class MicrosoftProvider implements Provider {
  readonly name = 'microsoft365' as const;
  readonly services: ReadonlyMap<string, BackupService>;
  readonly session: GraphSession;

  constructor(options: MicrosoftProviderOptions) {
    const auth = new MicrosoftAuth(options);
    this.session = new GraphSession(auth, options);
    const modules = options.modules ?? MICROSOFT_SERVICE_MODULES;
    this.services = new Map(Object.entries(modules).map(([name, create]) => [name, create(this.session)]));
  }

  discover(): Promise<Directory> {
    const wanted = new Set(this.services.keys());
    return discoverTenant(this.session, { sites: wanted.has('sharepoint'), teams: wanted.has('teams') });
  }

  stats(): ProviderStats {
    const s = this.session.governor.stats;
    return { requests: s.requests, throttled: s.throttled, retries: Object.values(s.retries).reduce((a, b) => a + b, 0) };
  }

  async close(): Promise<void> {
    // Nothing to release: msal keeps its cache in memory and fetch pools its connections.
  }
}
