// The Microsoft 365 emulator: Entra ID's token endpoint and Microsoft Graph v1.0 over HTTPS on
// 127.0.0.1, serving a deterministic generated tenant, with Microsoft's paging, delta, throttling
// and faults. Tests start it in-process; `npm run emulator -- microsoft` runs it standalone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../bench/corpus/prng.ts';
import { createCertificateAuthority, writeCaFile } from '../shared/tls.ts';
import { DownloadSigner, emptyStats } from './context.ts';
import type { EmulatorContext, RequestStats, Switches } from './context.ts';
import { registerControl } from './control.ts';
import { Faults } from './faults.ts';
import { registerBatch } from './http/batch.ts';
import { Router } from './http/router.ts';
import { listen, Pipeline } from './http/server.ts';
import { Identity } from './identity.ts';
import { CalendarService } from './services/calendar/index.ts';
import { ContactsService } from './services/contacts/index.ts';
import { DirectoryService } from './services/directory/index.ts';
import { DriveService } from './services/drive/index.ts';
import { MailService } from './services/mail/index.ts';
import type { Service } from './services/service.ts';
import { TeamsService } from './services/teams/index.ts';
import { Sequence } from './tenant/changelog.ts';
import { Directory } from './tenant/directory.ts';
import { DEFAULT_MUTATION, tenantSpec } from './tenant/spec.ts';
import type { MutationCounts, MutationSpec, TenantSpec } from './tenant/spec.ts';
import { MICROSOFT_LIMITS, NO_LIMITS, Throttle } from './throttle.ts';
import type { ThrottleOptions } from './throttle.ts';

export interface MicrosoftEmulatorOptions {
  tenant?: Parameters<typeof tenantSpec>[0];
  /** `microsoft` for Microsoft's documented limits; off by default. */
  throttle?: 'microsoft' | Partial<ThrottleOptions>;
  /** Added to every request, milliseconds. */
  latencyMs?: number;
  port?: number;
  tokenLifetimeSeconds?: number;
  downloadUrlLifetimeMs?: number;
}

/** What a client needs to connect: the first line `npm run emulator` prints. */
export interface EmulatorConnection {
  authorityHost: string;
  graphBaseUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  caFile: string;
}

export interface MicrosoftServices {
  directory: DirectoryService;
  mail: MailService;
  calendar: CalendarService;
  contacts: ContactsService;
  drive: DriveService;
  teams: TeamsService;
}

export class MicrosoftEmulator {
  readonly connection: EmulatorConnection;
  readonly caPem: string;
  readonly spec: TenantSpec;
  readonly directory: Directory;
  readonly services: MicrosoftServices;
  readonly faults: Faults;
  readonly throttle: Throttle;
  readonly switches: Switches;
  readonly identity: Identity;
  private readonly ctx: EmulatorContext;
  private readonly closeServer: () => Promise<void>;
  private readonly caDir: string;
  private mutations = 0;

  private constructor(init: {
    connection: EmulatorConnection;
    caPem: string;
    caDir: string;
    spec: TenantSpec;
    ctx: EmulatorContext;
    services: MicrosoftServices;
    faults: Faults;
    throttle: Throttle;
    identity: Identity;
    close: () => Promise<void>;
  }) {
    this.connection = init.connection;
    this.caPem = init.caPem;
    this.caDir = init.caDir;
    this.spec = init.spec;
    this.ctx = init.ctx;
    this.directory = init.ctx.directory;
    this.switches = init.ctx.switches;
    this.services = init.services;
    this.faults = init.faults;
    this.throttle = init.throttle;
    this.identity = init.identity;
    this.closeServer = init.close;
  }

  static async start(options: MicrosoftEmulatorOptions = {}): Promise<MicrosoftEmulator> {
    const spec = tenantSpec(options.tenant);
    const directory = new Directory(spec);
    const sequence = new Sequence();
    const switches: Switches = {
      tenantGone: false,
      tokensRevokedBefore: 0,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
      downloadUrlLifetimeMs: options.downloadUrlLifetimeMs ?? 3_600_000,
      downloadUrlsExpiredBefore: 0,
    };
    const ctx: EmulatorContext = { directory, sequence, switches, stats: emptyStats(), downloads: new DownloadSigner(switches) };
    const services: MicrosoftServices = {
      directory: new DirectoryService(),
      mail: new MailService(),
      calendar: new CalendarService(),
      contacts: new ContactsService(),
      drive: new DriveService(),
      teams: new TeamsService(),
    };
    for (const service of Object.values(services) as Service[]) {
      service.generate({ spec, directory, sequence, rng: (label) => new Prng(`${spec.seed}/${service.name}/${label}`) });
    }
    const throttleOptions = options.throttle === 'microsoft' ? MICROSOFT_LIMITS : { ...NO_LIMITS, ...options.throttle };
    const throttle = new Throttle(throttleOptions);
    const faults = new Faults();
    const identity = new Identity(ctx);
    const router = new Router();
    const holder: { emulator?: MicrosoftEmulator } = {};
    registerControl(router, () => holder.emulator as MicrosoftEmulator);
    identity.routes(router);
    const pipeline = new Pipeline(ctx, router, identity, throttle, faults, { latencyMs: options.latencyMs ?? 0 });
    registerBatch(router, () => pipeline);
    for (const service of Object.values(services) as Service[]) service.routes(router, ctx);
    const ca = createCertificateAuthority();
    const endpoint = await listen(pipeline, { cert: ca.certPem, key: ca.keyPem }, options.port ?? 0);
    const caDir = mkdtempSync(join(tmpdir(), 'saasbackup-msemu-'));
    const caFile = join(caDir, 'ca.pem');
    writeCaFile(caFile, ca.caPem);
    const emulator = new MicrosoftEmulator({
      connection: {
        authorityHost: endpoint.origin,
        graphBaseUrl: endpoint.origin,
        tenantId: directory.tenantId,
        clientId: directory.app.clientId,
        clientSecret: (directory.app.secrets[0] as { value: string }).value,
        caFile,
      },
      caPem: ca.caPem,
      caDir,
      spec,
      ctx,
      services,
      faults,
      throttle,
      identity,
      close: () => endpoint.close(),
    });
    holder.emulator = emulator;
    return emulator;
  }

  get stats(): RequestStats {
    return this.ctx.stats;
  }

  resetStats(): void {
    Object.assign(this.ctx.stats, emptyStats());
  }

  /** Adds, changes, moves and removes a share of every account's items and folders. */
  mutate(mutation: Partial<MutationSpec> = {}): MutationCounts[] {
    this.mutations++;
    const spec: MutationSpec = { ...DEFAULT_MUTATION, seed: `m${this.mutations}`, ...mutation };
    const out: MutationCounts[] = [];
    for (const service of Object.values(this.services) as Service[]) {
      out.push(
        ...service.mutate({
          mutation: spec,
          directory: this.directory,
          rng: (label) => new Prng(`${this.spec.seed}/${spec.seed}/${service.name}/${label}`),
        }),
      );
    }
    return out;
  }

  /** The whole tenant as plain JSON, service by service, for item-by-item comparison. */
  export(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const service of Object.values(this.services) as Service[]) out[service.name] = service.export();
    return out;
  }

  /** Expires delta tokens of one account (all services, or one) and optionally one container. */
  expireDeltaTokens(account: string, service?: keyof MicrosoftServices, container?: string): number {
    const id = this.directory.user(account)?.id ?? account;
    let n = 0;
    for (const s of Object.values(this.services) as Service[]) {
      if (!service || s.name === service) n += s.expireDeltaTokens(id, container);
    }
    return n;
  }

  /** Registers a certificate credential on the app (PEM); its SHA-256 thumbprint is returned. */
  addCertificate(certPem: string, thumbprintSha256: string, expiresAt = new Date(Date.now() + 365 * 86_400_000)): void {
    this.directory.app.certificates.push({ certPem, thumbprintSha256, expiresAt });
  }

  /** Removes every secret and certificate and refuses every access token issued until now. */
  revokeCredentials(): void {
    this.directory.app.secrets.length = 0;
    this.directory.app.certificates.length = 0;
    this.switches.tokensRevokedBefore = Date.now() + 1;
  }

  /** Makes every download URL handed out so far expired. */
  expireDownloadUrls(): void {
    this.switches.downloadUrlsExpiredBefore = Date.now() + 1;
  }

  setTenantGone(gone: boolean): void {
    this.switches.tenantGone = gone;
  }

  async close(): Promise<void> {
    await this.closeServer();
    rmSync(this.caDir, { recursive: true, force: true });
  }
}

export function startMicrosoftEmulator(options: MicrosoftEmulatorOptions = {}): Promise<MicrosoftEmulator> {
  return MicrosoftEmulator.start(options);
}
