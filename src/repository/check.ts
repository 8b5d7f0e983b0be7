// `check`: is the repository whole? Structure (every pack an index lists exists with its size and
// header; every blob a snapshot needs is indexed; trees decrypt) and, with readData, every blob
// decrypts and matches its id. Problems are reported as the snapshots and items they affect.
import { isRepositoryError } from './errors.ts';
import type { PackEntry } from './index.ts';
import type { SnapshotManifest } from './model.ts';
import { packIdMatches, packName } from './pack.ts';
import type { Repository } from './repository.ts';

export interface AffectedItem {
  snapshot: string;
  checkpoint: boolean;
  account: string;
  service: string;
  itemId: string;
  version: string;
  path: string;
  name: string;
}

export interface CheckReport {
  /** Problems that lose data, one sentence each. */
  errors: string[];
  /** Leftovers that lose nothing (packs of a writer that died before indexing them); prune removes them. */
  warnings: string[];
  damagedBlobs: string[];
  affected: AffectedItem[];
  stats: { snapshots: number; packs: number; blobs: number; bytesRead: number };
}

export interface CheckOptions {
  readData?: boolean;
  onProgress?: (done: number, total: number, what: string) => void;
}

export async function check(repository: Repository, options: CheckOptions = {}): Promise<CheckReport> {
  const report: CheckReport = {
    errors: [],
    warnings: [],
    damagedBlobs: [],
    affected: [],
    stats: { snapshots: 0, packs: 0, blobs: 0, bytesRead: 0 },
  };
  const damaged = new Set<string>();
  const { index, storage } = repository;

  for (const why of repository.damagedIndexes.values())
    report.errors.push(`${why}; its packs were re-read from their headers (prune writes a fresh index)`);

  const stored = new Map<string, number>();
  for await (const object of storage.list('data/')) stored.set(object.name, object.size);
  // One pack's blob list at a time: the index keeps them on disk.
  const packs = index.packCount;
  report.stats.packs = packs;
  let done = 0;
  for (const pack of index.packs) {
    const name = packName(pack.id);
    options.onProgress?.(++done, packs, name);
    const size = stored.get(name);
    stored.delete(name);
    if (size === undefined) {
      report.errors.push(`pack ${name} is listed in an index but missing from storage`);
      for (const blob of pack.blobs) damaged.add(blob.id);
      continue;
    }
    if (size !== pack.size) {
      report.errors.push(`pack ${name} has ${size} bytes in storage but ${pack.size} in the index (truncated or overwritten)`);
    }
    if (options.readData) {
      await readPack(repository, pack, size, report, damaged);
    } else {
      try {
        const header = await repository.readPackHeader(name, size);
        if (header.length !== pack.blobs.length)
          report.errors.push(`pack ${name} header lists ${header.length} blobs, the index ${pack.blobs.length}`);
      } catch (error) {
        if (!isRepositoryError(error, 'Corrupt')) throw error;
        report.errors.push(error.message);
      }
    }
  }
  for (const name of stored.keys()) report.warnings.push(`pack ${name} is in no index (left by a writer that stopped); prune removes it`);

  const manifests = [...(await repository.snapshots()), ...(await repository.snapshots('checkpoints'))];
  report.stats.snapshots = manifests.length;
  for (const manifest of manifests) await checkSnapshot(repository, manifest, damaged, report);
  report.damagedBlobs = [...damaged].sort();
  report.stats.blobs = index.blobCount;
  return report;
}

async function readPack(repository: Repository, pack: PackEntry, size: number, report: CheckReport, damaged: Set<string>): Promise<void> {
  const name = packName(pack.id);
  const bytes = await repository.storage.get(name);
  report.stats.bytesRead += bytes.length;
  if (!packIdMatches(bytes, pack.id)) report.errors.push(`pack ${name} is damaged: its content does not match its id`);
  for (const blob of pack.blobs) {
    try {
      if (blob.offset + blob.length > size) throw new Error('it lies beyond the end of the pack');
      await repository.openBlob(bytes.subarray(blob.offset, blob.offset + blob.length), blob.id, `blob ${blob.id}`);
    } catch (error) {
      damaged.add(blob.id);
      report.errors.push(
        `blob ${blob.id} in pack ${name} is damaged: ${(error as Error).message.replace(/^blob \S+ (is damaged: )?/, '')}`,
      );
    }
  }
}

async function checkSnapshot(repository: Repository, manifest: SnapshotManifest, damaged: Set<string>, report: CheckReport): Promise<void> {
  const where = `${manifest.checkpoint ? 'checkpoint' : 'snapshot'} ${manifest.id.slice(0, 12)}`;
  for (const tree of manifest.accounts) {
    for (const treeId of tree.trees) {
      let items;
      try {
        if (damaged.has(treeId)) throw new Error('its tree blob is damaged');
        if (!repository.index.has(treeId)) throw new Error('its tree blob is in no index');
        items = await repository.readTree(treeId);
      } catch (error) {
        report.errors.push(`${where}: part of the catalog of ${tree.account} ${tree.service} cannot be read: ${(error as Error).message}`);
        continue;
      }
      for (const item of items) {
        const missing = item.content.filter((id) => !repository.index.has(id) || damaged.has(id));
        if (missing.length === 0) continue;
        for (const id of missing) if (!repository.index.has(id)) damaged.add(id);
        report.affected.push({
          snapshot: manifest.id,
          checkpoint: manifest.checkpoint,
          account: tree.account,
          service: tree.service,
          itemId: item.id,
          version: item.version,
          path: item.path,
          name: item.name,
        });
      }
    }
  }
}
