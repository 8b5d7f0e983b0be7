// OneDrive / SharePoint contract: the real Graph client (and plain fetch for the pre-authenticated
// URLs) against the emulator's drives: discovery, children, path addressing, delta rounds with
// exact counts, 410 resync, content through a redirect with Range and expiry, permissions, uploads
// (small and resumable) with conflictBehavior, resource-unit throttling and faults.
import { createHash } from 'node:crypto';
import { ResponseType } from '@microsoft/microsoft-graph-client';
import type { Client } from '@microsoft/microsoft-graph-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MicrosoftEmulator } from '../../index.ts';
import { accessToken, graphClient, graphClientWithoutRetry, msalClient, startEmulator } from '../../testing.ts';
import type { User } from '../../tenant/directory.ts';
import { NO_LIMITS } from '../../throttle.ts';
import { QuickXorHash, quickXorHash } from './quickxor.ts';

interface Item {
  id: string;
  name: string;
  size: number;
  eTag: string;
  cTag: string;
  parentReference: { driveId: string; id?: string; path?: string };
  file?: { mimeType: string; hashes: { quickXorHash: string } };
  folder?: { childCount: number };
  root?: object;
  deleted?: { state: string };
  '@microsoft.graph.downloadUrl'?: string;
}

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface ExportedDrive {
  account: string;
  driveId: string;
  items: { id: string; path: string; folder: boolean; size: number; eTag: string; sha256?: string }[];
}

let emulator: MicrosoftEmulator;
let client: Client;
let user: User;
let unlicensed: User;
let driveId: string;

beforeAll(async () => {
  emulator = await startEmulator({
    tenant: {
      users: 2,
      unlicensedUsers: 1,
      sharedMailboxes: 0,
      sites: 2,
      items: { files: 30, siteFiles: 12 },
      sizes: { fileMedianBytes: 8 * 1024, maxBytes: 256 * 1024 },
    },
  });
  client = graphClient(emulator);
  const users = [...emulator.directory.users.values()];
  user = users.find((u) => u.hasDrive) as User;
  unlicensed = users.find((u) => !u.hasDrive) as User;
  driveId = ((await client.api(`/users/${user.userPrincipalName}/drive`).get()) as { id: string }).id;
});

afterAll(async () => {
  await emulator?.close();
});

async function failure(promise: Promise<unknown>): Promise<{ statusCode: number; code: string; headers?: Headers; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { statusCode: number; code: string; headers?: Headers; message: string };
  }
  throw new Error('expected the call to fail');
}

async function all<T>(first: string, headers: Record<string, string> = {}): Promise<{ items: T[]; pages: number; deltaLink?: string }> {
  const items: T[] = [];
  let pages = 0;
  let url: string | undefined = first;
  let deltaLink: string | undefined;
  while (url) {
    const page = (await client.api(url).headers(headers).get()) as Page<T>;
    items.push(...page.value);
    pages++;
    url = page['@odata.nextLink'];
    deltaLink = page['@odata.deltaLink'] ?? deltaLink;
  }
  return { items, pages, ...(deltaLink ? { deltaLink } : {}) };
}

function exported(id = driveId): ExportedDrive {
  return (emulator.export()['drive'] as ExportedDrive[]).find((d) => d.driveId === id) as ExportedDrive;
}

async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  const token = await accessToken(msalClient(emulator));
  const url = path.startsWith('https://') ? path : `${emulator.connection.graphBaseUrl}/v1.0${path}`;
  return fetch(url, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
}

async function download(itemId: string, id = driveId): Promise<Buffer> {
  const data = (await client.api(`/drives/${id}/items/${itemId}/content`).responseType(ResponseType.ARRAYBUFFER).get()) as ArrayBuffer;
  return Buffer.from(data);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('QuickXorHash', () => {
  it('matches the published test vectors', () => {
    const vectors: [string, string][] = [
      ['', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
      ['Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
      ['tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
      ['0pZP', '0rDEEwAAAAAAAAAAAwAAAAAAAAA='],
      ['jRRDVA==', 'jaDAEKgAAAAAAAAABAAAAAAAAAA='],
      ['eAV52qE=', 'eChAHrQRCgAAAAAABQAAAAAAAAA='],
      ['luBZlaT6', 'lgBHFipBCn0AAAAABgAAAAAAAAA='],
      ['qaApEj66lw==', 'qQBFCiTgA11cAgAABwAAAAAAAAA='],
      ['/aNzzCFPS/A=', '/RjFHJgRgicsAR4ACAAAAAAAAAA='],
    ];
    for (const [input, hash] of vectors) expect(quickXorHash(Buffer.from(input, 'base64'))).toBe(hash);
  });

  it('agrees with a bit-by-bit port of the reference algorithm, in one piece or in chunks', () => {
    const data = createHash('sha512').update('x').digest();
    const big = Buffer.concat(Array.from({ length: 40 }, (_, i) => createHash('sha512').update(String(i)).digest())).subarray(0, 2049);
    const reference = (bytes: Buffer): string => {
      let reg = 0n;
      const mask = (1n << 160n) - 1n;
      bytes.forEach((b, k) => {
        const s = BigInt((k * 11) % 160);
        const v = BigInt(b) << s;
        reg ^= (v | (v >> 160n)) & mask;
      });
      const out = Buffer.alloc(20);
      for (let i = 0; i < 20; i++) out[i] = Number((reg >> BigInt(8 * i)) & 0xffn);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(bytes.length));
      for (let i = 0; i < 8; i++) out[12 + i] = (out[12 + i] as number) ^ (len[i] as number);
      return out.toString('base64');
    };
    expect(quickXorHash(data)).toBe(reference(data));
    expect(quickXorHash(big)).toBe(reference(big));
    const chunked = new QuickXorHash()
      .update(big.subarray(0, 7))
      .update(big.subarray(7, 500))
      .update(big.subarray(500))
      .digest()
      .toString('base64');
    expect(chunked).toBe(reference(big));
  });
});

describe('drive discovery', () => {
  it("serves a licensed user's OneDrive by upn and id, and its drives collection", async () => {
    const drive = (await client.api(`/users/${user.id}/drive`).get()) as {
      id: string;
      driveType: string;
      owner: { user: { id: string } };
      quota: { used: number };
    };
    expect(drive.id).toBe(driveId);
    expect(drive.id).toMatch(/^b!/);
    expect(drive.driveType).toBe('business');
    expect(drive.owner.user.id).toBe(user.id);
    const drives = (await client.api(`/users/${user.userPrincipalName}/drives`).get()) as Page<{ id: string }>;
    expect(drives.value.map((d) => d.id)).toEqual([driveId]);
    const byId = (await client.api(`/drives/${driveId}`).get()) as { id: string };
    expect(byId.id).toBe(driveId);
  });

  it('answers a user without OneDrive and an unknown user the way Graph does', async () => {
    const none = await failure(client.api(`/users/${unlicensed.id}/drive`).get());
    expect(none.statusCode).toBe(404);
    expect(none.code).toBe('ResourceNotFound');
    expect(none.message).toBe("User's mysite not found.");
    const unknown = await failure(client.api('/users/nobody@contoso.onmicrosoft.com/drive').get());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.code).toBe('Request_ResourceNotFound');
  });

  it('lists sites (root and team sites) and their document libraries', async () => {
    const sites = await all<{ id: string; root?: object; displayName: string }>('/sites?search=*');
    expect(sites.items).toHaveLength(3);
    for (const site of sites.items) expect(site.id).toMatch(/^contoso\.sharepoint\.com,[0-9a-f-]{36},[0-9a-f-]{36}$/);
    const root = (await client.api('/sites/root').get()) as { id: string; root?: object };
    expect(root.root).toEqual({});
    const team = sites.items.find((s) => !s.root) as { id: string };
    const one = (await client.api(`/sites/${team.id}`).get()) as { id: string };
    expect(one.id).toBe(team.id);
    const libraries = (await client.api(`/sites/${team.id}/drives`).get()) as Page<{ id: string; driveType: string; name: string }>;
    expect(libraries.value).toHaveLength(1);
    expect(libraries.value[0]?.driveType).toBe('documentLibrary');
    expect(libraries.value[0]?.name).toBe('Documents');
    const drive = (await client.api(`/sites/${team.id}/drive`).get()) as { id: string };
    expect(drive.id).toBe(libraries.value[0]?.id);
    const files = exported(drive.id).items.filter((i) => !i.folder);
    expect(files).toHaveLength(12);
  });
});

describe('items', () => {
  it('pages through children with $top and $select, by id and from the root', async () => {
    const root = (await client.api(`/drives/${driveId}/root`).get()) as Item;
    expect(root.root).toEqual({});
    expect(root.folder?.childCount).toBeGreaterThan(2);
    const paged = await all<Item>(`/drives/${driveId}/items/${root.id}/children?$top=2&$select=name,size`);
    expect(paged.items).toHaveLength(root.folder?.childCount ?? -1);
    expect(paged.pages).toBe(Math.ceil((root.folder?.childCount ?? 0) / 2));
    expect(Object.keys(paged.items[0] ?? {}).sort()).toEqual(['id', 'name', 'size']);
    const whole = await all<Item>(`/users/${user.userPrincipalName}/drive/root/children`);
    expect(whole.pages).toBe(1);
    expect(whole.items.map((i) => i.id)).toEqual(paged.items.map((i) => i.id));
  });

  it('addresses items by path, from the root and relative to a folder', async () => {
    const nested = exported().items.find((i) => !i.folder && i.path.split('/').length >= 3) as ExportedDrive['items'][number];
    const byPath = (await client.api(`/drives/${driveId}/root:${nested.path}`).get()) as Item;
    expect(byPath.id).toBe(nested.id);
    expect(byPath.eTag).toBe(nested.eTag);
    const withColon = (await client.api(`/drives/${driveId}/root:${nested.path}:`).get()) as Item;
    expect(withColon.id).toBe(nested.id);
    const parentId = byPath.parentReference.id as string;
    const name = nested.path.split('/').pop() as string;
    const relative = (await client.api(`/drives/${driveId}/items/${parentId}:/${name}:`).get()) as Item;
    expect(relative.id).toBe(nested.id);
    expect(byPath.parentReference.path).toBe(`/drives/${driveId}/root:${nested.path.slice(0, nested.path.lastIndexOf('/'))}`);
    const missing = await failure(client.api(`/drives/${driveId}/root:/no/such/file.txt`).get());
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('itemNotFound');
  });

  it('serves content through a 302 to a pre-authenticated URL, byte-exact, with Range', async () => {
    const file = exported().items.find((i) => !i.folder && i.size > 100) as ExportedDrive['items'][number];
    const meta = (await client.api(`/drives/${driveId}/items/${file.id}`).get()) as Item;
    const bytes = await download(file.id);
    expect(bytes.length).toBe(file.size);
    expect(sha256(bytes)).toBe(file.sha256);
    expect(quickXorHash(bytes)).toBe(meta.file?.hashes.quickXorHash);
    const redirect = await raw(`/drives/${driveId}/items/${file.id}/content`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get('location') as string;
    const plain = await fetch(location);
    expect(plain.status).toBe(200);
    expect(sha256(Buffer.from(await plain.arrayBuffer()))).toBe(file.sha256);
    const ranged = await fetch(meta['@microsoft.graph.downloadUrl'] as string, { headers: { Range: 'bytes=10-49' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-49/${file.size}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(10, 50))).toBe(true);
    const byPath = (await client
      .api(`/drives/${driveId}/root:${file.path}:/content`)
      .responseType(ResponseType.ARRAYBUFFER)
      .get()) as ArrayBuffer;
    expect(sha256(Buffer.from(byPath))).toBe(file.sha256);
    emulator.expireDownloadUrls();
    const expired = await fetch(location);
    expect(expired.status).toBe(401);
    const fresh = await download(file.id);
    expect(sha256(fresh)).toBe(file.sha256);
  });

  it('lists sharing permissions of an item', async () => {
    const file = exported().items.find((i) => !i.folder) as ExportedDrive['items'][number];
    const perms = (await client.api(`/drives/${driveId}/items/${file.id}/permissions`).get()) as Page<{
      roles: string[];
      grantedToV2?: { user?: { id: string } };
    }>;
    expect(perms.value.length).toBeGreaterThan(0);
    expect(perms.value[0]?.roles).toEqual(['owner']);
    expect(perms.value[0]?.grantedToV2?.user?.id).toBe(user.id);
  });
});

describe('delta', () => {
  it('enumerates the drive to the end with parents before children, in both token forms', async () => {
    const total = exported().items.length + 1; // and the root
    const round = await all<Item>(`/drives/${driveId}/root/delta`, { Prefer: 'odata.maxpagesize=7' });
    expect(round.items).toHaveLength(total);
    expect(round.pages).toBe(Math.ceil(total / 7));
    const seen = new Set<string>();
    for (const item of round.items) {
      if (!item.root) expect(seen.has(item.parentReference.id as string)).toBe(true);
      seen.add(item.id);
    }
    expect(round.deltaLink).toMatch(/\/root\/delta\?token=/);
    // The nextLink's token also works in the function form `delta(token='...')`.
    const first = (await client.api(`/drives/${driveId}/root/delta`).headers({ Prefer: 'odata.maxpagesize=7' }).get()) as Page<Item>;
    const token = new URL(first['@odata.nextLink'] as string).searchParams.get('token') as string;
    const viaQuery = (await client.api(first['@odata.nextLink'] as string).get()) as Page<Item>;
    const viaPath = (await client.api(`/drives/${driveId}/root/delta(token='${token}')`).get()) as Page<Item>;
    expect(viaPath.value.map((i) => i.id)).toEqual(viaQuery.value.map((i) => i.id));
    // Nothing changed since: the delta link gives an empty page and a new delta link.
    const again = (await client.api(round.deltaLink as string).get()) as Page<Item>;
    expect(again.value).toEqual([]);
    expect(again['@odata.deltaLink']).toBeDefined();
  });

  it('reports exactly what mutate() did, with deleted facets and moves keeping their ids', async () => {
    const start = await all<Item>(`/users/${user.userPrincipalName}/drive/root/delta?$select=name,parentReference,file,folder,deleted`);
    const latest = (await client.api(`/drives/${driveId}/root/delta?token=latest`).get()) as Page<Item>;
    expect(latest.value).toEqual([]);
    const counts = emulator.mutate({ add: 0.2, change: 0.1, move: 0.1, remove: 0.1, addFolders: 2, removeFolders: 0.3 });
    const mine = counts.find((c) => c.service === 'drive' && c.account === user.id);
    if (!mine) throw new Error('no counts for the drive');
    expect(mine.added).toBeGreaterThan(0);
    expect(mine.changed + mine.moved + mine.removed + mine.foldersRemoved).toBeGreaterThan(0);
    // One entry per drive: OneDrives by user id, libraries by site id.
    const sites = (await all<{ id: string }>('/sites?search=*')).items.map((x) => x.id).sort();
    const accounts = counts.filter((c) => c.service === 'drive').map((c) => c.account);
    expect(accounts.filter((a) => a.includes('.sharepoint.com,')).sort()).toEqual(sites);
    expect(accounts.filter((a) => !a.includes('.sharepoint.com,')).sort()).toEqual(
      [...emulator.directory.users.values()]
        .filter((u) => u.hasDrive)
        .map((u) => u.id)
        .sort(),
    );
    const expected = mine.added + mine.changed + mine.moved + mine.removed + mine.foldersAdded + mine.foldersRemoved;
    for (const link of [start.deltaLink as string, latest['@odata.deltaLink'] as string]) {
      const next = await all<Item>(link, { Prefer: 'odata.maxpagesize=5' });
      expect(next.items).toHaveLength(expected);
      const deleted = next.items.filter((i) => i.deleted);
      expect(deleted).toHaveLength(mine.removed + mine.foldersRemoved);
      for (const d of deleted) expect(d.deleted?.state).toBe('deleted');
      const live = next.items.filter((i) => !i.deleted);
      expect(live.filter((i) => i.folder)).toHaveLength(mine.foldersAdded);
    }
    // The export agrees with the delta state: every live item is there with its path.
    const ids = new Set(exported().items.map((i) => i.id));
    const before = new Map(start.items.map((i) => [i.id, i]));
    const after = await all<Item>(`/drives/${driveId}/root/delta`);
    expect(after.items).toHaveLength(ids.size + 1);
    const moved = after.items.filter((i) => before.has(i.id) && before.get(i.id)?.parentReference.id !== i.parentReference.id && !i.root);
    expect(moved.length).toBeGreaterThanOrEqual(mine.moved);
  });

  it('answers an expired token with 410 resyncRequired and a Location to start over', async () => {
    const round = await all<Item>(`/drives/${driveId}/root/delta`);
    const half = (await client.api(`/drives/${driveId}/root/delta?$top=3`).get()) as Page<Item>;
    expect(emulator.expireDeltaTokens(user.userPrincipalName, 'drive')).toBe(1);
    for (const link of [round.deltaLink as string, half['@odata.nextLink'] as string]) {
      const err = await failure(graphClientWithoutRetry(emulator).api(link).get());
      expect(err.statusCode).toBe(410);
      expect(err.code).toBe('resyncRequired');
    }
    const res = await raw(round.deltaLink as string);
    expect(res.status).toBe(410);
    const location = res.headers.get('location') as string;
    expect(location).toMatch(/\/root\/delta$/);
    const fresh = await all<Item>(location);
    expect(fresh.items).toHaveLength(round.items.length);
  });
});

describe('restore writes', () => {
  it('uploads a small file by path (creating folders), replaces it, and refuses a conflict with fail', async () => {
    const { deltaLink } = await all<Item>(`/drives/${driveId}/root/delta`);
    const body = Buffer.from('restored content '.repeat(100));
    const created = await raw(`/drives/${driveId}/root:/Restore/2024/notes.txt:/content`, { method: 'PUT', body });
    expect(created.status).toBe(201);
    const item = (await created.json()) as Item;
    expect(item.size).toBe(body.length);
    expect(item.file?.hashes.quickXorHash).toBe(quickXorHash(body));
    expect(sha256(await download(item.id))).toBe(sha256(body));
    const body2 = Buffer.from('second version');
    const replaced = (await client.api(`/drives/${driveId}/items/${item.parentReference.id}:/notes.txt:/content`).put(body2)) as Item;
    expect(replaced.id).toBe(item.id);
    expect(replaced.eTag).not.toBe(item.eTag);
    expect(replaced.cTag).not.toBe(item.cTag);
    expect(sha256(await download(item.id))).toBe(sha256(body2));
    const conflict = await failure(
      client.api(`/drives/${driveId}/root:/Restore/2024/notes.txt:/content?@microsoft.graph.conflictBehavior=fail`).put(body2),
    );
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('nameAlreadyExists');
    const changes = await all<Item>(deltaLink as string);
    expect(changes.items.map((i) => i.name).sort()).toEqual(['2024', 'Restore', 'notes.txt']);
  });

  it('uploads a large file through an upload session in ranges, with rename and fail conflicts', async () => {
    const data = Buffer.concat(Array.from({ length: 50 }, (_, i) => createHash('sha512').update(`chunk${i}`).digest()));
    const path = `/drives/${driveId}/root:/Restore/big.bin:`;
    await client.api(`/drives/${driveId}/root:/Restore/big.bin:/content`).put(Buffer.from('placeholder'));
    const session = (await client.api(`${path}/createUploadSession`).post({ item: { '@microsoft.graph.conflictBehavior': 'rename' } })) as {
      uploadUrl: string;
      expirationDateTime: string;
      nextExpectedRanges: string[];
    };
    expect(session.nextExpectedRanges).toEqual(['0-']);
    expect(Date.parse(session.expirationDateTime)).toBeGreaterThan(Date.now());
    const put = (start: number, end: number): Promise<Response> =>
      fetch(session.uploadUrl, {
        method: 'PUT',
        headers: { 'Content-Range': `bytes ${start}-${end - 1}/${data.length}` },
        body: data.subarray(start, end),
      });
    const r1 = await put(0, 1000);
    expect(r1.status).toBe(202);
    expect(((await r1.json()) as { nextExpectedRanges: string[] }).nextExpectedRanges).toEqual([`1000-${data.length - 1}`]);
    const skipped = await put(2000, 2500);
    expect(skipped.status).toBe(416);
    const r2 = await put(1000, 2500);
    expect(r2.status).toBe(202);
    const last = await put(2500, data.length);
    expect(last.status).toBe(201);
    const item = (await last.json()) as Item;
    expect(item.name).toBe('big 1.bin');
    expect(item.size).toBe(data.length);
    expect(sha256(await download(item.id))).toBe(sha256(data));
    const refused = await failure(
      client.api(`${path}/createUploadSession`).post({ item: { '@microsoft.graph.conflictBehavior': 'fail' } }),
    );
    expect(refused.statusCode).toBe(409);
    expect(refused.code).toBe('nameAlreadyExists');
    // A cancelled session is gone.
    const other = (await client.api(`/drives/${driveId}/root:/Restore/other.bin:/createUploadSession`).post({})) as { uploadUrl: string };
    const status = (await (await fetch(other.uploadUrl)).json()) as { nextExpectedRanges: string[] };
    expect(status.nextExpectedRanges).toEqual(['0-']);
    expect((await fetch(other.uploadUrl, { method: 'DELETE' })).status).toBe(204);
    const late = await fetch(other.uploadUrl, { method: 'PUT', headers: { 'Content-Range': 'bytes 0-2/3' }, body: Buffer.from('abc') });
    expect(late.status).toBe(404);
  });

  it('creates folders with conflictBehavior fail and rename', async () => {
    const made = (await client
      .api(`/drives/${driveId}/root/children`)
      .post({ name: 'Restored', folder: {}, '@microsoft.graph.conflictBehavior': 'fail' })) as Item;
    expect(made.folder?.childCount).toBe(0);
    const again = await failure(
      client.api(`/drives/${driveId}/root/children`).post({ name: 'Restored', folder: {}, '@microsoft.graph.conflictBehavior': 'fail' }),
    );
    expect(again.statusCode).toBe(409);
    expect(again.code).toBe('nameAlreadyExists');
    const renamed = (await client
      .api(`/drives/${driveId}/items/root/children`)
      .post({ name: 'Restored', folder: {}, '@microsoft.graph.conflictBehavior': 'rename' })) as Item;
    expect(renamed.name).toBe('Restored 1');
    const inside = (await client.api(`/drives/${driveId}/items/${made.id}/children`).post({ name: 'Sub', folder: {} })) as Item;
    expect(inside.parentReference.id).toBe(made.id);
  });
});

describe('throttling, permissions and faults', () => {
  it('throttles on the tenant resource-unit budget with Retry-After', async () => {
    const file = exported().items.find((i) => !i.folder) as ExportedDrive['items'][number];
    const bare = graphClientWithoutRetry(emulator);
    await bare.api(`/drives/${driveId}/root`).get(); // token first, outside the budget
    emulator.throttle.options = { ...NO_LIMITS, tenantResourceUnits: 7, tenantWindowMs: 60_000 };
    try {
      await bare.api(`/drives/${driveId}/items/${file.id}`).get(); // 1
      await bare.api(`/drives/${driveId}/root/children`).get(); // 2
      await bare.api(`/drives/${driveId}/items/${file.id}/permissions`).get(); // 5 would make 8
      throw new Error('expected a 429');
    } catch (err) {
      const e = err as { statusCode: number; code: string; headers?: Headers };
      expect(e.statusCode).toBe(429);
      expect(e.code).toBe('activityLimitReached');
      expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      emulator.throttle.options = NO_LIMITS;
    }
  });

  it('refuses a token without Files or Sites permissions', async () => {
    const saved = emulator.directory.app.grantedRoles;
    emulator.directory.app.grantedRoles = new Set(['Mail.ReadWrite']);
    try {
      const other = graphClientWithoutRetry(emulator, msalClient(emulator));
      const err = await failure(other.api(`/drives/${driveId}/root/children`).get());
      expect(err.statusCode).toBe(403);
      const sites = await failure(other.api('/sites?search=*').get());
      expect(sites.statusCode).toBe(403);
    } finally {
      emulator.directory.app.grantedRoles = saved;
    }
  });

  it('injects not-found, a permanently failing item, a transient 503 and malformed JSON', async () => {
    const [a, b] = exported().items.filter((i) => !i.folder) as [ExportedDrive['items'][number], ExportedDrive['items'][number]];
    const bare = graphClientWithoutRetry(emulator);
    emulator.faults.add({ kind: 'notFound', routeKind: 'drive.item', path: a.id, times: 1 });
    const gone = await failure(bare.api(`/drives/${driveId}/items/${a.id}`).get());
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe('itemNotFound');
    emulator.faults.add({ kind: 'error', routeKind: 'drive.content', path: b.id, status: 500, code: 'generalException', message: 'boom' });
    for (let i = 0; i < 2; i++) {
      const err = await failure(bare.api(`/drives/${driveId}/items/${b.id}/content`).get());
      expect(err.statusCode).toBe(500);
    }
    expect(sha256(await download(a.id))).toBe(a.sha256);
    emulator.faults.clear();
    emulator.faults.add({ kind: 'status503', routeKind: 'drive.children', times: 1 });
    const before = emulator.stats.byKind['drive.children'] ?? 0;
    const page = (await client.api(`/drives/${driveId}/root/children`).get()) as Page<Item>;
    expect(page.value.length).toBeGreaterThan(0);
    expect((emulator.stats.byKind['drive.children'] ?? 0) - before).toBe(2);
    emulator.faults.add({ kind: 'malformedJson', routeKind: 'drive.delta', times: 1 });
    await expect(bare.api(`/drives/${driveId}/root/delta`).get()).rejects.toThrow();
    emulator.faults.clear();
  });
});
