// OneDrive for Business and SharePoint document libraries: drive discovery (users' OneDrives,
// sites and their libraries), driveItems by id and by path, children, delta with the `deleted`
// facet and the 410 resyncRequired answer, content through a 302 to a short-lived pre-authenticated
// URL (with Range), sharing permissions, and what a restore needs: small uploads, resumable upload
// sessions and folder creation with conflictBehavior. Every Graph route costs the resource units
// SharePoint documents (1 for a single item, a delta with a token or a download; 2 for a multi-item
// query, a delta without token, or a write; 5 for permissions).
import { randomUUID } from 'node:crypto';
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { TextGen } from '../../../../../bench/corpus/text.ts';
import type { EmulatorContext } from '../../context.ts';
import { contextUrl, decodeToken, encodeToken, link, listPage, pageSize, project, selectedFields } from '../../http/odata.ts';
import type { Handler, Router, RouteOptions } from '../../http/router.ts';
import { GraphError, parseJson } from '../../http/types.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../http/types.ts';
import { ExpiredDeltaToken } from '../../tenant/changelog.ts';
import type { DeltaCursor } from '../../tenant/changelog.ts';
import { StoredContent } from '../../tenant/content.ts';
import type { Content } from '../../tenant/content.ts';
import type { Directory, User } from '../../tenant/directory.ts';
import { guid } from '../../tenant/directory.ts';
import type { MutationCounts, TenantSpec } from '../../tenant/spec.ts';
import type { GenerateInput, MutateInput, Service } from '../service.ts';
import { Drive, FOLDER_NAME_POOL, isoSeconds, randomFileName } from './model.ts';
import type { DriveItem, IdentitySet } from './model.ts';

const READ = ['Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'Sites.ReadWrite.All'] as const;
const WRITE = ['Files.ReadWrite.All', 'Sites.ReadWrite.All'] as const;
const SITES_READ = ['Sites.Read.All', 'Sites.ReadWrite.All'] as const;
/** Deepest path (in segments) the `root:/a/b/c:` addressing routes accept. */
const MAX_PATH_DEPTH = 10;
const DELTA_PAGE = 200;
const CHILDREN_PAGE = 200;
const UPLOAD_SESSION_MS = 15 * 60_000;

// Graph's own error texts for the cases a backup and a restore meet.
const ITEM_NOT_FOUND = (): GraphError => new GraphError(404, 'itemNotFound', 'The resource could not be found.');
const RESYNC_MESSAGE =
  "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.";

export interface Site {
  id: string;
  name: string;
  displayName: string;
  description: string;
  webUrl: string;
  created: string;
  isRoot: boolean;
  drive: Drive;
}

interface UploadSession {
  id: string;
  drive: Drive;
  parentId: string;
  name: string;
  behavior: string;
  expires: number;
  chunks: Buffer[];
  next: number;
  total?: number;
  by: IdentitySet;
}

/** What a delta token (`?token=`) carries: a next page (`n`) or a delta link (`d`). */
interface DeltaToken {
  k: 'n' | 'd';
  c: DeltaCursor;
  /** Page size and $select of the round. */
  n: number;
  s?: string;
}

function hashOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function driveId(rng: Prng): string {
  return `b!${Buffer.from(rng.hex(48), 'hex').toString('base64url')}`;
}

function userIdentity(user: User): IdentitySet {
  return { user: { id: user.id, displayName: user.displayName, email: user.mail ?? user.userPrincipalName } };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function nowIso(): string {
  return isoSeconds(Date.now());
}

export class DriveService implements Service {
  readonly name = 'drive';
  readonly drives = new Map<string, Drive>();
  readonly userDrives = new Map<string, Drive>();
  readonly sites: Site[] = [];
  private readonly sitesById = new Map<string, Site>();
  private readonly sessions = new Map<string, UploadSession>();
  private spec!: TenantSpec;
  private directory!: Directory;
  private ctx!: EmulatorContext;
  private people: IdentitySet[] = [];
  private tenantName = 'contoso';

  generate(input: GenerateInput): void {
    this.spec = input.spec;
    this.directory = input.directory;
    this.tenantName = input.directory.domain.split('.')[0] ?? 'contoso';
    const licensed = [...input.directory.users.values()].filter((u) => u.hasDrive);
    this.people = licensed.map(userIdentity);
    if (this.people.length === 0) this.people = [{ user: { displayName: 'System Account' } }];
    const system: IdentitySet = { user: { displayName: 'System Account' } };
    const sizes = { fileMedianBytes: input.spec.sizes.fileMedianBytes, sigma: input.spec.sizes.sigma, maxBytes: input.spec.sizes.maxBytes };
    const start = Date.UTC(2024, 0, 15);
    for (const user of licensed) {
      const rng = input.rng(`onedrive/${user.id}`);
      const personal = user.userPrincipalName.toLowerCase().replace(/[@.]/g, '_');
      const drive = new Drive({
        id: driveId(rng),
        driveType: 'business',
        name: 'OneDrive',
        webUrl: `https://${this.tenantName}-my.sharepoint.com/personal/${personal}/Documents`,
        account: user.id,
        owner: { user: { email: user.mail ?? user.userPrincipalName, id: user.id, displayName: user.displayName } },
        created: isoSeconds(start),
        sequence: input.sequence,
        ids: input.rng(`onedrive/${user.id}/ids`),
        by: system,
      });
      drive.populate(rng, { files: input.spec.items.files, ...sizes }, [userIdentity(user)], `${input.spec.seed}/drive/${drive.id}`, start);
      this.drives.set(drive.id, drive);
      this.userDrives.set(user.id, drive);
    }
    // The root site, then one team site per spec.sites (named after the tenant's groups).
    const groups = [...input.directory.groups.values()];
    for (let i = 0; i <= input.spec.sites; i++) {
      const rng = input.rng(`site/${i}`);
      const isRoot = i === 0;
      const group = isRoot ? undefined : groups[(i - 1) % Math.max(1, groups.length)];
      const nick = isRoot ? '' : group ? `${group.mailNickname}${i > groups.length ? `-${i}` : ''}` : `site-${i}`;
      const displayName = isRoot ? 'Communication site' : group ? group.displayName : `Site ${i}`;
      const webUrl = isRoot ? `https://${this.tenantName}.sharepoint.com` : `https://${this.tenantName}.sharepoint.com/sites/${nick}`;
      const id = `${this.tenantName}.sharepoint.com,${guid(rng)},${guid(rng)}`;
      const created = isoSeconds(start + i * 86_400_000);
      const drive = new Drive({
        id: driveId(rng),
        driveType: 'documentLibrary',
        name: 'Documents',
        webUrl: `${webUrl}/Shared%20Documents`,
        account: id,
        owner: group
          ? { group: { id: group.id, email: group.mail, displayName: group.displayName } }
          : { user: { displayName: 'System Account' } },
        created,
        sequence: input.sequence,
        ids: input.rng(`site/${i}/ids`),
        by: system,
      });
      drive.populate(rng, { files: input.spec.items.siteFiles, ...sizes }, this.people, `${input.spec.seed}/drive/${drive.id}`, start);
      const site: Site = {
        id,
        name: isRoot ? '' : nick,
        displayName,
        description: isRoot ? '' : `${displayName} team site`,
        webUrl,
        created,
        isRoot,
        drive,
      };
      this.sites.push(site);
      this.sitesById.set(id.toLowerCase(), site);
      this.drives.set(drive.id, drive);
    }
  }

  /** Drives in a stable order: OneDrives, then site libraries. */
  private orderedDrives(): Drive[] {
    return [...this.userDrives.values(), ...this.sites.map((s) => s.drive)];
  }

  mutate(input: MutateInput): MutationCounts[] {
    const out: MutationCounts[] = [];
    const sizes = { fileMedianBytes: this.spec.sizes.fileMedianBytes, sigma: this.spec.sizes.sigma, maxBytes: this.spec.sizes.maxBytes };
    const m = input.mutation;
    for (const drive of this.orderedDrives()) {
      const rng = input.rng(drive.id);
      const text = new TextGen(rng);
      const counts: MutationCounts = {
        account: drive.account,
        service: 'drive',
        added: 0,
        changed: 0,
        moved: 0,
        removed: 0,
        foldersAdded: 0,
        foldersRemoved: 0,
      };
      const when = nowIso();
      const by = drive.driveType === 'business' ? (drive.owner as unknown as IdentitySet) : rng.pick(this.people);
      const label = (what: string): string => `${this.spec.seed}/${m.seed}/drive/${drive.id}/${what}`;
      // Folders removed first (with everything they hold: files count as removed), then added.
      const userFolders = shuffle(
        rng,
        drive.folders().filter((f) => f.parentId !== undefined),
      );
      const dropFolders = Math.round(userFolders.length * m.removeFolders);
      for (const folder of userFolders.slice(0, dropFolders)) {
        if (!drive.get(folder.id)) continue; // already gone with its parent
        const r = drive.remove(folder);
        counts.foldersRemoved += r.folders;
        counts.removed += r.files;
      }
      for (let i = 0; i < m.addFolders; i++) {
        let parent = rng.pick(drive.folders());
        if (drive.depth(parent) >= 4) parent = drive.root;
        drive.addFolder(parent, drive.uniqueName(parent, rng.pick(FOLDER_NAME_POOL)), by, when);
        counts.foldersAdded++;
      }
      const files = shuffle(rng, drive.files());
      const n = files.length;
      const nChange = Math.round(n * m.change);
      const nMove = Math.round(n * m.move);
      const nRemove = Math.round(n * m.remove);
      const nAdd = Math.round(n * m.add);
      let at = 0;
      for (const file of files.slice(at, at + nChange)) {
        drive.setContent(file, drive.newContent(rng, sizes, label(`${file.id}/v${file.version + 1}`), file.name), by, when);
        counts.changed++;
      }
      at += nChange;
      const folders = drive.folders();
      for (const file of files.slice(at, at + nMove)) {
        const targets = folders.filter((f) => f.id !== file.parentId);
        if (targets.length === 0) continue;
        const to = rng.pick(targets);
        drive.move(file, to, drive.uniqueName(to, file.name), by, when);
        counts.moved++;
      }
      at += nMove;
      for (const file of files.slice(at, at + nRemove)) {
        drive.remove(file);
        counts.removed++;
      }
      for (let i = 0; i < nAdd; i++) {
        const parent = rng.pick(folders);
        const name = drive.uniqueName(parent, randomFileName(rng, text));
        drive.addFile(parent, name, drive.newContent(rng, sizes, label(`new/${i}`), name), by, when);
        counts.added++;
      }
      out.push(counts);
    }
    return out;
  }

  export(): unknown {
    return this.orderedDrives().map((drive) => ({
      account: drive.account,
      driveId: drive.id,
      driveType: drive.driveType,
      name: drive.name,
      items: [...drive.items.values()]
        .filter((item) => item.parentId !== undefined)
        .map((item) => ({
          id: item.id,
          path: drive.path(item),
          folder: item.isFolder,
          size: item.size,
          eTag: eTag(item),
          ...(item.isFolder ? {} : { sha256: drive.sha256(item), quickXorHash: drive.quickXor(item) }),
        }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    }));
  }

  expireDeltaTokens(account: string, container?: string): number {
    let n = 0;
    for (const drive of this.drives.values()) {
      if (drive.account.toLowerCase() !== account.toLowerCase() && drive.id !== account) continue;
      if (container && container !== drive.id) continue;
      drive.log.expire();
      n++;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // Resolution and rendering

  private site(idOrRoot: string): Site {
    const site = idOrRoot.toLowerCase() === 'root' ? this.sites[0] : this.sitesById.get(idOrRoot.toLowerCase());
    if (!site) throw new GraphError(404, 'itemNotFound', 'Requested site could not be found');
    return site;
  }

  private driveOf(params: Record<string, string>): Drive {
    if (params['drive'] !== undefined) {
      const drive = this.drives.get(params['drive']);
      if (!drive) throw ITEM_NOT_FOUND();
      return drive;
    }
    if (params['user'] !== undefined) {
      const key = params['user'];
      const user = this.directory.user(key);
      if (!user)
        throw new GraphError(
          404,
          'Request_ResourceNotFound',
          `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
        );
      const drive = this.userDrives.get(user.id);
      // An unlicensed user has no OneDrive ("mysite"): Graph answers 404 ResourceNotFound.
      if (!drive) throw new GraphError(404, 'ResourceNotFound', "User's mysite not found.");
      return drive;
    }
    return this.site(params['site'] ?? '').drive;
  }

  private item(drive: Drive, id: string): DriveItem {
    if (id.toLowerCase() === 'root') return drive.root;
    const item = drive.get(id);
    if (!item) throw ITEM_NOT_FOUND();
    return item;
  }

  private downloadUrl(req: EmulatorRequest, drive: Drive, item: DriveItem): string {
    return `${req.origin}/_download/${this.ctx.downloads.sign(`${drive.id}/${item.id}`)}`;
  }

  private driveJson(req: EmulatorRequest, drive: Drive, withContext: boolean): Record<string, unknown> {
    return {
      ...(withContext ? { '@odata.context': contextUrl(req, 'drives/$entity') } : {}),
      createdDateTime: drive.created,
      description: '',
      id: drive.id,
      lastModifiedDateTime: drive.root.modified,
      name: drive.name,
      webUrl: drive.webUrl,
      driveType: drive.driveType,
      createdBy: { user: { displayName: 'System Account' } },
      lastModifiedBy: { user: { displayName: 'System Account' } },
      owner: drive.owner,
      quota: {
        deleted: 0,
        remaining: 1_099_511_627_776 - drive.root.size,
        state: 'normal',
        total: 1_099_511_627_776,
        used: drive.root.size,
      },
    };
  }

  private siteJson(site: Site): Record<string, unknown> {
    return {
      createdDateTime: site.created,
      description: site.description,
      id: site.id,
      lastModifiedDateTime: site.drive.root.modified,
      name: site.name,
      webUrl: site.webUrl,
      displayName: site.displayName,
      ...(site.isRoot ? { root: {} } : {}),
      siteCollection: { hostname: `${this.tenantName}.sharepoint.com` },
    };
  }

  private parentReference(drive: Drive, item: DriveItem): Record<string, unknown> {
    if (item.parentId === undefined) return { driveType: drive.driveType, driveId: drive.id };
    const parent = drive.get(item.parentId);
    const parentPath = parent ? drive.path(parent) : '';
    return {
      driveType: drive.driveType,
      driveId: drive.id,
      id: item.parentId,
      ...(parent && parent.parentId !== undefined ? { name: parent.name } : {}),
      path: `/drives/${drive.id}/root:${parentPath}`,
    };
  }

  itemJson(req: EmulatorRequest, drive: Drive, item: DriveItem): Record<string, unknown> {
    const path = drive.path(item);
    const out: Record<string, unknown> = {};
    if (!item.isFolder) out['@microsoft.graph.downloadUrl'] = this.downloadUrl(req, drive, item);
    Object.assign(out, {
      createdBy: item.createdBy,
      createdDateTime: item.created,
      eTag: eTag(item),
      id: item.id,
      lastModifiedBy: item.modifiedBy,
      lastModifiedDateTime: item.modified,
      name: item.name,
      parentReference: this.parentReference(drive, item),
      webUrl: path ? `${drive.webUrl}${encodePath(path)}` : drive.webUrl,
      cTag: `"c:{${item.uid}},${item.contentVersion}"`,
      fileSystemInfo: { createdDateTime: item.created, lastModifiedDateTime: item.modified },
      size: item.size,
    });
    if (item.isFolder) out['folder'] = { childCount: item.children?.size ?? 0 };
    else out['file'] = { mimeType: item.mimeType, hashes: { quickXorHash: drive.quickXor(item) } };
    if (item.parentId === undefined) out['root'] = {};
    return out;
  }

  private deletedJson(drive: Drive, id: string): Record<string, unknown> {
    const t = drive.tombstones.get(id);
    return {
      id,
      ...(t ? { name: t.name } : {}),
      parentReference: { driveType: drive.driveType, driveId: drive.id, ...(t?.parentId ? { id: t.parentId } : {}) },
      ...(t?.isFolder ? { folder: { childCount: 0 } } : { file: {} }),
      deleted: { state: 'deleted' },
    };
  }

  /** The item as JSON, reduced to `$select` (which drops the download URL unless selected). */
  private rendered(req: EmulatorRequest, drive: Drive, item: DriveItem, fields: Set<string> | undefined): Record<string, unknown> {
    const json = project(this.itemJson(req, drive, item), fields);
    if (fields && !fields.has('@microsoft.graph.downloadUrl')) delete json['@microsoft.graph.downloadUrl'];
    return json;
  }

  private single(req: EmulatorRequest, drive: Drive, item: DriveItem, status = 200): EmulatorResponse {
    const body = {
      '@odata.context': contextUrl(req, `drives('${drive.id}')/items/$entity`),
      ...this.rendered(req, drive, item, selectedFields(req.query)),
    };
    return { status, headers: { ETag: eTag(item) }, body };
  }

  // ---------------------------------------------------------------------------------------------
  // Handlers

  private children(req: EmulatorRequest, drive: Drive, folder: DriveItem): EmulatorResponse {
    if (!folder.isFolder)
      return {
        status: 200,
        body: { '@odata.context': contextUrl(req, `drives('${drive.id}')/items('${folder.id}')/children`), value: [] },
      };
    // Pages over the sorted child ids; items are rendered only for the page served.
    const skip = req.query.get('$skiptoken');
    let offset = 0;
    let size: number;
    let select = req.query.get('$select') ?? undefined;
    const headers: Record<string, string> = {};
    if (skip) {
      const t = decodeToken<{ o: number; n: number; s?: string }>(skip);
      offset = t.o;
      size = t.n;
      select = t.s;
    } else {
      const ps = pageSize(req, CHILDREN_PAGE, 999);
      size = ps.size;
      if (ps.applied) headers['Preference-Applied'] = ps.applied;
    }
    const ids = drive.children(folder);
    const fields = select ? new Set(select.split(',')) : undefined;
    const value = ids.slice(offset, offset + size).map((id) => this.rendered(req, drive, drive.get(id) as DriveItem, fields));
    const body: Record<string, unknown> = {
      '@odata.context': contextUrl(req, `drives('${drive.id}')/items('${folder.id}')/children`),
      value,
    };
    if (offset + size < ids.length)
      body['@odata.nextLink'] = link(req, req.path, {
        $skiptoken: encodeToken({ o: offset + size, n: size, ...(select ? { s: select } : {}) }),
      });
    return { status: 200, headers, body };
  }

  private delta(req: EmulatorRequest): EmulatorResponse {
    const drive = this.driveOf(req.params);
    // Links always use the query form `.../root/delta?token=`, whatever form the caller used.
    const base = req.path.replace(/\/(microsoft\.graph\.)?delta(\([^/]*\))?\/?$/i, '/delta');
    const raw = req.params['token'] ?? req.query.get('token') ?? undefined;
    const deltaLink = (cursor: DeltaCursor, n: number, s?: string): string =>
      link(req, base, { token: encodeToken({ k: 'd', c: cursor, n, ...(s ? { s } : {}) } satisfies DeltaToken) });
    const context = contextUrl(req, 'Collection(driveItem)');
    if (raw === 'latest') {
      // token=latest: no items, a delta link for "now".
      const n = pageSize(req, DELTA_PAGE, 999).size;
      return {
        status: 200,
        body: {
          '@odata.context': context,
          value: [],
          '@odata.deltaLink': deltaLink(drive.log.latest(), n, req.query.get('$select') ?? undefined),
        },
      };
    }
    let cursor: DeltaCursor;
    let n: number;
    let select: string | undefined;
    const headers: Record<string, string> = {};
    try {
      if (raw) {
        const token = decodeToken<DeltaToken>(raw, 'delta token');
        if (!token?.c || (token.k !== 'n' && token.k !== 'd')) throw new GraphError(400, 'invalidRequest', 'Invalid delta token.');
        cursor = token.k === 'd' ? drive.log.resume(token.c) : token.c;
        n = token.n;
        select = req.query.get('$select') ?? token.s;
      } else {
        cursor = drive.log.start();
        const ps = pageSize(req, DELTA_PAGE, 999);
        n = ps.size;
        if (ps.applied) headers['Preference-Applied'] = ps.applied;
        select = req.query.get('$select') ?? undefined;
      }
      const page = drive.log.read(cursor, n);
      const fields = select ? new Set(select.split(',')) : undefined;
      const value = page.changes.map((c) => (c.item ? this.rendered(req, drive, c.item, fields) : this.deletedJson(drive, c.id)));
      const body: Record<string, unknown> = { '@odata.context': context, value };
      if (page.next)
        body['@odata.nextLink'] = link(req, base, {
          token: encodeToken({ k: 'n', c: page.next, n, ...(select ? { s: select } : {}) } satisfies DeltaToken),
        });
      else if (page.delta) body['@odata.deltaLink'] = deltaLink(page.delta, n, select);
      return { status: 200, headers, body };
    } catch (err) {
      if (!(err instanceof ExpiredDeltaToken)) throw err;
      // OneDrive's answer to a token it no longer knows: 410 resyncRequired, and a Location header
      // with a link that starts a fresh enumeration.
      throw new GraphError(410, 'resyncRequired', RESYNC_MESSAGE, { Location: link(req, base, {}) });
    }
  }

  private contentRedirect(req: EmulatorRequest, drive: Drive, item: DriveItem): EmulatorResponse {
    if (item.isFolder) throw new GraphError(404, 'itemNotFound', 'The resource could not be found.');
    // Graph answers /content with 302 to a pre-authenticated URL (no Authorization header needed).
    return { status: 302, headers: { Location: this.downloadUrl(req, drive, item) } };
  }

  private download(req: EmulatorRequest): EmulatorResponse {
    const resource = this.ctx.downloads.verify(req.params['token'] ?? '');
    const [dId, iId] = resource.split('/');
    const drive = this.drives.get(dId ?? '');
    const item = drive?.get(iId ?? '');
    if (!drive || !item?.content) throw ITEM_NOT_FOUND();
    const size = item.content.size;
    const headers: Record<string, string> = {
      'Content-Type': item.mimeType ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: eTag(item),
    };
    const range = req.headers['range'];
    if (!range) return { status: 200, headers, body: item.content.bytes() };
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    let start = 0;
    let end = size - 1;
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(size - 1, Number(m[2]));
      } else {
        start = Math.max(0, size - Number(m[2]));
      }
    }
    if (!m || start >= size || start > end) {
      return { status: 416, headers: { 'Content-Range': `bytes */${size}` } };
    }
    return {
      status: 206,
      headers: { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` },
      body: item.content.bytes().subarray(start, end + 1),
    };
  }

  private permissions(req: EmulatorRequest, drive: Drive, item: DriveItem): EmulatorResponse {
    const h = hashOf(item.uid);
    const owner = drive.driveType === 'business' ? (drive.owner['user'] as IdentitySet['user']) : undefined;
    const value: Record<string, unknown>[] = [];
    if (owner) {
      value.push({
        id: `aTowIy5mfG1lbWJlcnNoaXB8${Buffer.from(owner.email ?? '').toString('base64url')}`,
        roles: ['owner'],
        grantedTo: { user: owner },
        grantedToV2: {
          user: owner,
          siteUser: {
            displayName: owner.displayName,
            email: owner.email,
            id: String(7 + (h % 5)),
            loginName: `i:0#.f|membership|${owner.email ?? ''}`,
          },
        },
      });
    } else {
      const site = this.sites.find((s) => s.drive === drive);
      value.push({
        id: '3',
        roles: ['owner'],
        grantedToV2: {
          siteGroup: { displayName: `${site?.displayName ?? 'Site'} Owners`, id: '3', loginName: `${site?.displayName ?? 'Site'} Owners` },
        },
      });
    }
    if (h % 3 === 0) {
      value.push({
        id: item.uid.toLowerCase(),
        roles: ['read'],
        link: {
          scope: 'organization',
          type: 'view',
          webUrl: `https://${this.tenantName}.sharepoint.com/:u:/g/${Buffer.from(item.id).toString('base64url')}`,
          preventsDownload: false,
        },
        hasPassword: false,
        grantedToIdentitiesV2: [],
        grantedToIdentities: [],
      });
    }
    if (h % 4 === 1 && this.people.length > 1) {
      const other = this.people[h % this.people.length] as IdentitySet;
      value.push({
        id: `aTowIy5mfG1lbWJlcnNoaXB8${Buffer.from(other.user.email ?? '').toString('base64url')}`,
        roles: ['write'],
        grantedTo: other,
        grantedToV2: other,
      });
    }
    return { status: 200, body: { '@odata.context': contextUrl(req, `drives('${drive.id}')/items('${item.id}')/permissions`), value } };
  }

  private writer(req: EmulatorRequest): IdentitySet {
    return { user: { id: req.app?.clientId, displayName: 'saasbackup' } } as IdentitySet;
  }

  /** A folder for `segments` below `from`, created when missing (as a path upload does). */
  private ensureFolder(drive: Drive, from: DriveItem, segments: string[], by: IdentitySet): DriveItem {
    let cur = from;
    for (const name of segments) {
      const next = drive.childByName(cur, name);
      if (next && !next.isFolder) throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
      cur = next ?? drive.addFolder(cur, name, by, nowIso());
    }
    return cur;
  }

  /** Writes `content` as `name` in `parent` honouring the conflict behaviour; 201 new, 200 replaced. */
  private writeFile(
    req: EmulatorRequest,
    drive: Drive,
    parent: DriveItem,
    name: string,
    content: Content,
    behavior: string,
  ): EmulatorResponse {
    checkName(name);
    const by = this.writer(req);
    const existing = drive.childByName(parent, name);
    if (existing && behavior === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    if (existing && behavior !== 'rename') {
      if (existing.isFolder) throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
      drive.setContent(existing, content, by, nowIso());
      return this.single(req, drive, existing, 200);
    }
    const item = drive.addFile(parent, existing ? drive.uniqueName(parent, name) : name, content, by, nowIso());
    return this.single(req, drive, item, 201);
  }

  private createUploadSession(req: EmulatorRequest, drive: Drive, parent: DriveItem, name: string): EmulatorResponse {
    checkName(name);
    const body = req.body.length ? parseJson<{ item?: Record<string, unknown> }>(req) : {};
    const behavior = String(body.item?.['@microsoft.graph.conflictBehavior'] ?? 'replace');
    if (behavior === 'fail' && drive.childByName(parent, name))
      throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
    const session: UploadSession = {
      id: randomUUID(),
      drive,
      parentId: parent.id,
      name,
      behavior,
      expires: Date.now() + UPLOAD_SESSION_MS,
      chunks: [],
      next: 0,
      by: this.writer(req),
    };
    this.sessions.set(session.id, session);
    return {
      status: 200,
      body: {
        '@odata.context': contextUrl(req, 'microsoft.graph.uploadSession'),
        uploadUrl: `${req.origin}/_upload/${session.id}`,
        expirationDateTime: new Date(session.expires).toISOString(),
        nextExpectedRanges: ['0-'],
      },
    };
  }

  private session(req: EmulatorRequest): UploadSession {
    const session = this.sessions.get(req.params['session'] ?? '');
    if (!session || session.expires < Date.now())
      throw new GraphError(404, 'itemNotFound', 'The upload session was not found or has expired.');
    return session;
  }

  private uploadChunk(req: EmulatorRequest): EmulatorResponse {
    const session = this.session(req);
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((req.headers['content-range'] ?? '').trim());
    if (!m) throw new GraphError(400, 'invalidRequest', 'The Content-Range header is missing or malformed.');
    const start = Number(m[1]);
    const end = Number(m[2]);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (end < start || req.body.length !== end - start + 1)
      throw new GraphError(400, 'invalidRequest', 'The Content-Range header length does not match the provided number of bytes.');
    if (total !== undefined && session.total !== undefined && total !== session.total)
      throw new GraphError(400, 'invalidRequest', 'The total file size does not match the size declared earlier.');
    if (total !== undefined && end >= total)
      throw new GraphError(400, 'invalidRequest', 'The Content-Range is beyond the declared file size.');
    if (start !== session.next) {
      // Fragments must come in order, without gaps or overlaps.
      throw new GraphError(
        416,
        'invalidRange',
        start < session.next
          ? 'The uploaded fragment overlaps with data that has already been received.'
          : `The uploaded fragment starts at ${start}, the next expected byte is ${session.next}.`,
      );
    }
    session.total ??= total;
    session.chunks.push(Buffer.from(req.body));
    session.next = end + 1;
    if (session.total === undefined || session.next < session.total) {
      return {
        status: 202,
        body: {
          expirationDateTime: new Date(session.expires).toISOString(),
          nextExpectedRanges: [`${session.next}-${session.total !== undefined ? session.total - 1 : ''}`],
        },
      };
    }
    this.sessions.delete(session.id);
    const drive = session.drive;
    const parent = drive.get(session.parentId);
    if (!parent) throw ITEM_NOT_FOUND();
    return this.writeFile(req, drive, parent, session.name, new StoredContent(Buffer.concat(session.chunks)), session.behavior);
  }

  private createFolder(req: EmulatorRequest, drive: Drive, parent: DriveItem): EmulatorResponse {
    if (!parent.isFolder) throw new GraphError(400, 'invalidRequest', 'The parent item is not a folder.');
    const body = parseJson<{ name?: string; folder?: unknown; '@microsoft.graph.conflictBehavior'?: string }>(req);
    if (!body.name) throw new GraphError(400, 'invalidRequest', 'A name is required.');
    if (body.folder === undefined)
      throw new GraphError(400, 'invalidRequest', 'Only folders can be created this way; upload files with PUT .../content.');
    checkName(body.name);
    const behavior = body['@microsoft.graph.conflictBehavior'] ?? 'fail';
    const by = this.writer(req);
    let name = body.name;
    const existing = drive.childByName(parent, name);
    if (existing) {
      if (behavior === 'fail') throw new GraphError(409, 'nameAlreadyExists', 'The specified item name already exists.');
      if (behavior === 'rename') name = drive.uniqueName(parent, name);
      else drive.remove(existing);
    }
    return this.single(req, drive, drive.addFolder(parent, name, by, nowIso()), 201);
  }

  /** `root:/a/b/c.txt:/content` and `items/{id}:/name:/content`: the path and the action after it. */
  private pathTarget(req: EmulatorRequest): { drive: Drive; from: DriveItem; segments: string[]; action: string } {
    const drive = this.driveOf(req.params);
    let from = drive.root;
    const ref = req.params['item'];
    if (ref !== undefined) {
      // `items/{id}:/relative/path:` (the router cannot match a literal colon after a parameter).
      if (!ref.endsWith(':'))
        throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${req.params[segmentName(0)] ?? ''}'.`);
      from = this.item(drive, ref.slice(0, -1));
    }
    const parts: string[] = [];
    for (let i = 0; i < MAX_PATH_DEPTH && req.params[segmentName(i)] !== undefined; i++) parts.push(req.params[segmentName(i)] as string);
    const end = parts.findIndex((p) => p.endsWith(':'));
    if (end === -1) return { drive, from, segments: parts, action: '' };
    const segments = parts.slice(0, end + 1);
    segments[end] = (segments[end] as string).slice(0, -1);
    return {
      drive,
      from,
      segments: segments.filter(Boolean),
      action: parts
        .slice(end + 1)
        .join('/')
        .toLowerCase(),
    };
  }

  private getByPath(req: EmulatorRequest): EmulatorResponse {
    const { drive, from, segments, action } = this.pathTarget(req);
    const item = drive.resolve(from, segments.join('/'));
    if (!item) throw ITEM_NOT_FOUND();
    if (action === '') return this.single(req, drive, item);
    if (action === 'content') return this.contentRedirect(req, drive, item);
    if (action === 'children') return this.children(req, drive, item);
    if (action === 'permissions') return this.permissions(req, drive, item);
    throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
  }

  private putByPath(req: EmulatorRequest): EmulatorResponse {
    const { drive, from, segments, action } = this.pathTarget(req);
    if (action !== 'content' || segments.length === 0)
      throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
    const name = segments[segments.length - 1] as string;
    const parent = this.ensureFolder(drive, from, segments.slice(0, -1), this.writer(req));
    const behavior = req.query.get('@microsoft.graph.conflictBehavior') ?? 'replace';
    return this.writeFile(req, drive, parent, name, new StoredContent(Buffer.from(req.body)), behavior);
  }

  private postByPath(req: EmulatorRequest): EmulatorResponse {
    const { drive, from, segments, action } = this.pathTarget(req);
    if (action === 'createuploadsession' && segments.length > 0) {
      const parent = this.ensureFolder(drive, from, segments.slice(0, -1), this.writer(req));
      return this.createUploadSession(req, drive, parent, segments[segments.length - 1] as string);
    }
    if (action === 'children') {
      const folder = drive.resolve(from, segments.join('/'));
      if (!folder) throw ITEM_NOT_FOUND();
      return this.createFolder(req, drive, folder);
    }
    throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${action}'.`);
  }

  routes(router: Router, ctx: EmulatorContext): void {
    this.ctx = ctx;
    const opts = (kind: string, resourceUnits: number, permissions: readonly string[] = READ): RouteOptions => ({
      kind,
      auth: 'graph',
      permissions,
      resourceUnits,
    });
    // Every drive route exists under /drives/{id}, /users/{id | upn}/drive and /sites/{id}/drive.
    const bases = ['/v1.0/drives/:drive', '/v1.0/users/:user/drive', '/v1.0/sites/:site/drive'];
    const each = (method: string, suffix: string, options: RouteOptions, handler: Handler): void => {
      for (const base of bases) router.add(method, `${base}${suffix}`, options, handler);
    };
    const withItem =
      (fn: (req: EmulatorRequest, drive: Drive, item: DriveItem) => EmulatorResponse): Handler =>
      (req) => {
        const drive = this.driveOf(req.params);
        return fn(req, drive, this.item(drive, req.params['id'] ?? 'root'));
      };

    // Pre-authenticated URLs: no Authorization header, no throttle.
    router.get('/_download/:token', { kind: 'drive.download', auth: 'none' }, (req) => this.download(req));
    router.put('/_upload/:session', { kind: 'drive.uploadChunk', auth: 'none' }, (req) => this.uploadChunk(req));
    router.get('/_upload/:session', { kind: 'drive.uploadChunk', auth: 'none' }, (req) => {
      const s = this.session(req);
      return {
        status: 200,
        body: {
          expirationDateTime: new Date(s.expires).toISOString(),
          nextExpectedRanges: [`${s.next}-${s.total !== undefined ? s.total - 1 : ''}`],
        },
      };
    });
    router.delete('/_upload/:session', { kind: 'drive.uploadChunk', auth: 'none' }, (req) => {
      this.sessions.delete(this.session(req).id);
      return { status: 204 };
    });

    // Sites.
    router.get('/v1.0/sites', opts('drive.sites', 2, SITES_READ), (req) => {
      const search = (req.query.get('search') ?? '*').trim().toLowerCase();
      const matches = this.sites.filter(
        (s) =>
          search === '*' ||
          search === '' ||
          s.displayName.toLowerCase().includes(search) ||
          s.name.toLowerCase().includes(search) ||
          s.description.toLowerCase().includes(search),
      );
      return listPage(
        req,
        matches.map((s) => this.siteJson(s)),
        { context: 'sites', defaultSize: 200 },
      );
    });
    router.get('/v1.0/sites/:site', opts('drive.site', 1, SITES_READ), (req) => ({
      status: 200,
      body: {
        '@odata.context': contextUrl(req, 'sites/$entity'),
        ...project(this.siteJson(this.site(req.params['site'] ?? '')), selectedFields(req.query)),
      },
    }));
    router.get('/v1.0/sites/:site/drives', opts('drive.list', 2), (req) =>
      listPage(req, [this.driveJson(req, this.site(req.params['site'] ?? '').drive, false)], { context: 'drives' }),
    );
    router.get('/v1.0/users/:user/drives', opts('drive.list', 2), (req) =>
      listPage(req, [this.driveJson(req, this.driveOf(req.params), false)], { context: 'drives' }),
    );

    // Delta: query form, path form `delta(token='...')`, and the namespaced function name.
    for (const fn of ['delta', 'microsoft.graph.delta']) {
      each('GET', `/root/${fn}`, opts('drive.delta', 2), (req) => this.delta(req));
      each('GET', `/root/${fn}(token=':token')`, opts('drive.delta', 1), (req) => this.delta(req));
      each('GET', `/root/${fn}()`, opts('drive.delta', 2), (req) => this.delta(req));
    }

    // Drive and items by id.
    each('GET', '', opts('drive.get', 1), (req) => ({
      status: 200,
      body: project(this.driveJson(req, this.driveOf(req.params), true), selectedFields(req.query)),
    }));
    each(
      'GET',
      '/root',
      opts('drive.item', 1),
      withItem((req, d, i) => this.single(req, d, i)),
    );
    each(
      'GET',
      '/root/children',
      opts('drive.children', 2),
      withItem((req, d, i) => this.children(req, d, i)),
    );
    each(
      'POST',
      '/root/children',
      opts('drive.createFolder', 2, WRITE),
      withItem((req, d, i) => this.createFolder(req, d, i)),
    );
    each(
      'GET',
      '/items/:id',
      opts('drive.item', 1),
      withItem((req, d, i) => this.single(req, d, i)),
    );
    each(
      'DELETE',
      '/items/:id',
      opts('drive.delete', 2, WRITE),
      withItem((_req, d, i) => {
        if (i.parentId === undefined) throw new GraphError(403, 'accessDenied', 'The root folder cannot be deleted.');
        d.remove(i);
        return { status: 204 };
      }),
    );
    each(
      'GET',
      '/items/:id/children',
      opts('drive.children', 2),
      withItem((req, d, i) => this.children(req, d, i)),
    );
    each(
      'POST',
      '/items/:id/children',
      opts('drive.createFolder', 2, WRITE),
      withItem((req, d, i) => this.createFolder(req, d, i)),
    );
    each(
      'GET',
      '/items/:id/content',
      opts('drive.content', 1),
      withItem((req, d, i) => this.contentRedirect(req, d, i)),
    );
    each(
      'PUT',
      '/items/:id/content',
      opts('drive.upload', 2, WRITE),
      withItem((req, d, i) => {
        if (i.isFolder) throw new GraphError(400, 'invalidRequest', 'Cannot upload content to a folder.');
        d.setContent(i, new StoredContent(Buffer.from(req.body)), this.writer(req), nowIso());
        return this.single(req, d, i, 200);
      }),
    );
    each(
      'GET',
      '/items/:id/permissions',
      opts('drive.permissions', 5),
      withItem((req, d, i) => this.permissions(req, d, i)),
    );

    // Path addressing, one route per depth (the router matches one segment per parameter).
    for (let depth = 1; depth <= MAX_PATH_DEPTH; depth++) {
      const tail = Array.from({ length: depth }, (_, i) => `:${segmentName(i)}`).join('/');
      for (const head of ['/root:', '/items/:item']) {
        each('GET', `${head}/${tail}`, opts('drive.path', 1), (req) => this.getByPath(req));
        each('PUT', `${head}/${tail}`, opts('drive.upload', 2, WRITE), (req) => this.putByPath(req));
        each('POST', `${head}/${tail}`, opts('drive.uploadSession', 2, WRITE), (req) => this.postByPath(req));
      }
    }
  }
}

/** Route parameter names are letters only: `pa`, `pb`... */
function segmentName(i: number): string {
  return `p${String.fromCharCode(97 + i)}`;
}

function eTag(item: DriveItem): string {
  return `"{${item.uid}},${item.version}"`;
}

function checkName(name: string): void {
  if (!name || /["*:<>?/\\|]/.test(name) || name.endsWith('.') || name.trim() !== name) {
    throw new GraphError(400, 'invalidRequest', 'The provided name contains invalid characters.');
  }
}

function shuffle<T>(rng: Prng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
