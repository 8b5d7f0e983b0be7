// Test support for the Microsoft 365 provider: an emulator in-process and the worker's own Graph
// session (msal-node, the Graph client, our governor) pointed at it through the Connector's
// endpoint overrides, with a fast retry policy so fault tests do not wait for production backoff.
import { createHash } from 'node:crypto';
import { MicrosoftAuth } from '../../../src/providers/microsoft365/auth.ts';
import { GraphSession } from '../../../src/providers/microsoft365/graph.ts';
import type { GraphSessionOptions } from '../../../src/providers/microsoft365/graph.ts';
import type { RetryPolicy } from '../../../src/providers/http/retry.ts';
import type { Account, BackupService, Change, SourceItem } from '../../../src/providers/provider.ts';
import { ChangeLedger, type LedgerItems } from '../../../src/worker/change-ledger.ts';
import type { MicrosoftEmulator, MicrosoftEmulatorOptions } from '../../emulators/microsoft/index.ts';
import { connectionOf, startEmulator } from '../../emulators/microsoft/testing.ts';

export const FAST_RETRY: RetryPolicy = { maxAttempts: 4, baseMs: 20, capMs: 200, maxRetryAfterMs: 2_000 };

export function authFor(emulator: MicrosoftEmulator): MicrosoftAuth {
  return new MicrosoftAuth(connectionOf(emulator));
}

export function sessionFor(emulator: MicrosoftEmulator, options: GraphSessionOptions = {}): GraphSession {
  return new GraphSession(authFor(emulator), { retry: FAST_RETRY, ...options });
}

export async function startWithSession(
  options: MicrosoftEmulatorOptions = {},
  session: GraphSessionOptions = {},
): Promise<{ emulator: MicrosoftEmulator; session: GraphSession }> {
  const emulator = await startEmulator(options);
  return { emulator, session: sessionFor(emulator, session) };
}

/** Every change a service gives for an account from `cursor`, and the cursor for the next run. */
export async function drain(
  service: BackupService,
  account: Account,
  cursor?: string,
  previousVersions: ReadonlyMap<string, string> = new Map(),
): Promise<{ changes: Change[]; cursor: string }> {
  const run = service.changes(account, cursor, { previousVersion: (id) => previousVersions.get(id) });
  const changes: Change[] = [];
  for await (const change of run.changes) changes.push(change);
  return { changes, cursor: run.cursor() };
}

/** The upserts of a list of changes, by item id (the last one wins, as in the engine). */
export function upserts(changes: readonly Change[]): Map<string, SourceItem> {
  const out = new Map<string, SourceItem>();
  for (const c of changes) if (c.type === 'upsert') out.set(c.item.id, c.item);
  return out;
}

/** An item's content as one buffer. */
export async function contentOf(item: SourceItem): Promise<Buffer> {
  const content = await item.content();
  if (Buffer.isBuffer(content)) return content;
  const parts: Buffer[] = [];
  for await (const piece of content) parts.push(Buffer.from(piece));
  return Buffer.concat(parts);
}

/** What a snapshot holds of an item, for comparing a service's stream with the source. */
export interface HeldItem {
  container: string;
  version: string;
  path: string;
  name: string;
}

function heldItem(item: SourceItem): HeldItem {
  return { container: item.container, version: item.version, path: item.path, name: item.name };
}

/** What a drive test holds of an item: also its size and eTag. */
export interface DriveHeld extends HeldItem {
  size: number;
  eTag: string;
}

/** OneDrive and SharePoint: a drive is one container, and nothing moves between drives keeping its id. */
export const DRIVES: Pick<BackupService, 'movesBetweenContainers'> = { movesBetweenContainers: false };

export function driveHeld(item: SourceItem): DriveHeld {
  return {
    container: item.container,
    path: item.path,
    name: item.name,
    version: item.version,
    size: item.size,
    eTag: item.metadata?.['eTag'] as string,
  };
}

/**
 * Applies changes to a model of the stored items with the engine's own rules (the change ledger,
 * src/worker/change-ledger.ts): every upsert is stored, and removals are applied at the end of the
 * stream, as the engine does.
 */
export function applyChanges(held: Map<string, HeldItem>, changes: readonly Change[]): Map<string, HeldItem>;
/** The same, holding what `toHeld` takes of each upserted item. */
export function applyChanges<H extends { container: string }>(
  held: Map<string, H>,
  changes: readonly Change[],
  toHeld: (item: SourceItem) => H,
  service?: Pick<BackupService, 'movesBetweenContainers'>,
): Map<string, H>;
export function applyChanges(
  held: Map<string, { container: string }>,
  changes: readonly Change[],
  toHeld: (item: SourceItem) => { container: string } = heldItem,
  service: Pick<BackupService, 'movesBetweenContainers'> = { movesBetweenContainers: true },
): Map<string, { container: string }> {
  const items: LedgerItems = {
    get: (id) => {
      const h = held.get(id);
      return h && { container: h.container, size: 0 };
    },
    get size() {
      return held.size;
    },
    *ids(container) {
      for (const [id, h] of [...held]) if (container === undefined || h.container === container) yield id;
    },
  };
  const ledger = new ChangeLedger(items, { base: false, movesBetweenContainers: service.movesBetweenContainers });
  for (const change of changes) {
    const step = ledger.apply(change);
    if (step.action === 'store') held.set(step.item.id, toHeld(step.item));
  }
  for (const { id } of ledger.removals(false)) held.delete(id);
  return held;
}

/** The changes of one type, typed as such. */
export function ofType<T extends Change['type']>(changes: readonly Change[], type: T): Extract<Change, { type: T }>[] {
  return changes.filter((c): c is Extract<Change, { type: T }> => c.type === type);
}

/** Held items as a comparable list: id, version, container and path, sorted by id. */
export function heldList(
  items: ReadonlyMap<string, Pick<HeldItem, 'version' | 'container' | 'path'>>,
): [string, Pick<HeldItem, 'version' | 'container' | 'path'>][] {
  return [...items]
    .map(([id, e]): [string, Pick<HeldItem, 'version' | 'container' | 'path'>] => [
      id,
      { version: e.version, container: e.container, path: e.path },
    ])
    .sort(([x], [y]) => x.localeCompare(y));
}

/** Graph requests (token requests left out) since the emulator's last resetStats(). */
export function graphRequests(emulator: MicrosoftEmulator): Record<string, number> {
  return Object.fromEntries(Object.entries(emulator.stats.byKind).filter(([kind]) => !kind.startsWith('identity')));
}

/** The changes other than upserts and removes, as `type:container`. */
export function kinds(changes: readonly Change[]): string[] {
  return changes.filter((c) => c.type !== 'upsert' && c.type !== 'remove').map((c) => `${c.type}:${'container' in c ? c.container : ''}`);
}

/** The ids of removes, sorted. */
export function removes(changes: readonly Change[]): string[] {
  return changes.flatMap((c) => (c.type === 'remove' ? [c.id] : [])).sort();
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fault-rule pattern that matches an id however the request path encodes it. */
export function pathPattern(id: string): string {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `(${escape(id)}|${escape(encodeURIComponent(id))})`;
}
